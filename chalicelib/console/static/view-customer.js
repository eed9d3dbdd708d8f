// view-customer.js — the customer 360: profile (the best human label, verified and typed contacts),
// tags and attributes (editable), channel identities, orders from the connector (a readable
// tracking line; a degraded answer shown calmly), past conversations and tickets, and merging
// another customer into this one (supervisors, after a confirmation). CustomerPanel is the
// conversation view's side panel; the default export is the #/customers/<id> page.
import { api } from "./api.js";
import { useFeed } from "./feed.js";
import { when } from "./format.js";
import { html, useEffect, useRef, useState } from "./html.js";
import { t } from "./i18n.js";
import { customerLabel, ticketLabel, trackingLine } from "./labels.js";
import { ChannelIcon, Empty, ErrorText, Field, Loading, confirmDialog, errorText, toast, useAlive, useForm, useId } from "./ui.js";

const path = (id) => `/customers/${encodeURIComponent(id)}`;

async function load(customerId) {
  const data = await api.get(path(customerId));
  let orders;
  if ("orders" in data || "orders_error" in data) {
    orders = { orders: data.orders || [], ...(data.orders_error || {}) };
  } else {
    try { orders = await api.get(`${path(customerId)}/orders`); } catch (err) { orders = { orders: [], error: err.message, reason: err.code }; }
  }
  return { data, orders };
}

// Loads the 360 and reloads it on demand (reload) and when a ticket changes.
function use360(customerId, version) {
  const [state, setState] = useState({ data: null, orders: null, error: null });
  const alive = useAlive();
  const reload = async () => {
    if (!customerId) return;
    try {
      const next = await load(customerId);
      if (alive.current) setState({ ...next, error: null });
    } catch (err) {
      if (alive.current) setState((s) => ({ ...s, error: err }));
    }
  };
  useEffect(() => { reload(); }, [customerId, version]);
  const soon = useRef(null);
  useFeed("ticket.updated", (ev) => {
    if (ev.customer_id && ev.customer_id !== customerId) return;
    if (soon.current) return;
    soon.current = setTimeout(() => { soon.current = null; reload(); }, 300);
  });
  useEffect(() => () => clearTimeout(soon.current), []);
  return { ...state, reload };
}

// Verified addresses, then what the customer typed in a form (pre-chat, offline form): unverified,
// marked as such, never used to link customers.
function Contacts({ c, list, hint }) {
  const verified = c[list] || [];
  const typed = (c.unverified_hints || {})[hint];
  if (!verified.length && !typed) return "—";
  return html`${verified.map((v) => html`<span class="contact" key=${v}>${v}</span>`)}
    ${typed && !verified.includes(typed) ? html`<span class="contact unverified" data-testid=${`customer-typed-${hint}`} title=${t("cust.unverifiedHint")}>
      ${typed} <small class="muted">${t("cust.unverified")}</small></span>` : null}`;
}

