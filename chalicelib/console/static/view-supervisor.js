// view-supervisor.js — #/supervisor: live queues per skill group (GET /supervisor/queues every 5 s
// and on feed events), every agent's presence and load (set a presence), and reassigning a
// conversation to an agent (POST /conversations/{id}/transfer {to_agent}); the conversations whose
// customer is getting angrier (view-assist.js: AngryConversations, on conversation.anger events).
import { api } from "./api.js";
import { useFeed } from "./feed.js";
import { duration, when } from "./format.js";
import { html, useEffect, useRef, useState } from "./html.js";
import { t } from "./i18n.js";
import { AngryConversations } from "./view-assist.js";
import { ErrorText, Field, Loading, Select, errorText, toast, useAlive, useForm, useId, useInterval } from "./ui.js";

const REFRESH_MS = 5000;
const TYPES = ["chat", "email", "voice"];
const LIVE = ["conversation.queued", "conversation.assigned", "conversation.transferred", "conversation.closed", "presence.changed"];

function Queues({ groups }) {
  if (!groups.length) return html`<p class="muted">${t("sup.noGroups")}</p>`;
  const rows = [];
  for (const g of groups) {
    for (const q of g.queues || []) {
      const handled = q.handled || 0;
      rows.push(html`<tr key=${`${g.group_id}/${q.channel_type}`} data-group=${g.group_id} data-type=${q.channel_type}>
        <td>${g.name || g.group_id}</td>
        <td>${t(`sup.type.${q.channel_type}`)}</td>
        <td class=${q.waiting > 0 && q.online === 0 ? "num kpi kpi-warn" : "num kpi"} data-testid="queue-waiting">${String(q.waiting || 0)}</td>
        <td class="num">${q.oldest_wait_seconds ? duration(q.oldest_wait_seconds * 1000) : "—"}</td>
        <td class="num">${String(q.online || 0)}</td>
        <td class="num">${String(handled)}</td>
        <td class="num">${handled ? duration(((q.handle_seconds || 0) / handled) * 1000) : "—"}</td>
      </tr>`);
    }
  }
  const heads = ["sup.group", "sup.type", "sup.waiting", "sup.oldest", "sup.online", "sup.handled", "sup.aht"];
  return html`<table class="data"><thead><tr>${heads.map((k) => html`<th scope="col" key=${k}>${t(k)}</th>`)}</tr></thead><tbody>${rows}</tbody></table>`;
}

function Agents({ agents, refresh }) {
  const set = async (a, presence, e) => {
    try {
      await api.put(`/supervisor/agents/${encodeURIComponent(a.agent_id)}/presence`, { presence });
      toast(t("sup.presenceSet", { agent: a.display_name || a.agent_id, presence: t(`presence.${presence}`) }), "ok");
      refresh();
    } catch (err) {
      toast(errorText(err), "error");
      e.target.value = a.presence || "offline";
    }
  };
  const heads = ["sup.agent", "sup.presence", "sup.load", "sup.groups"];
  return html`<table class="data">
    <thead><tr>${heads.map((k) => html`<th scope="col" key=${k}>${t(k)}</th>`)}</tr></thead>
    <tbody>${agents.map((a) => {
      const presence = a.presence || "offline";
      return html`<tr key=${a.agent_id} data-id=${a.agent_id} data-presence=${presence}>
        <td><span class=${`presence-dot ${presence}`}></span>${a.display_name || a.agent_id} <small class="muted">${a.agent_id}</small></td>
        <td><${Select} options=${["online", "away", "offline"].map((p) => [p, t(`presence.${p}`)])} value=${presence}
              aria-label=${`${t("sup.presence")}: ${a.display_name || a.agent_id}`} data-testid="agent-presence" onChange=${(v, e) => set(a, v, e)} />
          ${a.presence_at ? html`<small class="muted"> ${t("sup.since", { when: when(a.presence_at) })}</small>` : null}</td>
        <td class="num">${TYPES.map((k) => `${(a.load || {})[k] || 0}/${(a.capacity || {})[k] ?? "–"}`).join("  ·  ")}</td>
        <td>${(a.groups || []).join(", ")}</td>
      </tr>`;
    })}</tbody>
  </table>`;
}

