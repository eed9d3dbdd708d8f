// app.js — the console shell: login, role-aware navigation, hash router, real-time feed, toasts,
// presence and language switchers, unread tracking.
//
// Views: register(prefix, loader) with loader = () => import("./view-x.js"); the module exports
//   async function render(root, params, ctx)
// params = {id, parts, query, hash}: "#/tickets/T-1?x=2" → {id: "T-1", parts: ["T-1"], query: {x: "2"}}
// ctx = {me, api, t, h, navigate(hash), toast(text, kind), on(kind, handler), cleanup(fn), unread}
//   on(kind, fn): real-time feed events of that kind ("*" = every event; "reset" = the feed was
//   away too long: reload what you show); removed when the view changes. cleanup(fn): run when the
//   view changes (remove your document listeners, timers). A view that renders again after a
//   language switch gets a fresh root and fresh ctx.
// Feed: GET /api/events?cursor= every 1 s while logged in (10 s when the tab is hidden), see
// docs/realtime.md.

import { api, request, setToken, token, onUnauthorized } from "./api.js";
import { clear, fill, h, isTyping } from "./dom.js";
import { LANGS, lang, setLang, t } from "./i18n.js";

const routes = new Map();

export function register(prefix, loader) {
  routes.set(prefix, loader);
}

register("inbox", () => import("./view-inbox.js"));
register("c", () => import("./view-conversation.js"));
register("customers", () => import("./view-customer.js"));
register("tickets", () => import("./view-tickets.js"));
register("supervisor", () => import("./view-supervisor.js"));
register("admin", () => import("./view-admin.js"));

const ROLE_RANK = { agent: 1, supervisor: 2, admin: 3 };
export function allows(me, role) {
  return (ROLE_RANK[me && me.role] || 0) >= ROLE_RANK[role];
}

const state = {
  me: null,
  handlers: [], // [{kind, fn}] of the current view
  cleanups: [],
  renderSeq: 0,
  feedCursor: null,
  feedTimer: null,
  feedOffline: false,
  current: null, // {prefix, params}
};

