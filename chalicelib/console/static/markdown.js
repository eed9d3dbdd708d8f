// markdown.js — <${Markdown} text=${article.body} />: Markdown shown as formatted text (the KB
// editor's preview, articles, suggested answers).
//
// THE ONLY PLACE IN THE CONSOLE WHERE TEXT BECOMES HTML. marked turns Markdown into HTML, then
// DOMPurify removes everything that could run or reach out: scripts, event handlers, javascript:
// URLs, iframes, forms, inline styles (the CSP forbids them) and images from other origins (the CSP
// would block them). Links open in a new tab without a referrer. A test (tests/browser/test_i18n_and_markdown.py)
// renders XSS payloads through it; another (tests/integration/test_console_static.py) checks that no
// other module sets HTML.
import { html, useMemo } from "./html.js";
import { marked } from "./vendor/marked.mjs";
import DOMPurify from "./vendor/purify.mjs";

const ALLOWED_URL = /^(?:https?:|mailto:|#|\/(?!\/))/i;

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    const href = node.getAttribute("href") || "";
    if (!ALLOWED_URL.test(href)) node.removeAttribute("href");
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
  if (node.tagName === "IMG") {
    let sameOrigin = false;
    try {
      sameOrigin = new URL(node.getAttribute("src") || "", location.href).origin === location.origin;
    } catch {
      sameOrigin = false;
    }
    if (!sameOrigin) node.remove();
  }
});

const CONFIG = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed", "svg", "math"],
  FORBID_ATTR: ["style", "srcset", "formaction"],
  ALLOW_DATA_ATTR: false,
};

// Markdown → sanitized HTML string (exported for the tests and for previews that need the string).
export function toSafeHtml(text) {
  const raw = marked.parse(String(text ?? ""), { async: false, gfm: true, breaks: true });
  return DOMPurify.sanitize(raw, CONFIG);
}

export function Markdown({ text, testid = "markdown" }) {
  const safe = useMemo(() => toSafeHtml(text), [text]);
  return html`<div class="markdown" data-testid=${testid} dangerouslySetInnerHTML=${{ __html: safe }}></div>`;
}
