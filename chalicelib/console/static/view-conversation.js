// view-conversation.js — #/c/<conversation_id>: the customer's whole cross-channel timeline, reply
// box (canned replies with "/", outbound channel choice, approved templates on 409
// template_required), private notes with @mentions, tags, priority, transfer, close/reopen, claim,
// "create ticket", and the customer panel slot (view-customer.js `panel`, if present).
// Keyboard: r focus reply · Ctrl/Cmd+Enter send · e close · n next conversation · Esc leave the box.
import { api } from "./api.js";
import { clear, fill, h, isTyping, when } from "./dom.js";
import { channelIcon, channelName } from "./icons.js";
import { addStrings, t } from "./i18n.js";
import { slaInfo, ORDER_KEY } from "./view-inbox.js";
import { authorLabel, customerLabel, ticketLabel } from "./labels.js";

addStrings({
  en: {
    "conv.back": "← Inbox",
    "conv.status.open": "Open",
    "conv.status.closed": "Closed",
    "conv.assignee": "Owner: {agent}",
    "conv.unassigned": "Waiting in {group}",
    "conv.claim": "Take it",
    "conv.claimed": "It is yours now.",
    "conv.priority": "Priority",
    "conv.transfer": "Transfer",
    "conv.transferGroup": "To a skill group",
    "conv.transferAgent": "or to an agent (id)",
    "conv.transferNote": "Note for whoever takes it",
    "conv.transferSubmit": "Transfer",
    "conv.transferred": "Transferred.",
    "conv.transferPick": "Choose a group or an agent.",
    "conv.close": "Close",
    "conv.reopen": "Reopen",
    "conv.closed": "Conversation closed.",
    "conv.reopened": "Conversation reopened.",
    "conv.ticket": "Create ticket",
    "conv.ticketSubject": "Subject",
    "conv.ticketSubmit": "Create",
    "conv.ticketCreated": "Ticket {id} created.",
    "conv.tickets": "Tickets:",
    "conv.tags": "Tags",
    "conv.addTag": "Add a tag…",
    "conv.removeTag": "Remove tag {tag}",
    "conv.reply": "Reply",
    "conv.replyPlaceholder": "Write a reply… (/ for canned replies, Ctrl+Enter to send)",
    "conv.notePlaceholder": "Private note… @agent_id notifies a colleague",
    "conv.send": "Send",
    "conv.addNote": "Add note",
    "conv.noteMode": "Private note",
    "conv.channel": "Send via",
    "conv.sent": "Queued for sending.",
    "conv.noteAdded": "Note added.",
    "conv.templateRequired": "The reply window has closed on this channel: choose an approved template.",
    "conv.templateSend": "Send template",
    "conv.noTemplates": "No approved templates on this channel; try another channel.",
    "conv.cannedEmpty": "No canned replies match.",
    "conv.cannedMissing": "Not filled in: {names}",
    "conv.otherConversation": "Earlier conversation · {date}",
    "conv.thisConversation": "This conversation · {date}",
    "conv.note": "Note",
    "conv.customer": "Customer",
    "conv.agent": "Agent {id}",
    "conv.attachment": "Attachment",
    "conv.attachment.unavailable": "not available",
    "conv.location": "Location {lat}, {lng}",
    "conv.status.queued": "queued",
    "conv.status.sent": "sent",
    "conv.status.sent_local": "sent (local)",
    "conv.status.failed": "failed: {error}",
    "conv.delivery.delivered": "delivered",
    "conv.delivery.read": "read",
    "conv.shortcuts": "r reply · Ctrl+Enter send · e close · n next",
    "conv.noNext": "No next conversation in the inbox list.",
    "conv.empty": "No messages yet.",
  },
  "zh-CN": {
    "conv.back": "← 收件箱",
    "conv.status.open": "进行中",
    "conv.status.closed": "已关闭",
    "conv.assignee": "负责人：{agent}",
    "conv.unassigned": "在 {group} 排队",
    "conv.claim": "接手",
    "conv.claimed": "已由你负责。",
    "conv.priority": "优先级",
    "conv.transfer": "转接",
    "conv.transferGroup": "转给技能组",
    "conv.transferAgent": "或转给坐席（ID）",
    "conv.transferNote": "给接手人的备注",
    "conv.transferSubmit": "转接",
    "conv.transferred": "已转接。",
    "conv.transferPick": "请选择技能组或坐席。",
    "conv.close": "结束会话",
    "conv.reopen": "重新打开",
    "conv.closed": "会话已结束。",
    "conv.reopened": "会话已重新打开。",
    "conv.ticket": "创建工单",
    "conv.ticketSubject": "主题",
    "conv.ticketSubmit": "创建",
    "conv.ticketCreated": "工单 {id} 已创建。",
    "conv.tickets": "工单：",
    "conv.tags": "标签",
    "conv.addTag": "添加标签…",
    "conv.removeTag": "移除标签 {tag}",
    "conv.reply": "回复",
    "conv.replyPlaceholder": "输入回复…（/ 打开快捷回复，Ctrl+Enter 发送）",
    "conv.notePlaceholder": "内部备注…（@坐席ID 可提醒同事）",
    "conv.send": "发送",
    "conv.addNote": "添加备注",
    "conv.noteMode": "内部备注",
    "conv.channel": "发送渠道",
    "conv.sent": "已排队发送。",
    "conv.noteAdded": "备注已添加。",
    "conv.templateRequired": "该渠道的回复窗口已关闭：请选择已审核的模板。",
    "conv.templateSend": "发送模板",
    "conv.noTemplates": "该渠道没有已审核的模板，请换一个渠道。",
    "conv.cannedEmpty": "没有匹配的快捷回复。",
    "conv.cannedMissing": "未填写：{names}",
    "conv.otherConversation": "之前的会话 · {date}",
    "conv.thisConversation": "当前会话 · {date}",
    "conv.note": "备注",
    "conv.customer": "客户",
    "conv.agent": "坐席 {id}",
    "conv.attachment": "附件",
    "conv.attachment.unavailable": "暂不可用",
    "conv.location": "位置 {lat}, {lng}",
    "conv.status.queued": "排队中",
    "conv.status.sent": "已发送",
    "conv.status.sent_local": "已发送（本地）",
    "conv.status.failed": "发送失败：{error}",
    "conv.delivery.delivered": "已送达",
    "conv.delivery.read": "已读",
    "conv.shortcuts": "r 回复 · Ctrl+Enter 发送 · e 结束 · n 下一个",
    "conv.noNext": "收件箱列表中没有下一个会话。",
    "conv.empty": "还没有消息。",
  },
});

