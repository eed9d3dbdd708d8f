// dom.js — the console's only way to build DOM. Strings always become TEXT NODES: customer content
// can never be parsed as HTML (no innerHTML anywhere in the console).
//
//   h("button", {class: "btn primary", "data-testid": "reply-send", onclick: send}, t("send"))
//   attrs: class (string or array), on<event> (function → addEventListener), value/checked/selected/
//   disabled (set as properties), true → empty attribute, false/null/undefined → omitted,
//   everything else via setAttribute. Children: strings/numbers (text), Nodes, arrays, null/false (skipped).

const PROPS = new Set(["value", "checked", "selected", "disabled", "indeterminate"]);
const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      const cls = Array.isArray(value) ? value.filter(Boolean).join(" ") : String(value);
      if (cls) el.setAttribute("class", cls);
    } else if (PROPS.has(key) && !(el instanceof SVGElement)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false || child === true) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  return append(el, ...children);
}

// SVG elements (icons): svg("svg", {viewBox: "0 0 24 24"}, svg("path", {d: "…"})).
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  return append(el, ...children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Replace el's children.
export function fill(el, ...children) {
  return append(clear(el), ...children);
}

// True while the user types in a field (keyboard shortcuts must then stay quiet).
export function isTyping(event) {
  const t = event.target;
  if (!t || !(t instanceof Element)) return false;
  return t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName);
}

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
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