function Reassign({ agents, conversations, initial, refresh }) {
  const [conv, setConv] = useState(initial || "");
  const [agent, setAgent] = useState("");
  const [note, setNote] = useState("");
  const ids = { conv: useId("sup"), agent: useId("sup"), note: useId("sup") };
  const names = Object.fromEntries(agents.map((a) => [a.agent_id, a.display_name || a.agent_id]));
  const form = useForm(async () => {
    await api.post(`/conversations/${encodeURIComponent(conv.trim())}/transfer`, { to_agent: agent, note: note.trim() });
    toast(t("sup.reassigned", { agent: names[agent] || agent }), "ok");
    setConv("");
    setNote("");
    refresh();
  });
  return html`<form class="stack" onSubmit=${(e) => { e.preventDefault(); if (conv.trim() && agent) form.submit(); }}>
    <${Field} label=${t("sup.conversation")} id=${ids.conv} error=${form.errors.conversation_id}>
      <input id=${ids.conv} list="sup-convs" placeholder="cnv_…" maxlength="64" data-testid="reassign-conversation" required
        value=${conv} onInput=${(e) => setConv(e.target.value)} /><//>
    <datalist id="sup-convs">${conversations.map((c) => html`<option key=${c.conversation_id} value=${c.conversation_id}>
      ${`${c.preview || ""} (${c.owner_id || c.group_id || ""})`}</option>`)}</datalist>
    <${Field} label=${t("sup.toAgent")} id=${ids.agent} error=${form.errors.to_agent}>
      <${Select} id=${ids.agent} data-testid="reassign-agent" required value=${agent} onChange=${setAgent}
        options=${[["", t("sup.pick")], ...agents.map((a) => [a.agent_id, `${a.display_name || a.agent_id} — ${t(`presence.${a.presence || "offline"}`)}`])]} /><//>
    <${Field} label=${t("sup.note")} id=${ids.note} error=${form.errors.note}>
      <input id=${ids.note} maxlength="2000" data-testid="reassign-note" value=${note} onInput=${(e) => setNote(e.target.value)} /><//>
    <div><button class="btn primary" type="submit" data-testid="reassign-button" disabled=${form.busy}>${t("sup.reassignButton")}</button></div>
  </form>`;
}

export default function Supervisor({ route }) {
  const [state, setState] = useState({ queues: null, agents: [], error: null, at: null });
  const [conversations, setConversations] = useState([]);
  const alive = useAlive();
  const inflight = useRef(false);
  const refresh = async () => {
    if (inflight.current || !alive.current) return;
    inflight.current = true;
    try {
      const [queues, agentList, groups] = await Promise.all([
        api.get("/supervisor/queues"),
        api.get("/admin/agents"),
        api.get("/admin/groups").catch(() => ({ items: [] })),
      ]);
      if (!alive.current) return;
      const names = Object.fromEntries((groups.items || []).map((g) => [g.group_id, g.name]));
      setState({
        queues: (queues.groups || []).map((g) => ({ ...g, name: names[g.group_id] })),
        agents: agentList.items || [],
        error: null,
        at: new Date().toISOString(),
      });
    } catch (err) {
      if (err.status !== 401 && alive.current) setState((s) => ({ ...s, error: err }));
    } finally {
      inflight.current = false;
    }
  };
  const loadConversations = () => api.get("/conversations", { view: "all", limit: 100 })
    .then((res) => alive.current && setConversations(res.items || []), () => {});
  useEffect(() => {
    refresh();
    loadConversations();
  }, []);
  useFeed(["conversation.anger"], () => loadConversations());
  useInterval(refresh, REFRESH_MS);
  useFeed(LIVE, () => refresh());
  return html`<div class="page">
    <div class="page-head"><h1>${t("sup.title")}</h1>
      <small class="muted" aria-live="polite">${state.at ? t("sup.updated", { when: when(state.at) }) : ""}</small></div>
    <div class="grid2">
      <div class="stack">
        <section class="card"><h2>${t("sup.queues")}</h2>
          <div data-testid="supervisor-queues">${state.error ? html`<${ErrorText} err=${state.error} />` : state.queues ? html`<${Queues} groups=${state.queues} />` : html`<${Loading} />`}</div></section>
        <section class="card"><h2>${t("sup.agents")}</h2>
          <div data-testid="supervisor-agents">${state.queues ? html`<${Agents} agents=${state.agents} refresh=${refresh} />` : html`<${Loading} />`}</div></section>
      </div>
      <div class="stack">
        <${AngryConversations} conversations=${conversations} />
        <section class="card"><h2>${t("sup.reassign")}</h2>
          <${Reassign} agents=${state.agents} conversations=${conversations} initial=${route.query && route.query.conversation} refresh=${refresh} /></section>
      </div>
    </div>
  </div>`;
}
