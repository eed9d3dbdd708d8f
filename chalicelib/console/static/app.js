// app.js — the console: login, the shell (role-aware navigation, presence and language switchers,
// sign out), the hash router, the real-time feed, toasts and confirmation dialogs.
//
// Routes: "#/<prefix>/<id>?<query>" → ROUTES[prefix], a module loaded on first use whose default
// export is a component receiving {me, route, navigate}; route = {prefix, id, parts, query}.
//   "#/tickets/tkt_1?x=2" → {prefix: "tickets", id: "tkt_1", parts: ["tkt_1"], query: {x: "2"}}
// A page that needs a role says so in ROUTES (the link is hidden and the page refuses).
// (nav: the role that sees the link when the page itself is open to more, e.g. the KB agents may read.)

import { api, onUnauthorized, request, setToken, token } from "./api.js";
import { isTyping } from "./format.js";
import { setOpenConversation, startFeed, stopFeed, useFeedOffline } from "./feed.js";
import { Fragment, html, render, useEffect, useState } from "./html.js";
import { LANGS, label, lang, onLang, setLang, t } from "./i18n.js";
import { Dialogs, Empty, Loading, Toasts, toast } from "./ui.js";

export const ROUTES = {
  inbox: { load: () => import("./view-inbox.js") },
  c: { load: () => import("./view-conversation.js") },
  customers: { load: () => import("./view-customer.js") },
  tickets: { load: () => import("./view-tickets.js") },
  supervisor: { load: () => import("./view-supervisor.js"), role: "supervisor" },
  admin: { load: () => import("./view-admin.js"), role: "admin" },
  reports: { load: () => import("./view-reports.js"), role: "supervisor" },
  wallboard: { load: () => import("./view-wallboard.js"), role: "supervisor" },
  quality: { load: () => import("./view-quality.js") },
  proactive: { load: () => import("./view-proactive.js"), role: "supervisor" },
  integrations: { load: () => import("./view-integrations.js"), role: "admin" },
  kb: { load: () => import("./view-kb.js"), nav: "supervisor" },
};

const ROLE_RANK = { agent: 1, supervisor: 2, admin: 3 };
export function allows(me, role) {
  return !role || (ROLE_RANK[me && me.role] || 0) >= ROLE_RANK[role];
}

export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  const prefix = parts.shift() || "inbox";
  return { prefix, id: parts[0] || null, parts, query: Object.fromEntries(new URLSearchParams(qs || "")), hash };
}

