// view-assist.js — agent assist and the composer's quality check, beside the conversation view
// (mounted from view-conversation.js):
//   <AssistPanel/>    suggested articles and canned replies for the customer's last turns (GET
//                     …/suggestions, again when a customer message or an assist.suggestions event
//                     arrives), search-as-you-type over the KB (…/suggestions?q=), one click inserts
//                     personalised ({name}, {order_id}) and records the use (…/suggestions/used);
//                     entities found in the customer's messages as one-click fills (reply, profile
//                     attribute, ticket form, order lookup).
//   <SentimentBadge/> a customer message's sentiment and escalation signals.
//   <AngerWarning/>   the conversation's rising-anger mark.
//   useQualityCheck / <QualityHints/>  the draft checked while typing (debounced POST /quality/check):
//                     each violation with the span it matched highlighted; a 422 quality_blocked
//                     answer on send shows the rule that refused it.
// Spans from the API index the text by code points (Python), so they are applied on Array.from(text).
import { api } from "./api.js";
import { useFeed } from "./feed.js";
import { html, useEffect, useRef, useState } from "./html.js";
import { t } from "./i18n.js";
import { toast, useAlive } from "./ui.js";

const SEARCH_DEBOUNCE_MS = 250;
const CHECK_DEBOUNCE_MS = 400;
const INSERT_MAX = 1500;
const CONTEXT_CHARS = 24;

function fail(err) {
  toast(t("error.generic", { message: (err && err.message) || String(err) }), "error");
}

// ---- sentiment -------------------------------------------------------------------------------------
export function SentimentBadge({ m }) {
  const s = m && m.direction === "in" && m.assist && m.assist.sentiment;
  if (!s || !s.label) return null;
  const signals = (s.signals || []).map((x) => t(`assist.signal.${x}`)).join(" · ");
  const cls = `chip sentiment sentiment-${s.label}${s.risk === "high" ? " risk-high" : ""}`;
  return html`<span class=${cls} data-testid="sentiment-badge" data-label=${s.label} data-risk=${s.risk || ""}
      title=${signals || t(`assist.sentiment.${s.label}`)}>
    ${t(`assist.sentiment.${s.label}`)}${signals ? ` · ${signals}` : ""}</span>`;
}

export function AngerWarning({ conversation }) {
  if (!conversation || conversation.mood !== "rising_anger") return null;
  return html`<div class="anger-warning" role="alert" data-testid="anger-warning">${t("assist.anger")}</div>`;
}