// ---- toasts -------------------------------------------------------------------------------------
function toastHost() {
  let host = document.getElementById("toasts");
  if (!host) {
    host = h("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
    document.body.appendChild(host);
  }
  return host;
}

export function toast(text, kind = "info") {
  const el = h("div", { class: ["toast", `toast-${kind}`], "data-testid": "toast" }, text);
  toastHost().appendChild(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
  return el;
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// ---- unread: conversations with inbound messages since this agent last opened them ----------------
// Kept in localStorage per agent: seen[cid] = when I last opened it; counts[cid] = message.new
// events since then. An item with last_inbound_at after seen[cid] counts at least 1.
function unreadKey() {
  return `omniflow.unread.${state.me ? state.me.agent_id : "-"}`;
}

function loadUnread() {
  try {
    const v = JSON.parse(localStorage.getItem(unreadKey()) || "{}");
    return { seen: v.seen || {}, counts: v.counts || {} };
  } catch {
    return { seen: {}, counts: {} };
  }
}

function saveUnread(u) {
  const ids = Object.keys(u.seen);
  if (ids.length > 2000) {
    ids.sort((a, b) => (u.seen[a] < u.seen[b] ? -1 : 1));
    for (const id of ids.slice(0, ids.length - 2000)) delete u.seen[id];
  }
  localStorage.setItem(unreadKey(), JSON.stringify(u));
}

export const unread = {
  // How many unread inbound messages a conversation summary has (0 if none).
  count(conv) {
    const u = loadUnread();
    const cid = conv.conversation_id;
    const n = u.counts[cid] || 0;
    if (n) return n;
    const seen = u.seen[cid];
    return conv.last_inbound_at && (!seen || conv.last_inbound_at > seen) ? 1 : 0;
  },
  markRead(cid) {
    const u = loadUnread();
    u.seen[cid] = new Date().toISOString();
    delete u.counts[cid];
    saveUnread(u);
  },
  bump(cid) {
    const u = loadUnread();
    u.counts[cid] = (u.counts[cid] || 0) + 1;
    saveUnread(u);
  },
};

// ---- feed ----------------------------------------------------------------------------------------
function dispatch(event) {
  if (event.kind === "message.new" && event.conversation_id) {
    const open = state.current && state.current.prefix === "c" && state.current.params.id === event.conversation_id;
    if (!open || document.hidden) unread.bump(event.conversation_id);
  }
  for (const { kind, fn } of [...state.handlers]) {
    if (kind === event.kind || kind === "*") {
      try {
        fn(event);
      } catch (err) {
        console.error("feed handler failed", err);
      }
    }
  }
}

function setFeedOffline(offline) {
  if (offline === state.feedOffline) return;
  state.feedOffline = offline;
  const banner = document.getElementById("feed-status");
  if (banner) banner.hidden = !offline;
}

async function poll() {
  state.feedTimer = null;
  if (!state.me) return;
  let delay = document.hidden ? 10000 : 1000;
  try {
    const first = !state.feedCursor;
    const res = await api.get("/events", first ? {} : { cursor: state.feedCursor });
    if (!state.me) return;
    state.feedCursor = res.cursor;
    if (res.reset && !first) dispatch({ kind: "reset" });
    const events = res.events || [];
    for (const ev of events) dispatch(ev);
    if (events.length >= 200) delay = 0;
    setFeedOffline(false);
  } catch (err) {
    if (err.status === 401) return;
    if (err.status === 400) state.feedCursor = null;
    setFeedOffline(true);
    delay = 3000;
  }
  if (state.me && !state.feedTimer) state.feedTimer = setTimeout(poll, delay);
}

function startFeed() {
  stopFeed();
  state.feedCursor = null;
  poll();
}

function stopFeed() {
  if (state.feedTimer) clearTimeout(state.feedTimer);
  state.feedTimer = null;
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.me && state.feedTimer) {
    clearTimeout(state.feedTimer);
    state.feedTimer = null;
    poll();
  }
});

// ---- login ---------------------------------------------------------------------------------------
function renderLogin(message) {
  stopFeed();
  const root = document.getElementById("app");
  const error = h("p", { class: "login-error", "data-testid": "login-error", role: "alert", hidden: !message }, message || "");
  const username = h("input", {
    id: "login-username", name: "username", autocomplete: "username", required: true,
    "data-testid": "login-username", autofocus: true,
  });
  const password = h("input", {
    id: "login-password", name: "password", type: "password", autocomplete: "current-password",
    required: true, "data-testid": "login-password",
  });
  const submit = h("button", { type: "submit", class: "btn primary", "data-testid": "login-submit" }, t("login.submit"));
  const form = h(
    "form",
    {
      class: "login-card",
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        if (!username.value.trim() || !password.value) {
          fill(error, t("login.failed"));
          error.hidden = false;
          return;
        }
        submit.disabled = true;
        try {
          const res = await request("POST", "/auth/login", {
            body: { username: username.value.trim(), password: password.value },
            auth: false,
          });
          setToken(res.id_token);
          await start();
        } catch (err) {
          fill(error, err.status === 401 ? t("login.failed") : t("login.error", { message: err.message }));
          error.hidden = false;
          submit.disabled = false;
          password.select();
        }
      },
    },
    h("h1", {}, t("login.title")),
    h("label", { for: "login-username" }, t("login.username")),
    username,
    h("label", { for: "login-password" }, t("login.password")),
    password,
    error,
    submit,
    langSwitch(),
  );
  fill(root, h("main", { class: "login" }, form));
  username.focus();
}

// ---- shell ---------------------------------------------------------------------------------------
function langSwitch() {
  return h(
    "select",
    {
      class: "lang-switch", "data-testid": "lang-switch", "aria-label": t("lang.label"),
      onchange: (e) => setLang(e.target.value),
    },
    LANGS.map((l) => h("option", { value: l, selected: l === lang() }, l === "zh-CN" ? "中文" : "English")),
  );
}

function presenceSelect() {
  const sel = h(
    "select",
    {
      class: "presence-select", "data-testid": "presence-select", "aria-label": t("presence.label"),
      onchange: async (e) => {
        const value = e.target.value;
        try {
          const res = await api.put("/me/presence", { presence: value });
          state.me.presence = res.presence || value;
          sel.dataset.presence = state.me.presence;
          toast(t("presence.saved", { presence: t(`presence.${state.me.presence}`) }), "ok");
        } catch (err) {
          sel.value = state.me.presence || "offline";
          toast(t("error.generic", { message: err.message }), "error");
        }
      },
    },
    ["online", "away", "offline"].map((p) =>
      h("option", { value: p, selected: p === (state.me.presence || "offline") }, t(`presence.${p}`)),
    ),
  );
  sel.dataset.presence = state.me.presence || "offline";
  return sel;
}

function navLink(key, hash, testid) {
  return h("a", { href: hash, class: "nav-link", "data-testid": testid, "data-prefix": hash.slice(2) }, t(key));
}

