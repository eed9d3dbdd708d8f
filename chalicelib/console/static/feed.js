// feed.js — real-time events: GET /api/events?cursor= every 1 s while logged in (10 s when the tab
// is hidden, 3 s after an error), see docs/realtime.md. Components listen with
//   useFeed(["message.new", "conversation.closed"], (event) => …)
// ("*" = every event; "reset" = the feed was away too long: reload what you show). Also the unread
// counts: conversations with inbound messages since this agent last opened them (localStorage).
import { api } from "./api.js";
import { useEffect, useRef, useState } from "./html.js";

const handlers = new Set();
const offlineListeners = new Set();
const state = { agentId: null, cursor: null, timer: null, offline: false, running: false, openConversation: null };

export function subscribe(kind, fn) {
  const entry = { kind, fn };
  handlers.add(entry);
  return () => handlers.delete(entry);
}

// Subscribe for the component's lifetime; the latest fn is called (no stale closures).
export function useFeed(kinds, fn) {
  const ref = useRef(fn);
  ref.current = fn;
  const key = [].concat(kinds).join(",");
  useEffect(() => {
    const offs = key.split(",").map((k) => subscribe(k, (ev) => ref.current(ev)));
    return () => offs.forEach((off) => off());
  }, [key]);
}

// True while the feed cannot be reached (the shell shows a banner).
export function useFeedOffline() {
  const [offline, setOffline] = useState(state.offline);
  useEffect(() => {
    offlineListeners.add(setOffline);
    return () => offlineListeners.delete(setOffline);
  }, []);
  return offline;
}

// The conversation on screen (its new messages are not unread).
export function setOpenConversation(id) {
  state.openConversation = id;
}

function setOffline(offline) {
  if (offline === state.offline) return;
  state.offline = offline;
  for (const fn of [...offlineListeners]) fn(offline);
}

export function dispatch(event) {
  if (event.kind === "message.new" && event.conversation_id) {
    if (state.openConversation !== event.conversation_id || document.hidden) unread.bump(event.conversation_id);
  }
  for (const { kind, fn } of [...handlers]) {
    if (kind === event.kind || kind === "*") {
      try {
        fn(event);
      } catch (err) {
        console.error("feed handler failed", err);
      }
    }
  }
}

async function poll() {
  state.timer = null;
  if (!state.running) return;
  let delay = document.hidden ? 10000 : 1000;
  try {
    const first = !state.cursor;
    const res = await api.get("/events", first ? {} : { cursor: state.cursor });
    if (!state.running) return;
    state.cursor = res.cursor;
    if (res.reset && !first) dispatch({ kind: "reset" });
    const events = res.events || [];
    for (const ev of events) dispatch(ev);
    if (events.length >= 200) delay = 0;
    setOffline(false);
  } catch (err) {
    if (err.status === 401) return;
    if (err.status === 400) state.cursor = null;
    setOffline(true);
    delay = 3000;
  }
  if (state.running && !state.timer) state.timer = setTimeout(poll, delay);
}

export function startFeed(agentId) {
  stopFeed();
  state.agentId = agentId;
  state.running = true;
  state.cursor = null;
  poll();
}

export function stopFeed() {
  state.running = false;
  if (state.timer) clearTimeout(state.timer);
  state.timer = null;
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.running && state.timer) {
    clearTimeout(state.timer);
    state.timer = null;
    poll();
  }
});

// ---- unread: seen[cid] = when I last opened it; counts[cid] = message.new events since then ------
function unreadKey() {
  return `omniflow.unread.${state.agentId || "-"}`;
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
  // (conversation summary) → how many unread inbound messages (0 if none); one read of the store.
  counter() {
    const u = loadUnread();
    return (conv) => {
      const cid = conv.conversation_id;
      const n = u.counts[cid] || 0;
      if (n) return n;
      const seen = u.seen[cid];
      return conv.last_inbound_at && (!seen || conv.last_inbound_at > seen) ? 1 : 0;
    };
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
