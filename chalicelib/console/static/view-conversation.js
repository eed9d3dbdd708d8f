// view-conversation.js — #/c/<conversation_id>: the customer's whole cross-channel timeline, the
// reply box (canned replies with "/", outbound channel choice, approved templates on 409
// template_required), private notes with @mentions, tags, priority, transfer, close/reopen, claim,
// "create ticket", and the customer panel (view-customer.js).
// The assist panel, sentiment badges and the draft's quality check come from view-assist.js.
// Keyboard: r focus reply · Ctrl/Cmd+Enter send · e close · n next conversation · Esc leave the box.
import { api } from "./api.js";
import { BotSummary } from "./bot-summary.js";
import { unread, useFeed } from "./feed.js";
import { when } from "./format.js";
import { html, useEffect, useRef, useState } from "./html.js";
import { t } from "./i18n.js";
import { authorLabel, customerLabel, ticketLabel } from "./labels.js";
import { ChannelIcon, ErrorText, Loading, channelName, toast, useAlive, useShortcuts } from "./ui.js";
import { AngerWarning, AssistPanel, QualityHints, ScoreCardChip, SentimentBadge, useQualityCheck } from "./view-assist.js";
import { CustomerPanel } from "./view-customer.js";
import { ORDER_KEY, slaInfo } from "./view-inbox.js";

const LIVE_KINDS = [
  "message.new",
  "conversation.assigned",
  "conversation.transferred",
  "conversation.queued",
  "conversation.updated",
  "conversation.closed",
  "assist.analysis",
  "conversation.anger",
  "reset",
];

function fail(err) {
  toast(t("error.generic", { message: (err && err.message) || String(err) }), "error");
}

function safeUrl(url) {
  try {
    const u = new URL(url, location.href);
    return ["http:", "https:"].includes(u.protocol) ? u : null;
  } catch {
    return null;
  }
}

// Platform media are fetched once into the media store; the API answers a short-lived link to it
// (GET …/attachments/<index>?redirect=0), which the CSP allows for img/media elements.
function Attachment({ m, a, index }) {
  const [shown, setShown] = useState(null); // {url} once opened
  const [error, setError] = useState("");
  const name = a.name || `${t("conv.attachment")} (${a.kind || "file"})`;
  const open = async () => {
    try {
      const link = await api.get(
        `/conversations/${encodeURIComponent(m.conversation_id)}/messages/${m.seq}/attachments/${index}`,
        { redirect: "0" },
      );
      const u = safeUrl(link.url);
      if (!u) return;
      if (["image", "voice", "video"].includes(a.kind)) setShown(u.href);
      else window.open(u.href, "_blank", "noopener,noreferrer");
    } catch (err) {
      setError(err.message || t("conv.attachment.unavailable"));
    }
  };
  if (shown && a.kind === "image") {
    return html`<a href=${shown} target="_blank" rel="noopener noreferrer"><img src=${shown} alt=${name} loading="lazy" /></a>`;
  }
  if (shown) return a.kind === "video" ? html`<video src=${shown} controls></video>` : html`<audio src=${shown} controls></audio>`;
  return html`<button type="button" class="chip" data-testid="attachment" title=${name} onClick=${open}>
    ${error ? `${name} · ${error}` : name}</button>`;
}

function statusText(m) {
  if (m.direction !== "out") return "";
  if (m.delivery && m.delivery !== "failed") return t(`conv.delivery.${m.delivery}`);
  if (m.status === "failed" || m.delivery === "failed") return t("conv.status.failed", { error: m.error || "" });
  return m.status ? t(`conv.status.${m.status}`) : "";
}