const LIVE_KINDS = [
  "message.new",
  "conversation.assigned",
  "conversation.transferred",
  "conversation.queued",
  "conversation.updated",
  "conversation.closed",
];

function safeUrl(url) {
  try {
    const u = new URL(url, location.href);
    return ["http:", "https:"].includes(u.protocol) ? u : null;
  } catch {
    return null;
  }
}

function attachmentView(m, a, index) {
  const label = a.name || `${t("conv.attachment")} (${a.kind || "file"})`;
  // Platform media are fetched once into the media store; the API answers a short-lived link to it
  // (GET …/attachments/<index>?redirect=0), which the CSP allows for img/media elements.
  const open = h("button", { type: "button", class: "chip", "data-testid": "attachment", title: label }, label);
  open.addEventListener("click", async () => {
    try {
      const link = await api.get(
        `/conversations/${encodeURIComponent(m.conversation_id)}/messages/${m.seq}/attachments/${index}`,
        { redirect: "0" },
      );
      const u = safeUrl(link.url);
      if (!u) return;
      if (a.kind === "image") {
        open.replaceWith(h("a", { href: u.href, target: "_blank", rel: "noopener noreferrer" },
          h("img", { src: u.href, alt: label, loading: "lazy" })));
      } else if (a.kind === "voice" || a.kind === "video") {
        open.replaceWith(h(a.kind === "video" ? "video" : "audio", { src: u.href, controls: "" }));
      } else {
        window.open(u.href, "_blank", "noopener,noreferrer");
      }
    } catch (err) {
      open.textContent = `${label} · ${err.message || t("conv.attachment.unavailable")}`;
    }
  });
  return open;
}

function statusText(m) {
  if (m.direction !== "out") return "";
  if (m.delivery && m.delivery !== "failed") return t(`conv.delivery.${m.delivery}`);
  if (m.status === "failed" || m.delivery === "failed") return t("conv.status.failed", { error: m.error || "" });
  return m.status ? t(`conv.status.${m.status}`) : "";
}

