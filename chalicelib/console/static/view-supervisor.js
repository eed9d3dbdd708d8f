// view-supervisor.js — #/supervisor: live queues per skill group (GET /supervisor/queues every 5 s
// and on feed events), every agent's presence and load (set a presence), and reassigning a
// conversation to an agent (POST /conversations/{id}/transfer {to_agent}).
import { duration, fill, h, when } from "./dom.js";
import { addStrings, t } from "./i18n.js";
import { ensureCss, errorText, field, select } from "./views-kit.js";

const REFRESH_MS = 5000;
const TYPES = ["chat", "email", "voice"];

addStrings({
  en: {
    "sup.title": "Supervisor",
    "sup.queues": "Live queues",
    "sup.agents": "Agents",
    "sup.group": "Group",
    "sup.type": "Channel type",
    "sup.type.chat": "Chat", "sup.type.email": "E-mail", "sup.type.voice": "Voice",
    "sup.waiting": "Waiting",
    "sup.oldest": "Longest wait",
    "sup.online": "Agents online",
    "sup.handled": "Handled",
    "sup.aht": "Avg. handle",
    "sup.agent": "Agent",
    "sup.presence": "Presence",
    "sup.load": "Load (chat / e-mail / voice)",
    "sup.groups": "Groups",
    "sup.since": "since {when}",
    "sup.presenceSet": "{agent} is now {presence}.",
    "sup.reassign": "Reassign a conversation",
    "sup.conversation": "Conversation",
    "sup.toAgent": "To agent",
    "sup.note": "Note for the agent (optional)",
    "sup.reassignButton": "Reassign",
    "sup.reassigned": "Conversation reassigned to {agent}.",
    "sup.updated": "Updated {when}",
    "sup.noGroups": "No skill groups yet.",
    "sup.pick": "Choose…",
  },
  "zh-CN": {
    "sup.title": "主管",
    "sup.queues": "实时队列",
    "sup.agents": "坐席",
    "sup.group": "小组",
    "sup.type": "渠道类型",
    "sup.type.chat": "在线聊天", "sup.type.email": "邮件", "sup.type.voice": "语音",
    "sup.waiting": "排队中",
    "sup.oldest": "最长等待",
    "sup.online": "在线坐席",
    "sup.handled": "已处理",
    "sup.aht": "平均处理时长",
    "sup.agent": "坐席",
    "sup.presence": "状态",
    "sup.load": "负载（聊天 / 邮件 / 语音）",
    "sup.groups": "小组",
    "sup.since": "自 {when}",
    "sup.presenceSet": "{agent} 现在是{presence}。",
    "sup.reassign": "重新分配会话",
    "sup.conversation": "会话",
    "sup.toAgent": "分配给",
    "sup.note": "给坐席的备注（可选）",
    "sup.reassignButton": "重新分配",
    "sup.reassigned": "会话已重新分配给 {agent}。",
    "sup.updated": "更新于 {when}",
    "sup.noGroups": "还没有技能小组。",
    "sup.pick": "请选择…",
  },
});

function queuesTable(groups) {
  if (!groups.length) return h("p", { class: "muted" }, t("sup.noGroups"));
  const rows = [];
  for (const g of groups) {
    for (const q of g.queues || []) {
      const handled = q.handled || 0;
      rows.push(h("tr", { "data-group": g.group_id, "data-type": q.channel_type },
        h("td", {}, g.name || g.group_id),
        h("td", {}, t(`sup.type.${q.channel_type}`)),
        h("td", { class: ["num", "kpi", q.waiting > 0 && q.online === 0 ? "kpi-warn" : ""], "data-testid": "queue-waiting" }, String(q.waiting || 0)),
        h("td", { class: "num" }, q.oldest_wait_seconds ? duration(q.oldest_wait_seconds * 1000) : "—"),
        h("td", { class: "num" }, String(q.online || 0)),
        h("td", { class: "num" }, String(handled)),
        h("td", { class: "num" }, handled ? duration(((q.handle_seconds || 0) / handled) * 1000) : "—")));
    }
  }
  return h("table", { class: "data" },
    h("thead", {}, h("tr", {}, ["sup.group", "sup.type", "sup.waiting", "sup.oldest", "sup.online", "sup.handled", "sup.aht"].map((k) => h("th", { scope: "col" }, t(k))))),
    h("tbody", {}, rows));
}

function agentsTable(agents, ctx, refresh) {
  return h("table", { class: "data" },
    h("thead", {}, h("tr", {}, ["sup.agent", "sup.presence", "sup.load", "sup.groups"].map((k) => h("th", { scope: "col" }, t(k))))),
    h("tbody", {}, agents.map((a) => {
      const presence = a.presence || "offline";
      const sel = select(["online", "away", "offline"].map((p) => [p, t(`presence.${p}`)]), presence, {
        "aria-label": `${t("sup.presence")}: ${a.display_name || a.agent_id}`, "data-testid": "agent-presence",
        onchange: async (e) => {
          try {
            await ctx.api.put(`/supervisor/agents/${encodeURIComponent(a.agent_id)}/presence`, { presence: e.target.value });
            ctx.toast(t("sup.presenceSet", { agent: a.display_name || a.agent_id, presence: t(`presence.${e.target.value}`) }), "ok");
            refresh();
          } catch (err) { ctx.toast(errorText(err), "error"); e.target.value = presence; }
        },
      });
      return h("tr", { "data-id": a.agent_id, "data-presence": presence },
        h("td", {}, h("span", { class: ["presence-dot", presence] }), a.display_name || a.agent_id, " ", h("small", { class: "muted" }, a.agent_id)),
        h("td", {}, sel, a.presence_at ? h("small", { class: "muted" }, ` ${t("sup.since", { when: when(a.presence_at) })}`) : null),
        h("td", { class: "num" }, TYPES.map((k) => `${(a.load || {})[k] || 0}/${(a.capacity || {})[k] ?? "–"}`).join("  ·  ")),
        h("td", {}, (a.groups || []).join(", ")));
    })));
}