function Message({ m }) {
  const at = m.created_at || m.sent_at;
  if (m.event || m.type === "event") {
    return html`<div class="event" data-testid="timeline-event">${when(at)} · ${m.text || m.event}</div>`;
  }
  const direction = m.direction === "out" || m.direction === "note" ? m.direction : "in";
  const author = direction === "note" ? `${t("conv.note")} · ${m.author_id || ""}` : authorLabel(m);
  const status = statusText(m);
  return html`<article class=${`message${direction === "out" && authorLabel(m) === t("label.automatic") ? " automatic" : ""}`}
      data-testid="message" data-direction=${direction} data-channel=${m.channel || ""} data-seq=${String(m.seq ?? "")}>
    <div class="message-meta">
      ${m.channel && direction !== "note" ? html`<${ChannelIcon} channel=${m.channel} />` : null}
      <span data-testid="message-author">${author}</span>
      <time datetime=${at || ""}>${when(at)}</time>
      <${SentimentBadge} m=${m} />
      ${status ? html`<span class=${m.status === "failed" ? "message-status failed" : "message-status"} data-testid="message-status">${status}</span>` : null}
    </div>
    ${m.text ? html`<div class="message-text" data-testid="message-text">${m.text}</div>` : null}
    ${m.location ? html`<div class="message-text">${t("conv.location", { lat: m.location.latitude, lng: m.location.longitude })}</div>` : null}
    ${m.attachments && m.attachments.length
      ? html`<div class="message-media">${m.attachments.map((a, i) => html`<${Attachment} key=${i} m=${m} a=${a} index=${i} />`)}</div>`
      : null}
  </article>`;
}

