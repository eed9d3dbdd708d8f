// view-tickets.js — #/tickets (views: mine, group, status, overdue) and #/tickets/<id>: status,
// priority, assignee (PATCH with the version read; a 409 reloads and says so), sub-tickets with
// progress, history, internal comments and public replies, and the SLA state with a countdown.
import { duration, fill, h, when } from "./dom.js";
import { channelIcon } from "./icons.js";
import { addStrings, t } from "./i18n.js";
import { ensureCss, errorText, field, select } from "./views-kit.js";
import { ticketLabel } from "./labels.js";

const STATUSES = ["new", "open", "pending_customer", "on_hold", "solved", "closed"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
const VIEWS = ["mine", "group", "status", "overdue"];

addStrings({
  en: {
    "tk.title": "Tickets",
    "tk.view.mine": "Mine",
    "tk.view.group": "Group",
    "tk.view.status": "By status",
    "tk.view.overdue": "Overdue",
    "tk.group": "Group",
    "tk.status": "Status",
    "tk.priority": "Priority",
    "tk.assignee": "Assignee",
    "tk.unassigned": "Unassigned",
    "tk.subject": "Subject",
    "tk.number": "No.",
    "tk.updated": "Updated",
    "tk.due": "Next due",
    "tk.empty": "No tickets in this view.",
    "tk.more": "Load more",
    "tk.back": "← Tickets",
    "tk.requester": "Customer",
    "tk.conversations": "Conversations",
    "tk.description": "Description",
    "tk.save": "Save",
    "tk.saved": "Ticket updated.",
    "tk.conflict": "The ticket changed meanwhile; it was reloaded — check and apply your change again.",
    "tk.subtickets": "Sub-tickets",
    "tk.progress": "{done} of {total} done",
    "tk.subAdd": "Add sub-ticket",
    "tk.subCreated": "Sub-ticket created.",
    "tk.parent": "Parent ticket",
    "tk.history": "History",
    "tk.comment": "Comment",
    "tk.commentPlaceholder": "Write an internal comment, or a reply to the customer…",
    "tk.public": "Reply to the customer (public)",
    "tk.commentSend": "Add",
    "tk.commentSent": "Comment added.",
    "tk.replySent": "Reply sent to the customer.",
    "tk.sla": "SLA",
    "tk.sla.none": "No SLA policy applies.",
    "tk.sla.policy": "Policy",
    "tk.sla.state": "State",
    "tk.sla.first_response": "First response due",
    "tk.sla.next_response": "Next response due",
    "tk.sla.resolution": "Resolution due",
    "tk.sla.next": "Next deadline",
    "tk.sla.left": "{time} left",
    "tk.sla.over": "{time} over",
    "tk.sla.breaches": "Breaches",
    "tk.sla.level": "Escalation level",
    "tk.sla.ok": "On track", "tk.sla.warning": "At risk", "tk.sla.breached": "Breached",
    "tk.sla.paused": "Paused", "tk.sla.met": "Met",
    "tk.st.new": "New", "tk.st.open": "Open", "tk.st.pending_customer": "Waiting on customer",
    "tk.st.on_hold": "On hold", "tk.st.solved": "Solved", "tk.st.closed": "Closed",
    "tk.ev.created": "created the ticket", "tk.ev.changed": "changed", "tk.ev.comment": "commented",
    "tk.ev.reply": "replied to the customer", "tk.ev.customer_reply": "customer replied", "tk.ev.not_notified": "customer not notified", "tk.ev.escalated": "escalated", "tk.ev.notified": "customer notified",
    "tk.ev.child_added": "added a sub-ticket", "tk.ev.child_done": "sub-ticket done",
    "tk.ev.csat": "customer rating",
  },
  "zh-CN": {
    "tk.title": "工单",
    "tk.view.mine": "我的",
    "tk.view.group": "小组",
    "tk.view.status": "按状态",
    "tk.view.overdue": "已超时",
    "tk.group": "小组",
    "tk.status": "状态",
    "tk.priority": "优先级",
    "tk.assignee": "处理人",
    "tk.unassigned": "未分配",
    "tk.subject": "主题",
    "tk.number": "编号",
    "tk.updated": "更新时间",
    "tk.due": "下一截止",
    "tk.empty": "此视图中没有工单。",
    "tk.more": "加载更多",
    "tk.back": "← 工单",
    "tk.requester": "客户",
    "tk.conversations": "会话",
    "tk.description": "描述",
    "tk.save": "保存",
    "tk.saved": "工单已更新。",
    "tk.conflict": "工单已被他人修改并已重新加载，请检查后再次修改。",
    "tk.subtickets": "子工单",
    "tk.progress": "已完成 {done}/{total}",
    "tk.subAdd": "添加子工单",
    "tk.subCreated": "子工单已创建。",
    "tk.parent": "父工单",
    "tk.history": "历史",
    "tk.comment": "评论",
    "tk.commentPlaceholder": "写一条内部评论，或给客户的回复…",
    "tk.public": "回复客户（公开）",
    "tk.commentSend": "添加",
    "tk.commentSent": "评论已添加。",
    "tk.replySent": "回复已发送给客户。",
    "tk.sla": "SLA",
    "tk.sla.none": "没有适用的 SLA 策略。",
    "tk.sla.policy": "策略",
    "tk.sla.state": "状态",
    "tk.sla.first_response": "首次响应截止",
    "tk.sla.next_response": "下次响应截止",
    "tk.sla.resolution": "解决截止",
    "tk.sla.next": "下一截止",
    "tk.sla.left": "剩余 {time}",
    "tk.sla.over": "已超 {time}",
    "tk.sla.breaches": "违约",
    "tk.sla.level": "升级级别",
    "tk.sla.ok": "正常", "tk.sla.warning": "有风险", "tk.sla.breached": "已违约",
    "tk.sla.paused": "已暂停", "tk.sla.met": "已达成",
    "tk.st.new": "新建", "tk.st.open": "处理中", "tk.st.pending_customer": "等待客户",
    "tk.st.on_hold": "挂起", "tk.st.solved": "已解决", "tk.st.closed": "已关闭",
    "tk.ev.created": "创建了工单", "tk.ev.changed": "修改了", "tk.ev.comment": "发表了评论",
    "tk.ev.reply": "回复了客户", "tk.ev.customer_reply": "客户回复", "tk.ev.not_notified": "未通知客户", "tk.ev.escalated": "已升级", "tk.ev.notified": "已通知客户",
    "tk.ev.child_added": "添加了子工单", "tk.ev.child_done": "子工单已完成",
    "tk.ev.csat": "客户评分",
  },
});

const tpath = (id) => `/tickets/${encodeURIComponent(id)}`;
const label = (prefix, value) => {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? String(value ?? "") : text;
};

function statusBadge(status) {
  return h("span", { class: ["status", `status-${status}`] }, label("tk.st", status));
}

function countdown(iso) {
  if (!iso) return "";
  const ms = new Date(iso).getTime() - Date.now();
  return ms >= 0 ? t("tk.sla.left", { time: duration(ms) }) : t("tk.sla.over", { time: duration(-ms) });
}

async function groups(ctx) {
  try { return (await ctx.api.get("/admin/groups")).items || []; } catch { return []; }
}

// ---- list --------------------------------------------------------------------------------------
async function renderList(root, params, ctx) {
  const q = params.query || {};
  const view = VIEWS.includes(q.view) ? q.view : "mine";
  const all = await groups(ctx);
  const myGroups = (ctx.me && ctx.me.groups) || [];
  const group = q.group || myGroups[0] || (all[0] && all[0].group_id) || "";
  const status = STATUSES.includes(q.status) ? q.status : "open";
  const go = (changes) => {
    const next = new URLSearchParams({ view, ...(view === "group" ? { group } : {}), ...(view === "status" ? { status } : {}), ...changes });
    ctx.navigate(`#/tickets?${next}`);
  };
  const tabs = h("div", { class: "tabs", role: "tablist" }, VIEWS.map((v) =>
    h("button", { class: "btn", role: "tab", "aria-selected": String(v === view), "aria-pressed": String(v === view), "data-testid": `tickets-view-${v}`, onclick: () => go({ view: v }) }, t(`tk.view.${v}`))));
  const filters = [];
  if (view === "group") {
    filters.push(select(all.map((g) => [g.group_id, g.name || g.group_id]), group, {
      "aria-label": t("tk.group"), "data-testid": "tickets-group", onchange: (e) => go({ group: e.target.value }) }));
  }
  if (view === "status") {
    filters.push(select(STATUSES.map((s) => [s, label("tk.st", s)]), status, {
      "aria-label": t("tk.status"), "data-testid": "tickets-status", onchange: (e) => go({ status: e.target.value }) }));
  }
  const body = h("tbody", {});
  const more = h("button", { class: "btn load-more", hidden: true }, t("tk.more"));
  const table = h("table", { class: "data", "data-testid": "tickets-list" },
    h("thead", {}, h("tr", {}, [t("tk.number"), t("tk.subject"), t("tk.status"), t("tk.priority"), t("tk.assignee"), t("tk.due"), t("tk.updated")].map((c) => h("th", { scope: "col" }, c)))),
    body);
  const empty = h("p", { class: "empty", hidden: true }, t("tk.empty"));
  fill(root, h("div", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, t("tk.title")), tabs, ...filters),
    h("div", { class: "card" }, table, empty, more)));

  let cursor = null;
  async function page() {
    const params2 = { view, limit: 50, cursor };
    if (view === "group") params2.group = group;
    if (view === "status") params2.status = status;
    try {
      const res = await ctx.api.get("/tickets", params2);
      for (const tk of res.items || []) {
        const open = () => ctx.navigate(`#/tickets/${encodeURIComponent(tk.ticket_id)}`);
        body.appendChild(h("tr", {
          class: "clickable", tabindex: "0", "data-testid": "ticket-item", "data-id": tk.ticket_id,
          onclick: open, onkeydown: (e) => { if (e.key === "Enter") open(); },
        },
          h("td", { class: "num" }, ticketLabel(tk)),
          h("td", {}, tk.channel ? channelIcon(tk.channel) : null, " ", tk.subject || "",
            tk.parent_id ? h("small", { class: "muted" }, ` ↳ ${ticketLabel(tk.parent_id)}`) : null,
            tk.progress && tk.progress.total ? h("small", { class: "muted" }, ` · ${t("tk.progress", tk.progress)}`) : null),
          h("td", {}, statusBadge(tk.status)),
          h("td", {}, h("span", { class: ["prio", `prio-${tk.priority}`] }, label("priority", tk.priority))),
          h("td", {}, tk.assignee_id || h("span", { class: "muted" }, t("tk.unassigned"))),
          h("td", { class: ["num", tk.sla_state === "breached" ? "sla-breached" : ""] }, tk.sla_next_due ? countdown(tk.sla_next_due) : "—"),
          h("td", { class: "muted" }, when(tk.updated_at))));
      }
      cursor = res.next_cursor || null;
      more.hidden = !cursor;
      empty.hidden = body.children.length > 0;
    } catch (err) {
      empty.hidden = false;
      fill(empty, errorText(err));
    }
  }
  more.onclick = page;
  await page();
  ctx.on("ticket.updated", () => { body.replaceChildren(); cursor = null; page(); });
}