export async function render(root, params, ctx) {
  ensureCss();
  const queuesBox = h("div", { "data-testid": "supervisor-queues" }, h("p", { class: "loading" }, t("loading")));
  const agentsBox = h("div", { "data-testid": "supervisor-agents" }, h("p", { class: "loading" }, t("loading")));
  const stamp = h("small", { class: "muted", "aria-live": "polite" });
  let agents = [];
  let names = {};

  // reassign form
  const convInput = h("input", { list: "sup-convs", placeholder: "cnv_…", maxlength: "64", "data-testid": "reassign-conversation", required: true });
  const convList = h("datalist", { id: "sup-convs" });
  const agentSel = h("select", { "data-testid": "reassign-agent", required: true });
  const note = h("input", { maxlength: "2000", "data-testid": "reassign-note" });
  const button = h("button", { class: "btn primary", type: "submit", "data-testid": "reassign-button" }, t("sup.reassignButton"));
  if (params.query && params.query.conversation) convInput.value = params.query.conversation;
  const form = h("form", {
    class: "stack",
    onsubmit: async (e) => {
      e.preventDefault();
      const cid = convInput.value.trim();
      if (!cid || !agentSel.value) return;
      button.disabled = true;
      try {
        await ctx.api.post(`/conversations/${encodeURIComponent(cid)}/transfer`, { to_agent: agentSel.value, note: note.value.trim() });
        ctx.toast(t("sup.reassigned", { agent: names[agentSel.value] || agentSel.value }), "ok");
        convInput.value = "";
        note.value = "";
        refresh();
      } catch (err) {
        ctx.toast(errorText(err), "error");
      } finally {
        button.disabled = false;
      }
    },
  }, field(t("sup.conversation"), convInput), convList, field(t("sup.toAgent"), agentSel), field(t("sup.note"), note), h("div", {}, button));

  fill(root, h("div", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, t("sup.title")), stamp),
    h("div", { class: "grid2" },
      h("div", { class: "stack" },
        h("section", { class: "card" }, h("h2", {}, t("sup.queues")), queuesBox),
        h("section", { class: "card" }, h("h2", {}, t("sup.agents")), agentsBox)),
      h("section", { class: "card" }, h("h2", {}, t("sup.reassign")), form))));

  let inflight = false;
  async function refresh() {
    if (inflight || ctx.active === false) return;
    inflight = true;
    try {
      const [queues, agentList, groups] = await Promise.all([
        ctx.api.get("/supervisor/queues"),
        ctx.api.get("/admin/agents"),
        ctx.api.get("/admin/groups").catch(() => ({ items: [] })),
      ]);
      if (ctx.active === false) return;
      const groupNames = Object.fromEntries((groups.items || []).map((g) => [g.group_id, g.name]));
      fill(queuesBox, queuesTable((queues.groups || []).map((g) => ({ ...g, name: groupNames[g.group_id] }))));
      agents = agentList.items || [];
      names = Object.fromEntries(agents.map((a) => [a.agent_id, a.display_name || a.agent_id]));
      fill(agentsBox, agentsTable(agents, ctx, refresh));
      const chosen = agentSel.value;
      fill(agentSel, h("option", { value: "" }, t("sup.pick")),
        agents.map((a) => h("option", { value: a.agent_id, selected: a.agent_id === chosen },
          `${a.display_name || a.agent_id} — ${t(`presence.${a.presence || "offline"}`)}`)));
      stamp.textContent = t("sup.updated", { when: when(new Date().toISOString()) });
    } catch (err) {
      if (err.status !== 401) fill(queuesBox, h("p", { class: "error" }, errorText(err)));
    } finally {
      inflight = false;
    }
  }

  async function conversations() {
    try {
      const res = await ctx.api.get("/conversations", { view: "all", limit: 100 });
      fill(convList, (res.items || []).map((c) => h("option", { value: c.conversation_id }, `${c.preview || ""} (${c.owner_id || c.group_id || ""})`)));
    } catch { /* the id can still be typed */ }
  }

  await Promise.all([refresh(), conversations()]);
  const timer = setInterval(refresh, REFRESH_MS);
  ctx.cleanup(() => clearInterval(timer));
  for (const kind of ["conversation.queued", "conversation.assigned", "conversation.transferred", "conversation.closed", "presence.changed"]) {
    ctx.on(kind, () => { refresh(); });
  }
}