function Timeline({ data, id }) {
  const ref = useRef(null);
  const drawn = useRef(false);
  const atBottom = useRef(true);
  const messages = data.messages || [];
  // keep the scroll at the bottom if it was there before this render
  if (ref.current) {
    const el = ref.current;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  }
  useEffect(() => {
    const el = ref.current;
    if (el && (atBottom.current || !drawn.current)) el.scrollTop = el.scrollHeight;
    drawn.current = true;
  });
  const starts = Object.fromEntries((data.conversations || []).map((x) => [x.conversation_id, x.created_at]));
  const rows = [];
  let last = null;
  for (const m of messages) {
    if (m.conversation_id !== last) {
      last = m.conversation_id;
      const key = last === id ? "conv.thisConversation" : "conv.otherConversation";
      rows.push(html`<div class="divider" key=${`d-${last}`}>${t(key, { date: when(starts[last]) })}</div>`);
    }
    rows.push(html`<${Message} key=${`${m.conversation_id}#${m.seq}`} m=${m} />`);
  }
  return html`<div class="timeline" data-testid="timeline" role="log" aria-live="polite" tabindex="0" ref=${ref}>
    ${messages.length ? rows : html`<p class="empty">${t("conv.empty")}</p>`}
  </div>`;
}

function Templates({ templates, send }) {
  const [values, setValues] = useState({});
  return html`<div class="templates" data-testid="templates">
    <p>${t("conv.templateRequired")}</p>
    ${templates.length ? null : html`<p class="muted">${t("conv.noTemplates")}</p>`}
    ${templates.map((tpl) => {
      const count = Array.isArray(tpl.params) ? tpl.params.length : Number(tpl.params || tpl.param_count || 0);
      const params = Array.from({ length: count }, (_, i) => (values[tpl.name] || [])[i] || "");
      const set = (i, v) => setValues({ ...values, [tpl.name]: Object.assign([...params], { [i]: v }) });
      return html`<div class="dialog-row" data-testid="template" data-name=${tpl.name} key=${tpl.name}>
        <strong>${tpl.name}</strong><span class="muted">${tpl.language || ""}</span>
        ${tpl.text || tpl.body ? html`<span>${tpl.text || tpl.body}</span>` : null}
        ${params.map((v, i) => html`<input key=${i} aria-label=${`${tpl.name} {{${i + 1}}}`} value=${v}
          placeholder=${Array.isArray(tpl.params) ? String(tpl.params[i]) : `{{${i + 1}}}`} onInput=${(e) => set(i, e.target.value)} />`)}
        <button type="button" class="btn small" onClick=${() => send({ name: tpl.name, language: tpl.language || "en", params })}>
          ${t("conv.templateSend")}</button>
      </div>`;
    })}
  </div>`;
}

// The reply box: "/" at the start opens the canned replies; Ctrl/Cmd+Enter sends; note mode.
function Composer({ id, path, data, refetch, boxRef, text, setText }) {
  const [blocked, setBlocked] = useState(null); // {violations, text} of a send refused with 422
  const [noteMode, setNoteMode] = useState(false);
  const [channel, setChannel] = useState("");
  const [busy, setBusy] = useState(false);
  const [templates, setTemplates] = useState(null);
  const [canned, setCanned] = useState(null); // null = closed; [] = open, nothing matches
  const [cannedIndex, setCannedIndex] = useState(0);
  const cannedSeq = useRef(0);
  const alive = useAlive();
  const check = useQualityCheck(text, id, !noteMode);

  const c = data.conversation;
  const set = new Set(c.channels || []);
  for (const i of data.identities || []) if (i.channel) set.add(i.channel);
  let chans = [...set].filter((ch) => !["phone", "unionid"].includes(ch));
  if (!chans.length) chans = [c.last_channel].filter(Boolean);
  const chosen = chans.includes(channel) ? channel : c.last_channel && chans.includes(c.last_channel) ? c.last_channel : chans[0] || "";

  const send = async (template) => {
    const body = text.trim();
    if (!body && !template) return;
    setBusy(true);
    try {
      if (noteMode && !template) {
        await api.post(`${path}/notes`, { text: body });
        toast(t("conv.noteAdded"), "ok");
      } else {
        const payload = template ? { template } : { text: body };
        if (chosen) payload.channel = chosen;
        await api.post(`${path}/reply`, payload);
        toast(t("conv.sent"), "ok");
        setTemplates(null);
      }
      if (!template) setText("");
      await refetch();
      setTimeout(() => alive.current && refetch().catch(() => {}), 2000); // the sender updates the status shortly after
    } catch (err) {
      if (err.status === 409 && err.code === "template_required") setTemplates((err.body && err.body.templates) || []);
      else if (err.status === 422 && err.code === "quality_blocked") setBlocked({ violations: (err.body && err.body.violations) || [], text: body });
      else fail(err);
    } finally {
      if (alive.current) setBusy(false);
    }
  };

  const onInput = async (e) => {
    const v = e.target.value;
    setText(v);
    setBlocked(null);
    if (noteMode || !v.startsWith("/") || v.includes("\n")) {
      setCanned(null);
      return;
    }
    const seq = ++cannedSeq.current;
    try {
      const res = await api.get("/canned-replies", { q: v.slice(1) ? v : "" });
      if (seq !== cannedSeq.current || !alive.current) return;
      setCanned((res.items || []).slice(0, 20));
      setCannedIndex(0);
    } catch (err) { fail(err); }
  };

  const pick = async (i) => {
    const r = canned && canned[i];
    if (!r) return;
    setCanned(null);
    try {
      const res = await api.post(`/canned-replies/${encodeURIComponent(r.reply_id)}/render`, { conversation_id: id });
      setText(res.text || r.body || "");
      if (res.missing && res.missing.length) toast(t("conv.cannedMissing", { names: res.missing.join(", ") }), "info");
    } catch (err) {
      setText(r.body || "");
      fail(err);
    }
    if (boxRef.current) boxRef.current.focus();
  };

  const onKey = (e) => {
    if (canned && canned.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setCannedIndex((cannedIndex + (e.key === "ArrowDown" ? 1 : -1) + canned.length) % canned.length);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        pick(cannedIndex);
        return;
      }
    }
    if (e.key === "Escape") {
      if (canned) setCanned(null);
      else e.target.blur();
      return;
    }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      send();
    }
  };

  return html`<form class=${noteMode ? "composer note-mode" : "composer"} onSubmit=${(e) => { e.preventDefault(); send(); }}>
    ${canned ? html`<ul class="canned-menu" data-testid="canned-menu" role="listbox">
      ${canned.length ? canned.map((r, i) => html`<li key=${r.reply_id} role="option" class=${i === cannedIndex ? "selected" : ""}
          aria-selected=${String(i === cannedIndex)} data-testid="canned-item" data-id=${r.reply_id}
          onMouseDown=${(e) => { e.preventDefault(); pick(i); }}>
        ${r.shortcut ? html`<span class="shortcut">${r.shortcut}</span>` : null}<strong>${r.title}</strong>${" "}
        <span class="muted">${(r.body || "").slice(0, 80)}</span></li>`)
      : html`<li class="muted">${t("conv.cannedEmpty")}</li>`}
    </ul>` : null}
    ${templates ? html`<${Templates} templates=${templates} send=${send} />` : null}
    ${noteMode ? null : html`<${QualityHints} check=${check} blocked=${blocked} />`}
    <textarea rows="3" data-testid="reply-box" aria-label=${t("conv.reply")} ref=${boxRef} value=${text}
      placeholder=${noteMode ? t("conv.notePlaceholder") : t("conv.replyPlaceholder")} onInput=${onInput} onKeyDown=${onKey}></textarea>
    <div class="composer-row">
      <label for="reply-channel">${t("conv.channel")}</label>
      <select id="reply-channel" data-testid="reply-channel" aria-label=${t("conv.channel")} value=${chosen}
        disabled=${noteMode || chans.length < 2} onChange=${(e) => setChannel(e.target.value)}>
        ${chans.map((ch) => html`<option key=${ch} value=${ch} selected=${ch === chosen}>${channelName(ch)}</option>`)}
      </select>
      <button class="btn" type="button" data-testid="note-toggle" aria-pressed=${String(noteMode)}
        onClick=${() => { setNoteMode(!noteMode); setCanned(null); }}>${t("conv.noteMode")}</button>
      <span class="spacer"></span>
      <small class="muted">${t("conv.shortcuts")}</small>
      <button class="btn primary" type="submit" data-testid="reply-send" disabled=${busy}>${noteMode ? t("conv.addNote") : t("conv.send")}</button>
    </div>
  </form>`;
}