function Profile({ data, reload, full }) {
  const c = data.customer || {};
  const [tag, setTag] = useState("");
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const patch = async (body) => {
    try {
      await api.patch(path(data.customer_id), body);
      toast(t("cust.saved"), "ok");
      reload();
      return true;
    } catch (err) {
      toast(errorText(err), "error");
      return false;
    }
  };
  const attrs = c.attributes || {};
  return html`<div class="stack">
    <h2 data-testid="customer-name">${customerLabel(c)}</h2>
    ${c.merged_into ? html`<p class="error">${t("cust.mergedInto", { target: c.merged_into })}</p>` : null}
    <dl class="facts">
      <dt>${t("cust.phones")}</dt><dd data-testid="customer-phones"><${Contacts} c=${c} list="phones" hint="phone" /></dd>
      <dt>${t("cust.emails")}</dt><dd data-testid="customer-emails"><${Contacts} c=${c} list="emails" hint="email" /></dd>
      ${c.created_at ? html`<dt>ID</dt><dd class="muted">${c.customer_id} · ${t("cust.since", { when: when(c.created_at) })}</dd>` : null}
    </dl>
    <h3>${t("cust.tags")}</h3>
    <div class="tags" data-testid="customer-tags">
      ${(c.tags || []).map((x) => html`<span class="chip" data-tag=${x} key=${x}>${x}
        <button type="button" aria-label=${t("cust.removeTag", { tag: x })} title=${t("cust.removeTag", { tag: x })}
          onClick=${() => patch({ tags: { add: [], remove: [x] } })}>×</button></span>`)}
    </div>
    <input class="tag-input" placeholder=${t("cust.addTag")} aria-label=${t("cust.tags")} maxlength="40"
      data-testid=${full ? "tag-input" : "customer-tag-input"} value=${tag} onInput=${(e) => setTag(e.target.value)}
      onKeyDown=${async (e) => {
        if (e.key === "Enter" && tag.trim()) {
          e.preventDefault();
          if (await patch({ tags: { add: [tag.trim()], remove: [] } })) setTag("");
        }
      }} />
    <h3>${t("cust.attributes")}</h3>
    ${Object.keys(attrs).length
      ? html`<dl class="facts">${Object.keys(attrs).sort().map((k) => html`<dt key=${`k-${k}`}>${k}</dt><dd key=${`v-${k}`}>${String(attrs[k])}${" "}
          <button type="button" class="btn ghost small" onClick=${() => patch({ attributes: { [k]: null } })}>${t("cust.attrRemove")}</button></dd>`)}</dl>`
      : html`<p class="muted">${t("cust.none")}</p>`}
    <form class="row" onSubmit=${async (e) => {
      e.preventDefault();
      if (key.trim() && (await patch({ attributes: { [key.trim()]: value } }))) { setKey(""); setValue(""); }
    }}>
      <input placeholder=${t("cust.attrKey")} aria-label=${t("cust.attrKey")} maxlength="64" size="10" value=${key} onInput=${(e) => setKey(e.target.value)} />
      <input placeholder=${t("cust.attrValue")} aria-label=${t("cust.attrValue")} maxlength="1000" size="14" value=${value} onInput=${(e) => setValue(e.target.value)} />
      <button class="btn small" type="submit">${t("cust.attrSave")}</button>
    </form>
  </div>`;
}

function Identities({ data }) {
  const ids = data.identities || [];
  return html`<div data-testid="customer-identities">
    <h3>${t("cust.identities")}</h3>
    ${ids.length ? html`<ul class="list">${ids.map((i) => html`<li class="row" key=${i.identity_key} data-kind=${i.kind}>
        ${i.kind === "channel" ? html`<${ChannelIcon} channel=${i.channel} />` : html`<span class="badge">${i.kind}</span>`}
        <span>${i.kind === "channel" ? `${i.user_id || ""}` : i.identity_key.replace(/^[a-z_]+#/, "")}</span>
        ${i.kind === "channel" && i.account && i.account !== "default" ? html`<small class="muted">${i.account}</small>` : null}
      </li>`)}</ul>` : html`<p class="muted">${t("cust.none")}</p>`}
  </div>`;
}

function itemName(it) {
  return typeof it === "string" ? it : it.name || it.title || it.sku || "";
}

function Orders({ answer }) {
  const orders = (answer && answer.orders) || [];
  let body;
  if (answer && answer.error && !orders.length) body = html`<p class="degraded">${t("cust.ordersDown", { reason: answer.reason || answer.error })}</p>`;
  else if (!orders.length) body = html`<p class="muted">${t("cust.noOrders")}</p>`;
  else {
    body = html`<ul class="list">${orders.map((o) => html`<li class="stack" data-order=${o.number || ""} key=${o.number}>
      <div class="row"><strong>#${o.number ?? ""}</strong><span class="status">${String(o.status ?? "")}</span>
        <span class="spacer"></span><span class="num">${o.total ?? ""} ${o.currency ?? ""}</span></div>
      <small class="muted">${when(o.placed_at)}${Array.isArray(o.items) && o.items.length ? ` · ${o.items.map(itemName).join(", ")}` : ""}</small>
      ${o.tracking ? html`<small data-testid="order-tracking">${t("cust.tracking", { tracking: trackingLine(o.tracking) })}</small>` : null}
    </li>`)}</ul>`;
  }
  return html`<div data-testid="customer-orders"><h3>${t("cust.orders")}</h3>${body}</div>`;
}