function renderShell() {
  const me = state.me;
  const links = [navLink("nav.inbox", "#/inbox", "nav-inbox"), navLink("nav.tickets", "#/tickets", "nav-tickets")];
  if (allows(me, "supervisor")) links.push(navLink("nav.supervisor", "#/supervisor", "nav-supervisor"));
  if (allows(me, "admin")) links.push(navLink("nav.admin", "#/admin", "nav-admin"));
  const header = h(
    "header",
    { class: "topbar" },
    h("a", { class: "brand", href: "#/inbox" }, t("app.name")),
    h("nav", { class: "nav", "aria-label": t("nav.main") }, links),
    h("div", { class: "spacer" }),
    h("span", { class: "me", title: me.agent_id }, me.display_name || me.agent_id, h("small", {}, ` · ${me.role}`)),
    presenceSelect(),
    langSwitch(),
    h("button", { class: "btn ghost", "data-testid": "logout", onclick: logout }, t("nav.logout")),
  );
  const banner = h("div", { id: "feed-status", class: "feed-status", hidden: !state.feedOffline, role: "status" }, t("feed.offline"));
  const main = h("main", { id: "view", class: "view", tabindex: "-1" });
  fill(document.getElementById("app"), header, banner, main);
}

function markNav(prefix) {
  for (const a of document.querySelectorAll(".nav-link")) {
    const own = a.dataset.prefix;
    const active = own === prefix || (own === "inbox" && prefix === "c");
    a.classList.toggle("active", active);
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  const prefix = parts.shift() || "inbox";
  const query = Object.fromEntries(new URLSearchParams(qs || ""));
  return { prefix, params: { id: parts[0] || null, parts, query, hash: location.hash } };
}

function leaveView() {
  state.handlers = [];
  for (const fn of state.cleanups.splice(0)) {
    try { fn(); } catch (err) { console.error("cleanup failed", err); }
  }
}

async function route() {
  if (!state.me) return;
  const { prefix, params } = parseHash();
  if (prefix === "login") {
    location.hash = "#/inbox";
    return;
  }
  leaveView();
  const seq = ++state.renderSeq;
  state.current = { prefix, params };
  markNav(prefix);
  let view = document.getElementById("view");
  if (!view) {
    renderShell();
    view = document.getElementById("view");
  }
  const root = h("div", { class: `view-root view-${prefix}` });
  fill(view, root);
  const loader = routes.get(prefix);
  if (!loader) {
    fill(root, h("p", { class: "empty" }, t("view.notfound")));
    return;
  }
  const handlers = [];
  const cleanups = [];
  state.handlers = handlers;
  state.cleanups = cleanups;
  const ctx = {
    me: state.me,
    api,
    t,
    h,
    navigate,
    toast,
    unread,
    on(kind, fn) {
      if (seq === state.renderSeq) handlers.push({ kind, fn });
    },
    cleanup(fn) {
      if (seq === state.renderSeq) cleanups.push(fn);
      else fn();
    },
    get active() {
      return seq === state.renderSeq;
    },
  };
  let mod;
  fill(root, h("p", { class: "loading" }, t("loading")));
  try {
    mod = await loader();
  } catch (err) {
    console.error(err);
    if (seq === state.renderSeq) fill(root, h("p", { class: "empty" }, t("view.unavailable")));
    return;
  }
  if (seq !== state.renderSeq) return;
  clear(root);
  try {
    await mod.render(root, params, ctx);
  } catch (err) {
    console.error(err);
    if (seq === state.renderSeq) fill(root, h("p", { class: "error" }, t("view.failed", { message: err.message || String(err) })));
  }
}

// ---- session -------------------------------------------------------------------------------------
async function start() {
  if (!token()) {
    renderLogin();
    return;
  }
  try {
    const me = await api.get("/me");
    state.me = { ...me, presence: me.presence || "offline" };
  } catch (err) {
    setToken(null);
    renderLogin(err.status === 401 ? "" : t("login.error", { message: err.message }));
    return;
  }
  renderShell();
  startFeed();
  if (!location.hash || location.hash === "#/login" || location.hash === "#/") {
    history.replaceState(null, "", "#/inbox");
  }
  route();
}

function logout() {
  leaveView();
  stopFeed();
  state.me = null;
  state.current = null;
  setToken(null);
  history.replaceState(null, "", "#/login");
  renderLogin();
}

onUnauthorized(() => {
  if (!state.me) return;
  logout();
});

window.addEventListener("hashchange", route);
window.addEventListener("omniflow:lang", () => {
  if (state.me) {
    renderShell();
    route();
  } else {
    renderLogin();
  }
});

// Global shortcuts: "g i" inbox, "?" help; views add their own (ignored while typing).
let lastKey = "";
document.addEventListener("keydown", (e) => {
  if (!state.me || isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
  if (lastKey === "g" && e.key === "i") navigate("#/inbox");
  if (lastKey === "g" && e.key === "t") navigate("#/tickets");
  lastKey = e.key;
});

start();
