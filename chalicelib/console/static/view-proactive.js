// view-proactive.js — #/proactive: the proactive service (issue 18).
//   rules   the versioned rule set (GET/PUT /admin/proactive-rules; admins edit, supervisors read;
//           409 when someone saved meanwhile: reloaded): which business event becomes which notice,
//           its text per language, the approved template per windowed channel, and the limits
//           (quiet hours, daily cap).
//   test    a test send: a business event for one customer (POST /business-events), and what
//           became of it (sent on which channel, held until, or suppressed and why); any event is
//           looked up by its id (GET /business-events/{id}).
import { allows } from "./app.js";
import { api } from "./api.js";
import { when } from "./format.js";
import { html, useEffect, useState } from "./html.js";
import { t } from "./i18n.js";
import { ErrorText, Field, Loading, toast, useAlive, useForm, useId } from "./ui.js";

function Outcome({ o }) {
  if (!o) return null;
  return html`<dl class="facts" data-testid="proactive-outcome" data-status=${o.status}>
    <dt>${t("pro.eventId")}</dt><dd><code data-testid="proactive-outcome-id">${o.event_id}</code></dd>
    <dt>${t("pro.status")}</dt><dd data-testid="proactive-outcome-status">${t(`pro.status.${o.status}`)}</dd>
    ${o.channel ? html`<dt>${t("pro.channel")}</dt><dd data-testid="proactive-outcome-channel">${o.channel}${o.template ? ` (${t("pro.template")} ${o.template})` : ""}</dd>` : null}
    ${o.reason ? html`<dt>${t("pro.reason")}</dt><dd data-testid="proactive-outcome-reason">${o.reason}</dd>` : null}
    ${o.due_at ? html`<dt>${t("pro.dueAt")}</dt><dd>${when(o.due_at)}</dd>` : null}
    ${o.conversation_id ? html`<dt>${t("pro.conversation")}</dt><dd><a href=${`#/conversations/${o.conversation_id}`} data-testid="proactive-outcome-conversation">${o.conversation_id}</a></dd>` : null}
    ${o.duplicate ? html`<dt>${t("pro.duplicate")}</dt><dd>${t("pro.duplicate.yes")}</dd>` : null}
  </dl>`;
}

function Rules({ me, saved }) {
  const [json, setJson] = useState(null);
  const canEdit = allows(me, "admin");
  useEffect(() => {
    if (saved.data) setJson(JSON.stringify({ rules: saved.data.rules, limits: saved.data.limits }, null, 2));
  }, [saved.data]);
  const form = useForm(async () => {
    let body;
    try {
      body = JSON.parse(json);
    } catch (err) {
      toast(t("pro.badJson", { message: err.message }), "error");
      return;
    }
    try {
      await api.put("/admin/proactive-rules", { version: saved.data.version, rules: body.rules || [], limits: body.limits || {} });
    } catch (err) {
      if (err.status === 409) {
        toast(t("pro.stale"), "error");
        saved.reload();
        return;
      }
      throw err;
    }
    toast(t("pro.saved"), "ok");
    saved.reload();
  });
  if (json === null) return html`<${Loading} />`;
  const s = saved.data;
  const quiet = s.limits.quiet_hours;
  return html`<section class="card stack" data-testid="proactive-rules"><h2>${t("pro.rules")}</h2>
    <small class="muted" data-testid="proactive-rules-version" data-version=${String(s.version)}>
      ${t("pro.version", { version: s.version, when: s.updated_at ? when(s.updated_at) : "—", who: s.updated_by || "—" })}</small>
    <p data-testid="proactive-limits">${quiet ? t("pro.quiet", { start: quiet.start.slice(0, 5), end: quiet.end.slice(0, 5), zone: quiet.timezone }) : t("pro.quiet.none")}
      · ${t("pro.cap", { cap: s.limits.daily_cap })}</p>
    <table class="data"><thead><tr>${["pro.rule", "pro.event", "pro.text", "pro.templates"].map((k) => html`<th scope="col" key=${k}>${t(k)}</th>`)}</tr></thead>
      <tbody>${s.rules.length ? s.rules.map((r) => html`<tr key=${r.rule_id} data-testid="proactive-rule" data-id=${r.rule_id}>
        <td><code>${r.rule_id}</code>${r.enabled === false ? ` (${t("pro.off")})` : ""}</td><td><code>${r.event}</code></td>
        <td>${Object.entries(r.template).map(([lang, text]) => html`<div key=${lang}><small class="muted">${lang}</small> ${text}</div>`)}</td>
        <td>${Object.entries(r.channel_templates || {}).map(([ch, name]) => `${ch}: ${name}`).join(", ") || "—"}</td>
      </tr>`) : html`<tr><td colspan="4" class="muted" data-testid="proactive-no-rules">${t("pro.noRules")}</td></tr>`}</tbody></table>
    ${canEdit ? html`
      <textarea class="code" rows="14" spellcheck="false" aria-label="JSON" data-testid="proactive-rules-json" value=${json} onInput=${(e) => setJson(e.target.value)}></textarea>
      ${Object.keys(form.errors).length ? html`<p class="field-error" role="alert" data-testid="proactive-rules-errors">${Object.entries(form.errors).map(([k, v]) => `${k}: ${v}`).join("; ")}</p>` : null}
      <div><button class="btn primary" type="button" data-testid="proactive-rules-save" disabled=${form.busy} onClick=${() => form.submit()}>${t("pro.save")}</button></div>`
      : html`<p class="muted">${t("pro.readOnly")}</p>`}
  </section>`;
}

