// view-inbox.js — #/inbox: mine / queue / all, filters (channel, priority, tag), cursor paging,
// channel icons, waiting time, SLA countdown, unread badges, live updates from the feed,
// keyboard j/k (next/previous), Enter or o (open).
import { clear, duration, fill, h, isTyping, when } from "./dom.js";
import { CHANNELS, channelIcon, channelName } from "./icons.js";
import { addStrings, t } from "./i18n.js";
import { customerLabel } from "./labels.js";

addStrings({
  en: {
    "inbox.title": "Inbox",
    "inbox.mine": "Mine",
    "inbox.queue": "Queues",
    "inbox.all": "All",
    "inbox.channel": "Channel",
    "inbox.anyChannel": "All channels",
    "inbox.priority": "Priority",
    "inbox.anyPriority": "Any priority",
    "inbox.tag": "Tag",
    "inbox.tagPlaceholder": "Filter by tag",
    "inbox.status": "Status",
    "inbox.open": "Open",
    "inbox.closed": "Closed",
    "inbox.empty": "No conversations here.",
    "inbox.more": "Load more",
    "inbox.waiting": "waiting {time}",
    "inbox.assignee": "→ {agent}",
    "inbox.slaDue": "SLA {time}",
    "inbox.slaBreached": "SLA breached",
    "inbox.slaMet": "answered",
    "inbox.unread": "{n} unread",
    "inbox.count": "{n} conversations",
    "inbox.refresh": "Refresh",
    "inbox.shortcuts": "j / k move · Enter open",
  },
  "zh-CN": {
    "inbox.title": "收件箱",
    "inbox.mine": "我的",
    "inbox.queue": "队列",
    "inbox.all": "全部",
    "inbox.channel": "渠道",
    "inbox.anyChannel": "全部渠道",
    "inbox.priority": "优先级",
    "inbox.anyPriority": "全部优先级",
    "inbox.tag": "标签",
    "inbox.tagPlaceholder": "按标签筛选",
    "inbox.status": "状态",
    "inbox.open": "进行中",
    "inbox.closed": "已关闭",
    "inbox.empty": "这里没有会话。",
    "inbox.more": "加载更多",
    "inbox.waiting": "已等待 {time}",
    "inbox.assignee": "→ {agent}",
    "inbox.slaDue": "SLA {time}",
    "inbox.slaBreached": "SLA 已超时",
    "inbox.slaMet": "已响应",
    "inbox.unread": "{n} 条未读",
    "inbox.count": "{n} 个会话",
    "inbox.refresh": "刷新",
    "inbox.shortcuts": "j / k 上下移动 · Enter 打开",
  },
});

