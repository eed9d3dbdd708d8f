// view-reports.js — #/reports: the supervisors' dashboards over the analytics buckets
// (docs/metrics.md): overview tiles and trends, channels, agents, SLA, bot and KB, CSAT.
//   GET /reports/overview?from=&to=[&group=|&agent=][&channel=]   tiles, per-channel/agent tables
//   GET /reports/timeseries?metric=&interval=day|hour&from=&to=&by= the trend charts (charts.js)
//   GET /reports/sla, /reports/quality, /reports/bot, /kb/stats, /kb/unanswered  their sections
// The state is in the hash (#/reports?tab=channels&from=2026-11-08&to=2026-12-07&channel=line):
// days are UTC, "to" inclusive. A number links to the conversations behind it where the inbox's
// filters allow (#/inbox?view=all&status=…&channel=…). CSV/XLSX: the overview as a file.
import { BASE, token } from "./api.js";
import { api } from "./api.js";
import { PALETTE, TimeChart } from "./charts.js";
import { duration } from "./format.js";
import { html, useEffect, useMemo, useState } from "./html.js";
import { label, lang, t } from "./i18n.js";
import { CHANNELS, ErrorText, Loading, Select, channelName, errorText, toast, useAlive } from "./ui.js";

export const TABS = ["overview", "channels", "agents", "sla", "bot", "csat", "forecast"];
const DAY_MS = 86400000;
const MAX_AGENTS = 40;
const MAX_BOT_DAYS = 31;

// ---- pure helpers (exported for the tests' sake) ---------------------------------------------------------
export function isoDay(d) {
  return new Date(d).toISOString().slice(0, 10);
}

export function addDays(day, n) {
  return isoDay(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);
}

// The API's [from, to) for UTC days from…to (inclusive); an end in the future stops at the next hour.
export function range(from, to, now = Date.now()) {
  const start = Date.parse(`${from}T00:00:00Z`);
  let end = Date.parse(`${addDays(to, 1)}T00:00:00Z`);
  const nextHour = Math.ceil((now + 1) / 3600000) * 3600000;
  if (end > nextHour) end = Math.max(nextHour, start + 3600000);
  return { from: new Date(start).toISOString().replace(".000Z", "Z"), to: new Date(end).toISOString().replace(".000Z", "Z"), days: (end - start) / DAY_MS };
}

export function intervalFor(days) {
  return days > 2 ? "day" : "hour";
}

export function get(obj, path) {
  return path.split(".").reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
}

const secs = (s) => (s === null || s === undefined ? "—" : duration(Number(s) * 1000));
const pct = (r) => (r === null || r === undefined ? "—" : `${Math.round(Number(r) * 1000) / 10}%`);
const csatAvg = (c) => (c.avg === null || c.avg === undefined ? "—" : (Math.round(c.avg * 100) / 100).toFixed(2));
const num = (n) => (n === null || n === undefined ? "—" : new Intl.NumberFormat(lang()).format(n));

function defaults(query) {
  const today = isoDay(Date.now());
  const q = query || {};
  const day = (v, d) => (/^\d{4}-\d{2}-\d{2}$/.test(v || "") ? v : d);
  const tab = TABS.includes(q.tab) ? q.tab : "overview";
  const out = { tab, from: day(q.from, addDays(today, -29)), to: day(q.to, today), group: q.group || "", agent: q.agent || "", channel: q.channel || "" };
  if (out.to < out.from) out.to = out.from;
  if (out.group && out.agent) out.agent = "";
  return out;
}

function hashOf(state) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) if (v) q.set(k, v);
  return `#/reports?${q}`;
}

// The inbox behind a number (its filters: view, status, channel).
export function drill(status, channel) {
  const q = new URLSearchParams({ view: "all", status });
  if (channel) q.set("channel", channel);
  return `#/inbox?${q}`;
}

