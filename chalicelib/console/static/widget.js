/*
 * Omniflow website chat widget. One line on any page:
 *
 *   <script src="https://<api>/api/widget.js" data-site="default"
 *           data-api="https://<webhooks>/webhooks/web" data-lang="zh-CN" async></script>
 *
 * data-site   the web channel account (default "default")
 * data-api    the web channel's base URL (default: the script's origin + /webhooks/web)
 * data-lang   "zh-CN" or "en" (default: the browser's language)
 * data-css    the stylesheet (default: console/static/widget.css next to the script)
 * data-suggest the article suggestions (default: bot/suggest next to the script, i.e. /api/bot/suggest)
 * A shop whose visitor is logged in may set, before the script runs,
 *   window.OmniflowIdentity = {identity: {...}, identity_signature: "<hmac>"}
 * (signed by its backend with the identity secret): the visitor is then a verified customer.
 *
 * It talks to the web channel (chalicelib/channels/web.py): POST sessions → visitor token,
 * POST messages, GET messages?after= (every 1 s while the panel is open, 5 s while closed),
 * GET status (business hours → the offline form). The token and the last message seen stay in
 * localStorage, so the thread survives page loads. Everything lives in a shadow root (the page's
 * CSS cannot reach it); every text is a text node, never HTML. Message directions are the
 * channel's: data-direction="in" is the visitor's own message, "out" an agent's reply.
 *
 * As the visitor types (300 ms after the last key), GET bot/suggest?q= shows the titles of matching
 * published articles; a click reads the article (GET bot/suggest?article=, plain text) and shows it
 * in the panel. A 429 pauses the suggestions for its Retry-After, quietly. The bot's quick replies
 * (quick_replies on an "out" message) are buttons: a tap sends the option's title.
 */