function messageView(m) {
  if (m.event || m.type === "event") {
    return h("div", { class: "event", "data-testid": "timeline-event" }, `${when(m.created_at || m.sent_at)} · ${m.text || m.event}`);
  }
  const direction = m.direction === "out" || m.direction === "note" ? m.direction : "in";
  const author = direction === "note" ? `${t("conv.note")} · ${m.author_id || ""}` : authorLabel(m);
  const status = statusText(m);
  return h(
    "article",
    {
      class: "message", "data-testid": "message", "data-direction": direction,
      "data-channel": m.channel || "", "data-seq": String(m.seq ?? ""),
    },
    h("div", { class: "message-meta" },
      m.channel && direction !== "note" ? channelIcon(m.channel) : null,
      h("span", {}, author),
      h("time", { datetime: m.created_at || m.sent_at || "" }, when(m.created_at || m.sent_at)),
      status ? h("span", { class: ["message-status", m.status === "failed" && "failed"], "data-testid": "message-status" }, status) : null),
    m.text ? h("div", { class: "message-text", "data-testid": "message-text" }, m.text) : null,
    m.location ? h("div", { class: "message-text" }, t("conv.location", { lat: m.location.latitude, lng: m.location.longitude })) : null,
    m.attachments && m.attachments.length
      ? h("div", { class: "message-media" }, m.attachments.map((a, i) => attachmentView(m, a, i)))
      : null,
  );
}

