// view-tickets.js — #/tickets (views: mine, group, status, overdue; paged on the API's cursors) and
// #/tickets/<id>: status, priority, assignee (PATCH with the version read; a 409 reloads and says
// so), sub-tickets with progress, history, internal comments and public replies, and the SLA state
// with a countdown. Tickets are shown as "#10001" everywhere (labels.js).
import { api } from "./api.js";
import { useFeed } from "./feed.js";
import { duration, when } from "./format.js";
import { html, useEffect, useState } from "./html.js";
import { label, t } from "./i18n.js";
import { ticketLabel } from "./labels.js";
import {
  ChannelIcon, Empty, ErrorText, Field, LoadMore, Loading, Select, errorText, toast, useAlive, useForm, useId, useInterval, usePaged,
} from "./ui.js";

const STATUSES = ["new", "open", "pending_customer", "on_hold", "solved", "closed"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
const VIEWS = ["mine", "group", "status", "overdue"];
const tpath = (id) => `/tickets/${encodeURIComponent(id)}`;

function StatusBadge({ status }) {
  return html`<span class=${`status status-${status}`}>${label("tk.st", status)}</span>`;
}

function countdown(iso) {
  if (!iso) return "";
  const ms = new Date(iso).getTime() - Date.now();
  return ms >= 0 ? t("tk.sla.left", { time: duration(ms) }) : t("tk.sla.over", { time: duration(-ms) });
}

function useGroups() {
  const [groups, setGroups] = useState(null);
  useEffect(() => { api.get("/admin/groups").then((r) => setGroups(r.items || []), () => setGroups([])); }, []);
  return groups;
}

// ---- list ------------------------------------------------------------------------------------------
function TicketList({ me, route, navigate }) {
  const q = route.query || {};
  const view = VIEWS.includes(q.view) ? q.view : "mine";
  const groups = useGroups();
  const group = q.group || ((me && me.groups) || [])[0] || (groups && groups[0] && groups[0].group_id) || "";
  const status = STATUSES.includes(q.status) ? q.status : "open";
  const go = (changes) => {
    const next = new URLSearchParams({ view, ...(view === "group" ? { group } : {}), ...(view === "status" ? { status } : {}), ...changes });
    navigate(`#/tickets?${next}`);
  };
  const paged = usePaged((cursor, limit) => {
    const params = { view, limit, cursor };
    if (view === "group") params.group = group;
    if (view === "status") params.status = status;
    return api.get("/tickets", params);
  }, [view, group, status]);
  useFeed("ticket.updated", () => paged.reload());
  const open = (tk) => navigate(`#/tickets/${encodeURIComponent(tk.ticket_id)}`);
  const heads = ["tk.number", "tk.subject", "tk.status", "tk.priority", "tk.assignee", "tk.due", "tk.updated"];
  return html`<div class="page">
    <div class="page-head">
      <h1>${t("tk.title")}</h1>
      <div class="tabs" role="tablist">
        ${VIEWS.map((v) => html`<button key=${v} class="btn" role="tab" aria-selected=${String(v === view)} aria-pressed=${String(v === view)}
          data-testid=${`tickets-view-${v}`} onClick=${() => go({ view: v })}>${t(`tk.view.${v}`)}</button>`)}
      </div>
      ${view === "group" ? html`<${Select} options=${(groups || []).map((g) => [g.group_id, g.name || g.group_id])} value=${group}
        aria-label=${t("tk.group")} data-testid="tickets-group" onChange=${(v) => go({ group: v })} />` : null}
      ${view === "status" ? html`<${Select} options=${STATUSES.map((s) => [s, label("tk.st", s)])} value=${status}
        aria-label=${t("tk.status")} data-testid="tickets-status" onChange=${(v) => go({ status: v })} />` : null}
    </div>
    <div class="card">
      <table class="data" data-testid="tickets-list">
        <thead><tr>${heads.map((k) => html`<th scope="col" key=${k}>${t(k)}</th>`)}</tr></thead>
        <tbody>
          ${paged.items.map((tk) => html`<tr key=${tk.ticket_id} class="clickable" tabindex="0" data-testid="ticket-item" data-id=${tk.ticket_id}
              onClick=${() => open(tk)} onKeyDown=${(e) => { if (e.key === "Enter") open(tk); }}>
            <td class="num">${ticketLabel(tk)}</td>
            <td>${tk.channel ? html`<${ChannelIcon} channel=${tk.channel} />` : null} ${tk.subject || ""}
              ${tk.parent_id ? html`<small class="muted"> ↳ ${ticketLabel(tk.parent_id)}</small>` : null}
              ${tk.progress && tk.progress.total ? html`<small class="muted"> · ${t("tk.progress", tk.progress)}</small>` : null}</td>
            <td><${StatusBadge} status=${tk.status} /></td>
            <td><span class=${`prio prio-${tk.priority}`}>${label("priority", tk.priority)}</span></td>
            <td>${tk.assignee_id || html`<span class="muted">${t("tk.unassigned")}</span>`}</td>
            <td class=${tk.sla_state === "breached" ? "num sla-breached" : "num"}>${tk.sla_next_due ? countdown(tk.sla_next_due) : "—"}</td>
            <td class="muted">${when(tk.updated_at)}</td>
          </tr>`)}
        </tbody>
      </table>
      ${paged.error ? html`<${ErrorText} err=${paged.error} />` : paged.loaded && !paged.items.length ? html`<${Empty} testid="tickets-empty">${t("tk.empty")}<//>` : null}
      ${!paged.loaded ? html`<${Loading} />` : null}
      <${LoadMore} paged=${paged} testid="tickets-load-more" />
    </div>
  </div>`;
}

// ---- detail ----------------------------------------------------------------------------------------
function SlaBox({ tk }) {
  const [, setTick] = useState(0);
  useInterval(() => setTick((n) => n + 1), tk.sla_next_due ? 30000 : 0);
  if (!tk.sla_policy_id && !tk.sla_state) {
    return html`<div class="card sla-box" data-testid="ticket-sla" data-state="none"><h2>${t("tk.sla")}</h2><p class="muted">${t("tk.sla.none")}</p></div>`;
  }
  const state = tk.sla_state || "ok";
  const cls = state === "breached" ? "sla-breached" : state === "warning" ? "sla-warn" : "";
  const rows = [[t("tk.sla.policy"), tk.sla_policy_id || "—"], [t("tk.sla.state"), label("tk.sla", state), cls]];
  for (const target of ["first_response", "next_response", "resolution"]) {
    const due = tk[`sla_${target}_due`];
    if (due) rows.push([t(`tk.sla.${target}`), `${when(due)} (${countdown(due)})`, tk.sla_breaches && tk.sla_breaches[target] ? "sla-breached" : ""]);
  }
  if (tk.sla_next_due) rows.push([t("tk.sla.next"), `${label("tk.sla", tk.sla_next_target || "")} · ${countdown(tk.sla_next_due)}`, cls]);
  const breaches = Object.entries(tk.sla_breaches || {});
  if (breaches.length) rows.push([t("tk.sla.breaches"), breaches.map(([k, v]) => `${label("tk.sla", k)}: ${when(v)}`).join("; "), "sla-breached"]);
  if (tk.sla_level) rows.push([t("tk.sla.level"), String(tk.sla_level)]);
  return html`<div class="card sla-box" data-testid="ticket-sla" data-state=${tk.sla_state || "none"}>
    <h2>${t("tk.sla")}</h2>
    <dl class="facts">${rows.map(([k, v, c], i) => html`<dt key=${`k${i}`}>${k}</dt><dd key=${`v${i}`} class=${c || ""}>${v}</dd>`)}</dl>
  </div>`;
}

function HistoryLine({ ev }) {
  const fmt = (x) => (x === null || x === undefined ? "—" : typeof x === "string" ? x : JSON.stringify(x));
  const parts = [];
  for (const [k, v] of Object.entries(ev.changes || {})) {
    parts.push(v && typeof v === "object" && ("from" in v || "to" in v) ? `${k}: ${fmt(v.from)} → ${fmt(v.to)}` : `${k}: ${fmt(v)}`);
  }
  if (ev.data && !["comment", "reply"].includes(ev.kind)) {
    parts.push(Object.entries(ev.data).map(([k, v]) => `${k}: ${fmt(v)}`).join(", "));
  }
  const isComment = ["comment", "reply", "customer_reply"].includes(ev.kind);
  const cls = ["event-line", isComment ? (ev.public ? "comment-public" : "comment-internal") : ""].join(" ").trim();
  return html`<li class=${cls} data-kind=${ev.kind}>
    <span class="muted">${when(ev.at)}</span>
    <strong>${ev.actor || "system"}</strong> ${label("tk.ev", ev.kind)}
    ${ev.public && isComment ? html`<span class="badge">${t("tk.public")}</span>` : null}
    ${parts.length ? html`<div class="muted pre">${parts.join("\n")}</div>` : null}
    ${ev.text ? html`<div class="pre">${ev.text}</div>` : null}
  </li>`;
}

function Comment({ id, reload }) {
  const [text, setText] = useState("");
  const [pub, setPub] = useState(false);
  const form = useForm(async () => {
    await api.post(`${tpath(id)}/comments`, { text: text.trim(), public: pub });
    toast(pub ? t("tk.replySent") : t("tk.commentSent"), "ok");
    setText("");
    await reload();
  });
  return html`<form class="stack" onSubmit=${(e) => { e.preventDefault(); if (text.trim()) form.submit(); }}>
    <textarea rows="3" maxlength="4000" placeholder=${t("tk.commentPlaceholder")} aria-label=${t("tk.comment")} data-testid="ticket-comment"
      value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
    ${form.errors.text ? html`<small class="field-error" role="alert">${form.errors.text}</small>` : null}
    <div class="row">
      <label class="row"><input type="checkbox" data-testid="ticket-comment-public" checked=${pub} onChange=${(e) => setPub(e.target.checked)} />${t("tk.public")}</label>
      <span class="spacer"></span>
      <button class="btn primary" type="submit" data-testid="ticket-comment-submit" disabled=${form.busy}>${t("tk.commentSend")}</button>
    </div>
  </form>`;
}

function Subtickets({ id, data, groups, reload }) {
  const tk = data.ticket;
  const [group, setGroup] = useState("");
  const [subject, setSubject] = useState("");
  const form = useForm(async () => {
    await api.post(`${tpath(id)}/subtickets`, { group_id: group || (groups[0] && groups[0].group_id), subject: subject.trim() });
    toast(t("tk.subCreated"), "ok");
    setSubject("");
    await reload();
  });
  const progress = tk.progress || { total: (data.children || []).length, done: 0, percent: 0 };
  const percent = Math.max(0, Math.min(100, progress.percent || 0));
  return html`<div class="card" data-testid="ticket-subtickets">
    <h2>${t("tk.subtickets")} ${progress.total ? html`<small class="muted">${t("tk.progress", progress)}</small>` : null}</h2>
    ${progress.total ? html`<div class="progress" role="progressbar" aria-valuenow=${String(percent)} aria-valuemin="0" aria-valuemax="100">
      <span style=${{ width: `${percent}%` }}></span></div>` : null}
    <ul class="list">${(data.children || []).map((c) => html`<li class="row" data-id=${c.ticket_id} key=${c.ticket_id}>
      <a href=${`#/tickets/${encodeURIComponent(c.ticket_id)}`}>${ticketLabel(c)}</a>
      <span>${c.subject || ""}</span><${StatusBadge} status=${c.status} /><small class="muted">${c.group_id || ""}</small></li>`)}</ul>
    ${tk.parent_id ? null : html`<form class="row" onSubmit=${(e) => { e.preventDefault(); if (subject.trim()) form.submit(); }}>
      <${Select} options=${groups.map((g) => [g.group_id, g.name || g.group_id])} value=${group || (groups[0] && groups[0].group_id)}
        aria-label=${t("tk.group")} onChange=${setGroup} />
      <input maxlength="200" required aria-label=${t("tk.subject")} placeholder=${t("tk.subject")} data-testid="subticket-subject"
        value=${subject} onInput=${(e) => setSubject(e.target.value)} />
      <button class="btn small" type="submit" data-testid="subticket-submit" disabled=${form.busy}>${t("tk.subAdd")}</button>
      ${Object.values(form.errors).length ? html`<small class="field-error" role="alert">${Object.values(form.errors).join("; ")}</small>` : null}
    </form>`}
  </div>`;
}

function TicketDetail({ me, id }) {
  const groups = useGroups();
  const [agents, setAgents] = useState(null);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState("");
  const alive = useAlive();
  const ids = { status: useId("tk"), prio: useId("tk"), assignee: useId("tk"), group: useId("tk") };

  useEffect(() => {
    if (["supervisor", "admin"].includes(me && me.role)) { // /admin/agents answers 403 to agents
      api.get("/admin/agents").then((r) => alive.current && setAgents(r.items || null), () => {});
    }
  }, []);
  const reload = async (message = "") => {
    try {
      const next = await api.get(tpath(id));
      if (!alive.current) return;
      setData(next);
      setNotice(message);
      setError(null);
    } catch (err) {
      if (alive.current) setError(err);
    }
  };
  useEffect(() => { reload(); }, [id]);
  useFeed("ticket.updated", (ev) => { if ((ev.ticket_id || (ev.data && ev.data.ticket_id)) === id) reload(); });

  if (error) return html`<div class="page"><a href="#/tickets">${t("tk.back")}</a><${ErrorText} err=${error} /></div>`;
  if (!data || groups === null) return html`<div class="page" data-testid="ticket-view" data-id=${id}><${Loading} /></div>`;
  const tk = data.ticket;
  const change = async (changes) => {
    try {
      await api.patch(tpath(id), { version: tk.version, ...changes });
      toast(t("tk.saved"), "ok");
      await reload();
    } catch (err) {
      if (err.status === 409) {
        toast(t("tk.conflict"), "error");
        await reload(t("tk.conflict"));
      } else {
        toast(errorText(err), "error");
      }
    }
  };
  const assignee = agents
    ? html`<${Select} id=${ids.assignee} data-testid="ticket-assignee" value=${tk.assignee_id || ""}
        options=${[["", t("tk.unassigned")], ...agents.map((a) => [a.agent_id, a.display_name || a.agent_id])]}
        onChange=${(v) => change({ assignee_id: v || null })} />`
    : html`<input id=${ids.assignee} value=${tk.assignee_id || ""} data-testid="ticket-assignee" placeholder=${t("tk.unassigned")}
        onChange=${(e) => change({ assignee_id: e.target.value.trim() || null })} />`;
  return html`<div class="page" data-testid="ticket-view" data-id=${id}>
    <a href="#/tickets">${t("tk.back")}</a>
    ${notice ? html`<p class="error" role="alert">${notice}</p>` : null}
    <div class="page-head"><h1>${ticketLabel(tk)} ${tk.subject || ""}</h1><${StatusBadge} status=${tk.status} /></div>
    <div class="grid2">
      <div class="stack">
        ${tk.description ? html`<div class="card"><h2>${t("tk.description")}</h2><p class="pre">${tk.description}</p></div>` : null}
        <div class="card"><h2>${t("tk.comment")}</h2><${Comment} id=${id} reload=${reload} /></div>
        <div class="card history"><h2>${t("tk.history")}</h2>
          <ol class="list" data-testid="ticket-history">${(data.history || []).map((ev, i) => html`<${HistoryLine} key=${i} ev=${ev} />`)}</ol></div>
      </div>
      <div class="stack">
        <div class="card">
          <${Field} label=${t("tk.status")} id=${ids.status}>
            <${Select} id=${ids.status} data-testid="ticket-status" value=${tk.status} options=${STATUSES.map((s) => [s, label("tk.st", s)])}
              onChange=${(v) => change({ status: v })} /><//>
          <${Field} label=${t("tk.priority")} id=${ids.prio}>
            <${Select} id=${ids.prio} data-testid="priority-select" value=${tk.priority} options=${PRIORITIES.map((p) => [p, label("priority", p)])}
              onChange=${(v) => change({ priority: v })} /><//>
          <${Field} label=${t("tk.assignee")} id=${ids.assignee}>${assignee}<//>
          <${Field} label=${t("tk.group")} id=${ids.group}>
            <${Select} id=${ids.group} data-testid="ticket-group" value=${tk.group_id || ""}
              options=${[["", "—"], ...groups.map((g) => [g.group_id, g.name || g.group_id])]} onChange=${(v) => change({ group_id: v || null })} /><//>
          <dl class="facts">
            ${tk.requester_id ? html`<dt>${t("tk.requester")}</dt><dd><a href=${`#/customers/${encodeURIComponent(tk.requester_id)}`}>${t("tk.requesterOpen")}</a></dd>` : null}
            ${tk.parent_id ? html`<dt>${t("tk.parent")}</dt><dd><a href=${`#/tickets/${encodeURIComponent(tk.parent_id)}`}>${ticketLabel(tk.parent_id)}</a></dd>` : null}
            ${(tk.conversation_ids || []).length ? html`<dt>${t("tk.conversations")}</dt>
              <dd>${tk.conversation_ids.map((c) => html`<div key=${c}><a href=${`#/c/${encodeURIComponent(c)}`}>${c}</a></div>`)}</dd>` : null}
            <dt>${t("tk.updated")}</dt><dd>${when(tk.updated_at)}</dd>
          </dl>
        </div>
        <${SlaBox} tk=${tk} />
        <${Subtickets} id=${id} data=${data} groups=${groups} reload=${reload} />
      </div>
    </div>
  </div>`;
}

export default function Tickets({ me, route, navigate }) {
  return route.id ? html`<${TicketDetail} me=${me} id=${route.id} />` : html`<${TicketList} me=${me} route=${route} navigate=${navigate} />`;
}