function TestSend({ rules }) {
  const ids = { type: useId("pt"), who: useId("pt"), data: useId("pt"), lookup: useId("pt") };
  const [type, setType] = useState("");
  const [who, setWho] = useState("");
  const [data, setData] = useState("{}");
  const [outcome, setOutcome] = useState(null);
  const [lookup, setLookup] = useState("");
  const events = [...new Set(rules.map((r) => r.event))];
  const form = useForm(async () => {
    let parsed;
    try {
      parsed = JSON.parse(data || "{}");
    } catch (err) {
      toast(t("pro.badJson", { message: err.message }), "error");
      return;
    }
    const ref = who.trim();
    const customer = ref.startsWith("+") ? { phone: ref } : ref.includes("@") ? { email: ref } : { customer_id: ref };
    const eventId = `test-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
    setOutcome(await api.post("/business-events", { type: type || events[0], event_id: eventId, customer, data: parsed }));
  });
  const find = useForm(async () => setOutcome(await api.get(`/business-events/${encodeURIComponent(lookup.trim())}`)));
  return html`<section class="card stack" data-testid="proactive-test"><h2>${t("pro.test")}</h2>
    <p class="muted">${t("pro.test.hint")}</p>
    <form class="stack" onSubmit=${(e) => { e.preventDefault(); form.submit(); }}>
      <div class="row">
        <${Field} label=${t("pro.event")} id=${ids.type}>
          <select id=${ids.type} data-testid="proactive-test-type" value=${type || events[0] || ""} onChange=${(e) => setType(e.target.value)}>
            ${events.map((ev) => html`<option key=${ev} value=${ev}>${ev}</option>`)}
          </select><//>
        <${Field} label=${t("pro.customer")} id=${ids.who}>
          <input id=${ids.who} required data-testid="proactive-test-customer" placeholder="+8613800138000 / a@b.com / customer id"
            value=${who} onInput=${(e) => setWho(e.target.value)} /><//>
      </div>
      <${Field} label=${t("pro.data")} id=${ids.data}>
        <textarea id=${ids.data} class="code" rows="3" data-testid="proactive-test-data" value=${data} onInput=${(e) => setData(e.target.value)}></textarea><//>
      ${Object.keys(form.errors).length ? html`<p class="field-error" role="alert">${Object.entries(form.errors).map(([k, v]) => `${k}: ${v}`).join("; ")}</p>` : null}
      <div><button class="btn primary" type="submit" data-testid="proactive-test-send" disabled=${form.busy || !events.length}>${t("pro.test.send")}</button></div>
    </form>
    <form class="row" onSubmit=${(e) => { e.preventDefault(); find.submit(); }}>
      <${Field} label=${t("pro.lookup")} id=${ids.lookup}>
        <input id=${ids.lookup} required data-testid="proactive-lookup-id" value=${lookup} onInput=${(e) => setLookup(e.target.value)} /><//>
      <button class="btn" type="submit" data-testid="proactive-lookup" disabled=${find.busy}>${t("pro.lookup.go")}</button>
    </form>
    <${Outcome} o=${outcome} />
  </section>`;
}

export default function Proactive({ me }) {
  const [state, setState] = useState({ data: null, error: null });
  const alive = useAlive();
  const load = async () => {
    try {
      const data = await api.get("/admin/proactive-rules");
      if (alive.current) setState({ data, error: null });
    } catch (err) {
      if (alive.current) setState({ data: null, error: err });
    }
  };
  useEffect(() => { load(); }, []);
  const saved = { ...state, reload: load };
  return html`<div class="page" data-testid="proactive-view">
    <div class="page-head"><h1>${t("pro.title")}</h1></div>
    ${state.error ? html`<${ErrorText} err=${state.error} />` : !state.data ? html`<${Loading} />` : html`
      <${Rules} me=${me} saved=${saved} />
      ${allows(me, "admin") ? html`<${TestSend} rules=${state.data.rules} />` : null}`}
  </div>`;
}