export function navigate(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

function useHashRoute() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

// ---- pieces of the shell -----------------------------------------------------------------------------
function LangSwitch() {
  return html`<select class="lang-switch" data-testid="lang-switch" aria-label=${t("lang.label")}
      onChange=${(e) => setLang(e.target.value)}>
    ${LANGS.map((l) => html`<option value=${l} selected=${l === lang()}>${l === "zh-CN" ? "中文" : "English"}</option>`)}
  </select>`;
}

function PresenceSelect({ me, setMe }) {
  const presence = me.presence || "offline";
  const change = async (e) => {
    const value = e.target.value;
    try {
      const res = await api.put("/me/presence", { presence: value });
      const next = res.presence || value;
      setMe({ ...me, presence: next });
      toast(t("presence.saved", { presence: t(`presence.${next}`) }), "ok");
    } catch (err) {
      e.target.value = presence;
      toast(t("error.generic", { message: err.message }), "error");
    }
  };
  return html`<select class="presence-select" data-testid="presence-select" data-presence=${presence}
      aria-label=${t("presence.label")} onChange=${change}>
    ${["online", "away", "offline"].map((p) => html`<option value=${p} selected=${p === presence}>${t(`presence.${p}`)}</option>`)}
  </select>`;
}

function NavLink({ prefix, current, testid, text }) {
  const active = prefix === current || (prefix === "inbox" && current === "c");
  return html`<a href=${`#/${prefix}`} class=${active ? "nav-link active" : "nav-link"} data-testid=${testid}
    data-prefix=${prefix} aria-current=${active ? "page" : undefined}>${text}</a>`;
}

function Login({ onIn, message }) {
  const [error, setError] = useState(message || "");
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const username = form.username.value.trim();
    const password = form.password.value;
    if (!username || !password) {
      setError(t("login.failed"));
      return;
    }
    setBusy(true);
    try {
      const res = await request("POST", "/auth/login", { body: { username, password }, auth: false });
      setToken(res.id_token);
      await onIn();
    } catch (err) {
      setError(err.status === 401 ? t("login.failed") : t("login.error", { message: err.message }));
      setBusy(false);
      form.password.select();
    }
  };
  return html`<main class="login">
    <form class="login-card" novalidate onSubmit=${submit}>
      <h1>${t("login.title")}</h1>
      <label for="login-username">${t("login.username")}</label>
      <input id="login-username" name="username" autocomplete="username" required data-testid="login-username" autofocus />
      <label for="login-password">${t("login.password")}</label>
      <input id="login-password" name="password" type="password" autocomplete="current-password" required data-testid="login-password" />
      <p class="login-error" data-testid="login-error" role="alert" hidden=${!error}>${error}</p>
      <button type="submit" class="btn primary" data-testid="login-submit" disabled=${busy}>${t("login.submit")}</button>
      <${LangSwitch} />
    </form>
  </main>`;
}

// The page for the route: its module is imported on first use.
function Page({ me, route }) {
  const spec = ROUTES[route.prefix];
  const [mod, setMod] = useState(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    setMod(null);
    setFailed(false);
    if (spec && allows(me, spec.role)) {
      spec.load().then((m) => live && setMod(() => m.default), (err) => {
        console.error(err);
        if (live) setFailed(true);
      });
    }
    return () => { live = false; };
  }, [route.prefix]);
  if (!spec) return html`<${Empty}>${t("view.notfound")}<//>`;
  if (!allows(me, spec.role) || failed) return html`<${Empty}>${t("view.unavailable")}<//>`;
  if (!mod) return html`<${Loading} />`;
  const View = mod;
  return html`<${View} me=${me} route=${route} navigate=${navigate} />`;
}

function Shell({ me, setMe, logout }) {
  const route = useHashRoute();
  const offline = useFeedOffline();
  useEffect(() => {
    if (route.prefix === "login" || !location.hash || location.hash === "#/") history.replaceState(null, "", "#/inbox");
  }, [route.prefix]);
  useEffect(() => setOpenConversation(route.prefix === "c" ? route.id : null), [route.prefix, route.id]);
  // Global shortcuts: "g i" inbox, "g t" tickets (views add their own).
  useEffect(() => {
    let last = "";
    const onKey = (e) => {
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (last === "g" && e.key === "i") navigate("#/inbox");
      if (last === "g" && e.key === "t") navigate("#/tickets");
      last = e.key;
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  const links = [
    ["inbox", "nav-inbox", "nav.inbox"],
    ["tickets", "nav-tickets", "nav.tickets"],
    ["supervisor", "nav-supervisor", "nav.supervisor"],
    ["reports", "nav-reports", "rep.nav"],
    ["admin", "nav-admin", "nav.admin"],
    ["quality", "nav-quality", "nav.quality"],
    ["proactive", "nav-proactive", "pro.nav"],
    ["integrations", "nav-integrations", "integ.nav"],
    ["kb", "nav-kb", "nav.kb"],
  ].filter(([prefix]) => allows(me, ROUTES[prefix].nav || ROUTES[prefix].role));
  const prefix = route.prefix === "login" ? "inbox" : route.prefix;
  return html`
    <header class="topbar">
      <a class="brand" href="#/inbox">${t("app.name")}</a>
      <nav class="nav" aria-label=${t("nav.main")}>
        ${links.map(([p, testid, key]) => html`<${NavLink} key=${p} prefix=${p} current=${prefix} testid=${testid} text=${t(key)} />`)}
      </nav>
      <div class="spacer"></div>
      <span class="me" title=${me.agent_id}>${me.display_name || me.agent_id}<small> · ${label("role", me.role)}</small></span>
      <${PresenceSelect} me=${me} setMe=${setMe} />
      <${LangSwitch} />
      <button class="btn ghost" data-testid="logout" onClick=${logout}>${t("nav.logout")}</button>
    </header>
    <div id="feed-status" class="feed-status" hidden=${!offline} role="status">${t("feed.offline")}</div>
    <main id="view" class="view" tabindex="-1">
      <div class=${`view-root view-${prefix}`}>
        <${Page} key=${`${prefix}/${route.id || ""}`} me=${me} route=${{ ...route, prefix }} />
      </div>
    </main>`;
}

function App() {
  const [me, setMe] = useState(null);
  const [checked, setChecked] = useState(false);
  const [loginMessage, setLoginMessage] = useState("");
  const [language, setLanguage] = useState(lang());
  useEffect(() => onLang(setLanguage), []);

  const start = async () => {
    if (!token()) {
      setChecked(true);
      return;
    }
    try {
      const who = await api.get("/me");
      const next = { ...who, presence: who.presence || "offline" };
      startFeed(next.agent_id);
      if (!location.hash || location.hash === "#/login" || location.hash === "#/") history.replaceState(null, "", "#/inbox");
      setMe(next);
    } catch (err) {
      setToken(null);
      setLoginMessage(err.status === 401 ? "" : t("login.error", { message: err.message }));
    }
    setChecked(true);
  };

  const logout = () => {
    stopFeed();
    setToken(null);
    history.replaceState(null, "", "#/login");
    setMe(null);
  };

  useEffect(() => {
    onUnauthorized(() => logout());
    start();
  }, []);

  if (!checked) return null;
  // key=language: a language switch renders everything again in the new language.
  return html`<${Fragment} key=${language}>
    ${me ? html`<${Shell} me=${me} setMe=${setMe} logout=${logout} />` : html`<${Login} onIn=${start} message=${loginMessage} />`}
    <${Toasts} />
    <${Dialogs} />
  <//>`;
}

render(html`<${App} />`, document.getElementById("app"));