(function () {
  "use strict";

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!script || window.__omniflowWidget) return;
  window.__omniflowWidget = true;

  var OPEN_POLL_MS = 1000;
  var CLOSED_POLL_MS = 5000;
  var STATUS_MAX_AGE_MS = 60000;
  var AGENT_ACTIVE_MS = 30 * 60000; // an agent's reply this recent means someone is at the desk
  var MAX_TEXT = 4000;
  var SUGGEST_DEBOUNCE_MS = 300;
  var SUGGEST_MIN = 2;
  var PAGE = 100;

  var data = script.dataset || {};
  var site = data.site || "default";
  var scriptUrl = new URL(script.src, location.href);
  var apiBase = (data.api ? new URL(data.api, location.href).href : scriptUrl.origin + "/webhooks/web").replace(/\/+$/, "");
  var base = site === "default" ? apiBase : apiBase + "/" + encodeURIComponent(site);
  var cssUrl = data.css ? new URL(data.css, location.href).href : new URL("console/static/widget.css", scriptUrl).href;
  var storeKey = "omniflow.widget." + site;
  var suggestUrl = data.suggest ? new URL(data.suggest, location.href).href : new URL("bot/suggest", scriptUrl).href;

  var STRINGS = {
    en: {
      title: "Chat with us",
      subtitle: "We usually reply within a few minutes",
      open: "Open chat",
      close: "Close chat",
      prechat: "Tell us who you are (all optional), then start chatting.",
      name: "Name",
      phone: "Phone",
      email: "E-mail",
      start: "Start chat",
      placeholder: "Type a message…",
      send: "Send",
      empty: "Hi! How can we help you today?",
      offlineTitle: "We're offline right now",
      offlineIntro: "Leave a message and how to reach you; we'll get back to you.",
      offlineBanner: "We're offline; we'll answer when we're back.",
      nextOpen: "Back at {time}",
      message: "Message",
      leave: "Leave message",
      thanks: "Thanks! We got your message and will get back to you.",
      failed: "Not sent. Please try again.",
      needText: "Please write a message.",
      sending: "Sending…",
      unread: "{n} new",
      agent: "Support",
      you: "You",
      suggested: "Maybe this answers it:",
      backToChat: "Back to chat",
      answerFrom: "From our help centre",
    },
    "zh-CN": {
      title: "在线客服",
      subtitle: "我们通常几分钟内回复",
      open: "打开聊天",
      close: "关闭聊天",
      prechat: "留下您的联系方式（均为选填），然后开始聊天。",
      name: "姓名",
      phone: "手机",
      email: "邮箱",
      start: "开始聊天",
      placeholder: "请输入消息…",
      send: "发送",
      empty: "您好！请问有什么可以帮您？",
      offlineTitle: "客服暂时不在线",
      offlineIntro: "请留言并留下联系方式，我们上线后会尽快回复您。",
      offlineBanner: "客服暂时不在线，上线后会回复您。",
      nextOpen: "上线时间：{time}",
      message: "留言内容",
      leave: "提交留言",
      thanks: "谢谢！我们已收到您的留言，会尽快联系您。",
      failed: "发送失败，请重试。",
      needText: "请输入留言内容。",
      sending: "发送中…",
      unread: "{n} 条新消息",
      agent: "客服",
      you: "我",
      suggested: "猜您想问：",
      backToChat: "返回聊天",
      answerFrom: "来自帮助中心",
    },
  };
  var lang = data.lang || (navigator.language || "en");
  lang = /^zh/i.test(lang) ? "zh-CN" : "en";
  function t(key, vars) {
    var text = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key;
    return text.replace(/\{(\w+)\}/g, function (m, name) {
      return vars && name in vars ? String(vars[name]) : m;
    });
  }

  // ---- DOM: text nodes only -------------------------------------------------------------------
  function h(tag, attrs) {
    var el = document.createElement(tag);
    var a = attrs || {};
    Object.keys(a).forEach(function (key) {
      var value = a[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "class") el.className = value;
      else if (key === "testid") el.setAttribute("data-testid", value);
      else if (key.slice(0, 2) === "on" && typeof value === "function") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    });
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(el, c); });
    else el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }
  var SVG = "http://www.w3.org/2000/svg";
  function icon(d) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }
  var CHAT_ICON = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  var CLOSE_ICON = "M6 6l12 12M18 6L6 18";

  // ---- state ----------------------------------------------------------------------------------
  function load() {
    try {
      return JSON.parse(localStorage.getItem(storeKey) || "{}") || {};
    } catch (e) {
      return {};
    }
  }
  function save() {
    try {
      localStorage.setItem(storeKey, JSON.stringify({ token: state.token, seen: state.seen }));
    } catch (e) { /* private mode: the thread lasts as long as the page */ }
  }
  var saved = load();
  var state = {
    token: saved.token || null,
    seen: saved.seen || "", // created_at of the last message the visitor has seen
    cursor: "", // created_at of the last message rendered
    ids: {},
    open: false,
    status: null,
    statusAt: 0,
    timer: null,
    polling: false,
    loaded: false,
    unread: 0,
    offlineSent: false,
    agentAt: "", // when an agent (not an automatic notice) last wrote in this thread
    suggestTimer: null,
    suggestSeq: 0, // answers to older keystrokes are dropped
    suggestPausedUntil: 0, // after a 429
  };

  // ---- HTTP -----------------------------------------------------------------------------------
  function call(method, path, body) {
    var headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.token) headers.Authorization = "Bearer " + state.token;
    return fetch(base + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    }).then(function (resp) {
      if (resp.status === 401 && state.token) {
        forget();
      }
      if (!resp.ok) {
        var err = new Error("HTTP " + resp.status);
        err.status = resp.status;
        throw err;
      }
      return resp.status === 204 ? {} : resp.json();
    });
  }
  function forget() {
    state.token = null;
    state.seen = "";
    state.cursor = "";
    state.ids = {};
    save();
    clear(ui.log);
    render();
  }

  function startSession(fields) {
    var body = {};
    ["name", "phone", "email"].forEach(function (k) {
      var v = fields && fields[k] ? String(fields[k]).trim() : "";
      if (v) body[k] = v;
    });
    var signed = window.OmniflowIdentity;
    if (signed && signed.identity && signed.identity_signature) {
      body.identity = signed.identity;
      body.identity_signature = signed.identity_signature;
    }
    return call("POST", "/sessions", body).then(function (session) {
      state.token = session.token;
      save();
      return session;
    });
  }

  function refreshStatus(force) {
    if (!force && state.status && Date.now() - state.statusAt < STATUS_MAX_AGE_MS) {
      return Promise.resolve(state.status);
    }
    return call("GET", "/status")
      .then(function (status) {
        state.status = status;
      })
      .catch(function () {
        state.status = { open: true, next_open: null }; // unknown: let the visitor write
      })
      .then(function () {
        state.statusAt = Date.now();
        render();
        return state.status;
      });
  }

  // ---- the thread -----------------------------------------------------------------------------
  function timeOf(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    return d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  }

  function messageEl(direction, text, when, pending, quickReplies) {
    return h(
      "div",
      {
        class: "msg msg-" + direction + (pending ? " pending" : ""),
        testid: "widget-message",
        "data-direction": direction,
      },
      h("span", { class: "who" }, direction === "in" ? t("you") : t("agent")),
      h("div", { class: "text" }, text),
      quickReplies && quickReplies.length ? quickEl(quickReplies) : null,
      h("time", { class: "when" }, when ? timeOf(when) : t("sending"))
    );
  }

  // The bot's options under its message: a tap sends the option's title (the bot takes a pick by
  // its title or number), once.
  function quickEl(options) {
    var box = h("div", { class: "quick", testid: "widget-quick-replies" });
    options.forEach(function (o) {
      var title = o && o.title ? String(o.title) : "";
      if (!title) return;
      box.appendChild(h("button", {
        type: "button",
        class: "quick-reply",
        testid: "widget-quick-reply",
        onclick: function () {
          var buttons = box.querySelectorAll("button");
          for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
          sendText(title);
        },
      }, title));
    });
    return box;
  }

  function addMessages(messages) {
    var added = 0;
    var agentBefore = state.agentAt;
    messages.forEach(function (m) {
      if (m.created_at && m.created_at > state.cursor) state.cursor = m.created_at;
      if (!m.id || state.ids[m.id]) return;
      state.ids[m.id] = true;
      var text = m.text || (m.type && m.type !== "text" ? "[" + m.type + "]" : "");
      var pending = m.direction === "in" ? findPending(text) : null;
      if (pending) {
        pending.classList.remove("pending");
        pending.removeAttribute("data-pending");
        var when = pending.querySelector(".when");
        if (when) when.textContent = timeOf(m.created_at);
        return;
      }
      var out = m.direction === "out";
      ui.log.appendChild(messageEl(out ? "out" : "in", text, m.created_at, false, out ? m.quick_replies : null));
      added++;
      if (m.direction === "out" && m.created_at > state.seen && !state.open) state.unread++;
      if (m.direction === "out" && !m.automatic && m.created_at > state.agentAt) state.agentAt = m.created_at;
    });
    if (added) scrollDown();
    if (state.open && state.cursor > state.seen) {
      state.seen = state.cursor;
      save();
    }
    if (state.agentAt !== agentBefore) render(); // an agent is here: no "we're offline"
    else {
      renderBadge();
      renderEmpty();
    }
  }

  function findPending(text) {
    var items = ui.log.querySelectorAll('[data-pending="1"]');
    for (var i = 0; i < items.length; i++) {
      var body = items[i].querySelector(".text");
      if (body && body.textContent === text) return items[i];
    }
    return null;
  }

  function scrollDown() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function fetchThread() {
    // The whole thread on the first fetch (pages of 100), then only what is new.
    function page() {
      var path = "/messages" + (state.cursor ? "?after=" + encodeURIComponent(state.cursor) : "");
      return call("GET", path).then(function (body) {
        var messages = body.messages || [];
        addMessages(messages);
        if (messages.length >= PAGE) return page();
      });
    }
    return page().then(function () {
      state.loaded = true;
    });
  }

  function poll() {
    state.timer = null;
    if (!state.token || state.polling || document.hidden) {
      schedule();
      return;
    }
    state.polling = true;
    fetchThread()
      .catch(function () { /* next round */ })
      .then(function () {
        state.polling = false;
        schedule();
      });
  }

  function schedule(now) {
    if (state.timer) clearTimeout(state.timer);
    if (!state.token) {
      state.timer = null;
      return;
    }
    state.timer = setTimeout(poll, now ? 0 : state.open ? OPEN_POLL_MS : CLOSED_POLL_MS);
  }

  // ---- suggestions as the visitor types ---------------------------------------------------------
  function suggestCall(params) {
    var url = new URL(suggestUrl);
    url.searchParams.set("site", site);
    Object.keys(params).forEach(function (k) { url.searchParams.set(k, params[k]); });
    return fetch(url.href, {
      headers: { Authorization: "Bearer " + state.token },
      credentials: "omit",
      cache: "no-store",
    }).then(function (resp) {
      if (resp.status === 429) {
        var after = parseFloat(resp.headers.get("Retry-After") || "") || 2;
        state.suggestPausedUntil = Date.now() + after * 1000;
      }
      if (!resp.ok) {
        var err = new Error("HTTP " + resp.status);
        err.status = resp.status;
        throw err;
      }
      return resp.json();
    });
  }

  function hideSuggestions() {
    state.suggestSeq++;
    if (state.suggestTimer) clearTimeout(state.suggestTimer);
    state.suggestTimer = null;
    clear(ui.suggestList);
    ui.suggest.hidden = true;
  }

  function onTyping() {
    if (state.suggestTimer) clearTimeout(state.suggestTimer);
    state.suggestTimer = setTimeout(fetchSuggestions, SUGGEST_DEBOUNCE_MS);
  }

  function fetchSuggestions() {
    state.suggestTimer = null;
    var q = ui.input.value.replace(/\s+/g, " ").trim();
    if (q.length < SUGGEST_MIN || !state.token || Date.now() < state.suggestPausedUntil) {
      if (q.length < SUGGEST_MIN) hideSuggestions();
      return;
    }
    var mine = ++state.suggestSeq;
    suggestCall({ q: q.slice(0, 200) })
      .then(function (body) {
        if (mine !== state.suggestSeq) return;
        showSuggestions(body.suggestions || []);
      })
      .catch(function () {
        if (mine === state.suggestSeq) ui.suggest.hidden = true; // quietly: the chat still works
      });
  }

  function showSuggestions(items) {
    clear(ui.suggestList);
    items.forEach(function (s) {
      ui.suggestList.appendChild(h("li", null, h("button", {
        type: "button",
        class: "suggestion",
        testid: "widget-suggestion",
        "data-article": s.article_id,
        onclick: function () { openArticle(s); },
      }, s.title)));
    });
    ui.suggest.hidden = items.length === 0;
  }

  function openArticle(s) {
    hideSuggestions();
    suggestCall({ article: s.article_id })
      .then(function (body) {
        var a = body.article || {};
        ui.answerTitle.textContent = a.title || s.title;
        ui.answerText.textContent = a.text || s.snippet || "";
        ui.answer.setAttribute("data-article", s.article_id);
        ui.answer.hidden = false;
        ui.answerBack.focus();
      })
      .catch(function () { /* gone, or slowed down: nothing to show */ });
  }

  function closeArticle() {
    ui.answer.hidden = true;
    ui.input.focus();
  }

  // ---- actions --------------------------------------------------------------------------------
  function sendText(text) {
    text = (text || "").trim();
    if (!text) return Promise.resolve(false);
    if (text.length > MAX_TEXT) text = text.slice(0, MAX_TEXT);
    var el = messageEl("in", text, null, true);
    el.setAttribute("data-pending", "1");
    ui.log.appendChild(el);
    scrollDown();
    renderEmpty();
    var clientId = "w" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    var ready = state.token ? Promise.resolve() : startSession({});
    return ready
      .then(function () {
        return call("POST", "/messages", { text: text, client_message_id: clientId });
      })
      .then(function () {
        schedule(true);
        return true;
      })
      .catch(function () {
        el.classList.add("failed");
        el.removeAttribute("data-pending");
        var when = el.querySelector(".when");
        if (when) when.textContent = t("failed");
        return false;
      });
  }

  function onSend(event) {
    if (event) event.preventDefault();
    var text = ui.input.value;
    if (!text.trim()) return;
    ui.input.value = "";
    hideSuggestions();
    sendText(text);
    ui.input.focus();
  }

  function onKey(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      onSend(event);
    }
  }

  function onPrechat(event) {
    event.preventDefault();
    ui.prechatStart.disabled = true;
    ui.prechatError.textContent = "";
    startSession({ name: ui.name.value, phone: ui.phone.value, email: ui.email.value })
      .then(function () {
        render();
        schedule(true);
        ui.input.focus();
      })
      .catch(function () {
        ui.prechatError.textContent = t("failed");
      })
      .then(function () {
        ui.prechatStart.disabled = false;
      });
  }

  function onOffline(event) {
    event.preventDefault();
    var text = ui.offlineText.value.trim();
    ui.offlineError.textContent = "";
    if (!text) {
      ui.offlineError.textContent = t("needText");
      ui.offlineText.focus();
      return;
    }
    ui.offlineSubmit.disabled = true;
    startSession({ name: ui.offName.value, phone: ui.offPhone.value, email: ui.offEmail.value })
      .then(function () {
        return sendText(text);
      })
      .then(function (ok) {
        if (!ok) throw new Error("not sent");
        state.offlineSent = true;
        ui.offlineText.value = "";
        render();
      })
      .catch(function () {
        ui.offlineError.textContent = t("failed");
      })
      .then(function () {
        ui.offlineSubmit.disabled = false;
      });
  }

  function toggle(open) {
    state.open = open === undefined ? !state.open : open;
    if (state.open) {
      state.unread = 0;
      if (state.cursor > state.seen) {
        state.seen = state.cursor;
        save();
      }
      refreshStatus(false);
    }
    render();
    schedule(state.open && !!state.token);
    if (state.open) {
      var target = state.token ? ui.input : ui.panel.querySelector("input, textarea");
      if (target) target.focus();
    } else {
      ui.bubble.focus();
    }
  }

  // ---- the UI ---------------------------------------------------------------------------------
  var ui = {};
  function field(testid, label, type, autocomplete, refName) {
    var input = h("input", { type: type, testid: testid, autocomplete: autocomplete, maxlength: "200" });
    ui[refName] = input;
    return h("label", { class: "field" }, h("span", null, label), input);
  }

  function build() {
    var host = h("div", { id: "omniflow-widget" });
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var link = h("link", { rel: "stylesheet", href: cssUrl });
    var frame = h("div", { class: "frame loading", lang: lang });
    link.addEventListener("load", function () { frame.classList.remove("loading"); });
    link.addEventListener("error", function () { frame.classList.remove("loading"); });
    root.appendChild(link);
    root.appendChild(frame);

    ui.badge = h("span", { class: "badge", hidden: true });
    ui.bubble = h(
      "button",
      { type: "button", class: "bubble", testid: "widget-bubble", "aria-label": t("open"), "aria-expanded": "false", onclick: function () { toggle(); } },
      icon(CHAT_ICON),
      ui.badge
    );

    ui.log = h("div", { class: "log", role: "log", "aria-live": "polite" });
    ui.empty = h("p", { class: "empty" }, t("empty"));
    ui.banner = h("p", { class: "banner", testid: "widget-offline-banner", hidden: true });
    ui.input = h("textarea", { testid: "widget-input", rows: "1", maxlength: String(MAX_TEXT), placeholder: t("placeholder"), "aria-label": t("placeholder"), onkeydown: onKey, oninput: onTyping });
    ui.send = h("button", { type: "submit", class: "send", testid: "widget-send" }, t("send"));
    ui.composer = h("form", { class: "composer", onsubmit: onSend }, ui.input, ui.send);
    ui.suggestList = h("ul", null);
    ui.suggest = h("div", { class: "suggest", testid: "widget-suggestions", hidden: true }, h("p", null, t("suggested")), ui.suggestList);
    ui.answerTitle = h("h3", { testid: "widget-answer-title" });
    ui.answerText = h("div", { class: "answer-text", testid: "widget-answer-text" });
    ui.answerBack = h("button", { type: "button", class: "primary", testid: "widget-answer-back", onclick: closeArticle }, t("backToChat"));
    ui.answer = h("article", { class: "answer", testid: "widget-answer", hidden: true },
      h("p", { class: "answer-from" }, t("answerFrom")), ui.answerTitle, ui.answerText, ui.answerBack);
    ui.chat = h("div", { class: "chat" }, ui.banner, ui.empty, ui.log, ui.answer, ui.suggest, ui.composer);

    ui.prechatError = h("p", { class: "error", role: "alert" });
    ui.prechatStart = h("button", { type: "submit", class: "primary", testid: "widget-prechat-start" }, t("start"));
    ui.prechat = h(
      "form",
      { class: "prechat", onsubmit: onPrechat },
      h("p", { class: "intro" }, t("prechat")),
      field("widget-prechat-name", t("name"), "text", "name", "name"),
      field("widget-prechat-phone", t("phone"), "tel", "tel", "phone"),
      field("widget-prechat-email", t("email"), "email", "email", "email"),
      ui.prechatError,
      ui.prechatStart
    );

    ui.nextOpen = h("p", { class: "next-open" });
    ui.offlineError = h("p", { class: "error", role: "alert" });
    ui.offlineText = h("textarea", { rows: "4", maxlength: String(MAX_TEXT), "aria-label": t("message"), placeholder: t("message") });
    ui.offlineSubmit = h("button", { type: "submit", class: "primary" }, t("leave"));
    ui.thanks = h("p", { class: "thanks", role: "status", hidden: true }, t("thanks"));
    ui.offline = h(
      "form",
      { class: "offline", testid: "widget-offline-form", onsubmit: onOffline },
      h("p", { class: "intro strong" }, t("offlineTitle")),
      h("p", { class: "intro" }, t("offlineIntro")),
      ui.nextOpen,
      field("widget-offline-name", t("name"), "text", "name", "offName"),
      field("widget-offline-phone", t("phone"), "tel", "tel", "offPhone"),
      field("widget-offline-email", t("email"), "email", "email", "offEmail"),
      h("label", { class: "field" }, h("span", null, t("message")), ui.offlineText),
      ui.offlineError,
      ui.offlineSubmit
    );

    ui.panel = h(
      "section",
      { class: "panel", testid: "widget-panel", role: "dialog", "aria-label": t("title"), hidden: true, onkeydown: function (e) { if (e.key === "Escape") toggle(false); } },
      h(
        "header",
        { class: "head" },
        h("div", null, h("h2", null, t("title")), h("p", null, t("subtitle"))),
        h("button", { type: "button", class: "close", "aria-label": t("close"), onclick: function () { toggle(false); } }, icon(CLOSE_ICON))
      ),
      ui.prechat,
      ui.offline,
      ui.thanks,
      ui.chat
    );
    frame.appendChild(ui.panel);
    frame.appendChild(ui.bubble);
    document.body.appendChild(host);
  }

  function renderEmpty() {
    ui.empty.hidden = ui.log.childElementCount > 0;
  }

  function renderBadge() {
    ui.badge.hidden = state.unread === 0 || state.open;
    ui.badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
    ui.bubble.setAttribute("aria-label", state.unread ? t("open") + " (" + t("unread", { n: state.unread }) + ")" : t("open"));
  }

  function render() {
    var status = state.status || { open: true };
    var hasThread = ui.log.childElementCount > 0;
    // An agent who answered in the last AGENT_ACTIVE_MS is here, whatever the calendar says.
    var agentActive = !!state.agentAt && Date.now() - Date.parse(state.agentAt) < AGENT_ACTIVE_MS;
    var offline = status.open === false && !agentActive;
    ui.panel.hidden = !state.open;
    ui.bubble.setAttribute("aria-expanded", state.open ? "true" : "false");
    ui.bubble.classList.toggle("active", state.open);
    // Offline: the message form, unless a conversation is already going on (then the thread with
    // a note); after leaving a message, the thanks and the thread.
    var showOffline = offline && !hasThread && !state.offlineSent;
    ui.offline.hidden = !showOffline;
    ui.thanks.hidden = !state.offlineSent;
    ui.prechat.hidden = showOffline || !!state.token;
    ui.chat.hidden = showOffline || !state.token;
    ui.banner.hidden = !offline || showOffline;
    var next = status.next_open ? new Date(status.next_open) : null;
    var nextText = next && !isNaN(next.getTime())
      ? t("nextOpen", { time: next.toLocaleString(lang, { weekday: "short", hour: "2-digit", minute: "2-digit" }) })
      : "";
    ui.nextOpen.textContent = nextText;
    ui.banner.textContent = t("offlineBanner") + (nextText ? " " + nextText : "");
    renderBadge();
    renderEmpty();
  }

  function init() {
    build();
    render();
    refreshStatus(true);
    if (state.token) {
      fetchThread()
        .catch(function () { /* a 401 forgets the token; otherwise the next poll retries */ })
        .then(function () {
          render();
          schedule();
        });
    }
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && state.token) schedule(true);
    });
  }

  window.OmniflowWidget = {
    open: function () { toggle(true); },
    close: function () { toggle(false); },
  };

  if (document.body) init();
  else document.addEventListener("DOMContentLoaded", init);
})();