function History({ data, currentConversation }) {
  const convs = (data.conversations || []).filter((c) => c.conversation_id !== currentConversation);
  const tickets = data.tickets || [];
  return html`<div class="stack">
    <h3>${t("cust.conversations")}</h3>
    ${convs.length ? html`<ul class="list">${convs.map((c) => html`<li key=${c.conversation_id}>
        <a href=${`#/c/${encodeURIComponent(c.conversation_id)}`} class="row">
          ${(c.channels || [c.last_channel]).filter(Boolean).map((ch) => html`<${ChannelIcon} key=${ch} channel=${ch} />`)}
          <span class="status">${c.status || ""}</span><span>${c.preview || c.conversation_id}</span></a>
        <small class="muted">${when(c.last_message_at || c.created_at)}</small></li>`)}</ul>`
      : html`<p class="muted">${t("cust.none")}</p>`}
    <h3>${t("cust.tickets")}</h3>
    ${tickets.length ? html`<ul class="list" data-testid="customer-tickets">${tickets.map((tk) => html`<li key=${tk.ticket_id} data-testid="customer-ticket">
        <a href=${`#/tickets/${encodeURIComponent(tk.ticket_id)}`}>${ticketLabel(tk)} ${tk.subject || ""}</a>${" "}
        <span class=${`status status-${tk.status}`}>${tk.status || ""}</span></li>`)}</ul>`
      : html`<p class="muted" data-testid="customer-tickets-none">${t("cust.none")}</p>`}
  </div>`;
}

function Merge({ me, data, reload }) {
  const [source, setSource] = useState("");
  const form = useForm(async (src) => {
    await api.post(`${path(data.customer_id)}/merge`, { source_customer_id: src });
    toast(t("cust.merged"), "ok");
    setSource("");
    reload();
  });
  const id = useId("merge");
  if (!["supervisor", "admin"].includes(me && me.role)) return null;
  const submit = async (e) => {
    e.preventDefault();
    const src = source.trim();
    if (!src) return;
    if (!(await confirmDialog(t("cust.mergeConfirm", { source: src, target: data.customer_id }), { ok: t("cust.mergeButton") }))) return;
    await form.submit(src);
  };
  return html`<form class="stack" onSubmit=${submit}>
    <h3>${t("cust.merge")}</h3>
    <${Field} label=${t("cust.mergeSource")} id=${id} error=${form.errors.source_customer_id}>
      <input id=${id} placeholder="cus_…" maxlength="64" data-testid="merge-source" value=${source} onInput=${(e) => setSource(e.target.value)} />
    <//>
    <div><button class="btn" type="submit" data-testid="merge-button" disabled=${form.busy}>${t("cust.mergeButton")}</button></div>
  </form>`;
}

export function CustomerPanel({ customerId, currentConversation, version = 0, me }) {
  const { data, orders, error, reload } = use360(customerId, version);
  return html`<div class="card customer-panel" data-testid="customer-panel" data-id=${customerId}>
    ${error ? html`<${ErrorText} err=${error} />` : !data ? html`<${Loading} />` : html`
      <${Profile} data=${data} reload=${reload} full=${false} />
      <a href=${`#/customers/${encodeURIComponent(customerId)}`} class="small">${t("cust.open360")}</a>
      <${Orders} answer=${orders} />
      <${Identities} data=${data} />
      <${History} data=${data} currentConversation=${currentConversation} />
      ${me ? html`<${Merge} me=${me} data=${data} reload=${reload} />` : null}`}
  </div>`;
}

// #/customers/<id>
export default function CustomerPage({ me, route }) {
  const id = route.id;
  const { data, orders, error, reload } = use360(id || "", 0);
  if (!id) return html`<${Empty}>${t("view.notfound")}<//>`;
  return html`<div class="page" data-testid="customer-panel" data-id=${id}>
    ${error ? html`<${ErrorText} err=${error} />` : !data ? html`<${Loading} />` : html`
      <div class="page-head"><h1>${t("cust.title")}</h1></div>
      <div class="grid2">
        <div class="stack">
          <div class="card"><${Orders} answer=${orders} /></div>
          <div class="card"><${History} data=${data} currentConversation=${null} /></div>
        </div>
        <div class="stack">
          <div class="card"><${Profile} data=${data} reload=${reload} full=${true} /></div>
          <div class="card"><${Identities} data=${data} /></div>
          ${["supervisor", "admin"].includes(me.role) ? html`<div class="card"><${Merge} me=${me} data=${data} reload=${reload} /></div>` : null}
        </div>
      </div>`}
  </div>`;
}