const STATE_KEY = "omniflow.inbox";
export const ORDER_KEY = "omniflow.inbox.order"; // the ids last shown, for "next conversation" (n)
const LIVE_KINDS = [
  "message.new",
  "conversation.queued",
  "conversation.assigned",
  "conversation.transferred",
  "conversation.closed",
  "conversation.updated",
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
    allowed,
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

export async function render(root, params, ctx) {
  const { api, me, unread } = ctx;
  const st = loadState(me);
  if (params.query && st.allowed.includes(params.query.view)) st.view = params.query.view;
  let items = [];
  let nextCursor = null;
  let selected = 0;
  let refreshTimer = null;
  let generation = 0;

  const save = () => sessionStorage.setItem(STATE_KEY, JSON.stringify({
    view: st.view, channel: st.channel, priority: st.priority, tag: st.tag, status: st.status,
  }));

  const list = h("ul", { class: "inbox-list", "data-testid": "inbox-list", role: "listbox", "aria-label": t("inbox.title") });
  const count = h("span", { class: "muted", "aria-live": "polite" });
  const more = h("button", { class: "btn load-more", "data-testid": "inbox-load-more", hidden: true, onclick: () => load(true) }, t("inbox.more"));

  const tabs = h(
    "div",
    { class: "tabs", role: "tablist" },
    st.allowed.map((v) =>
      h("button", {
        class: ["btn", st.view === v && "active"], role: "tab", "aria-selected": String(st.view === v),
        "data-testid": `inbox-view-${v}`, "data-view": v,
        onclick: () => {
          st.view = v;
          for (const b of tabs.children) {
            const on = b.dataset.view === v;
            b.classList.toggle("active", on);
            b.setAttribute("aria-selected", String(on));
          }
          statusSel.hidden = v !== "all";
          save();
          load(false);
        },
      }, t(`inbox.${v}`)),
    ),
  );
  const channelSel = h(
    "select",
    {
      "data-testid": "inbox-filter-channel", "aria-label": t("inbox.channel"),
      onchange: (e) => { st.channel = e.target.value; save(); load(false); },
    },
    h("option", { value: "" }, t("inbox.anyChannel")),
    CHANNELS.map((c) => h("option", { value: c, selected: st.channel === c }, channelName(c))),
  );
  const prioritySel = h(
    "select",
    {
      "data-testid": "inbox-filter-priority", "aria-label": t("inbox.priority"),
      onchange: (e) => { st.priority = e.target.value; save(); load(false); },
    },
    h("option", { value: "" }, t("inbox.anyPriority")),
    ["urgent", "high", "normal", "low"].map((p) => h("option", { value: p, selected: st.priority === p }, t(`priority.${p}`))),
  );
  const tagInput = h("input", {
    type: "search", class: "tag-input", value: st.tag, placeholder: t("inbox.tagPlaceholder"),
    "aria-label": t("inbox.tag"), "data-testid": "inbox-filter-tag",
    onchange: (e) => { st.tag = e.target.value.trim().toLowerCase(); save(); load(false); },
  });
  const statusSel = h(
    "select",
    {
      "data-testid": "inbox-filter-status", "aria-label": t("inbox.status"), hidden: st.view !== "all",
      onchange: (e) => { st.status = e.target.value; save(); load(false); },
    },
    ["open", "closed"].map((s) => h("option", { value: s, selected: st.status === s }, t(`inbox.${s}`))),
  );

  fill(
    root,
    h(
      "section",
      { class: "inbox", "aria-label": t("inbox.title") },
      h("div", { class: "inbox-bar" },
        tabs, channelSel, prioritySel, tagInput, statusSel,
        h("span", { class: "spacer" }), count,
        h("button", { class: "btn ghost small", onclick: () => load(false) }, t("inbox.refresh")),
        h("small", { class: "muted" }, t("inbox.shortcuts"))),
      list,
      more,
    ),
  );

  function query(cursor, limit) {
    const q = { view: st.view, limit };
    if (st.channel) q.channel = st.channel;
    if (st.priority) q.priority = st.priority;
    if (st.tag) q.tag = st.tag;
    if (st.view === "all") q.status = st.status;
    if (cursor) q.cursor = cursor;
    return q;
  }

  function itemRow(c, index) {
    const n = unread.count(c);
    const name = customerLabel(c.customer);
    const meta = [];
    if (c.priority && c.priority !== "normal") meta.push(h("span", { class: ["prio", `prio-${c.priority}`] }, t(`priority.${c.priority}`)));
    for (const tag of c.tags || []) meta.push(h("span", { class: "chip" }, tag));
    if (c.status === "open" && !c.assignee_id && c.queued_at) {
      meta.push(h("span", { class: "waiting", "data-since": c.queued_at }, waitingText(c.queued_at)));
    } else if (c.assignee_id && st.view !== "mine") {
      meta.push(h("span", {}, t("inbox.assignee", { agent: c.assignee_id })));
    }
    const sla = slaInfo(c);
    if (sla) meta.push(h("span", { class: ["sla", sla.cls], "data-testid": "inbox-item-sla" }, sla.text));
    meta.push(h("time", { datetime: c.last_message_at || "" }, when(c.last_message_at)));
    return h(
      "li",
      {
        class: ["inbox-item", n && "unread", index === selected && "selected"],
        "data-testid": "inbox-item", "data-id": c.conversation_id, role: "option",
        "aria-selected": String(index === selected), tabindex: index === selected ? "0" : "-1",
        onclick: () => open(c.conversation_id),
        onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); open(c.conversation_id); } },
      },
      h("span", { class: "inbox-channels" },
        (c.channels && c.channels.length ? c.channels : [c.last_channel]).filter(Boolean).map((ch) =>
          channelIcon(ch, { "data-testid": "inbox-item-channel", "data-channel": ch }))),
      h("div", { class: "inbox-main" },
        h("div", { class: "inbox-name" },
          h("span", {}, name),
          n ? h("span", { class: "badge", "data-testid": "unread-badge", title: t("inbox.unread", { n }) }, String(n)) : null),
        h("div", { class: "inbox-preview" }, c.preview || "")),
      h("div", { class: "inbox-meta" }, meta),
    );
  }

  function waitingText(since) {
    const ms = Date.now() - new Date(since).getTime();
    return t("inbox.waiting", { time: duration(Math.max(0, ms)) });
  }

  function draw() {
    const frag = document.createDocumentFragment();
    items.forEach((c, i) => frag.appendChild(itemRow(c, i)));
    clear(list);
    if (!items.length) list.appendChild(h("li", { class: "empty" }, t("inbox.empty")));
    list.appendChild(frag);
    more.hidden = !nextCursor;
    fill(count, t("inbox.count", { n: items.length + (nextCursor ? "+" : "") }));
    sessionStorage.setItem(ORDER_KEY, JSON.stringify(items.map((c) => c.conversation_id)));
  }

  function select(index, focus = true) {
    if (!items.length) return;
    selected = Math.max(0, Math.min(items.length - 1, index));
    const rows = list.querySelectorAll(".inbox-item");
    rows.forEach((row, i) => {
      const on = i === selected;
      row.classList.toggle("selected", on);
      row.setAttribute("aria-selected", String(on));
      row.tabIndex = on ? 0 : -1;
      if (on && focus) {
        row.focus({ preventScroll: true });
        row.scrollIntoView({ block: "nearest" });
      }
    });
  }

  function open(id) {
    ctx.navigate(`#/c/${encodeURIComponent(id)}`);
  }

  async function load(append) {
    const gen = ++generation;
    try {
      if (append) {
        const res = await api.get("/conversations", query(nextCursor, 50));
        if (gen !== generation || !ctx.active) return;
        items = items.concat(res.items || []);
        nextCursor = res.next_cursor;
      } else {
        // A refresh reloads as many items as were shown (a live update must not shorten the list).
        const want = Math.max(50, items.length);
        let got = [];
        let cursor = null;
        do {
          const res = await api.get("/conversations", query(cursor, Math.min(100, Math.max(50, want - got.length))));
          if (gen !== generation || !ctx.active) return;
          got = got.concat(res.items || []);
          cursor = res.next_cursor;
        } while (cursor && got.length < want);
        const keep = items[selected] && items[selected].conversation_id;
        items = got;
        nextCursor = cursor;
        const again = items.findIndex((c) => c.conversation_id === keep);
        selected = again >= 0 ? again : Math.min(selected, Math.max(0, items.length - 1));
      }
      draw();
    } catch (err) {
      if (gen === generation) ctx.toast(t("error.generic", { message: err.message }), "error");
    }
  }

  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      if (ctx.active) load(false);
    }, 250);
  }

  for (const kind of LIVE_KINDS) ctx.on(kind, refreshSoon);
  ctx.on("reset", refreshSoon);

  const tick = setInterval(() => {
    for (const el of list.querySelectorAll(".waiting")) el.textContent = waitingText(el.dataset.since);
    const byId = new Map(items.map((x) => [x.conversation_id, x]));
    for (const row of list.querySelectorAll(".inbox-item")) {
      const c = byId.get(row.dataset.id);
      const el = row.querySelector(".sla");
      const info = c && slaInfo(c);
      if (el && info) {
        el.className = ["sla", info.cls].filter(Boolean).join(" ");
        el.textContent = info.text;
      }
    }
  }, 15000);

  const onKey = (e) => {
    if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j" || e.key === "ArrowDown") { e.preventDefault(); select(selected + 1); }
    else if (e.key === "k" || e.key === "ArrowUp") { e.preventDefault(); select(selected - 1); }
    else if ((e.key === "Enter" || e.key === "o") && items[selected]) {
      if (e.target && e.target.closest && e.target.closest("button, a")) return;
      e.preventDefault();
      open(items[selected].conversation_id);
    }
  };
  document.addEventListener("keydown", onKey);
  ctx.cleanup(() => {
    document.removeEventListener("keydown", onKey);
    clearInterval(tick);
    if (refreshTimer) clearTimeout(refreshTimer);
  });

  await load(false);
}
