"""The console's languages page by page, and its one Markdown component against XSS payloads, in
Chromium against the local stack (no console error, CSP violation, failed request or dialog)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.console import service as console
from tests.browser.conftest import Watch, console_login, console_url
from tests.e2e.conftest import LocalStack

PAGES = (
    ("/inbox", "inbox-list"),
    ("/tickets", "tickets-list"),
    ("/supervisor", "supervisor-queues"),
    ("/admin", "admin-channels"),
    ("/integrations/webhooks", "integ-webhooks"),
    ("/integrations/clients", "integ-clients"),
    ("/kb", "kb-articles"),
    ("/kb/synonyms", "kb-synonyms"),
    ("/kb/unanswered", "kb-unanswered"),
)


def catalogue(lang: str) -> dict[str, str]:
    text = (console.STATIC / f"i18n-{lang}.js").read_text(encoding="utf-8")
    body = text[text.index("\nexport default ") + len("\nexport default ") :].strip()
    data: dict[str, str] = json.loads(body[:-1])
    return data


def phrases(lang: str) -> set[str]:
    """Whole catalogue strings (no placeholders) that can only be that language's."""
    mine, other = catalogue(lang), catalogue("zh-CN" if lang == "en" else "en")
    return {v.strip() for k, v in mine.items() if v != other.get(k) and "{" not in v and len(v.strip()) >= 2}


# Every text node and every placeholder / label attribute on the page, trimmed: the console's own
# strings are whole nodes, so customer data that merely contains a word does not count.
TEXTS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (el && el.closest("script, style, [hidden], .me")) continue;  // .me: the user's own name
    const text = walker.currentNode.textContent.trim();
    if (text) out.push(text);
  }
  for (const el of document.querySelectorAll("[placeholder], [aria-label], [title]")) {
    if (el.closest(".me")) continue;
    for (const name of ["placeholder", "aria-label", "title"]) {
      const value = (el.getAttribute(name) || "").trim();
      if (value) out.push(value);
    }
  }
  return out;
}"""


def shown(page: Any) -> set[str]:
    return set(page.evaluate(TEXTS))


@pytest.fixture
def zh_page(browser: Any, watch: Watch) -> Iterator[Any]:
    from tests.browser.conftest import CSP_LISTENER, DEFAULT_TIMEOUT_MS, DESKTOP

    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    ctx.add_init_script(CSP_LISTENER)
    try:
        yield watch.attach(ctx.new_page())
    finally:
        ctx.close()


def test_every_page_speaks_one_language_at_a_time(local_stack: LocalStack, zh_page: Any, watch: Watch):
    page = zh_page
    page.goto(console_url(local_stack))
    page.get_by_test_id("login-submit").wait_for()
    assert page.locator("html").get_attribute("lang") == "zh-CN"  # the browser's language first
    assert "登录" in page.get_by_test_id("login-submit").inner_text()
    console_login(page, local_stack, "admin")
    from infra.local.demo import USERS

    # people's names and ids are data, shown as they are ("Admin", the lead "supervisor")
    data = {u.display_name for u in USERS} | {u.username for u in USERS}
    english, chinese = phrases("en") - data, phrases("zh-CN") - data
    assert len(english) > 150 and len(chinese) > 150
    for lang, foreign in (("zh-CN", english), ("en", chinese)):
        page.get_by_test_id("lang-switch").select_option(lang)
        page.wait_for_function("(l) => document.documentElement.lang === l", arg=lang)
        for route, testid in PAGES:
            page.goto(console_url(local_stack, route))
            page.get_by_test_id(testid).first.wait_for()
            page.wait_for_load_state("networkidle")
            leaked = sorted(shown(page) & foreign)
            assert leaked == [], f"{route} in {lang} shows the other language: {leaked[:5]}"
    watch.assert_clean()


MARKDOWN = """# Returns

**Bold** and *italic*, `code`, a [help link](https://help.example.com/returns) and a list:

- one
- two

<img src=x onerror=alert(1)>
<script>alert(2)</script>
<svg onload=alert(3)><circle r="5"/></svg>
<iframe src="javascript:alert(4)"></iframe>
<a href="javascript:alert(5)">click me</a>
[also me](javascript:alert(6))
<div style="background:red" onclick="alert(7)">styled</div>
<form action="https://evil.example/"><input name="x"><button>go</button></form>
![tracker](https://evil.example/pixel.png)
"""

RENDER_SCRIPT = """
async (text) => {
  const md = await import("/api/console/static/markdown.js");
  const { html, render } = await import("/api/console/static/html.js");
  const host = document.createElement("div");
  host.id = "md-host";
  document.body.appendChild(host);
  render(html`<${md.Markdown} text=${text} />`, host);
  await new Promise((r) => setTimeout(r, 300));  // let any injected handler fire
  const root = host.querySelector('[data-testid="markdown"]');
  return {
    html: root.innerHTML,
    tags: [...root.querySelectorAll("*")].map((e) => e.tagName.toLowerCase()),
    handlers: [...root.querySelectorAll("*")]
      .flatMap((e) => [...e.attributes].map((a) => a.name))
      .filter((n) => n.startsWith("on")),
    hrefs: [...root.querySelectorAll("a")]
      .map((a) => [a.getAttribute("href"), a.getAttribute("rel"), a.getAttribute("target")]),
    styled: root.querySelectorAll("[style]").length,
    urls: [...root.querySelectorAll("*")]
      .flatMap((e) => ["href", "src", "action", "formaction"].map((n) => e.getAttribute(n)))
      .filter(Boolean),
    text: root.innerText,
  };
}
"""


def test_markdown_is_formatted_and_every_xss_payload_is_removed(
    local_stack: LocalStack, page: Any, watch: Watch
):
    page.goto(console_url(local_stack))
    page.get_by_test_id("login-submit").wait_for()
    out = page.evaluate(RENDER_SCRIPT, MARKDOWN)
    # formatted
    for tag in ("h1", "strong", "em", "code", "ul", "li", "a"):
        assert tag in out["tags"], tag
    assert "Bold" in out["text"] and "styled" in out["text"]
    # inert
    for tag in ("script", "svg", "iframe", "form", "input", "button", "img"):
        assert tag not in out["tags"], tag
    assert out["handlers"] == []
    assert out["styled"] == 0
    assert ["https://help.example.com/returns", "noopener noreferrer", "_blank"] in out["hrefs"]
    assert all(not (href or "").lower().startswith("javascript:") for href, _, _ in out["hrefs"])
    assert out["urls"] == [u for u in out["urls"] if u.startswith(("https:", "/"))]  # no javascript: anywhere
    watch.assert_clean()  # no alert dialog, no CSP violation (no inline style, no foreign image)