export async function render(root, params, ctx) {
  const { api, me } = ctx;
  const id = params.id;
  if (!id) {
    ctx.navigate("#/inbox");
    return;
  }
  const path = `/conversations/${encodeURIComponent(id)}`;
  let data = null;
  let noteMode = false;
  let refetchTimer = null;
  let groups = null;
  let panelApi = null; // {reload} of the customer panel once it is shown
  let ticketsSeen = null;

  // ---- skeleton (built once; refreshes update the parts, the draft in the reply box stays) ----
  const title = h("h1", {});
  const headInfo = h("div", { class: "dialog-row" });
  const prioritySel = h("select", {
    "data-testid": "priority-select", "aria-label": t("conv.priority"),
    onchange: async (e) => {
      try {
        await api.put(`${path}/priority`, { priority: e.target.value });
        await refetch();
      } catch (err) { fail(err); }
    },
  }, ["low", "normal", "high", "urgent"].map((p) => h("option", { value: p }, t(`priority.${p}`))));
  const claimBtn = h("button", { class: "btn", "data-testid": "claim-button", hidden: true, onclick: claim }, t("conv.claim"));
  const transferBtn = h("button", { class: "btn", "data-testid": "transfer-button", "aria-expanded": "false", onclick: toggleTransfer }, t("conv.transfer"));
  const ticketBtn = h("button", { class: "btn", "data-testid": "ticket-create", "aria-expanded": "false", onclick: toggleTicket }, t("conv.ticket"));
  const closeBtn = h("button", { class: "btn", "data-testid": "close-button", onclick: closeOrReopen }, t("conv.close"));
  const ticketLinks = h("span", { class: "dialog-row" });

  const tagList = h("span", { class: "tags", "data-testid": "conversation-tags" });
  const tagInput = h("input", {
    class: "tag-input", "data-testid": "tag-input", placeholder: t("conv.addTag"), "aria-label": t("conv.tags"),
    onkeydown: async (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      const tag = tagInput.value.trim().toLowerCase();
      if (!tag) return;
      try {
        await api.put(`${path}/tags`, { add: [tag] });
        tagInput.value = "";
        await refetch();
      } catch (err) { fail(err); }
    },
  });

  // transfer dialog
  const transferGroup = h("select", { "data-testid": "transfer-group", "aria-label": t("conv.transferGroup") });
  const transferAgent = h("input", { "data-testid": "transfer-agent", "aria-label": t("conv.transferAgent"), placeholder: t("conv.transferAgent"), list: "agent-ids" });
  const agentIds = h("datalist", { id: "agent-ids" });
  const transferNote = h("input", { "data-testid": "transfer-note", "aria-label": t("conv.transferNote"), placeholder: t("conv.transferNote") });
  const transferBox = h("form", { class: "card dialog", hidden: true, "data-testid": "transfer-dialog", onsubmit: transfer },
    h("div", { class: "dialog-row" },
      h("label", {}, t("conv.transferGroup")), transferGroup,
      transferAgent, agentIds, transferNote,
      h("button", { class: "btn primary", type: "submit", "data-testid": "transfer-submit" }, t("conv.transferSubmit"))));

  // ticket dialog
  const ticketSubject = h("input", { "data-testid": "ticket-subject", "aria-label": t("conv.ticketSubject"), placeholder: t("conv.ticketSubject"), maxlength: "200" });
  const ticketBox = h("form", { class: "card dialog", hidden: true, "data-testid": "ticket-dialog", onsubmit: createTicket },
    h("div", { class: "dialog-row" },
      h("label", {}, t("conv.ticketSubject")), ticketSubject,
      h("button", { class: "btn primary", type: "submit", "data-testid": "ticket-create-submit" }, t("conv.ticketSubmit"))));

  const timeline = h("div", { class: "timeline", "data-testid": "timeline", role: "log", "aria-live": "polite", tabindex: "0" });

  // composer
  const channelSel = h("select", { "data-testid": "reply-channel", "aria-label": t("conv.channel") });
  const box = h("textarea", {
    rows: "3", "data-testid": "reply-box", "aria-label": t("conv.reply"), placeholder: t("conv.replyPlaceholder"),
    oninput: onBoxInput, onkeydown: onBoxKey,
  });
  const cannedMenu = h("ul", { class: "canned-menu", "data-testid": "canned-menu", role: "listbox", hidden: true });
  const noteToggle = h("button", {
    class: "btn", type: "button", "data-testid": "note-toggle", "aria-pressed": "false",
    onclick: () => setNoteMode(!noteMode),
  }, t("conv.noteMode"));
  const sendBtn = h("button", { class: "btn primary", type: "submit", "data-testid": "reply-send" }, t("conv.send"));
  const templatesBox = h("div", { class: "templates", "data-testid": "templates", hidden: true });
  const composer = h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); send(); } },
    cannedMenu, templatesBox, box,
    h("div", { class: "composer-row" },
      h("label", {}, t("conv.channel")), channelSel, noteToggle,
      h("span", { class: "spacer" }), h("small", { class: "muted" }, t("conv.shortcuts")), sendBtn));

  const panelSlot = h("div", { class: "customer-slot" });

  fill(root, h("div", { class: "conversation", "data-testid": "conversation-view", "data-id": id },
    h("section", { class: "conv-main" },
      h("div", { class: "conv-head" },
        h("a", { href: "#/inbox" }, t("conv.back")), title, headInfo,
        h("span", { class: "spacer" }), prioritySel, claimBtn, transferBtn, ticketBtn, closeBtn),
      h("div", { class: "conv-tools" }, h("span", { class: "muted" }, t("conv.tags")), tagList, tagInput, ticketLinks),
      transferBox, ticketBox, timeline, composer),
    h("aside", { class: "side" }, panelSlot)));

  // ---- data ----
  function fail(err) {
    ctx.toast(t("error.generic", { message: err.message || String(err) }), "error");
  }

  async function refetch() {
    const next = await api.get(path);
    if (!ctx.active) return;
    data = next;
    ctx.unread.markRead(id);
    draw();
  }

  function refetchSoon(delay = 200) {
    if (refetchTimer) return;
    refetchTimer = setTimeout(async () => {
      refetchTimer = null;
      if (!ctx.active) return;
      try { await refetch(); } catch (err) { if (err.status !== 404) fail(err); }
    }, delay);
  }

  function replyChannels() {
    const c = data.conversation;
    const set = new Set(c.channels || []);
    for (const i of data.identities || []) if (i.channel) set.add(i.channel);
    // identity kinds like phone/email map to sms/email
    const out = [...set].filter((ch) => !["phone", "unionid"].includes(ch));
    return out.length ? out : [c.last_channel].filter(Boolean);
  }

  function draw() {
    const c = data.conversation;
    const customer = data.customer || {};
    fill(title, customerLabel(customer));
    const sla = slaInfo(c);
    fill(headInfo,
      (c.channels || []).map((ch) => channelIcon(ch)),
      h("span", { class: "chip", "data-testid": "conversation-status" }, t(`conv.status.${c.status}`)),
      c.assignee_id ? h("span", { class: "muted" }, t("conv.assignee", { agent: c.assignee_id }))
        : h("span", { class: "muted" }, t("conv.unassigned", { group: c.group_id || "" })),
      sla ? h("span", { class: ["sla", sla.cls] }, sla.text) : null);
    prioritySel.value = c.priority || "normal";
    claimBtn.hidden = !(c.status === "open" && c.assignee_id !== me.agent_id);
    fill(closeBtn, c.status === "closed" ? t("conv.reopen") : t("conv.close"));
    closeBtn.dataset.action = c.status === "closed" ? "reopen" : "close";

    fill(tagList, (c.tags || []).map((tag) =>
      h("span", { class: "chip", "data-tag": tag }, tag,
        h("button", {
          type: "button", "aria-label": t("conv.removeTag", { tag }),
          onclick: async () => {
            try { await api.put(`${path}/tags`, { remove: [tag] }); await refetch(); } catch (err) { fail(err); }
          },
        }, "×"))));
    fill(ticketLinks, (c.ticket_ids || []).length ? [h("span", { class: "muted" }, t("conv.tickets")),
      ...(c.ticket_ids || []).map((tid) => h("a", { href: `#/tickets/${encodeURIComponent(tid)}`, "data-testid": "ticket-link" }, ticketLabel(tid)))] : []);
    const ticketCount = (c.ticket_ids || []).length;
    if (ticketsSeen !== null && ticketCount !== ticketsSeen && panelApi) panelApi.reload();
    ticketsSeen = ticketCount;

    // outbound channels (keep the agent's choice)
    const chosen = channelSel.value;
    const chans = replyChannels();
    fill(channelSel, chans.map((ch) => h("option", { value: ch }, channelName(ch))));
    channelSel.value = chans.includes(chosen) ? chosen : (c.last_channel && chans.includes(c.last_channel) ? c.last_channel : chans[0] || "");
    channelSel.disabled = noteMode || chans.length < 2;

    // timeline, keeping the scroll at the bottom if it was there
    const atBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 40;
    const frag = document.createDocumentFragment();
    let lastConv = null;
    const starts = Object.fromEntries((data.conversations || []).map((x) => [x.conversation_id, x.created_at]));
    for (const m of data.messages || []) {
      if (m.conversation_id !== lastConv) {
        lastConv = m.conversation_id;
        const key = lastConv === id ? "conv.thisConversation" : "conv.otherConversation";
        frag.appendChild(h("div", { class: "divider" }, t(key, { date: when(starts[lastConv]) })));
      }
      frag.appendChild(messageView(m));
    }
    clear(timeline);
    if (!(data.messages || []).length) timeline.appendChild(h("p", { class: "empty" }, t("conv.empty")));
    timeline.appendChild(frag);
    if (atBottom || !timeline.dataset.drawn) timeline.scrollTop = timeline.scrollHeight;
    timeline.dataset.drawn = "1";
  }

  // ---- actions ----
  async function claim() {
    try {
      await api.post(`${path}/claim`);
      ctx.toast(t("conv.claimed"), "ok");
      await refetch();
    } catch (err) { fail(err); }
  }

  async function closeOrReopen() {
    const reopening = data && data.conversation.status === "closed";
    try {
      await api.post(`${path}/${reopening ? "reopen" : "close"}`);
      ctx.toast(t(reopening ? "conv.reopened" : "conv.closed"), "ok");
      await refetch();
    } catch (err) { fail(err); }
  }

  async function toggleTransfer() {
    const show = transferBox.hidden;
    transferBox.hidden = !show;
    ticketBox.hidden = true;
    transferBtn.setAttribute("aria-expanded", String(show));
    if (!show) return;
    if (!groups) {
      try {
        const res = await api.get("/admin/groups");
        groups = res.items || res.groups || [];
      } catch (err) { groups = []; fail(err); }
      fill(transferGroup, h("option", { value: "" }, "—"),
        groups.map((g) => h("option", { value: g.group_id }, g.name ? `${g.name} (${g.group_id})` : g.group_id)));
      if (["supervisor", "admin"].includes(me.role)) { // /admin/agents answers 403 to agents
        api.get("/admin/agents").then((res) => {
          fill(agentIds, (res.items || res.agents || []).map((a) => h("option", { value: a.agent_id }, a.display_name || a.agent_id)));
        }).catch(() => {});
      }
    }
    transferGroup.focus();
  }

  async function transfer(e) {
    e.preventDefault();
    const toGroup = transferGroup.value;
    const toAgent = transferAgent.value.trim();
    if (!toGroup === !toAgent) {
      ctx.toast(t("conv.transferPick"), "error");
      return;
    }
    try {
      await api.post(`${path}/transfer`, {
        ...(toGroup ? { to_group: toGroup } : { to_agent: toAgent }),
        note: transferNote.value.trim(),
      });
      ctx.toast(t("conv.transferred"), "ok");
      transferBox.hidden = true;
      transferBtn.setAttribute("aria-expanded", "false");
      transferAgent.value = "";
      transferNote.value = "";
      transferGroup.value = "";
      await refetch().catch(() => {}); // after a transfer the agent may no longer see it
    } catch (err) { fail(err); }
  }

  function toggleTicket() {
    const show = ticketBox.hidden;
    ticketBox.hidden = !show;
    transferBox.hidden = true;
    ticketBtn.setAttribute("aria-expanded", String(show));
    if (show) {
      if (!ticketSubject.value && data) ticketSubject.value = (data.conversation.preview || "").slice(0, 200);
      ticketSubject.focus();
    }
  }

  async function createTicket(e) {
    e.preventDefault();
    try {
      const subject = ticketSubject.value.trim();
      const res = await api.post(`${path}/ticket`, subject ? { subject } : {});
      const ticket = res.ticket || res;
      const tid = ticket.ticket_id;
      ticketBox.hidden = true;
      ticketBtn.setAttribute("aria-expanded", "false");
      ctx.toast(t("conv.ticketCreated", { id: ticketLabel(ticket.number ? ticket : tid) }), "ok");
      await refetch();
      if (panelApi) panelApi.reload();
    } catch (err) { fail(err); }
  }

  function setNoteMode(on) {
    noteMode = on;
    noteToggle.setAttribute("aria-pressed", String(on));
    composer.classList.toggle("note-mode", on);
    box.placeholder = on ? t("conv.notePlaceholder") : t("conv.replyPlaceholder");
    fill(sendBtn, on ? t("conv.addNote") : t("conv.send"));
    channelSel.disabled = on || channelSel.options.length < 2;
    hideCanned();
  }

  async function send(template) {
    const text = box.value.trim();
    if (!text && !template) return;
    sendBtn.disabled = true;
    try {
      if (noteMode && !template) {
        await api.post(`${path}/notes`, { text });
        ctx.toast(t("conv.noteAdded"), "ok");
      } else {
        const body = template ? { template } : { text };
        if (channelSel.value) body.channel = channelSel.value;
        await api.post(`${path}/reply`, body);
        ctx.toast(t("conv.sent"), "ok");
        templatesBox.hidden = true;
      }
      if (!template) box.value = "";
      await refetch();
      refetchSoon(2000); // the sender updates the message status shortly after
    } catch (err) {
      if (err.status === 409 && err.code === "template_required") showTemplates(err.body.templates || []);
      else fail(err);
    } finally {
      sendBtn.disabled = false;
    }
  }

  function showTemplates(templates) {
    templatesBox.hidden = false;
    fill(templatesBox,
      h("p", {}, t("conv.templateRequired")),
      templates.length ? null : h("p", { class: "muted" }, t("conv.noTemplates")),
      templates.map((tpl) => {
        const count = Array.isArray(tpl.params) ? tpl.params.length : Number(tpl.params || tpl.param_count || 0);
        const inputs = Array.from({ length: count }, (_, i) =>
          h("input", { "aria-label": `${tpl.name} {{${i + 1}}}`, placeholder: Array.isArray(tpl.params) ? String(tpl.params[i]) : `{{${i + 1}}}` }));
        return h("div", { class: "dialog-row", "data-testid": "template", "data-name": tpl.name },
          h("strong", {}, tpl.name), h("span", { class: "muted" }, tpl.language || ""),
          tpl.text || tpl.body ? h("span", {}, tpl.text || tpl.body) : null,
          inputs,
          h("button", {
            type: "button", class: "btn small",
            onclick: () => send({ name: tpl.name, language: tpl.language || "en", params: inputs.map((i) => i.value) }),
          }, t("conv.templateSend")));
      }));
  }

  // ---- canned replies: "/" at the start of the box opens the menu ----
  let cannedItems = [];
  let cannedIndex = 0;
  let cannedSeq = 0;

  function hideCanned() {
    cannedMenu.hidden = true;
    cannedItems = [];
  }

  async function onBoxInput() {
    const v = box.value;
    if (noteMode || !v.startsWith("/") || v.includes("\n")) {
      hideCanned();
      return;
    }
    const seq = ++cannedSeq;
    try {
      const res = await api.get("/canned-replies", { q: v.slice(1) ? v : "" });
      if (seq !== cannedSeq || !ctx.active) return;
      cannedItems = (res.items || []).slice(0, 20);
      cannedIndex = 0;
      drawCanned();
    } catch (err) { fail(err); }
  }

  function drawCanned() {
    cannedMenu.hidden = false;
    fill(cannedMenu, cannedItems.length
      ? cannedItems.map((r, i) => h("li", {
        role: "option", class: i === cannedIndex ? "selected" : "", "aria-selected": String(i === cannedIndex),
        "data-testid": "canned-item", "data-id": r.reply_id,
        onmousedown: (e) => { e.preventDefault(); pickCanned(i); },
      }, r.shortcut ? h("span", { class: "shortcut" }, r.shortcut) : null, h("strong", {}, r.title), " ",
      h("span", { class: "muted" }, (r.body || "").slice(0, 80))))
      : h("li", { class: "muted" }, t("conv.cannedEmpty")));
  }

  async function pickCanned(i) {
    const r = cannedItems[i];
    if (!r) return;
    hideCanned();
    try {
      const res = await api.post(`/canned-replies/${encodeURIComponent(r.reply_id)}/render`, { conversation_id: id });
      box.value = res.text || r.body || "";
      if (res.missing && res.missing.length) ctx.toast(t("conv.cannedMissing", { names: res.missing.join(", ") }), "info");
    } catch (err) {
      box.value = r.body || "";
      fail(err);
    }
    box.focus();
  }

  function onBoxKey(e) {
    if (!cannedMenu.hidden && cannedItems.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        cannedIndex = (cannedIndex + (e.key === "ArrowDown" ? 1 : -1) + cannedItems.length) % cannedItems.length;
        drawCanned();
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        pickCanned(cannedIndex);
        return;
      }
    }
    if (e.key === "Escape") {
      if (!cannedMenu.hidden) hideCanned();
      else box.blur();
      return;
    }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      send();
    }
  }

  // ---- keyboard ----
  function next() {
    let order = [];
    try { order = JSON.parse(sessionStorage.getItem(ORDER_KEY) || "[]"); } catch { order = []; }
    const i = order.indexOf(id);
    const target = order[i + 1] || (i < 0 ? order[0] : null);
    if (target && target !== id) ctx.navigate(`#/c/${encodeURIComponent(target)}`);
    else ctx.toast(t("conv.noNext"), "info");
  }

  const onKey = (e) => {
    if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "r") { e.preventDefault(); box.focus(); }
    else if (e.key === "e") { e.preventDefault(); if (data && data.conversation.status === "open") closeOrReopen(); }
    else if (e.key === "n") { e.preventDefault(); next(); }
  };
  document.addEventListener("keydown", onKey);
  ctx.cleanup(() => {
    document.removeEventListener("keydown", onKey);
    if (refetchTimer) clearTimeout(refetchTimer);
  });

  const mine = (ev) => ev.conversation_id === id || (data && (data.conversations || []).some((x) => x.conversation_id === ev.conversation_id));
  for (const kind of LIVE_KINDS) ctx.on(kind, (ev) => { if (mine(ev)) refetchSoon(); });
  ctx.on("reset", () => refetchSoon());

  // ---- first load ----
  try {
    await refetch();
  } catch (err) {
    fill(root, h("p", { class: "error", "data-testid": "conversation-error" }, t("error.generic", { message: err.message })));
    return;
  }
  // the customer 360 panel (view-customer.js, written separately; nothing if it is missing)
  if (data && data.customer) {
    import("./view-customer.js")
      .then((m) => (ctx.active && typeof m.panel === "function" ? m.panel(panelSlot, data.customer.customer_id, ctx) : null))
      .then((api_) => { panelApi = api_ || null; })
      .catch((err) => {
        console.warn("customer panel unavailable", err);
        clear(panelSlot);
        root.querySelector(".conversation")?.classList.add("no-side");
      });
  }
}
