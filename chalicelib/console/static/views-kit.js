// views-kit.js — small helpers shared by the customer, tickets, supervisor and admin views:
// their stylesheet, labelled form fields, sections, error text, confirmation.
import { h } from "./dom.js";
import { addStrings, t } from "./i18n.js";

addStrings({
  en: { "kit.conflict": "Someone changed this meanwhile — reloaded; please check and retry. ({message})", "kit.forbidden": "You are not allowed to do this." },
  "zh-CN": { "kit.conflict": "此内容已被他人修改，已重新加载，请检查后重试。（{message}）", "kit.forbidden": "你没有权限执行此操作。" },
});

// The views' own stylesheet, linked once (CSP style-src 'self': a same-origin <link> is allowed).
export function ensureCss() {
  if (document.getElementById("views-css")) return;
  const href = new URL("./views.css", import.meta.url).pathname;
  document.head.appendChild(h("link", { id: "views-css", rel: "stylesheet", href }));
}

let uid = 0;
// A label + control pair; the control gets an id so the label is tied to it.
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++uid}`;
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control,
    hint ? h("small", { class: "muted" }, hint) : null);
}

export function section(title, attrs = {}, ...children) {
  return h("section", { class: "card", ...attrs }, h("h2", {}, title), ...children);
}

export function select(options, value, attrs = {}) {
  return h("select", attrs, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

// What to tell the user about a failed call (the API's message is plain text).
export function errorText(err) {
  if (err && err.status === 409) return t("kit.conflict", { message: err.message || "" });
  if (err && err.status === 403) return t("kit.forbidden");
  return t("error.generic", { message: (err && err.message) || String(err) });
}

export function confirmAction(text) {
  return window.confirm(text);
}

export function busy(button, promise) {
  button.disabled = true;
  return Promise.resolve(promise).finally(() => { button.disabled = false; });
}
