// format.js — small pure helpers: durations, dates, "is the user typing" (shortcuts stay quiet then).

// "3m", "2h 5m", "1d 4h" from milliseconds (negative → "-3m").
export function duration(ms) {
  const sign = ms < 0 ? "-" : "";
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const m = Math.floor(s / 60);
  if (d) return `${sign}${d}d ${hh}h`;
  if (hh) return `${sign}${hh}h ${m}m`;
  if (m) return `${sign}${m}m`;
  return `${sign}${s}s`;
}

// A compact local date/time for an ISO-8601 UTC string.
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function isTyping(event) {
  const el = event.target;
  if (!el || !(el instanceof Element)) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

// "a, b，c\nd" → ["a", "b", "c", "d"]
export function list(text) {
  return String(text || "").split(/[,，\n]/).map((s) => s.trim()).filter(Boolean);
}