// ---- detail ------------------------------------------------------------------------------------
function slaBox(tk) {
  const box = h("div", { class: "card sla-box", "data-testid": "ticket-sla", "data-state": tk.sla_state || "none" }, h("h2", {}, t("tk.sla")));
  if (!tk.sla_policy_id && !tk.sla_state) {
    box.appendChild(h("p", { class: "muted" }, t("tk.sla.none")));
    return box;
  }
  const state = tk.sla_state || "ok";
  const cls = state === "breached" ? "sla-breached" : state === "warning" ? "sla-warn" : "";
  const rows = [
    [t("tk.sla.policy"), tk.sla_policy_id || "—"],
    [t("tk.sla.state"), label("tk.sla", state), cls],
  ];
  for (const target of ["first_response", "next_response", "resolution"]) {
    const due = tk[`sla_${target}_due`];
    if (due) rows.push([t(`tk.sla.${target}`), `${when(due)} (${countdown(due)})`, tk.sla_breaches && tk.sla_breaches[target] ? "sla-breached" : ""]);
  }
  if (tk.sla_next_due) rows.push([t("tk.sla.next"), `${label("tk.sla", tk.sla_next_target || "")} · ${countdown(tk.sla_next_due)}`, cls]);
  const breaches = Object.entries(tk.sla_breaches || {});
  if (breaches.length) rows.push([t("tk.sla.breaches"), breaches.map(([k, v]) => `${t(`tk.sla.${k}`)}: ${when(v)}`).join("; "), "sla-breached"]);
  if (tk.sla_level) rows.push([t("tk.sla.level"), String(tk.sla_level)]);
  box.appendChild(h("dl", { class: "facts" }, rows.map(([k, v, c]) => [h("dt", {}, k), h("dd", { class: c || "" }, v)])));
  return box;
}

