// ui.js — the shared components every page builds on:
//   toast(text, kind) + <Toasts/>           short notices ("ok" | "info" | "error")
//   confirmDialog(text, opts) + <Dialogs/>  an in-page confirmation (never window.confirm): Promise<bool>
//   <Empty>…</Empty>, <Loading/>, <ErrorText err=${e}/>
//   <Field label error hint>control</Field>  a labelled control with the API's error for that field
//   useForm(submit)                          busy state + field errors from a 400 answer's "fields"
//   usePaged(fetchPage, deps)                a list on the API's cursors: items, more, loadMore, reload
//   <LoadMore paged testid/>                 the "load more" button of a usePaged list
//   <Select options value onChange/>, <ChannelIcon channel/>, channelName(channel)
//   useInterval(fn, ms), useShortcuts({key: fn}), useAlive()
import { html, useCallback, useEffect, useRef, useState } from "./html.js";
import { isTyping } from "./format.js";
import { label, t } from "./i18n.js";

// ---- toasts -------------------------------------------------------------------------------------
let toasts = [];
let toastSeq = 0;
const toastListeners = new Set();
const emitToasts = () => toastListeners.forEach((fn) => fn(toasts));

export function toast(text, kind = "info") {
  const id = ++toastSeq;
  toasts = [...toasts, { id, text, kind }];
  emitToasts();
  setTimeout(() => {
    toasts = toasts.filter((x) => x.id !== id);
    emitToasts();
  }, kind === "error" ? 8000 : 4000);
}

export function Toasts() {
  const [items, setItems] = useState(toasts);
  useEffect(() => {
    toastListeners.add(setItems);
    return () => toastListeners.delete(setItems);
  }, []);
  return html`<div id="toasts" class="toasts" role="status" aria-live="polite">
    ${items.map((x) => html`<div key=${x.id} class=${`toast toast-${x.kind}`} data-testid="toast">${x.text}</div>`)}
  </div>`;
}

// ---- confirmation dialogs -------------------------------------------------------------------------
let dialog = null;
const dialogListeners = new Set();
const emitDialog = () => dialogListeners.forEach((fn) => fn(dialog));

export function confirmDialog(text, { ok = t("ui.confirm"), danger = false } = {}) {
  return new Promise((resolve) => {
    if (dialog) dialog.resolve(false);
    dialog = { text, ok, danger, resolve: (v) => { dialog = null; emitDialog(); resolve(v); } };
    emitDialog();
  });
}

export function Dialogs() {
  const [current, setCurrent] = useState(dialog);
  const okRef = useRef(null);
  useEffect(() => {
    dialogListeners.add(setCurrent);
    return () => dialogListeners.delete(setCurrent);
  }, []);
  useEffect(() => { if (current && okRef.current) okRef.current.focus(); }, [current]);
  if (!current) return null;
  const onKey = (e) => { if (e.key === "Escape") { e.preventDefault(); current.resolve(false); } };
  return html`<div class="modal-backdrop" onKeyDown=${onKey}>
    <div class="modal card" role="alertdialog" aria-modal="true" aria-labelledby="confirm-text" data-testid="confirm-dialog">
      <p id="confirm-text">${current.text}</p>
      <div class="row">
        <span class="spacer"></span>
        <button type="button" class="btn" data-testid="confirm-cancel" onClick=${() => current.resolve(false)}>${t("ui.cancel")}</button>
        <button type="button" ref=${okRef} class=${current.danger ? "btn danger" : "btn primary"} data-testid="confirm-ok"
          onClick=${() => current.resolve(true)}>${current.ok}</button>
      </div>
    </div>
  </div>`;
}

// ---- small pieces ---------------------------------------------------------------------------------
export function Empty({ children, testid }) {
  return html`<p class="empty" data-testid=${testid}>${children || t("view.notfound")}</p>`;
}

export function Loading() {
  return html`<p class="loading">${t("loading")}</p>`;
}

// What to tell the user about a failed call (the API's message is plain text).
export function errorText(err) {
  if (err && err.status === 409) return t("kit.conflict", { message: err.message || "" });
  if (err && err.status === 403) return t("kit.forbidden");
  return t("error.generic", { message: (err && err.message) || String(err) });
}

export function ErrorText({ err }) {
  return err ? html`<p class="error" role="alert">${errorText(err)}</p>` : null;
}

let uid = 0;
export function useId(prefix = "f") {
  const ref = useRef(null);
  if (ref.current === null) ref.current = `${prefix}${++uid}`;
  return ref.current;
}

// <Field label=… error=… hint=… id=…><input id=…/></Field>: pass the same id to the control.
export function Field({ label: text, id, error, hint, children }) {
  return html`<div class=${error ? "field has-error" : "field"}>
    <label for=${id}>${text}</label>
    ${children}
    ${error ? html`<small class="field-error" role="alert" data-testid="field-error">${error}</small>` : null}
    ${hint ? html`<small class="muted">${hint}</small>` : null}
  </div>`;
}

