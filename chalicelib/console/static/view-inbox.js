// view-inbox.js — #/inbox: mine / queue / all, filters (channel, priority, tag, status), paging on
// the API's cursors, channel icons, waiting time, SLA countdown, unread badges, live updates from
// the feed. Keyboard: j/k (or ↓/↑) move, Enter or o open.
import { api } from "./api.js";
import { unread, useFeed } from "./feed.js";
import { duration, when } from "./format.js";
import { html, useEffect, useRef, useState } from "./html.js";
import { t } from "./i18n.js";
import { customerLabel } from "./labels.js";
import { CHANNELS, ChannelIcon, LoadMore, channelName, toast, useInterval, usePaged, useShortcuts } from "./ui.js";

const STATE_KEY = "omniflow.inbox";
export const ORDER_KEY = "omniflow.inbox.order"; // the ids last shown, for "next conversation" (n)
const LIVE_KINDS = [
  "message.new",
  "conversation.queued",
  "conversation.assigned",
  "conversation.transferred",
  "conversation.closed",
  "conversation.updated",
  "reset",
];

function loadState(me) {
  const allowed = me.role === "agent" ? ["mine", "queue"] : ["mine", "queue", "all"];
  let s = {};
  try { s = JSON.parse(sessionStorage.getItem(STATE_KEY) || "{}"); } catch { s = {}; }
  return {
    view: allowed.includes(s.view) ? s.view : "mine",
    channel: s.channel || "",
    priority: s.priority || "",
    tag: s.tag || "",
    status: s.status === "closed" ? "closed" : "open",
  };
}

// "12m" until the first-response deadline, or breached / answered.
export function slaInfo(c, now = Date.now()) {
  if (c.status === "closed") return null;
  if (c.sla_status === "breached" || c.sla_breached_at) return { cls: "sla-breached", text: t("inbox.slaBreached") };
  if (c.first_responded_at || c.sla_status === "met") return { cls: "sla-met", text: t("inbox.slaMet") };
  if (!c.first_response_due) return null;
  const left = new Date(c.first_response_due).getTime() - now;
  if (Number.isNaN(left)) return null;
  if (left <= 0) return { cls: "sla-breached", text: t("inbox.slaBreached") };
  return { cls: left < 5 * 60 * 1000 ? "sla-warn" : "", text: t("inbox.slaDue", { time: duration(left) }) };
}

function Row({ c, view, selected, count, open, now }) {
  const n = count(c);
  const sla = slaInfo(c, now);
  const channels = (c.channels && c.channels.length ? c.channels : [c.last_channel]).filter(Boolean);
  const waiting = c.status === "open" && !c.assignee_id && c.queued_at;
  const cls = ["inbox-item", n && "unread", selected && "selected"].filter(Boolean).join(" ");
  return html`<li class=${cls} data-testid="inbox-item" data-id=${c.conversation_id} role="option"
      aria-selected=${String(selected)} tabindex=${selected ? "0" : "-1"}
      onClick=${() => open(c.conversation_id)}
      onKeyDown=${(e) => { if (e.key === "Enter") { e.preventDefault(); e.stopPropagation(); open(c.conversation_id); } }}>
    <span class="inbox-channels">
      ${channels.map((ch) => html`<${ChannelIcon} key=${ch} channel=${ch} data-testid="inbox-item-channel" data-channel=${ch} />`)}
    </span>
    <div class="inbox-main">
      <div class="inbox-name">
        <span>${customerLabel(c.customer)}</span>
        ${n ? html`<span class="badge" data-testid="unread-badge" title=${t("inbox.unread", { n })}>${n}</span>` : null}
      </div>
      <div class="inbox-preview">${c.preview || ""}</div>
    </div>
    <div class="inbox-meta">
      ${c.priority && c.priority !== "normal" ? html`<span class=${`prio prio-${c.priority}`}>${t(`priority.${c.priority}`)}</span>` : null}
      ${(c.tags || []).map((tag) => html`<span class="chip" key=${tag}>${tag}</span>`)}
      ${waiting ? html`<span class="waiting" data-since=${c.queued_at}>${t("inbox.waiting", { time: duration(Math.max(0, now - new Date(c.queued_at).getTime())) })}</span>`
        : c.assignee_id && view !== "mine" ? html`<span>${t("inbox.assignee", { agent: c.assignee_id })}</span>` : null}
      ${sla ? html`<span class=${`sla ${sla.cls}`} data-testid="inbox-item-sla">${sla.text}</span>` : null}
      <time datetime=${c.last_message_at || ""}>${when(c.last_message_at)}</time>
    </div>
  </li>`;
}