function TransferDialog({ me, path, done }) {
  const [groups, setGroups] = useState(null);
  const [agents, setAgents] = useState([]);
  const [group, setGroup] = useState("");
  const [agent, setAgent] = useState("");
  const [note, setNote] = useState("");
  const groupRef = useRef(null);
  useEffect(() => {
    api.get("/admin/groups").then((res) => setGroups(res.items || res.groups || []), (err) => { setGroups([]); fail(err); });
    if (["supervisor", "admin"].includes(me.role)) { // /admin/agents answers 403 to agents
      api.get("/admin/agents").then((res) => setAgents(res.items || res.agents || []), () => {});
    }
  }, []);
  useEffect(() => { if (groupRef.current) groupRef.current.focus(); }, [groups]);
  const submit = async (e) => {
    e.preventDefault();
    const toAgent = agent.trim();
    if (!group === !toAgent) {
      toast(t("conv.transferPick"), "error");
      return;
    }
    try {
      await api.post(`${path}/transfer`, { ...(group ? { to_group: group } : { to_agent: toAgent }), note: note.trim() });
      toast(t("conv.transferred"), "ok");
      done(true);
    } catch (err) { fail(err); }
  };
  return html`<form class="card dialog" data-testid="transfer-dialog" onSubmit=${submit}>
    <div class="dialog-row">
      <label for="transfer-group">${t("conv.transferGroup")}</label>
      <select id="transfer-group" data-testid="transfer-group" ref=${groupRef} onChange=${(e) => setGroup(e.target.value)}>
        <option value="">—</option>
        ${(groups || []).map((g) => html`<option key=${g.group_id} value=${g.group_id} selected=${g.group_id === group}>
          ${g.name ? `${g.name} (${g.group_id})` : g.group_id}</option>`)}
      </select>
      <input data-testid="transfer-agent" aria-label=${t("conv.transferAgent")} placeholder=${t("conv.transferAgent")} list="agent-ids"
        value=${agent} onInput=${(e) => setAgent(e.target.value)} />
      <datalist id="agent-ids">${agents.map((a) => html`<option key=${a.agent_id} value=${a.agent_id}>${a.display_name || a.agent_id}</option>`)}</datalist>
      <input data-testid="transfer-note" aria-label=${t("conv.transferNote")} placeholder=${t("conv.transferNote")}
        value=${note} onInput=${(e) => setNote(e.target.value)} />
      <button class="btn primary" type="submit" data-testid="transfer-submit">${t("conv.transferSubmit")}</button>
    </div>
  </form>`;
}

function TicketDialog({ path, preview, done }) {
  const [subject, setSubject] = useState((preview || "").slice(0, 200));
  const ref = useRef(null);
  useEffect(() => { if (ref.current) ref.current.focus(); }, []);
  const submit = async (e) => {
    e.preventDefault();
    try {
      const s = subject.trim();
      const res = await api.post(`${path}/ticket`, s ? { subject: s } : {});
      const ticket = res.ticket || res;
      toast(t("conv.ticketCreated", { id: ticketLabel(ticket) }), "ok");
      done(true);
    } catch (err) { fail(err); }
  };
  return html`<form class="card dialog" data-testid="ticket-dialog" onSubmit=${submit}>
    <div class="dialog-row">
      <label for="ticket-subject">${t("conv.ticketSubject")}</label>
      <input id="ticket-subject" data-testid="ticket-subject" placeholder=${t("conv.ticketSubject")} maxlength="200" ref=${ref}
        value=${subject} onInput=${(e) => setSubject(e.target.value)} />
      <button class="btn primary" type="submit" data-testid="ticket-create-submit">${t("conv.ticketSubmit")}</button>
    </div>
  </form>`;
}

