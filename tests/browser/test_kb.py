"""The console's knowledge-base pages (view-kb.js) in Chromium against the local stack, in English
and in Chinese: a supervisor writes an article with a live Markdown preview, saves new versions,
compares two of them, rolls back, publishes and sees its figures; an agent may read but not edit;
an admin's synonym save that lost a race says so and reloads; the "no answer" list drafts an article
from a cluster's questions. Each test fails on a console error, CSP violation, failed request or
dialog (tests/browser/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.conftest import CSP_LISTENER, DEFAULT_TIMEOUT_MS, DESKTOP, Watch, console_login
from tests.e2e.conftest import Api, LocalStack, login
from tests.e2e.test_local_stack import poll


@pytest.fixture
def new_page(browser: Any, watch: Watch) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(lang: str = "en") -> Any:
        ctx = browser.new_context(
            viewport=DESKTOP, locale="zh-CN" if lang == "zh-CN" else "en-US", timezone_id="Asia/Shanghai"
        )
        contexts.append(ctx)
        ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
        ctx.add_init_script(CSP_LISTENER)
        ctx.add_init_script(f"localStorage.setItem('omniflow.lang', '{lang}')")
        return watch.attach(ctx.new_page())

    yield make
    for ctx in contexts:
        ctx.close()


def test_a_supervisor_writes_versions_compares_rolls_back_and_publishes_an_article(
    local_stack: LocalStack, supervisor: Api, new_page: Callable[..., Any], watch: Watch
) -> None:
    run = uuid.uuid4().hex[:8]
    page = new_page("en")
    console_login(page, local_stack, "supervisor")
    page.get_by_test_id("nav-kb").click()
    page.get_by_test_id("kb-articles").wait_for()
    page.get_by_test_id("kb-new").click()

    # a new article: the preview renders the Markdown as it is typed
    editor = page.get_by_test_id("kb-editor")
    editor.get_by_test_id("kb-title").fill(f"Change the invoice title {run}")
    editor.get_by_test_id("kb-body").fill("Open **My orders**, then:\n\n- pick the order\n- choose *Invoice*")
    preview = editor.get_by_test_id("kb-preview")
    preview.locator("strong", has_text="My orders").wait_for()
    assert preview.locator("li").count() == 2 and preview.locator("em").inner_text() == "Invoice"
    editor.get_by_test_id("kb-language").select_option("en")
    editor.get_by_test_id("kb-questions").fill(f"how do I fix my invoice header {run}\ninvoice name wrong")
    editor.get_by_test_id("kb-tags").fill("invoice, billing")
    editor.get_by_test_id("kb-channels").fill("web, sms")
    editor.get_by_test_id("kb-save").click()
    article = page.get_by_test_id("kb-article")
    article.wait_for()
    article_id = article.get_attribute("data-id")
    assert article_id and article_id.startswith("kb_")
    assert article.get_by_test_id("kb-status").get_attribute("data-status") == "draft"
    stored = supervisor.get(f"/kb/articles/{article_id}").json()
    assert stored["questions"] == [f"how do I fix my invoice header {run}", "invoice name wrong"]
    assert stored["tags"] == ["invoice", "billing"] and stored["channels"] == ["web", "sms"]
    assert stored["language"] == "en" and stored["version"] == 1

    # save = a new version; the versions list shows both and the diff shows what changed
    page.get_by_test_id("kb-body").fill("Open **My account**, then:\n\n- pick the order\n- choose *Invoice*")
    page.get_by_test_id("kb-save").click()
    page.locator('[data-testid="kb-article"][data-version="2"]').wait_for()
    versions = page.get_by_test_id("kb-version")
    versions.nth(1).wait_for()
    assert versions.count() == 2
    page.get_by_test_id("kb-diff-from").select_option("1")
    page.get_by_test_id("kb-diff-to").select_option("2")
    page.get_by_test_id("kb-diff-show").click()
    diff = page.get_by_test_id("kb-diff")
    diff.locator(".kb-del", has_text="**My orders**").wait_for()
    assert "**My account**" in diff.locator(".kb-add").all_inner_texts()[-1]
    assert diff.locator('[data-field="title"]').count() == 0  # only the body changed

    # roll back to v1 (with the in-page confirmation): a third version with v1's content
    page.locator('[data-testid="kb-version"][data-version="1"]').get_by_test_id("kb-rollback").click()
    page.get_by_test_id("confirm-ok").click()
    page.locator('[data-testid="kb-article"][data-version="3"]').wait_for()
    assert "My orders" in page.get_by_test_id("kb-body").input_value()
    assert supervisor.get(f"/kb/articles/{article_id}").json()["body"].startswith("Open **My orders**")

    # publish: live and searchable; then the article's figures
    page.get_by_test_id("kb-publish").click()
    page.locator('[data-testid="kb-status"][data-status="published"]').wait_for()
    found = poll(
        "the published article in search",
        lambda: any(
            r["article_id"] == article_id
            for r in supervisor.get("/kb/search", params={"q": f"invoice header {run}"}).json()["results"]
        ),
    )
    assert found
    assert supervisor.post(f"/kb/articles/{article_id}/feedback", {"helpful": True}).status_code == 200
    page.reload()
    stats = page.get_by_test_id("kb-stats")
    stats.get_by_test_id("kb-fig-helpful").filter(has_text="1").wait_for()
    assert int(stats.get_by_test_id("kb-fig-views").inner_text()) >= 1

    # the list filters by status, language and text
    page.get_by_test_id("kb-tab-articles").click()
    page.get_by_test_id("kb-filter-status").select_option("published")
    page.get_by_test_id("kb-filter-text").fill(run)
    row = page.locator(f'[data-testid="kb-row"][data-id="{article_id}"]')
    row.wait_for()
    assert page.get_by_test_id("kb-row").count() == 1
    page.get_by_test_id("kb-filter-language").select_option("zh-CN")
    page.get_by_test_id("kb-empty").wait_for()
    page.get_by_test_id("kb-filter-language").select_option("en")
    row.wait_for()
    page.get_by_test_id("kb-filter-status").select_option("draft")
    page.get_by_test_id("kb-empty").wait_for()

    # an agent reads it (no link in the navigation, no edit controls)
    agent = new_page("en")
    console_login(agent, local_stack, "agent1")
    assert agent.get_by_test_id("nav-kb").count() == 0
    agent.goto(f"{local_stack.url}/api/console#/kb/{article_id}")
    agent.get_by_test_id("kb-article").wait_for()
    agent.get_by_test_id("kb-versions").get_by_test_id("kb-version").first.wait_for()
    assert agent.get_by_test_id("kb-title").get_attribute("readonly") is not None
    for testid in ("kb-save", "kb-publish", "kb-archive", "kb-rollback", "kb-stats"):
        assert agent.get_by_test_id(testid).count() == 0, testid
    agent.goto(f"{local_stack.url}/api/console#/kb")
    agent.get_by_test_id("kb-articles").wait_for()
    assert agent.get_by_test_id("kb-new").count() == 0

    # archive (in-page confirmation): out of search
    page.goto(f"{local_stack.url}/api/console#/kb/{article_id}")
    page.get_by_test_id("kb-archive").click()
    page.get_by_test_id("confirm-ok").click()
    page.locator('[data-testid="kb-status"][data-status="archived"]').wait_for()
    watch.assert_clean()


def test_in_chinese_a_stale_synonym_save_says_reload_and_a_no_answer_cluster_drafts_an_article(
    local_stack: LocalStack, new_page: Callable[..., Any], watch: Watch
) -> None:
    run = uuid.uuid4().hex[:6]
    admin = login(local_stack, "admin")
    page = new_page("zh-CN")
    console_login(page, local_stack, "admin")
    assert page.get_by_test_id("nav-kb").inner_text() == "知识库"
    page.get_by_test_id("nav-kb").click()
    page.get_by_test_id("kb-tab-synonyms").click()
    form = page.get_by_test_id("kb-synonyms")
    form.wait_for()
    version = int(form.get_attribute("data-version") or 0)
    before = admin.get("/kb/synonyms").json()
    assert before["version"] == version

    # someone else saves meanwhile: this page's save is refused and says so
    theirs = [*before["groups"], [f"退钱{run}", f"退款{run}"]]
    moved = admin.session.put(
        f"{admin.base}/api/kb/synonyms", json={"version": version, "groups": theirs}, timeout=30
    )
    assert moved.status_code == 200, moved.text
    text = page.get_by_test_id("kb-synonyms-text")
    text.fill(text.input_value() + f"\n快递{run} = 物流{run} = 包裹{run}")
    page.get_by_test_id("kb-synonyms-save").click()
    stale = page.get_by_test_id("kb-synonyms-stale")
    stale.wait_for()
    assert "其他人" in stale.inner_text()
    assert admin.get("/kb/synonyms").json()["groups"] == theirs  # nothing of ours was written

    # reload: their groups show; ours saved on top of them
    page.get_by_test_id("kb-synonyms-reload").click()
    page.locator(f'[data-testid="kb-synonyms"][data-version="{version + 1}"]').wait_for()
    text = page.get_by_test_id("kb-synonyms-text")
    assert f"退钱{run} = 退款{run}" in text.input_value()
    text.fill(text.input_value() + f"\n快递{run} = 物流{run} = 包裹{run}")
    page.get_by_test_id("kb-synonyms-save").click()
    page.locator(f'[data-testid="kb-synonyms"][data-version="{version + 2}"]').wait_for()
    saved = admin.get("/kb/synonyms").json()["groups"]
    assert [f"快递{run}", f"物流{run}", f"包裹{run}"] in saved and [f"退钱{run}", f"退款{run}"] in saved
    # put the synonyms back as they were (the stack is shared with other tests)
    restored = admin.session.put(
        f"{admin.base}/api/kb/synonyms", json={"version": version + 2, "groups": before["groups"]}, timeout=30
    )
    assert restored.status_code == 200, restored.text

    # a question nobody answered (asked through search) → the "no answer" list → a prefilled draft
    question = f"店里可以带猫咪进去吗 {run}"
    res = admin.get("/kb/search", params={"q": question}).json()
    assert res["answer"] is None
    page.get_by_test_id("kb-tab-unanswered").click()
    cluster = page.get_by_test_id("kb-cluster").filter(has_text=question)
    cluster.wait_for()
    assert "次" in cluster.locator("h2").inner_text()
    cluster.get_by_test_id("kb-cluster-draft").click()
    editor = page.get_by_test_id("kb-editor")
    editor.wait_for()
    assert question in editor.get_by_test_id("kb-questions").input_value().split("\n")
    assert editor.get_by_test_id("kb-title").input_value() != ""
    assert "创建文章" in editor.get_by_test_id("kb-save").inner_text()
    watch.assert_clean(allow_console=("409 PUT",))  # the refused save above, and only it


def widget(page: Any) -> Any:
    return page.locator("#omniflow-widget")


def open_chat(page: Any, url: str) -> None:
    """The shop page with its desk open (the widget's status call answered here), chat started."""
    page.route(
        "**/webhooks/web/**status",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body='{"open": true, "next_open": null}'
        ),
    )
    page.goto(url)
    page.get_by_test_id("widget-bubble").click()
    page.get_by_test_id("widget-prechat-start").click()
    page.get_by_test_id("widget-input").wait_for()