function historyLine(ev) {
  const who = ev.actor || "system";
  const what = label("tk.ev", ev.kind);
  const parts = [];
  if (ev.changes) {
    for (const [k, v] of Object.entries(ev.changes)) {
      const fmt = (x) => (x === null || x === undefined ? "—" : typeof x === "string" ? x : JSON.stringify(x));
      parts.push(v && typeof v === "object" && ("from" in v || "to" in v) ? `${k}: ${fmt(v.from)} → ${fmt(v.to)}` : `${k}: ${fmt(v)}`);
    }
  }
  if (ev.data && !["comment", "reply"].includes(ev.kind)) {
    parts.push(Object.entries(ev.data).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(", "));
  }
  const isComment = ["comment", "reply", "customer_reply"].includes(ev.kind);
  return h("li", { class: ["event-line", isComment ? (ev.public ? "comment-public" : "comment-internal") : ""], "data-kind": ev.kind },
    h("span", { class: "muted" }, when(ev.at)),
    h("strong", {}, who), " ", what, ev.public && isComment ? h("span", { class: "badge" }, t("tk.public")) : null,
    parts.length ? h("div", { class: "muted pre" }, parts.join("\n")) : null,
    ev.text ? h("div", { class: "pre" }, ev.text) : null);
}

async function renderDetail(root, id, ctx) {
  const page = h("div", { class: "page", "data-testid": "ticket-view", "data-id": id }, h("p", { class: "loading" }, t("loading")));
  fill(root, page);
  const allGroups = await groups(ctx);
  let agents = null;
  if (["supervisor", "admin"].includes(ctx.me && ctx.me.role)) { // /admin/agents answers 403 to agents
    try { agents = (await ctx.api.get("/admin/agents")).items || null; } catch { agents = null; }
  }

  let timer = null;
  ctx.cleanup(() => clearInterval(timer));

  async function reload(notice) {
    let data;
    try {
      data = await ctx.api.get(tpath(id));
    } catch (err) {
      fill(page, h("a", { href: "#/tickets" }, t("tk.back")), h("p", { class: "error" }, errorText(err)));
      return;
    }
    if (ctx.active === false) return;
    draw(data, notice);
  }

  async function change(tk, changes) {
    try {
      await ctx.api.patch(tpath(id), { version: tk.version, ...changes });
      ctx.toast(t("tk.saved"), "ok");
      await reload();
    } catch (err) {
      if (err.status === 409) {
        ctx.toast(t("tk.conflict"), "error");
        await reload(t("tk.conflict"));
      } else {
        ctx.toast(errorText(err), "error");
      }
    }
  }

  function draw(data, notice) {
    const tk = data.ticket;
    const statusSel = select(STATUSES.map((s) => [s, label("tk.st", s)]), tk.status, {
      "data-testid": "ticket-status", onchange: (e) => change(tk, { status: e.target.value }) });
    const prioSel = select(PRIORITIES.map((p) => [p, label("priority", p)]), tk.priority, {
      "data-testid": "priority-select", onchange: (e) => change(tk, { priority: e.target.value }) });
    let assignee;
    if (agents) {
      assignee = select([["", t("tk.unassigned")], ...agents.map((a) => [a.agent_id, a.display_name || a.agent_id])], tk.assignee_id || "", {
        "data-testid": "ticket-assignee", onchange: (e) => change(tk, { assignee_id: e.target.value || null }) });
    } else {
      assignee = h("input", { value: tk.assignee_id || "", "data-testid": "ticket-assignee", placeholder: t("tk.unassigned"),
        onchange: (e) => change(tk, { assignee_id: e.target.value.trim() || null }) });
    }
    const groupSel = select([["", "—"], ...allGroups.map((g) => [g.group_id, g.name || g.group_id])], tk.group_id || "", {
      "data-testid": "ticket-group", onchange: (e) => change(tk, { group_id: e.target.value || null }) });

    // sub-tickets
    const progress = tk.progress || { total: (data.children || []).length, done: 0, percent: 0 };
    const bar = h("span", {});
    bar.style.width = `${Math.max(0, Math.min(100, progress.percent || 0))}%`;
    const subGroup = select(allGroups.map((g) => [g.group_id, g.name || g.group_id]), allGroups[0] && allGroups[0].group_id, { "aria-label": t("tk.group") });
    const subSubject = h("input", { maxlength: "200", required: true, "aria-label": t("tk.subject"), placeholder: t("tk.subject"), "data-testid": "subticket-subject" });
    const subs = h("div", { class: "card", "data-testid": "ticket-subtickets" },
      h("h2", {}, t("tk.subtickets"), progress.total ? h("small", { class: "muted" }, t("tk.progress", progress)) : null),
      progress.total ? h("div", { class: "progress", role: "progressbar", "aria-valuenow": String(progress.percent || 0), "aria-valuemin": "0", "aria-valuemax": "100" }, bar) : null,
      h("ul", { class: "list" }, (data.children || []).map((c) =>
        h("li", { class: "row", "data-id": c.ticket_id },
          h("a", { href: `#/tickets/${encodeURIComponent(c.ticket_id)}` }, ticketLabel(c)),
          h("span", {}, c.subject || ""), statusBadge(c.status), h("small", { class: "muted" }, c.group_id || "")))),
      tk.parent_id ? null : h("form", {
        class: "row",
        onsubmit: async (e) => {
          e.preventDefault();
          if (!subSubject.value.trim()) return;
          try {
            await ctx.api.post(`${tpath(id)}/subtickets`, { group_id: subGroup.value, subject: subSubject.value.trim() });
            ctx.toast(t("tk.subCreated"), "ok");
            await reload();
          } catch (err) { ctx.toast(errorText(err), "error"); }
        },
      }, subGroup, subSubject, h("button", { class: "btn small", type: "submit", "data-testid": "subticket-submit" }, t("tk.subAdd"))));

    // comments
    const text = h("textarea", { rows: "3", maxlength: "4000", placeholder: t("tk.commentPlaceholder"), "aria-label": t("tk.comment"), "data-testid": "ticket-comment" });
    const pub = h("input", { type: "checkbox", "data-testid": "ticket-comment-public" });
    const send = h("button", { class: "btn primary", type: "submit", "data-testid": "ticket-comment-submit" }, t("tk.commentSend"));
    const commentForm = h("form", {
      class: "stack",
      onsubmit: async (e) => {
        e.preventDefault();
        if (!text.value.trim()) return;
        send.disabled = true;
        try {
          await ctx.api.post(`${tpath(id)}/comments`, { text: text.value.trim(), public: pub.checked });
          ctx.toast(pub.checked ? t("tk.replySent") : t("tk.commentSent"), "ok");
          await reload();
        } catch (err) { ctx.toast(errorText(err), "error"); send.disabled = false; }
      },
    }, text, h("div", { class: "row" }, h("label", { class: "row" }, pub, t("tk.public")), h("span", { class: "spacer" }), send));

    const history = h("div", { class: "card history" }, h("h2", {}, t("tk.history")),
      h("ol", { class: "list", "data-testid": "ticket-history" }, (data.history || []).map(historyLine)));

    const sla = slaBox(tk);
    fill(page,
      h("a", { href: "#/tickets" }, t("tk.back")),
      notice ? h("p", { class: "error", role: "alert" }, notice) : null,
      h("div", { class: "page-head" }, h("h1", {}, `${ticketLabel(tk)} `, tk.subject || ""), statusBadge(tk.status)),
      h("div", { class: "grid2" },
        h("div", { class: "stack" },
          tk.description ? h("div", { class: "card" }, h("h2", {}, t("tk.description")), h("p", { class: "pre" }, tk.description)) : null,
          h("div", { class: "card" }, h("h2", {}, t("tk.comment")), commentForm),
          history),
        h("div", { class: "stack" },
          h("div", { class: "card" },
            field(t("tk.status"), statusSel), field(t("tk.priority"), prioSel),
            field(t("tk.assignee"), assignee), field(t("tk.group"), groupSel),
            h("dl", { class: "facts" },
              tk.requester_id ? [h("dt", {}, t("tk.requester")), h("dd", {}, h("a", { href: `#/customers/${encodeURIComponent(tk.requester_id)}` }, tk.requester_id))] : null,
              tk.parent_id ? [h("dt", {}, t("tk.parent")), h("dd", {}, h("a", { href: `#/tickets/${encodeURIComponent(tk.parent_id)}` }, ticketLabel(tk.parent_id)))] : null,
              (tk.conversation_ids || []).length ? [h("dt", {}, t("tk.conversations")), h("dd", {}, (tk.conversation_ids || []).map((c) => h("div", {}, h("a", { href: `#/c/${encodeURIComponent(c)}` }, c))))] : null,
              [h("dt", {}, t("tk.updated")), h("dd", {}, when(tk.updated_at))])),
          sla,
          subs)));
    clearInterval(timer);
    let slaEl = sla;
    if (tk.sla_next_due) {
      timer = setInterval(() => {
        if (ctx.active === false) return;
        const fresh = slaBox(tk);
        slaEl.replaceWith(fresh);
        slaEl = fresh;
      }, 30000);
    }
  }

  await reload();
  ctx.on("ticket.updated", (ev) => { if ((ev.ticket_id || (ev.data && ev.data.ticket_id)) === id) reload(); });
}

export async function render(root, params, ctx) {
  ensureCss();
  if (params.id) await renderDetail(root, params.id, ctx);
  else await renderList(root, params, ctx);
}