// ---- personalisation -------------------------------------------------------------------------------
// Entities of the customer's messages in this conversation, newest first, one per type and value.
export function conversationEntities(data, id) {
  const seen = new Set();
  const out = [];
  const messages = (data && data.messages) || [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.conversation_id !== id || m.direction !== "in" || !m.assist) continue;
    for (const e of m.assist.entities || []) {
      const key = `${e.type}:${e.value}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(e);
    }
  }
  return out;
}

// {name} and {order_id} in a suggestion, filled from the customer and the latest order number.
export function personalise(text, { name, orderId }) {
  return String(text || "")
    .replace(/\{name\}/g, name || t("assist.customerFallback"))
    .replace(/\{order_id\}/g, orderId || "{order_id}");
}

// ---- the panel -------------------------------------------------------------------------------------
function lastInboundSeq(data, id) {
  const messages = (data && data.messages) || [];
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].conversation_id === id && messages[i].direction === "in") return messages[i].seq;
  }
  return null;
}

function Suggestions({ result, insert, testid }) {
  const articles = (result && result.articles) || [];
  const canned = (result && result.canned) || [];
  if (!articles.length && !canned.length) return html`<p class="muted" data-testid=${`${testid}-empty`}>${t("assist.none")}</p>`;
  return html`<ul class="assist-list" data-testid=${testid}>
    ${articles.map((a) => html`<li key=${`a-${a.article_id}`} data-testid="assist-suggestion" data-kind="article" data-id=${a.article_id}>
      <span class="chip">${t("assist.kind.article")}</span> <strong>${a.title}</strong>
      ${a.snippet ? html`<div class="muted assist-snippet">${a.snippet}</div>` : null}
      <button type="button" class="btn small" data-testid="assist-insert" onClick=${() => insert("article", a)}>${t("assist.insert")}</button>
    </li>`)}
    ${canned.map((r) => html`<li key=${`c-${r.reply_id}`} data-testid="assist-suggestion" data-kind="canned" data-id=${r.reply_id}>
      <span class="chip">${t("assist.kind.canned")}</span> <strong>${r.title}</strong>
      <div class="muted assist-snippet">${(r.body || "").slice(0, 120)}</div>
      <button type="button" class="btn small" data-testid="assist-insert" onClick=${() => insert("canned", r)}>${t("assist.insert")}</button>
    </li>`)}
  </ul>`;
}

function Entity({ e, customerId, insert, openTicket }) {
  const [lookup, setLookup] = useState(null); // {found, order} | {error}
  const typeLabel = t(`assist.entity.${e.type}`);
  const toProfile = async () => {
    try {
      await api.patch(`/customers/${encodeURIComponent(customerId)}`, { attributes: { [e.type]: e.value } });
      toast(t("assist.savedToProfile", { what: typeLabel }), "ok");
    } catch (err) { fail(err); }
  };
  const findOrder = async () => {
    try {
      const res = await api.get(`/customers/${encodeURIComponent(customerId)}/orders`);
      const order = (res.orders || []).find((o) => String(o.order_id || o.id || "").replace(/\s/g, "") === e.value);
      setLookup(order ? { found: true, order } : { found: false, degraded: !!res.error });
    } catch (err) { setLookup({ error: err.message }); }
  };
  let found = null;
  if (lookup && lookup.found) {
    const o = lookup.order;
    found = t("assist.orderFound", { id: o.order_id || e.value, status: o.status || "—" });
  } else if (lookup) {
    found = lookup.error || (lookup.degraded ? t("assist.orderUnavailable") : t("assist.orderNotFound"));
  }
  return html`<li class="assist-entity" data-testid="assist-entity" data-type=${e.type} data-value=${e.value}>
    <span class="muted">${typeLabel}</span> <code>${e.value}</code>
    <span class="dialog-row">
      <button type="button" class="btn small" data-testid="entity-insert" onClick=${() => insert(e.value)}>${t("assist.fill.reply")}</button>
      ${customerId ? html`<button type="button" class="btn small" data-testid="entity-profile" onClick=${toProfile}>${t("assist.fill.profile")}</button>` : null}
      <button type="button" class="btn small" data-testid="entity-ticket" onClick=${() => openTicket(`${typeLabel} ${e.value}`)}>${t("assist.fill.ticket")}</button>
      ${e.type === "order_number" && customerId
        ? html`<button type="button" class="btn small" data-testid="entity-order" onClick=${findOrder}>${t("assist.fill.order")}</button>`
        : null}
    </span>
    ${found ? html`<div class="muted" data-testid="entity-order-result">${found}</div>` : null}
  </li>`;
}

// props: id, path, data (the conversation answer), insert(text) into the composer, openTicket(subject)
export function AssistPanel({ id, path, data, insert, openTicket }) {
  const [pushed, setPushed] = useState(null);
  const [query, setQuery] = useState("");
  const [found, setFound] = useState(null);
  const alive = useAlive();
  const searchSeq = useRef(0);
  const lastSeq = lastInboundSeq(data, id);
  const customer = data.customer || {};
  const entities = conversationEntities(data, id);
  const orderId = (entities.find((e) => e.type === "order_number") || {}).value;

  const loadSuggestions = async () => {
    try {
      const res = await api.get(`${path}/suggestions`);
      if (alive.current) setPushed(res);
    } catch (err) {
      if (alive.current) setPushed({ articles: [], canned: [], error: err.message });
    }
  };
  useEffect(() => { loadSuggestions(); }, [id, lastSeq]); // a new customer message: new suggestions
  useFeed(["assist.suggestions"], (ev) => { if (ev.conversation_id === id) loadSuggestions(); });

  useEffect(() => {
    const q = query.trim();
    const seq = ++searchSeq.current;
    if (!q) {
      setFound(null);
      return undefined;
    }
    const timer = setTimeout(async () => {
      try {
        const res = await api.get(`${path}/suggestions`, { q, limit: 5 });
        if (alive.current && seq === searchSeq.current) setFound(res);
      } catch (err) { if (alive.current) fail(err); }
    }, SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [query, path]);

  const use = async (kind, item) => {
    const itemId = kind === "article" ? item.article_id : item.reply_id;
    let text = "";
    try {
      if (kind === "article") {
        const article = await api.get(`/kb/articles/${encodeURIComponent(itemId)}`);
        text = article.body || item.snippet || item.title;
      } else {
        const res = await api.post(`/canned-replies/${encodeURIComponent(itemId)}/render`, { conversation_id: id });
        text = res.text || item.body;
      }
    } catch (err) {
      text = item.snippet || item.body || item.title || "";
      if (err.status !== 404) fail(err);
    }
    insert(personalise(text, { name: customer.display_name, orderId }).slice(0, INSERT_MAX));
    try {
      await api.post(`${path}/suggestions/used`, { kind, item_id: itemId });
    } catch (err) { fail(err); }
  };

  return html`<section class="card assist-panel" data-testid="assist-panel" aria-label=${t("assist.title")}>
    <h2>${t("assist.title")}</h2>
    <input type="search" class="assist-search" data-testid="assist-search" placeholder=${t("assist.searchPlaceholder")}
      aria-label=${t("assist.search")} value=${query} onInput=${(e) => setQuery(e.target.value)} />
    ${query.trim()
      ? found ? html`<${Suggestions} result=${found} insert=${use} testid="assist-search-results" />` : html`<p class="muted">${t("assist.searching")}</p>`
      : html`<h3>${t("assist.suggested")}</h3>
        ${pushed ? html`<${Suggestions} result=${pushed} insert=${use} testid="assist-suggestions" />` : html`<p class="muted">${t("assist.searching")}</p>`}`}
    <h3>${t("assist.entities")}</h3>
    ${entities.length
      ? html`<ul class="assist-list" data-testid="assist-entities">${entities.map((e) => html`<${Entity} key=${`${e.type}:${e.value}`}
          e=${e} customerId=${customer.customer_id} insert=${insert} openTicket=${openTicket} />`)}</ul>`
      : html`<p class="muted">${t("assist.noEntities")}</p>`}
  </section>`;
}

// ---- quality check of the draft --------------------------------------------------------------------
// The draft's violations, checked CHECK_DEBOUNCE_MS after typing stops: {violations, text} (the text
// they were found in: spans index that text).
export function useQualityCheck(text, conversationId, enabled = true) {
  const [result, setResult] = useState({ violations: [], text: "" });
  const seq = useRef(0);
  const alive = useAlive();
  useEffect(() => {
    const mine = ++seq.current;
    if (!enabled || !text.trim() || text.startsWith("/")) { // "/…": choosing a canned reply, not a draft
      setResult({ violations: [], text: "" });
      return undefined;
    }
    const timer = setTimeout(async () => {
      try {
        const res = await api.post("/quality/check", { text, conversation_id: conversationId });
        if (alive.current && mine === seq.current) setResult({ violations: res.violations || [], text });
      } catch (err) {
        if (err.status !== 400 && alive.current) fail(err);
      }
    }, CHECK_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, conversationId, enabled]);
  return result;
}

function Span({ text, v }) {
  const chars = Array.from(text);
  if (v.kind === "required" || v.kind === "response_time" || v.end <= v.start) {
    return html`<span class="muted">${t(`qa.kind.${v.kind || "phrase"}`)}</span>`;
  }
  const before = chars.slice(Math.max(0, v.start - CONTEXT_CHARS), v.start).join("");
  const after = chars.slice(v.end, v.end + CONTEXT_CHARS).join("");
  return html`<span class="quality-context">${v.start > CONTEXT_CHARS ? "…" : ""}${before}<mark data-testid="quality-span">${chars
    .slice(v.start, v.end)
    .join("")}</mark>${after}${v.end + CONTEXT_CHARS < chars.length ? "…" : ""}</span>`;
}

// props: check = {violations, text} while typing; blocked = {violations, text} of a refused send.
export function QualityHints({ check, blocked }) {
  const shown = blocked && blocked.violations.length ? blocked : check;
  if (!shown || !shown.violations.length) return null;
  return html`<div class=${blocked && blocked.violations.length ? "quality-hints blocked" : "quality-hints"} data-testid="quality-hints" role="status">
    ${blocked && blocked.violations.length
      ? html`<strong data-testid="quality-blocked">${t("qa.blocked", { rule: blocked.violations.filter((v) => v.severity === "block").map((v) => v.rule_id).join(", ") })}</strong>`
      : null}
    <ul>${shown.violations.map((v, i) => html`<li key=${i} data-testid="quality-violation" data-rule=${v.rule_id} data-severity=${v.severity}>
      <span class=${`chip severity-${v.severity}`}>${t(`qa.severity.${v.severity}`)}</span> <code>${v.rule_id}</code>${" "}
      <${Span} text=${shown.text} v=${v} />
    </li>`)}</ul>
  </div>`;
}

// ---- the supervisor's live view ----------------------------------------------------------------
// conversations: the supervisor's list (GET /conversations?view=all); those marked rising_anger.
export function AngryConversations({ conversations }) {
  const angry = (conversations || []).filter((c) => c.mood === "rising_anger" && c.status !== "closed");
  return html`<section class="card" data-testid="angry-conversations"><h2>${t("assist.angryTitle")}</h2>
    ${angry.length
      ? html`<ul class="assist-list">${angry.map((c) => html`<li key=${c.conversation_id} data-testid="angry-conversation" data-id=${c.conversation_id}>
          <a href=${`#/c/${encodeURIComponent(c.conversation_id)}`}>${(c.customer && (c.customer.display_name || c.customer.contact)) || c.conversation_id}</a>
          <span class="muted">${c.preview || ""}</span>
          <span class="muted">${c.assignee_id || c.group_id || ""}</span>
        </li>`)}</ul>`
      : html`<p class="muted">${t("assist.angryNone")}</p>`}
  </section>`;
}

// ---- the closed conversation's score card ------------------------------------------------------
// Shown in the conversation's head once it is closed (the card is written when it closes), to its
// agent and to supervisors (GET /quality/scorecards/{id}): the score and what cost points.
export function ScoreCardChip({ conversation, me }) {
  const [card, setCard] = useState(null);
  const alive = useAlive();
  const c = conversation;
  const mayRead = me && (["supervisor", "admin"].includes(me.role) || c.assignee_id === me.agent_id);
  const closed = c.status === "closed";
  useEffect(() => {
    setCard(null);
    if (!closed || !mayRead) return;
    api.get(`/quality/scorecards/${encodeURIComponent(c.conversation_id)}`).then(
      (res) => alive.current && setCard(res),
      () => {}, // no card (closed before quality inspection existed): nothing to show
    );
  }, [c.conversation_id, closed, c.closed_at, mayRead]);
  if (!card) return null;
  const lost = (card.penalties || []).map((p) => `${p.rule_id} ×${p.count}`).join(" · ");
  return html`<a class="chip" href="#/quality" data-testid="scorecard-chip" data-score=${String(card.score)} title=${lost}>
    ${t("qa.score", { score: card.score })}${lost ? ` · ${lost}` : ""}</a>`;
}