export default function Conversation({ me, route, navigate }) {
  const id = route.id;
  const path = `/conversations/${encodeURIComponent(id || "")}`;
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [dialog, setDialog] = useState(null); // "transfer" | "ticket" | null
  const [tag, setTag] = useState("");
  const [panelVersion, setPanelVersion] = useState(0); // bumped to reload the customer panel
  const [draft, setDraft] = useState(""); // the composer's text (the assist panel inserts into it)
  const [ticketSubject, setTicketSubject] = useState(null); // an entity filled into the ticket form
  const boxRef = useRef(null);
  const alive = useAlive();
  const soon = useRef(null);
  const tickets = useRef(null);

  const refetch = async () => {
    const next = await api.get(path);
    if (!alive.current) return;
    unread.markRead(id);
    const count = ((next.conversation && next.conversation.ticket_ids) || []).length;
    if (tickets.current !== null && count !== tickets.current) setPanelVersion((v) => v + 1);
    tickets.current = count;
    setData(next);
  };
  const refetchSoon = (delay = 200) => {
    if (soon.current) return;
    soon.current = setTimeout(async () => {
      soon.current = null;
      if (!alive.current) return;
      try { await refetch(); } catch (err) { if (err.status !== 404) fail(err); }
    }, delay);
  };
  useEffect(() => {
    if (!id) {
      navigate("#/inbox");
      return undefined;
    }
    refetch().catch(setError);
    return () => clearTimeout(soon.current);
  }, [id]);

  const mine = (ev) => ev.conversation_id === id || (data && (data.conversations || []).some((x) => x.conversation_id === ev.conversation_id));
  useFeed(LIVE_KINDS, (ev) => { if (ev.kind === "reset" || mine(ev)) refetchSoon(); });

  const act = async (call, message) => {
    try {
      await call();
      if (message) toast(message, "ok");
      await refetch();
    } catch (err) { fail(err); }
  };
  const c = data && data.conversation;
  const closeOrReopen = () => {
    const reopening = c.status === "closed";
    return act(() => api.post(`${path}/${reopening ? "reopen" : "close"}`), t(reopening ? "conv.reopened" : "conv.closed"));
  };
  const next = () => {
    let order = [];
    try { order = JSON.parse(sessionStorage.getItem(ORDER_KEY) || "[]"); } catch { order = []; }
    const i = order.indexOf(id);
    const target = order[i + 1] || (i < 0 ? order[0] : null);
    if (target && target !== id) navigate(`#/c/${encodeURIComponent(target)}`);
    else toast(t("conv.noNext"), "info");
  };
  useShortcuts({
    r: (e) => { e.preventDefault(); if (boxRef.current) boxRef.current.focus(); },
    e: (e) => { e.preventDefault(); if (c && c.status === "open") closeOrReopen(); },
    n: (e) => { e.preventDefault(); next(); },
  });

  if (error) return html`<p class="error" data-testid="conversation-error">${t("error.generic", { message: error.message })}</p>`;
  if (!data) return html`<${Loading} />`;

  const customer = data.customer || {};
  const sla = slaInfo(c);
  const addTag = async (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const value = tag.trim().toLowerCase();
    if (!value) return;
    await act(() => api.put(`${path}/tags`, { add: [value] }));
    setTag("");
  };
  const insert = (value) => {
    setDraft((d) => (d.trim() ? `${d}${d.endsWith("\n") ? "" : "\n"}${value}` : value));
    if (boxRef.current) boxRef.current.focus();
  };
  const openTicket = (subject) => {
    setTicketSubject(subject);
    setDialog("ticket");
  };
  const closeDialog = async (changed) => {
    const which = dialog;
    setDialog(null);
    if (!changed) return;
    if (which === "ticket") setPanelVersion((v) => v + 1); // the panel lists the new ticket at once
    await refetch().catch(() => {}); // after a transfer the agent may no longer see it
  };

  return html`<div class="conversation" data-testid="conversation-view" data-id=${id}>
    <section class="conv-main">
      <div class="conv-head">
        <a href="#/inbox">${t("conv.back")}</a>
        <h1 data-testid="conversation-title">${customerLabel(customer)}</h1>
        <div class="dialog-row">
          ${(c.channels || []).map((ch) => html`<${ChannelIcon} key=${ch} channel=${ch} />`)}
          <span class="chip" data-testid="conversation-status">${t(`conv.status.${c.status}`)}</span>
          <${ScoreCardChip} conversation=${c} me=${me} />
          <span class="muted">${c.assignee_id ? t("conv.assignee", { agent: c.assignee_id }) : t("conv.unassigned", { group: c.group_id || "" })}</span>
          ${sla ? html`<span class=${`sla ${sla.cls}`}>${sla.text}</span>` : null}
        </div>
        <span class="spacer"></span>
        <select data-testid="priority-select" aria-label=${t("conv.priority")} value=${c.priority || "normal"}
          onChange=${(e) => act(() => api.put(`${path}/priority`, { priority: e.target.value }))}>
          ${["low", "normal", "high", "urgent"].map((p) => html`<option key=${p} value=${p} selected=${p === (c.priority || "normal")}>${t(`priority.${p}`)}</option>`)}
        </select>
        ${c.status === "open" && c.assignee_id !== me.agent_id
          ? html`<button class="btn" data-testid="claim-button" onClick=${() => act(() => api.post(`${path}/claim`), t("conv.claimed"))}>${t("conv.claim")}</button>`
          : null}
        <button class="btn" data-testid="transfer-button" aria-expanded=${String(dialog === "transfer")}
          onClick=${() => setDialog(dialog === "transfer" ? null : "transfer")}>${t("conv.transfer")}</button>
        <button class="btn" data-testid="ticket-create" aria-expanded=${String(dialog === "ticket")}
          onClick=${() => { setTicketSubject(null); setDialog(dialog === "ticket" ? null : "ticket"); }}>${t("conv.ticket")}</button>
        <button class="btn" data-testid="close-button" data-action=${c.status === "closed" ? "reopen" : "close"}
          onClick=${closeOrReopen}>${c.status === "closed" ? t("conv.reopen") : t("conv.close")}</button>
      </div>
      <div class="conv-tools">
        <span class="muted">${t("conv.tags")}</span>
        <span class="tags" data-testid="conversation-tags">
          ${(c.tags || []).map((x) => html`<span class="chip" data-tag=${x} key=${x}>${x}
            <button type="button" aria-label=${t("conv.removeTag", { tag: x })} onClick=${() => act(() => api.put(`${path}/tags`, { remove: [x] }))}>×</button></span>`)}
        </span>
        <input class="tag-input" data-testid="tag-input" placeholder=${t("conv.addTag")} aria-label=${t("conv.tags")}
          value=${tag} onInput=${(e) => setTag(e.target.value)} onKeyDown=${addTag} />
        ${(c.ticket_ids || []).length ? html`<span class="dialog-row"><span class="muted">${t("conv.tickets")}</span>
          ${c.ticket_ids.map((tid) => html`<a key=${tid} href=${`#/tickets/${encodeURIComponent(tid)}`} data-testid="ticket-link">${ticketLabel(tid)}</a>`)}</span>` : null}
      </div>
      ${dialog === "transfer" ? html`<${TransferDialog} me=${me} path=${path} done=${closeDialog} />` : null}
      ${dialog === "ticket" ? html`<${TicketDialog} key=${ticketSubject || ""} path=${path} preview=${ticketSubject || c.preview} done=${closeDialog} />` : null}
      <${BotSummary} conversation=${c} />
      <${Timeline} data=${data} id=${id} />
      <${AngerWarning} conversation=${c} />
      <${Composer} id=${id} path=${path} data=${data} refetch=${refetch} boxRef=${boxRef} text=${draft} setText=${setDraft} />
    </section>
    <aside class="side">
      <${AssistPanel} id=${id} path=${path} data=${data} insert=${insert} openTicket=${openTicket} />
      <div class="customer-slot">
        ${customer.customer_id ? html`<${CustomerPanel} customerId=${customer.customer_id} currentConversation=${id} version=${panelVersion} me=${me} />` : html`<${ErrorText} err=${null} />`}
      </div>
    </aside>
  </div>`;
}
