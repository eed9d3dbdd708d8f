// i18n.js — the console's one i18n mechanism: two complete catalogues (i18n-en.js, i18n-zh-CN.js;
// a test checks they have the same keys and that every key a view uses is in them).
//   t("inbox.waiting", {time: "3m"})   "{time}" placeholders; a key missing in a catalogue falls
//                                       back to English, then to the key itself
//   label("tk.st", status)              t("tk.st.<status>"), or the raw value when there is no key
// The choice is kept in localStorage "omniflow.lang"; the default follows the browser. setLang
// tells every onLang listener (app.js re-renders the whole console in the new language).
import en from "./i18n-en.js";
import zhCN from "./i18n-zh-CN.js";

export const LANGS = ["en", "zh-CN"];
export const CATALOGUES = { en, "zh-CN": zhCN };
const KEY = "omniflow.lang";
const listeners = new Set();

function initial() {
  const saved = localStorage.getItem(KEY);
  if (LANGS.includes(saved)) return saved;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  return nav.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

let current = initial();
document.documentElement.lang = current;

export function lang() {
  return current;
}

export function setLang(value) {
  if (!LANGS.includes(value) || value === current) return;
  current = value;
  localStorage.setItem(KEY, value);
  document.documentElement.lang = value;
  for (const fn of [...listeners]) fn(value);
}

export function onLang(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function t(key, vars) {
  const raw = CATALOGUES[current][key] ?? CATALOGUES.en[key] ?? key;
  if (!vars) return raw;
  return raw.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

// A value's label from the catalogue ("tk.st" + "on_hold" → "On hold"), the value itself if unknown.
export function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return key in CATALOGUES.en ? t(key) : String(value ?? "");
}
