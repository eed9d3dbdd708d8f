// view-wallboard.js — #/wallboard: the contact-centre floor's screen. Full window (the console's top
// bar hides while it is shown; "Full screen" asks the browser for the whole screen), large figures,
// refreshed on the feed's queue events and every 30 s:
//   waiting per queue and the longest wait      GET /supervisor/queues
//   tickets whose SLA is at risk / breached     GET /tickets/at-risk, /tickets/breached
//   agents online                               GET /admin/agents
//   today's volume (UTC day)                    GET /reports/overview?from=<today>&to=<next minute>
import { api } from "./api.js";
import { useFeed } from "./feed.js";
import { duration, when } from "./format.js";
import { html, useEffect, useRef, useState } from "./html.js";
import { t } from "./i18n.js";
import { ErrorText, Loading, useAlive, useInterval } from "./ui.js";

export const REFRESH_MS = 30000;
const LIVE = ["conversation.queued", "conversation.assigned", "conversation.closed", "presence.changed"];
const WARN_WAIT_S = 120;

export function today(now = Date.now()) {
  const from = `${new Date(now).toISOString().slice(0, 10)}T00:00:00Z`;
  const to = new Date(Math.ceil((now + 1) / 60000) * 60000).toISOString().replace(".000Z", "Z");
  return { from, to };
}

function Big({ name, value, sub, level, testid }) {
  return html`<div class=${`wb-tile ${level || ""}`} data-testid=${testid}>
    <div class="wb-label">${name}</div><div class="wb-value" data-testid="wb-value">${value}</div>
    ${sub ? html`<div class="wb-sub">${sub}</div>` : null}</div>`;
}

export default function Wallboard() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const alive = useAlive();
  const inflight = useRef(false);
  const refresh = async () => {
    if (inflight.current || !alive.current) return;
    inflight.current = true;
    try {
      const [queues, groups, agents, risk, breached, ov] = await Promise.all([
        api.get("/supervisor/queues"),
        api.get("/admin/groups").catch(() => ({ items: [] })),
        api.get("/admin/agents"),
        api.get("/tickets/at-risk", { within: 60, limit: 200 }).catch(() => ({ items: [] })),
        api.get("/tickets/breached", { limit: 200 }).catch(() => ({ items: [] })),
        api.get("/reports/overview", today()).catch(() => null),
      ]);
      if (!alive.current) return;
      const names = Object.fromEntries((groups.items || []).map((g) => [g.group_id, g.name]));
      const rows = [];
      for (const g of queues.groups || []) {
        const waiting = (g.queues || []).reduce((n, q) => n + (q.waiting || 0), 0);
        const oldest = Math.max(0, ...(g.queues || []).map((q) => q.oldest_wait_seconds || 0));
        const online = Math.max(0, ...(g.queues || []).map((q) => q.online || 0));
        rows.push({ id: g.group_id, name: names[g.group_id] || g.group_id, waiting, oldest, online });
      }
      rows.sort((a, b) => b.waiting - a.waiting || b.oldest - a.oldest || a.name.localeCompare(b.name));
      setData({
        rows,
        waiting: rows.reduce((n, r) => n + r.waiting, 0),
        oldest: Math.max(0, ...rows.map((r) => r.oldest)),
        online: (agents.items || []).filter((a) => a.presence === "online").length,
        agents: (agents.items || []).length,
        risk: (risk.items || []).length,
        breached: (breached.items || []).length,
        ov,
        at: new Date().toISOString(),
      });
      setError(null);
    } catch (err) {
      if (err.status !== 401 && alive.current) setError(err);
    } finally {
      inflight.current = false;
    }
  };
  useEffect(() => {
    document.body.classList.add("wallboard-mode");
    refresh();
    return () => document.body.classList.remove("wallboard-mode");
  }, []);
  useInterval(refresh, REFRESH_MS);
  const timer = useRef(null);
  useFeed(LIVE, () => {
    if (timer.current) return;
    timer.current = setTimeout(() => { timer.current = null; refresh(); }, 1000);
  });
  useEffect(() => () => clearTimeout(timer.current), []);
  const full = () => {
    const el = document.documentElement;
    if (document.fullscreenElement) document.exitFullscreen();
    else if (el.requestFullscreen) el.requestFullscreen().catch(() => {});
  };
  const ov = data && data.ov;
  return html`<div class="wallboard" data-testid="wallboard">
    <header class="wb-head">
      <h1>${t("wb.title")}</h1>
      <span class="wb-updated" aria-live="polite" data-testid="wb-updated">${data ? t("wb.updated", { when: when(data.at) }) : ""}</span>
      <span class="spacer"></span>
      <button type="button" class="btn" data-testid="wb-fullscreen" onClick=${full}>${t("wb.fullscreen")}</button>
      <a class="btn" href="#/reports" data-testid="wb-exit">${t("wb.exit")}</a>
    </header>
    ${error ? html`<${ErrorText} err=${error} />` : null}
    ${!data ? html`<${Loading} />` : html`
      <div class="wb-grid">
        <${Big} testid="wb-waiting" name=${t("wb.waiting")} value=${String(data.waiting)} level=${data.waiting > 0 && data.online === 0 ? "bad" : data.waiting > 10 ? "warn" : ""} />
        <${Big} testid="wb-longest" name=${t("wb.longest")} value=${data.oldest ? duration(data.oldest * 1000) : "—"} level=${data.oldest > WARN_WAIT_S ? "warn" : ""} />
        <${Big} testid="wb-sla" name=${t("wb.slaRisk")} value=${String(data.risk)} sub=${t("wb.breached", { n: data.breached })} level=${data.breached ? "bad" : data.risk ? "warn" : ""} />
        <${Big} testid="wb-online" name=${t("wb.online")} value=${String(data.online)} sub=${t("wb.ofAgents", { n: data.agents })} />
        <${Big} testid="wb-today" name=${t("wb.today")} value=${ov ? String(ov.conversations.total) : "—"}
          sub=${ov ? t("wb.todaySub", { messages: ov.messages_in.total, resolved: ov.resolved.total }) : ""} />
        <${Big} testid="wb-first-response" name=${t("wb.firstResponse")} value=${ov && ov.first_response.p50_s !== null ? duration(ov.first_response.p50_s * 1000) : "—"}
          sub=${ov && ov.sla.attainment !== null ? t("wb.sla", { pct: Math.round(ov.sla.attainment * 100) }) : ""} />
      </div>
      <table class="wb-queues" data-testid="wb-queues">
        <thead><tr><th scope="col">${t("wb.queue")}</th><th scope="col">${t("wb.waiting")}</th><th scope="col">${t("wb.longest")}</th><th scope="col">${t("wb.online")}</th></tr></thead>
        <tbody>${data.rows.map((r) => html`<tr key=${r.id} data-group=${r.id} class=${r.waiting && !r.online ? "bad" : r.oldest > WARN_WAIT_S ? "warn" : ""}>
          <td>${r.name}</td><td class="num" data-testid="wb-queue-waiting">${String(r.waiting)}</td>
          <td class="num">${r.oldest ? duration(r.oldest * 1000) : "—"}</td><td class="num">${String(r.online)}</td></tr>`)}</tbody>
      </table>`}
  </div>`;
}