async function download(params, format) {
  const q = new URLSearchParams({ ...params, format });
  const accept = format === "xlsx" ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv";
  const res = await fetch(`${BASE}/reports/overview?${q}`, { headers: { Authorization: `Bearer ${token()}`, Accept: accept }, cache: "no-store" });
  if (!res.ok) {
    let message = res.statusText;
    try { message = (await res.json()).message || message; } catch { /* not JSON */ }
    throw Object.assign(new Error(message), { status: res.status });
  }
  const blob = await res.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `omniflow-overview-${params.from.slice(0, 10)}-${params.to.slice(0, 10)}.${format}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// ---- pieces ----------------------------------------------------------------------------------------------
function Tile({ name, value, sub, href, testid }) {
  const body = html`<span class="tile-label">${name}</span><span class="tile-value" data-testid="tile-value">${value}</span>
    ${sub ? html`<span class="tile-sub muted">${sub}</span>` : null}`;
  return href
    ? html`<a class="tile card" href=${href} data-testid=${testid} title=${t("rep.drill")}>${body}</a>`
    : html`<div class="tile card" data-testid=${testid}>${body}</div>`;
}

function Filters({ state, set, groups, agents, params }) {
  const today = isoDay(Date.now());
  const preset = (days) => set({ from: addDays(today, -(days - 1)), to: today });
  const save = async (format) => {
    try {
      await download(params, format);
    } catch (err) {
      toast(errorText(err), "error");
    }
  };
  return html`<div class="card report-filters row" data-testid="report-filters">
    <div class="row" role="group" aria-label=${t("rep.range")}>
      ${[[1, "rep.today"], [7, "rep.days7"], [30, "rep.days30"], [90, "rep.days90"]].map(([d, k]) => html`<button type="button" key=${k}
        class="btn small" aria-pressed=${String(state.from === addDays(today, -(d - 1)) && state.to === today)}
        data-testid=${`range-${d}`} onClick=${() => preset(d)}>${t(k)}</button>`)}
    </div>
    <label>${t("rep.from")} <input type="date" data-testid="report-from" value=${state.from} max=${state.to}
      onChange=${(e) => e.target.value && set({ from: e.target.value })} /></label>
    <label>${t("rep.to")} <input type="date" data-testid="report-to" value=${state.to} min=${state.from}
      onChange=${(e) => e.target.value && set({ to: e.target.value })} /></label>
    <small class="muted">UTC</small>
    <${Select} aria-label=${t("rep.group")} data-testid="report-group" value=${state.group}
      options=${[["", t("rep.anyGroup")], ...groups.map((g) => [g.group_id, g.name || g.group_id])]}
      onChange=${(v) => set({ group: v, agent: "" })} />
    <${Select} aria-label=${t("rep.agent")} data-testid="report-agent" value=${state.agent}
      options=${[["", t("rep.anyAgent")], ...agents.map((a) => [a.agent_id, a.display_name || a.agent_id])]}
      onChange=${(v) => set({ agent: v, group: "" })} />
    <${Select} aria-label=${t("rep.channel")} data-testid="report-channel" value=${state.channel}
      options=${[["", t("rep.anyChannel")], ...CHANNELS.map((c) => [c, channelName(c)])]}
      onChange=${(v) => set({ channel: v })} />
    <span class="spacer"></span>
    <button type="button" class="btn small" data-testid="download-csv" onClick=${() => save("csv")}>${t("rep.csv")}</button>
    <button type="button" class="btn small" data-testid="download-xlsx" onClick=${() => save("xlsx")}>${t("rep.xlsx")}</button>
    <a class="btn small" href="#/wallboard" data-testid="open-wallboard">${t("rep.wallboard")}</a>
  </div>`;
}

// One time series (GET /reports/timeseries), drawn when it arrives.
function Trend({ title, metric, params, interval, series, by, unit, testid, bars }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const alive = useAlive();
  const key = JSON.stringify([metric, params, interval, by]);
  useEffect(() => {
    setData(null);
    setError(null);
    const q = { metric, interval, from: params.from, to: params.to };
    if (params.group) q.group = params.group;
    if (params.agent) q.agent = params.agent;
    if (by) q.by = by;
    api.get("/reports/timeseries", q).then((r) => alive.current && setData(r), (e) => alive.current && setError(e));
  }, [key]);
  const drawn = useMemo(() => {
    if (!data) return null;
    if (!by) return series;
    const names = [...new Set(data.points.flatMap((p) => Object.keys(p.by || {})))].sort();
    return names.map((n, i) => ({ key: `by.${n}`, label: by === "channel" ? channelName(n) : label("priority", n), color: PALETTE[i % PALETTE.length] }));
  }, [data, by]);
  return html`<section class="card"><h2>${title}</h2>
    ${error ? html`<${ErrorText} err=${error} />` : !data ? html`<${Loading} />`
      : drawn.length ? html`<${TimeChart} points=${data.points} series=${drawn} interval=${interval} unit=${unit} testid=${testid} bars=${bars} />`
      : html`<p class="muted">${t("rep.noData")}</p>`}
  </section>`;
}

function Overview({ ov, state, params, interval }) {
  const ch = state.channel;
  const bot = ov.bot || {};
  const csat = ov.csat || {};
  const botShare = bot.resolution_rate ?? null;
  return html`<div class="stack">
    <div class="tiles" data-testid="report-tiles">
      <${Tile} testid="tile-conversations" name=${t("rep.conversations")} value=${num(get(ov, "conversations.total"))} href=${drill("open", ch)} />
      <${Tile} testid="tile-messages" name=${t("rep.messagesIn")} value=${num(get(ov, "messages_in.total"))} sub=${t("rep.out", { n: num(get(ov, "messages_out.total")) })} />
      <${Tile} testid="tile-first-response" name=${t("rep.firstResponse")} value=${secs(get(ov, "first_response.p50_s"))} sub=${t("rep.p90", { v: secs(get(ov, "first_response.p90_s")) })} />
      <${Tile} testid="tile-resolution" name=${t("rep.resolution")} value=${secs(get(ov, "resolution.p50_s"))} sub=${t("rep.resolved", { n: num(get(ov, "resolved.total")) })} href=${drill("closed", ch)} />
      <${Tile} testid="tile-wait" name=${t("rep.wait")} value=${secs(get(ov, "wait.p50_s"))} sub=${t("rep.p90", { v: secs(get(ov, "wait.p90_s")) })} />
      <${Tile} testid="tile-handle" name=${t("rep.handle")} value=${secs(get(ov, "handle.p50_s"))} sub=${t("rep.transfers", { v: pct(get(ov, "transfers.rate")) })} />
      <${Tile} testid="tile-csat" name=${t("rep.csat")} value=${csatAvg(csat)} sub=${csat.responses !== undefined ? t("rep.answers", { n: num(csat.responses) }) : t("rep.notCounted")} />
      <${Tile} testid="tile-sla" name=${t("rep.sla")} value=${pct(get(ov, "sla.attainment"))}
        sub=${t("rep.breached", { n: num(get(ov, "sla.first_response_breached")) })} href="#/tickets?view=overdue" />
      <${Tile} testid="tile-bot" name=${t("rep.botShare")} value=${pct(botShare)} sub=${bot.conversations !== undefined ? t("rep.botConversations", { n: num(bot.conversations) }) : t("rep.notCounted")} />
    </div>
    <div class="grid-charts">
      <${Trend} title=${t("rep.trendVolume")} metric="conversations" params=${params} interval=${interval} testid="chart-volume" bars=${true}
        series=${[{ key: "value", label: t("rep.conversations") }]} />
      <${Trend} title=${t("rep.trendFirstResponse")} metric="first_response_p50_s" params=${params} interval=${interval} testid="chart-first-response"
        unit=${secs} series=${[{ key: "value", label: t("rep.p50") }]} />
    </div>
  </div>`;
}

function Channels({ ov, params, interval }) {
  const names = [...new Set(["conversations", "messages_in", "messages_out", "resolved"].flatMap((m) => Object.keys(get(ov, `${m}.by_channel`) || {})))].sort();
  return html`<div class="stack">
    <section class="card"><h2>${t("rep.byChannel")}</h2>
      ${names.length ? html`<table class="data" data-testid="channel-table"><thead><tr>
        <th scope="col">${t("rep.channel")}</th><th scope="col">${t("rep.conversations")}</th><th scope="col">${t("rep.messagesIn")}</th>
        <th scope="col">${t("rep.messagesOut")}</th><th scope="col">${t("rep.resolvedCol")}</th></tr></thead>
        <tbody>${names.map((c) => html`<tr key=${c} data-channel=${c}>
          <td>${channelName(c)}</td>
          <td class="num"><a href=${drill("open", c)} data-testid="drill-channel">${num(get(ov, `conversations.by_channel.${c}`) || 0)}</a></td>
          <td class="num">${num(get(ov, `messages_in.by_channel.${c}`) || 0)}</td>
          <td class="num">${num(get(ov, `messages_out.by_channel.${c}`) || 0)}</td>
          <td class="num"><a href=${drill("closed", c)}>${num(get(ov, `resolved.by_channel.${c}`) || 0)}</a></td>
        </tr>`)}</tbody></table>` : html`<p class="muted">${t("rep.noData")}</p>`}
    </section>
    <${Trend} title=${t("rep.trendByChannel")} metric="messages_in" by="channel" params=${params} interval=${interval} testid="chart-channels" />
  </div>`;
}

function Agents({ params, agents, interval }) {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const alive = useAlive();
  useEffect(() => {
    setRows(null);
    const list = agents.slice(0, MAX_AGENTS);
    const base = { from: params.from, to: params.to };
    if (params.channel) base.channel = params.channel;
    Promise.all([
      Promise.all(list.map((a) => api.get("/reports/overview", { ...base, agent: a.agent_id }))),
      api.get("/reports/quality", { by: "agent", from: params.from.slice(0, 10), to: addDays(params.to.slice(0, 10), -1) }).catch(() => ({ items: [] })),
    ]).then(([reports, quality]) => {
      if (!alive.current) return;
      const q = Object.fromEntries((quality.items || []).map((x) => [x.agent_id, x]));
      setRows(list.map((a, i) => ({ agent: a, ov: reports[i], q: q[a.agent_id] || {} })));
    }, (e) => alive.current && setError(e));
  }, [JSON.stringify(params), agents.length]);
  if (error) return html`<${ErrorText} err=${error} />`;
  if (!rows) return html`<${Loading} />`;
  const heads = ["rep.agent", "rep.presence", "rep.messagesOut", "rep.resolvedCol", "rep.firstResponse", "rep.resolution", "rep.quality", "rep.handle", "rep.csat"];
  return html`<div class="stack"><section class="card"><h2>${t("rep.agents")}</h2>
    <table class="data" data-testid="agent-table"><thead><tr>${heads.map((k) => html`<th scope="col" key=${k}>${t(k)}</th>`)}</tr></thead>
      <tbody>${rows.map(({ agent: a, ov, q }) => html`<tr key=${a.agent_id} data-agent=${a.agent_id}>
        <td><span class=${`presence-dot ${a.presence || "offline"}`}></span>${a.display_name || a.agent_id}</td>
        <td>${t(`presence.${a.presence || "offline"}`)}</td>
        <td class="num">${num(get(ov, "messages_out.total"))}</td>
        <td class="num">${num(get(ov, "resolved.total"))}</td>
        <td class="num">${secs(get(ov, "first_response.p50_s"))}</td>
        <td class="num">${secs(get(ov, "resolution.p50_s"))}</td>
        <td class="num">${q.average_score ?? "—"}</td>
        <td class="num">${secs(get(ov, "handle.p50_s"))}</td>
        <td class="num">${q.average_csat ?? csatAvg(ov.csat || {})}</td>
      </tr>`)}</tbody></table></section>
    <${Trend} title=${t("rep.trendReplies")} metric="messages_out" params=${params} interval=${interval} testid="chart-replies"
      series=${[{ key: "value", label: t("rep.messagesOut") }]} />
  </div>`;
}

function Sla({ ov, params, interval }) {
  const [by, setBy] = useState("policy");
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const alive = useAlive();
  const first = params.from.slice(0, 10);
  const last = isoDay(Date.parse(params.to) - 1);
  useEffect(() => {
    setReport(null);
    api.get("/reports/sla", { by, from: first, to: last }).then((r) => alive.current && setReport(r), (e) => alive.current && setError(e));
  }, [by, first, last]);
  const targets = ["first_response", "next_response", "resolution"];
  return html`<div class="stack">
    <div class="tiles">
      <${Tile} testid="tile-sla-attainment" name=${t("rep.sla")} value=${pct(get(ov, "sla.attainment"))} />
      <${Tile} testid="tile-sla-met" name=${t("rep.slaMet")} value=${num(get(ov, "sla.first_response_met"))} />
      <${Tile} testid="tile-sla-breached" name=${t("rep.slaBreached")} value=${num(get(ov, "sla.first_response_breached"))} href="#/tickets?view=overdue" />
    </div>
    <section class="card"><h2>${t("rep.slaReport")}
      <${Select} aria-label=${t("rep.slaBy")} data-testid="sla-by" value=${by} onChange=${setBy}
        options=${["policy", "group", "agent"].map((b) => [b, t(`rep.by.${b}`)])} /></h2>
      ${error ? html`<${ErrorText} err=${error} />` : !report ? html`<${Loading} />` : report.items.length ? html`<table class="data" data-testid="sla-table">
        <thead><tr><th scope="col">${t(`rep.by.${by}`)}</th><th scope="col">${t("rep.slaMet")}</th><th scope="col">${t("rep.slaBreached")}</th>
          <th scope="col">${t("rep.sla")}</th>${targets.map((x) => html`<th scope="col" key=${x}>${t(`rep.target.${x}`)}</th>`)}</tr></thead>
        <tbody>${report.items.map((r) => html`<tr key=${r[by] || "-"}>
          <td>${r[by] || t("rep.none")}</td><td class="num">${num(r.met)}</td><td class="num">${num(r.breached)}</td>
          <td class="num">${r.attainment_percent === null ? "—" : `${r.attainment_percent}%`}</td>
          ${targets.map((x) => html`<td class="num" key=${x}>${get(r, `targets.${x}.attainment_percent`) ?? "—"}${get(r, `targets.${x}.attainment_percent`) === null ? "" : "%"}</td>`)}
        </tr>`)}</tbody></table>` : html`<p class="muted">${t("rep.noData")}</p>`}
    </section>
    <${Trend} title=${t("rep.trendSla")} metric="sla_breached" params=${params} interval=${interval} testid="chart-sla" bars=${true}
      series=${[{ key: "value", label: t("rep.slaBreached"), color: "#dc2626" }]} />
  </div>`;
}

function Bot({ ov, params }) {
  const [state, setState] = useState(null);
  const alive = useAlive();
  const first = params.from.slice(0, 10);
  const last = isoDay(Date.parse(params.to) - 1);
  useEffect(() => {
    setState(null);
    const days = [];
    for (let d = last; d >= first && days.length < MAX_BOT_DAYS; d = addDays(d, -1)) days.push(d);
    Promise.all([
      ov.bot ? [] : Promise.all(days.map((day) => api.get("/reports/bot", { day }).catch(() => null))),
      api.get("/kb/stats").catch(() => ({ items: [] })),
      api.get("/kb/unanswered", { days: Math.min(90, Math.max(1, days.length)) }).catch(() => ({ clusters: [] })),
    ]).then(([reports, kb, unanswered]) => {
      if (!alive.current) return;
      // the buckets' bot outcomes over the range (docs/metrics.md), else the bot's daily counters
      const outcomes = ov.bot ? { ...ov.bot } : {};
      if (!ov.bot) {
        for (const r of reports) {
          for (const [k, v] of Object.entries(get(r, "counters.outcomes") || {})) outcomes[k] = (outcomes[k] || 0) + v;
        }
      }
      setState({ outcomes, days: days.length, kb: kb.items || [], unanswered: unanswered.clusters || [], questions: unanswered.questions });
    });
  }, [first, last]);
  if (!state) return html`<${Loading} />`;
  const o = state.outcomes;
  const total = o.conversations || 0;
  const rate = (n, given) => (given !== undefined ? pct(given) : total ? pct((n || 0) / total) : "—");
  const articles = [...state.kb].sort((a, b) => (b.views || 0) - (a.views || 0)).slice(0, 10);
  return html`<div class="stack">
    <div class="tiles" data-testid="bot-tiles">
      <${Tile} testid="tile-bot-conversations" name=${t("rep.botConversationsTitle")} value=${num(total)} sub=${ov.bot ? "" : t("rep.lastDays", { n: state.days })} />
      <${Tile} testid="tile-bot-resolved" name=${t("rep.botResolved")} value=${rate(o.resolved, o.resolution_rate)} sub=${num(o.resolved || 0)} />
      <${Tile} testid="tile-bot-handoff" name=${t("rep.botHandoff")} value=${rate(o.handed_off, o.handoff_rate)} sub=${num(o.handed_off || 0)} />
      <${Tile} testid="tile-bot-abandoned" name=${t("rep.botAbandoned")} value=${rate(o.abandoned, o.abandonment_rate)} sub=${num(o.abandoned || 0)} />
      <${Tile} testid="tile-bot-noanswer" name=${t("rep.kbNoAnswer")} value=${num(o.no_answer ?? state.questions ?? 0)} />
    </div>
    <div class="grid2">
      <section class="card"><h2>${t("rep.kbArticles")}</h2>
        ${articles.length ? html`<table class="data" data-testid="kb-table"><thead><tr><th scope="col">${t("rep.article")}</th>
          <th scope="col">${t("rep.views")}</th><th scope="col">${t("rep.helpful")}</th><th scope="col">${t("rep.notHelpful")}</th></tr></thead>
          <tbody>${articles.map((a) => html`<tr key=${a.article_id}><td>${a.article_id}</td><td class="num">${num(a.views || 0)}</td>
            <td class="num">${num(a.helpful || 0)}</td><td class="num">${num(a.not_helpful || 0)}</td></tr>`)}</tbody></table>`
          : html`<p class="muted">${t("rep.noData")}</p>`}</section>
      <section class="card"><h2>${t("rep.unanswered")}</h2>
        ${state.unanswered.length ? html`<ul class="list" data-testid="kb-unanswered">${state.unanswered.slice(0, 10).map((c, i) => html`<li key=${i}>
          ${c.question} <small class="muted">×${c.count}</small></li>`)}</ul>` : html`<p class="muted">${t("rep.noData")}</p>`}</section>
    </div>
    ${ov.bot ? null : html`<p class="muted">${t("rep.botFromDaily")}</p>`}
  </div>`;
}

function Csat({ ov, params }) {
  const [quality, setQuality] = useState(null);
  const alive = useAlive();
  const first = params.from.slice(0, 10);
  const last = isoDay(Date.parse(params.to) - 1);
  useEffect(() => {
    api.get("/reports/quality", { by: "group", from: first, to: last }).then((r) => alive.current && setQuality(r), () => alive.current && setQuality({ items: [] }));
  }, [first, last]);
  const csat = ov.csat || {};
  const scores = csat.by_score || csat.distribution || {};
  return html`<div class="stack">
    <div class="tiles">
      <${Tile} testid="tile-csat-average" name=${t("rep.csat")} value=${csatAvg(csat)} sub=${csat.responses !== undefined ? t("rep.answers", { n: num(csat.responses) }) : t("rep.notCounted")} />
      <${Tile} testid="tile-satisfied" name=${t("rep.satisfied")} value=${pct(csat.satisfied_rate)} />
      ${csat.nps !== undefined ? html`<${Tile} testid="tile-nps" name="NPS" value=${csat.nps === null ? "—" : String(Math.round(csat.nps))} />` : null}
      ${[1, 2, 3, 4, 5].filter((s) => scores[s] !== undefined).map((s) => html`<${Tile} key=${s} name=${"★".repeat(s)} value=${num(scores[s])} />`)}
    </div>
    <${Trend} title=${t("rep.trendCsat")} metric="csat_avg" params=${params} interval=${interval} testid="chart-csat"
      series=${[{ key: "value", label: t("rep.csat") }]} />
    <section class="card"><h2>${t("rep.csatByGroup")}</h2>
      ${!quality ? html`<${Loading} />` : quality.items.length ? html`<table class="data" data-testid="csat-table"><thead><tr>
        <th scope="col">${t("rep.by.group")}</th><th scope="col">${t("rep.conversations")}</th><th scope="col">${t("rep.csat")}</th><th scope="col">${t("rep.quality")}</th></tr></thead>
        <tbody>${quality.items.map((r) => html`<tr key=${r.group_id}><td>${r.group_id}</td><td class="num">${num(r.conversations)}</td>
          <td class="num">${r.average_csat ?? "—"}</td><td class="num">${r.average_score ?? "—"}</td></tr>`)}</tbody></table>`
        : html`<p class="muted">${t("rep.noData")}</p>`}
    </section>
  </div>`;
}

// Next week per half hour for the group filter (GET /reports/forecast: seasonal mean of the last
// 4 weeks' hour buckets, Erlang C agents for 80 % in 20 s at the measured handle time).
function Forecast({ state }) {
  const [plan, setPlan] = useState(null);
  const [error, setError] = useState(null);
  const alive = useAlive();
  useEffect(() => {
    setPlan(null);
    api.get("/reports/forecast", { group: state.group, weeks: 4 }).then((r) => alive.current && setPlan(r), (e) => alive.current && setError(e));
  }, [state.group]);
  if (error) return html`<${ErrorText} err=${error} />`;
  if (!plan) return html`<${Loading} />`;
  const points = plan.slots.map((x) => ({ t: x.t, volume: x.volume, agents: x.agents }));
  const series = [{ key: "volume", label: t("rep.fcVolume") }, { key: "agents", label: t("rep.fcAgents"), color: "#dc2626" }];
  const weekday = new Intl.DateTimeFormat(lang(), { weekday: "short", month: "numeric", day: "numeric", timeZone: "UTC" });
  return html`<div class="stack">
    <p class="muted" data-testid="forecast-basis">${t("rep.fcBasis", { weeks: plan.weeks, handle: secs(plan.handle_s), level: Math.round(plan.level * 100), target: plan.target_s })}
      ${plan.handle_measured ? "" : ` ${t("rep.fcNoHandle")}`}</p>
    <section class="card"><h2>${t("rep.fcTitle")}</h2>
      <${TimeChart} points=${points} series=${series} interval="hour" testid="chart-forecast" /></section>
    <section class="card"><table class="data" data-testid="forecast-table"><thead><tr>
      <th scope="col">${t("rep.fcDay")}</th><th scope="col">${t("rep.fcVolume")}</th><th scope="col">${t("rep.fcPeak")}</th><th scope="col">${t("rep.fcHours")}</th></tr></thead>
      <tbody>${plan.days.map((d) => html`<tr key=${d.day}><td>${weekday.format(new Date(`${d.day}T00:00:00Z`))}</td>
        <td class="num">${num(Math.round(d.volume))}</td><td class="num">${num(d.peak_agents)}</td><td class="num">${num(d.agent_hours)}</td></tr>`)}</tbody></table></section>
  </div>`;
}

export default function Reports({ route, navigate }) {
  const state = defaults(route.query);
  const set = (patch) => navigate(hashOf({ ...state, ...patch }));
  const [lists, setLists] = useState({ groups: [], agents: [] });
  const [ov, setOv] = useState(null);
  const [error, setError] = useState(null);
  const alive = useAlive();
  const r = range(state.from, state.to);
  const params = { from: r.from, to: r.to };
  if (state.group) params.group = state.group;
  if (state.agent) params.agent = state.agent;
  if (state.channel) params.channel = state.channel;
  const interval = intervalFor(r.days);
  useEffect(() => {
    Promise.all([api.get("/admin/groups").catch(() => ({ items: [] })), api.get("/admin/agents").catch(() => ({ items: [] }))])
      .then(([g, a]) => alive.current && setLists({ groups: g.items || [], agents: a.items || [] }));
  }, []);
  const key = JSON.stringify(params);
  useEffect(() => {
    setOv(null);
    setError(null);
    api.get("/reports/overview", params).then((x) => alive.current && setOv(x), (e) => alive.current && setError(e));
  }, [key]);
  const body = () => {
    if (error) return html`<${ErrorText} err=${error} />`;
    if (!ov) return html`<${Loading} />`;
    switch (state.tab) {
      case "channels": return html`<${Channels} ov=${ov} params=${params} interval=${interval} />`;
      case "agents": return html`<${Agents} params=${params} agents=${lists.agents} interval=${interval} />`;
      case "sla": return html`<${Sla} ov=${ov} params=${params} interval=${interval} />`;
      case "bot": return html`<${Bot} ov=${ov} params=${params} />`;
      case "csat": return html`<${Csat} ov=${ov} params=${params} />`;
      case "forecast": return html`<${Forecast} state=${state} />`;
      default: return html`<${Overview} ov=${ov} state=${state} params=${params} interval=${interval} />`;
    }
  };
  return html`<div class="page page-wide" data-testid="reports-page">
    <div class="page-head"><h1>${t("rep.title")}</h1>
      <nav class="tabs-admin" aria-label=${t("rep.sections")}>
        ${TABS.map((tab) => html`<a key=${tab} href=${hashOf({ ...state, tab })} class=${state.tab === tab ? "btn small active" : "btn small"}
          aria-current=${state.tab === tab ? "page" : undefined} data-testid=${`report-tab-${tab}`}>${t(`rep.tab.${tab}`)}</a>`)}
      </nav></div>
    <${Filters} state=${state} set=${set} groups=${lists.groups} agents=${lists.agents} params=${params} />
    <div data-testid=${`report-${state.tab}`}>${body()}</div>
  </div>`;
}
