// view-integrations.js — #/integrations (admins): outgoing webhooks (create → the signing secret shown
// once, event types, the delivery log with status, response code, latency and attempt, replay one or
// every failed message, rotate the secret, pause/resume, the disabled state and why), API clients
// (create → the client secret shown once, scopes, rate limit, disable/enable, rotate) and a
// customer's audit trail (GET /customers/{id}/audit). #/integrations/<section> opens a section.
import { api } from "./api.js";
import { when } from "./format.js";
import { html, useEffect, useState } from "./html.js";
import { t } from "./i18n.js";
import { ErrorText, Field, Loading, confirmDialog, toast, useAlive, useForm, useId } from "./ui.js";

const SECTIONS = ["webhooks", "clients", "audit"];
const EVENTS = [
  "message.created", "conversation.created", "conversation.assigned", "conversation.closed",
  "ticket.created", "ticket.updated", "sla.warning", "sla.breached", "csat.received",
  "customer.merged", "customer.erased",
];
const SCOPES = [
  "conversations:read", "conversations:write", "tickets:read", "tickets:write",
  "customers:read", "events:write", "reports:read",
];

function useLoad(url) {
  const [state, setState] = useState({ data: null, error: null });
  const alive = useAlive();
  const reload = async () => {
    if (!url) return;
    try {
      const data = await api.get(url);
      if (alive.current) setState({ data, error: null });
    } catch (err) {
      if (alive.current) setState({ data: null, error: err });
    }
  };
  useEffect(() => { setState({ data: null, error: null }); reload(); }, [url]);
  return { ...state, reload };
}

function Loaded({ load, children }) {
  if (load.error) return html`<${ErrorText} err=${load.error} />`;
  if (!load.data) return html`<${Loading} />`;
  return children(load.data);
}

// A secret the API shows only once: copy it now.
function SecretOnce({ secret, onDone, testid }) {
  if (!secret) return null;
  return html`<div class="card stack" role="alert" data-testid=${testid}>
    <strong>${t("integ.secretOnce")}</strong>
    <code class="secret" data-testid=${`${testid}-value`}>${secret}</code>
    <div class="row">
      <button class="btn small" onClick=${() => navigator.clipboard && navigator.clipboard.writeText(secret)}>${t("integ.copy")}</button>
      <button class="btn small" data-testid=${`${testid}-done`} onClick=${onDone}>${t("integ.secretSaved")}</button>
    </div>
  </div>`;
}

function Checks({ options, value, onChange, testid }) {
  return html`<div class="integ-checks" data-testid=${testid}>${options.map((o) => html`<label class="row" key=${o}>
    <input type="checkbox" value=${o} checked=${value.includes(o)}
      onChange=${(e) => onChange(e.target.checked ? [...value, o] : value.filter((x) => x !== o))} />
    <code>${o}</code></label>`)}</div>`;
}

function State({ enabled, reason }) {
  return enabled
    ? html`<span class="badge sla-met" data-testid="state">${t("integ.enabled")}</span>`
    : html`<span class="badge sla-breached" data-testid="state" title=${reason || ""}>${t("integ.disabled")}${reason ? ` · ${reason}` : ""}</span>`;
}