// A form's busy flag and the API's field errors: submit(values) runs fn(values); a 400 answer with
// "fields" ({"title": "String should have at least 1 character"}) fills errors[field]; other
// failures become a toast. Returns true when fn succeeded.
export function useForm(fn) {
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState({});
  const submit = async (...args) => {
    setBusy(true);
    setErrors({});
    try {
      await fn(...args);
      return true;
    } catch (err) {
      const fields = err && err.status === 400 && err.body && err.body.fields;
      if (fields && Object.keys(fields).length) {
        setErrors(fields);
        toast(t("form.fix"), "error");
      } else {
        toast(errorText(err), "error");
      }
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, errors, setErrors, submit };
}

// A list read page by page on the API's cursors. fetchPage(cursor, limit) → {items, next_cursor}.
// reload() reads again as many items as are shown (a live update must not shorten the list).
export function usePaged(fetchPage, deps, { pageSize = 50 } = {}) {
  const [state, setState] = useState({ items: [], cursor: null, loading: true, error: null, loaded: false });
  const gen = useRef(0);
  const shown = useRef(0);
  shown.current = state.items.length;
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;

  const reload = useCallback(async () => {
    const mine = ++gen.current;
    const want = Math.max(pageSize, shown.current);
    let got = [];
    let cursor = null;
    try {
      do {
        const res = await fetchRef.current(cursor, Math.min(100, Math.max(pageSize, want - got.length)));
        if (mine !== gen.current) return;
        got = got.concat(res.items || []);
        cursor = res.next_cursor || null;
      } while (cursor && got.length < want);
      setState({ items: got, cursor, loading: false, error: null, loaded: true });
    } catch (err) {
      if (mine === gen.current) setState((s) => ({ ...s, loading: false, error: err, loaded: true }));
    }
  }, [pageSize]);

  const loadMore = useCallback(async () => {
    const mine = ++gen.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const res = await fetchRef.current(stateRef.current.cursor, pageSize);
      if (mine !== gen.current) return;
      setState((s) => ({ items: s.items.concat(res.items || []), cursor: res.next_cursor || null, loading: false, error: null, loaded: true }));
    } catch (err) {
      if (mine === gen.current) setState((s) => ({ ...s, loading: false, error: err }));
    }
  }, [pageSize]);
  const stateRef = useRef(state);
  stateRef.current = state;

  useEffect(() => {
    shown.current = 0;
    setState({ items: [], cursor: null, loading: true, error: null, loaded: false });
    reload();
    return () => { gen.current++; };
  }, deps); // eslint-disable-line react-hooks/exhaustive-deps

  return { ...state, more: !!state.cursor, reload, loadMore };
}

export function LoadMore({ paged, testid }) {
  if (!paged.more) return null;
  return html`<button type="button" class="btn load-more" data-testid=${testid} disabled=${paged.loading}
    onClick=${() => paged.loadMore()}>${t("ui.loadMore")}</button>`;
}

export function Select({ options, value, onChange, ...rest }) {
  return html`<select value=${value} onChange=${(e) => onChange && onChange(e.target.value, e)} ...${rest}>
    ${options.map(([v, text]) => html`<option key=${v} value=${v} selected=${v === value}>${text}</option>`)}
  </select>`;
}

// ---- channels -------------------------------------------------------------------------------------
const GLYPHS = {
  web: "W", wechat: "WX", wecom: "WC", douyin: "DY", weibo: "WB", app: "AP", sms: "SM",
  email: "@", whatsapp: "WA", messenger: "M", instagram: "IG", telegram: "TG", line: "LN", voice: "☎",
};
export const CHANNELS = Object.keys(GLYPHS);

export function channelName(channel) {
  return label("channel", channel || "?");
}

export function ChannelIcon({ channel, ...rest }) {
  const name = channelName(channel);
  const safe = /^[a-z]+$/.test(channel || "") ? channel : "other";
  return html`<span class=${`ch ch-${safe}`} title=${name} aria-label=${name} role="img" ...${rest}>
    ${GLYPHS[channel] || String(channel || "?").slice(0, 2).toUpperCase()}</span>`;
}

// ---- hooks ----------------------------------------------------------------------------------------
export function useInterval(fn, ms) {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (!ms) return undefined;
    const id = setInterval(() => ref.current(), ms);
    return () => clearInterval(id);
  }, [ms]);
}

// Single-key shortcuts on the document (quiet while typing or with a modifier): {j: fn, k: fn}.
export function useShortcuts(map) {
  const ref = useRef(map);
  ref.current = map;
  useEffect(() => {
    const onKey = (e) => {
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey || document.querySelector(".modal-backdrop")) return;
      const fn = ref.current[e.key];
      if (fn) fn(e);
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
}

// A ref that is false once the component is gone (late answers are then ignored).
export function useAlive() {
  const alive = useRef(true);
  useEffect(() => () => { alive.current = false; }, []);
  return alive;
}