def publish(supervisor: Api, **article: Any) -> str:
    created = supervisor.post("/kb/articles", {"language": "en", "status": "published", **article})
    assert created.status_code == 201, created.text
    article_id: str = created.json()["article_id"]
    return article_id


def test_a_visitor_typing_sees_a_published_article_opens_it_and_a_429_stays_quiet(
    local_stack: LocalStack, supervisor: Api, page: Any, watch: Watch
) -> None:
    run = uuid.uuid4().hex[:8]
    title = f"Gift wrapping for orders {run}"
    article_id = publish(
        supervisor,
        title=title,
        body=f"Tick **Gift wrap** at checkout: we wrap it in recycled paper ({run}).",
        questions=[f"can you gift wrap my order {run}"],
    )
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/api/bot/suggest" in r.url else None)
    open_chat(page, f"{local_stack.url}/demo/shop?lang=en")
    box = page.get_by_test_id("widget-input")
    box.press_sequentially(f"gift wrap {run}", delay=40)
    suggestion = widget(page).locator(f'[data-testid="widget-suggestion"][data-article="{article_id}"]')
    suggestion.wait_for()
    assert suggestion.inner_text() == title
    typed = [u for u in calls if "q=" in u]
    assert 1 <= len(typed) <= 3, typed  # debounced: not one call a key
    suggestion.click()
    answer = page.get_by_test_id("widget-answer")
    answer.wait_for()
    assert page.get_by_test_id("widget-answer-title").inner_text() == title
    assert "Tick Gift wrap at checkout" in page.get_by_test_id("widget-answer-text").inner_text()
    page.get_by_test_id("widget-answer-back").click()
    answer.wait_for(state="hidden")

    # slowed down: the suggestions go away quietly, the visitor still chats
    page.route(
        "**/api/bot/suggest?*",
        lambda route: route.fulfill(
            status=429,
            content_type="application/json",
            headers={"Retry-After": "30"},
            body='{"error": "too_many_requests"}',
        ),
    )
    box.fill("")
    with page.expect_response(lambda r: "/api/bot/suggest" in r.url and r.status == 429):
        box.press_sequentially(f"gift {run}", delay=40)
    page.wait_for_function(
        """() => !document.querySelector('#omniflow-widget').shadowRoot
              .querySelector('[data-testid="widget-suggestions"]').checkVisibility()"""
    )
    assert widget(page).locator(".error:not(:empty)").count() == 0
    before = len(calls)
    box.press_sequentially(" wrap", delay=40)
    page.wait_for_timeout(900)  # three debounces: a paused widget asks nothing (Retry-After 30 s)
    assert len(calls) == before
    box.press("Enter")
    widget(page).locator('[data-testid="widget-message"][data-direction="in"]').filter(
        has_text=f"gift {run} wrap"
    ).wait_for()
    watch.assert_clean(allow_console=("429 GET",))