// ---- webhooks ----------------------------------------------------------------------------------------
function Deliveries({ endpoint, onClose }) {
  const load = useLoad(`/admin/webhooks/${encodeURIComponent(endpoint.endpoint_id)}/deliveries`);
  const replay = async (msgId) => {
    try {
      const res = await api.post(`/admin/webhooks/${encodeURIComponent(endpoint.endpoint_id)}/replay`, msgId ? { msg_id: msgId } : {});
      toast(t("integ.replayed", { n: (res.queued || []).length }), "ok");
      await load.reload();
    } catch (err) {
      toast(err.message, "error");
    }
  };
  const heads = [t("integ.event"), t("integ.status"), t("integ.attempt"), t("integ.code"), t("integ.latency"), t("integ.at"), ""];
  return html`<section class="card stack" data-testid="webhook-deliveries">
    <div class="row"><h3>${t("integ.deliveries")} · <code>${endpoint.url}</code></h3><div class="spacer"></div>
      <button class="btn small" data-testid="replay-all" onClick=${() => replay(null)}>${t("integ.replayAll")}</button>
      <button class="btn small ghost" data-testid="deliveries-refresh" onClick=${() => load.reload()}>${t("integ.refresh")}</button>
      <button class="btn small ghost" onClick=${onClose}>${t("integ.close")}</button></div>
    <${Loaded} load=${load}>${(data) => (data.messages || []).length === 0
      ? html`<p class="muted" data-testid="deliveries-empty">${t("integ.noDeliveries")}</p>`
      : html`<table class="data">
        <thead><tr>${heads.map((c, i) => html`<th scope="col" key=${i}>${c}</th>`)}</tr></thead>
        <tbody>${data.messages.map((m) => {
          const tries = m.attempts && m.attempts.length ? m.attempts : [{ attempt: 0 }];
          return tries.map((a, i) => html`<tr key=${`${m.msg_id}-${i}`} data-msg=${m.msg_id} data-testid="delivery-row">
            <td>${i === 0 ? html`<code>${m.event_type}</code>` : ""}</td>
            <td>${i === 0 ? html`<span class=${`badge ${m.status === "delivered" ? "sla-met" : m.status === "failed" ? "sla-breached" : ""}`} data-testid="delivery-status">${t(`integ.msg.${m.status}`)}</span>` : ""}</td>
            <td class="num" data-testid="delivery-attempt">${a.attempt || "–"}</td>
            <td class="num" data-testid="delivery-code">${a.response_code ?? (a.error ? a.error : "–")}</td>
            <td class="num">${a.latency_ms !== undefined ? `${a.latency_ms} ms` : "–"}</td>
            <td>${a.at ? when(a.at) : ""}</td>
            <td>${i === 0 && m.status === "failed" ? html`<button class="btn small" data-testid="replay-one" onClick=${() => replay(m.msg_id)}>${t("integ.replay")}</button>` : ""}</td>
          </tr>`);
        })}</tbody>
      </table>`}<//>
  </section>`;
}

function Webhooks() {
  const load = useLoad("/admin/webhooks");
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState(["message.created"]);
  const [secret, setSecret] = useState("");
  const [open, setOpen] = useState(null);
  const urlId = useId("wh");
  const form = useForm(async () => {
    const res = await api.post("/admin/webhooks", { url: url.trim(), events });
    setSecret(res.secret);
    setUrl("");
    await load.reload();
  });
  const act = async (e, path, done) => {
    try {
      const res = await api.post(`/admin/webhooks/${encodeURIComponent(e.endpoint_id)}/${path}`);
      if (res.secret) setSecret(res.secret);
      if (done) toast(done, "ok");
      await load.reload();
    } catch (err) {
      toast(err.message, "error");
    }
  };
  const rotate = async (e) => {
    if (await confirmDialog(t("integ.rotateConfirm"))) act(e, "rotate-secret");
  };
  const heads = [t("integ.url"), t("integ.events"), t("integ.state"), t("integ.created"), ""];
  return html`<div class="stack" data-testid="integ-webhooks">
    <${SecretOnce} secret=${secret} testid="webhook-secret" onDone=${() => setSecret("")} />
    <${Loaded} load=${load}>${(data) => (data.items || []).length === 0
      ? html`<p class="muted" data-testid="webhooks-empty">${t("integ.noWebhooks")}</p>`
      : html`<table class="data">
        <thead><tr>${heads.map((c, i) => html`<th scope="col" key=${i}>${c}</th>`)}</tr></thead>
        <tbody>${data.items.map((e) => html`<tr key=${e.endpoint_id} data-id=${e.endpoint_id} data-testid="webhook-row">
          <td><code>${e.url}</code></td>
          <td>${e.events.map((k) => html`<code key=${k} class="tag">${k}</code> `)}</td>
          <td><${State} enabled=${e.enabled} reason=${e.disabled_reason} /></td>
          <td>${when(e.created_at)}</td>
          <td class="row">
            <button class="btn small" data-testid="webhook-log" onClick=${() => setOpen(e)}>${t("integ.deliveries")}</button>
            <button class="btn small" data-testid="webhook-rotate" onClick=${() => rotate(e)}>${t("integ.rotate")}</button>
            ${e.enabled
              ? html`<button class="btn small" data-testid="webhook-disable" onClick=${() => act(e, "disable", t("integ.paused"))}>${t("integ.disable")}</button>`
              : html`<button class="btn small" data-testid="webhook-enable" onClick=${() => act(e, "enable", t("integ.resumed"))}>${t("integ.enable")}</button>`}
          </td>
        </tr>`)}</tbody>
      </table>`}<//>
    ${open ? html`<${Deliveries} key=${open.endpoint_id} endpoint=${open} onClose=${() => setOpen(null)} />` : null}
    <form class="card stack" onSubmit=${(e) => { e.preventDefault(); form.submit(); }}>
      <h3>${t("integ.webhookNew")}</h3>
      <${Field} label=${t("integ.url")} id=${urlId} error=${form.errors.url}>
        <input id=${urlId} type="url" required maxlength="2000" placeholder="https://crm.example.com/omniflow" value=${url}
          data-testid="webhook-url" onInput=${(e) => setUrl(e.target.value)} /><//>
      <fieldset><legend>${t("integ.events")}</legend>
        <${Checks} options=${EVENTS} value=${events} onChange=${setEvents} testid="webhook-events" />
        ${form.errors.events ? html`<small class="field-error" role="alert">${form.errors.events}</small>` : null}</fieldset>
      <div><button class="btn primary" type="submit" data-testid="webhook-create" disabled=${form.busy || !events.length}>${t("integ.create")}</button></div>
    </form>
  </div>`;
}

