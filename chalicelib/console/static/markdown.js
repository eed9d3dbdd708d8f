// markdown.js — <${Markdown} text=${article.body} />: Markdown shown as formatted text (the KB
// editor's preview, articles, suggested answers).
//
// THE ONLY PLACE IN THE CONSOLE WHERE TEXT BECOMES HTML. marked turns Markdown into HTML (raw HTML
// in the text stays text), then DOMPurify removes everything that could run or reach out: scripts, event handlers, javascript:
// URLs, iframes, forms, inline styles (the CSP forbids them) and images not on this origin's
// absolute paths (the CSP would block them). Links open in a new tab without a referrer.
// tests/browser/test_console_i18n_markdown.py renders XSS payloads through it;
// tests/integration/test_console_static.py checks that no other module sets HTML.
import { html, useMemo } from "./html.js";
import { Marked } from "./vendor/marked.mjs";
import DOMPurify from "./vendor/purify.mjs";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);

// Raw HTML inside the Markdown is shown as the text it is: articles are Markdown, and HTML that
// never reaches the parser cannot set off the CSP either (Chromium reports inline handlers and
// styles even in the inert document DOMPurify parses). DOMPurify still checks what marked made.
const md = new Marked({ gfm: true, breaks: true, async: false, renderer: { html: ({ text }) => escape(text) } });

const ALLOWED_URL = /^(?:https?:|mailto:|#|\/(?!\/))/i;

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    const href = node.getAttribute("href") || "";
    if (!ALLOWED_URL.test(href)) node.removeAttribute("href");
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
  // Images only from an absolute path on this origin ("/api/…"): another origin would break the
  // CSP (and track the reader), a relative name ("x") is no picture anyone meant.
  if (node.tagName === "IMG" && !/^\/(?!\/)/.test(node.getAttribute("src") || "")) node.remove();
});

const CONFIG = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed", "svg", "math"],
  FORBID_ATTR: ["style", "srcset", "formaction"],
  ALLOW_DATA_ATTR: false,
};

// Markdown → sanitized HTML string (exported for the tests and for previews that need the string).
export function toSafeHtml(text) {
  const raw = md.parse(String(text ?? ""));
  return DOMPurify.sanitize(raw, CONFIG);
}

export function Markdown({ text, testid = "markdown" }) {
  const safe = useMemo(() => toSafeHtml(text), [text]);
  return html`<div class="markdown" data-testid=${testid} dangerouslySetInnerHTML=${{ __html: safe }}></div>`;
}