def test_on_the_bot_desk_quick_replies_answer_and_the_agent_sees_the_handoff_summary_in_chinese(
    local_stack: LocalStack, supervisor: Api, page: Any, new_page: Callable[..., Any], watch: Watch
) -> None:
    run = uuid.uuid4().hex[:8]
    first = f"Engraving on rings {run}"
    publish(
        supervisor,
        title=first,
        body="We engrave up to 12 letters on rings, free.",
        questions=[f"engraving {run}"],
    )
    publish(
        supervisor,
        title=f"Engraving on watches {run}",
        body="Watches take up to 20 letters.",
        questions=[f"engraving {run}"],
    )
    open_chat(page, f"{local_stack.url}/demo/shop?lang=en&site=bot")
    page.get_by_test_id("widget-input").fill(f"engraving {run}")
    page.get_by_test_id("widget-input").press("Enter")
    buttons = widget(page).get_by_test_id("widget-quick-reply")
    buttons.filter(has_text=first).wait_for(timeout=20_000)
    assert buttons.count() >= 2
    buttons.filter(has_text=first).click()
    assert buttons.filter(has_text=first).is_disabled()
    widget(page).locator('[data-testid="widget-message"][data-direction="out"]').filter(
        has_text="12 letters"
    ).wait_for(timeout=20_000)

    # "a person, please": one step to the queue, and the agent sees what the bot tried at the top
    page.get_by_test_id("widget-input").fill("agent")
    page.get_by_test_id("widget-input").press("Enter")

    def handed_off() -> dict[str, Any] | None:
        items = supervisor.get("/conversations", params={"view": "queue"}).json()["items"]
        return next((c for c in items if run in ((c.get("bot_summary") or {}).get("question") or "")), None)

    cid = poll("the conversation the bot handed off", handed_off)["conversation_id"]
    agent = new_page("zh-CN")
    console_login(agent, local_stack, "supervisor", f"/c/{cid}")
    agent.goto(f"{local_stack.url}/api/console#/c/{cid}")
    summary = agent.get_by_test_id("bot-summary")
    summary.wait_for()
    assert agent.get_by_test_id("bot-summary-reason").inner_text() == "客户要求转人工"
    assert run in agent.get_by_test_id("bot-summary-question").inner_text()
    assert first in agent.get_by_test_id("bot-summary-articles").inner_text()
    assert "机器人转人工" in summary.inner_text()
    # above the timeline
    box = summary.bounding_box()
    timeline = agent.get_by_test_id("timeline").bounding_box()
    assert box and timeline and box["y"] < timeline["y"]
    watch.assert_clean()