// ---- API clients -------------------------------------------------------------------------------------
function Clients() {
  const load = useLoad("/admin/api-clients");
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState(["tickets:read"]);
  const [limit, setLimit] = useState("600");
  const [secret, setSecret] = useState(null);
  const ids = { name: useId("cl"), limit: useId("cl") };
  const form = useForm(async () => {
    const res = await api.post("/admin/api-clients", { name: name.trim(), scopes, rate_limit: Number(limit) });
    setSecret(res);
    setName("");
    await load.reload();
  });
  const act = async (c, path) => {
    try {
      const res = await api.post(`/admin/api-clients/${encodeURIComponent(c.client_id)}/${path}`);
      if (res.client_secret) setSecret(res);
      await load.reload();
    } catch (err) {
      toast(err.message, "error");
    }
  };
  const rotate = async (c) => {
    if (await confirmDialog(t("integ.rotateClientConfirm"))) act(c, "rotate-secret");
  };
  const heads = [t("integ.name"), t("integ.clientId"), t("integ.scopes"), t("integ.rateLimit"), t("integ.state"), ""];
  return html`<div class="stack" data-testid="integ-clients">
    ${secret ? html`<div class="card stack"><span>${t("integ.clientId")}: <code data-testid="client-id">${secret.client_id}</code></span>
      <${SecretOnce} secret=${secret.client_secret} testid="client-secret" onDone=${() => setSecret(null)} /></div>` : null}
    <${Loaded} load=${load}>${(data) => (data.items || []).length === 0
      ? html`<p class="muted" data-testid="clients-empty">${t("integ.noClients")}</p>`
      : html`<table class="data">
        <thead><tr>${heads.map((c, i) => html`<th scope="col" key=${i}>${c}</th>`)}</tr></thead>
        <tbody>${data.items.map((c) => html`<tr key=${c.client_id} data-id=${c.client_id} data-testid="client-row">
          <td>${c.name}</td><td><code>${c.client_id}</code></td>
          <td>${c.scopes.map((s) => html`<code key=${s} class="tag">${s}</code> `)}</td>
          <td class="num">${t("integ.perMinute", { n: c.rate_limit })}</td>
          <td><${State} enabled=${c.enabled} /></td>
          <td class="row">
            <button class="btn small" data-testid="client-rotate" onClick=${() => rotate(c)}>${t("integ.rotate")}</button>
            ${c.enabled
              ? html`<button class="btn small" data-testid="client-disable" onClick=${() => act(c, "disable")}>${t("integ.disable")}</button>`
              : html`<button class="btn small" data-testid="client-enable" onClick=${() => act(c, "enable")}>${t("integ.enable")}</button>`}
          </td>
        </tr>`)}</tbody>
      </table>`}<//>
    <form class="card stack" onSubmit=${(e) => { e.preventDefault(); form.submit(); }}>
      <h3>${t("integ.clientNew")}</h3>
      <${Field} label=${t("integ.name")} id=${ids.name} error=${form.errors.name}>
        <input id=${ids.name} required maxlength="80" value=${name} data-testid="client-name" onInput=${(e) => setName(e.target.value)} /><//>
      <fieldset><legend>${t("integ.scopes")}</legend>
        <${Checks} options=${SCOPES} value=${scopes} onChange=${setScopes} testid="client-scopes" />
        ${form.errors.scopes ? html`<small class="field-error" role="alert">${form.errors.scopes}</small>` : null}</fieldset>
      <${Field} label=${t("integ.rateLimit")} id=${ids.limit} error=${form.errors.rate_limit} hint=${t("integ.rateLimitHint")}>
        <input id=${ids.limit} type="number" min="1" max="60000" required value=${limit} data-testid="client-rate" onInput=${(e) => setLimit(e.target.value)} /><//>
      <div><button class="btn primary" type="submit" data-testid="client-create" disabled=${form.busy || !scopes.length}>${t("integ.create")}</button></div>
    </form>
  </div>`;
}