export default function Inbox({ me, route, navigate }) {
  const allowed = me.role === "agent" ? ["mine", "queue"] : ["mine", "queue", "all"];
  const [st, setSt] = useState(() => {
    const s = loadState(me);
    if (route.query && allowed.includes(route.query.view)) s.view = route.query.view;
    // a dashboard's drill-down (view-reports.js) names the filters too
    if (route.query && route.query.view) {
      Object.assign(s, { channel: route.query.channel || "", priority: route.query.priority || "", status: route.query.status === "closed" ? "closed" : "open" });
    }
    return s;
  });
  const [selected, setSelected] = useState(0);
  const [now, setNow] = useState(Date.now());
  const listRef = useRef(null);

  const change = (patch) => {
    const next = { ...st, ...patch };
    sessionStorage.setItem(STATE_KEY, JSON.stringify(next));
    setSt(next);
    setSelected(0);
  };

  const paged = usePaged((cursor, limit) => {
    const q = { view: st.view, limit };
    if (st.channel) q.channel = st.channel;
    if (st.priority) q.priority = st.priority;
    if (st.tag) q.tag = st.tag;
    if (st.view === "all") q.status = st.status;
    if (cursor) q.cursor = cursor;
    return api.get("/conversations", q);
  }, [st.view, st.channel, st.priority, st.tag, st.status]);
  const items = paged.items;

  useEffect(() => {
    if (paged.error) toast(t("error.generic", { message: paged.error.message }), "error");
  }, [paged.error]);
  useEffect(() => {
    sessionStorage.setItem(ORDER_KEY, JSON.stringify(items.map((c) => c.conversation_id)));
    if (selected >= items.length && items.length) setSelected(items.length - 1);
  }, [items]);

  // live updates, at most one reload per 250 ms
  const timer = useRef(null);
  useFeed(LIVE_KINDS, () => {
    if (timer.current) return;
    timer.current = setTimeout(() => { timer.current = null; paged.reload(); }, 250);
  });
  useEffect(() => () => clearTimeout(timer.current), []);
  useInterval(() => setNow(Date.now()), 15000);

  const open = (id) => navigate(`#/c/${encodeURIComponent(id)}`);
  const select = (index) => {
    if (!items.length) return;
    const i = Math.max(0, Math.min(items.length - 1, index));
    setSelected(i);
    const row = listRef.current && listRef.current.querySelectorAll(".inbox-item")[i];
    if (row) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  };
  const openSelected = (e) => {
    if (!items[selected] || (e.target && e.target.closest && e.target.closest("button, a, li"))) return;
    e.preventDefault();
    open(items[selected].conversation_id);
  };
  useShortcuts({
    j: (e) => { e.preventDefault(); select(selected + 1); },
    ArrowDown: (e) => { e.preventDefault(); select(selected + 1); },
    k: (e) => { e.preventDefault(); select(selected - 1); },
    ArrowUp: (e) => { e.preventDefault(); select(selected - 1); },
    Enter: openSelected,
    o: (e) => { if (items[selected]) { e.preventDefault(); open(items[selected].conversation_id); } },
  });

  const count = unread.counter();
  return html`<section class="inbox" aria-label=${t("inbox.title")}>
    <div class="inbox-bar">
      <div class="tabs" role="tablist">
        ${allowed.map((v) => html`<button key=${v} class=${st.view === v ? "btn active" : "btn"} role="tab"
          aria-selected=${String(st.view === v)} data-testid=${`inbox-view-${v}`} data-view=${v}
          onClick=${() => change({ view: v })}>${t(`inbox.${v}`)}</button>`)}
      </div>
      <select data-testid="inbox-filter-channel" aria-label=${t("inbox.channel")} onChange=${(e) => change({ channel: e.target.value })}>
        <option value="">${t("inbox.anyChannel")}</option>
        ${CHANNELS.map((c) => html`<option key=${c} value=${c} selected=${st.channel === c}>${channelName(c)}</option>`)}
      </select>
      <select data-testid="inbox-filter-priority" aria-label=${t("inbox.priority")} onChange=${(e) => change({ priority: e.target.value })}>
        <option value="">${t("inbox.anyPriority")}</option>
        ${["urgent", "high", "normal", "low"].map((p) => html`<option key=${p} value=${p} selected=${st.priority === p}>${t(`priority.${p}`)}</option>`)}
      </select>
      <input type="search" class="tag-input" value=${st.tag} placeholder=${t("inbox.tagPlaceholder")} aria-label=${t("inbox.tag")}
        data-testid="inbox-filter-tag" onChange=${(e) => change({ tag: e.target.value.trim().toLowerCase() })} />
      ${st.view === "all" ? html`<select data-testid="inbox-filter-status" aria-label=${t("inbox.status")} onChange=${(e) => change({ status: e.target.value })}>
        ${["open", "closed"].map((s) => html`<option key=${s} value=${s} selected=${st.status === s}>${t(`inbox.${s}`)}</option>`)}
      </select>` : null}
      <span class="spacer"></span>
      <span class="muted" aria-live="polite">${paged.loaded ? t("inbox.count", { n: items.length + (paged.more ? "+" : "") }) : ""}</span>
      <button class="btn ghost small" onClick=${() => paged.reload()}>${t("inbox.refresh")}</button>
      <small class="muted">${t("inbox.shortcuts")}</small>
    </div>
    <ul class="inbox-list" data-testid="inbox-list" role="listbox" aria-label=${t("inbox.title")} ref=${listRef}>
      ${paged.loaded && !items.length ? html`<li class="empty" data-testid="inbox-empty">${t("inbox.empty")}</li>` : null}
      ${items.map((c, i) => html`<${Row} key=${c.conversation_id} c=${c} view=${st.view} selected=${i === selected}
        count=${count} open=${open} now=${now} />`)}
    </ul>
    <${LoadMore} paged=${paged} testid="inbox-load-more" />
  </section>`;
}