// ---- a customer's audit trail ------------------------------------------------------------------------
function Audit({ initial }) {
  const [draft, setDraft] = useState(initial || "");
  const [customer, setCustomer] = useState(initial || "");
  const load = useLoad(customer ? `/customers/${encodeURIComponent(customer)}/audit` : null);
  const id = useId("au");
  const heads = [t("integ.at"), t("integ.actor"), t("integ.action"), t("integ.details")];
  return html`<div class="stack" data-testid="integ-audit">
    <form class="row" onSubmit=${(e) => { e.preventDefault(); setCustomer(draft.trim()); }}>
      <label for=${id}>${t("integ.customerId")}</label>
      <input id=${id} required maxlength="128" value=${draft} data-testid="audit-customer" onInput=${(e) => setDraft(e.target.value)} />
      <button class="btn primary" type="submit" data-testid="audit-show">${t("integ.show")}</button>
    </form>
    ${customer ? html`<${Loaded} load=${load}>${(data) => (data.items || []).length === 0
      ? html`<p class="muted" data-testid="audit-empty">${t("integ.noAudit")}</p>`
      : html`<table class="data">
        <thead><tr>${heads.map((c, i) => html`<th scope="col" key=${i}>${c}</th>`)}</tr></thead>
        <tbody>${data.items.map((r, i) => html`<tr key=${i} data-testid="audit-row">
          <td>${when(String(r.at || "").split("#")[0])}</td><td>${r.actor}</td><td><code>${r.action}</code></td>
          <td><code class="details">${r.details ? JSON.stringify(r.details) : ""}</code></td>
        </tr>`)}</tbody>
      </table>`}<//>` : null}
  </div>`;
}

export default function Integrations({ route }) {
  const section = SECTIONS.includes(route.id) ? route.id : "webhooks";
  return html`<div class="page stack" data-testid="integrations">
    <h1>${t("integ.title")}</h1>
    <nav class="tabs-admin" aria-label=${t("integ.title")}>
      ${SECTIONS.map((s) => html`<a key=${s} href=${`#/integrations/${s}`} data-testid=${`integ-tab-${s}`}
        aria-current=${s === section ? "page" : null} class=${s === section ? "btn active" : "btn"}>${t(`integ.section.${s}`)}</a>`)}
    </nav>
    ${section === "webhooks" ? html`<${Webhooks} />` : null}
    ${section === "clients" ? html`<${Clients} />` : null}
    ${section === "audit" ? html`<${Audit} initial=${route.query.customer || ""} />` : null}
  </div>`;
}
