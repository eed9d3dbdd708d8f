"""Knowledge-base API on moto: roles, 4xx on bad input (changing nothing), versions, diff, roll
back, publish → searchable (also on another warm instance), archive, synonyms, statistics."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

INVOICE = {
    "title": "发票抬头、税号填错了怎么修改",
    "body": (
        "发票开出后抬头或税号有误，可在「我的订单 → 发票详情 → 申请换开」提交正确信息，3 个工作日内重新开具。"
    ),
    "language": "zh-CN",
    "questions": ["发票抬头写错了", "税号填错了能改吗"],
    "tags": ["发票"],
    "status": "draft",
}
SHIPPING = {
    "title": "International shipping times",
    "body": "We ship to 40 countries with DHL Express; orders arrive in 5-10 business days.",
    "language": "en",
    "questions": ["How long does shipping take?"],
    "status": "published",
}


def put(session: Any, path: str, body: Any) -> Any:
    return session.client.http.put(path, body=json.dumps(body), headers=session._headers())


def body_of(response: Any) -> Any:
    return json.loads(response.body)


def search(session: Any, q: str, **params: Any) -> dict[str, Any]:
    extra = "".join(f"&{k}={quote(str(v))}" for k, v in params.items())
    r = session.get(f"/kb/search?q={quote(q)}{extra}")
    assert r.status_code == 200, r.body
    return body_of(r)


@pytest.fixture
def supervisor(api: Any) -> Any:
    return api("supervisor")


def test_create_answers_201_with_id_status_version_and_only_editors_write(api: Any, supervisor: Any) -> None:
    assert api(None).post("/kb/articles", INVOICE).status_code == 401
    assert api("agent1").post("/kb/articles", INVOICE).status_code == 403
    r = supervisor.post("/kb/articles", INVOICE)
    assert r.status_code == 201
    created = body_of(r)
    assert set(created) == {"article_id", "status", "version"}
    assert created["status"] == "draft" and created["version"] == 1
    path = f"/kb/articles/{created['article_id']}"
    assert put(api("agent1"), path, {"title": "x"}).status_code == 403
    assert api("agent1").post(f"{path}/publish").status_code == 403
    assert api("admin").post(f"{path}/publish").status_code == 200
    got = body_of(api("agent1").get(path))  # agents read
    assert got["title"] == INVOICE["title"] and got["status"] == "published"


@pytest.mark.parametrize(
    "bad",
    [
        {k: v for k, v in INVOICE.items() if k != "title"},
        {**INVOICE, "language": "fr"},
        {**INVOICE, "status": "archived"},
        {**INVOICE, "title": ""},
        {**INVOICE, "questions": ["x" * 201]},
        {**INVOICE, "questions": "not a list"},
        {**INVOICE, "surprise": 1},
        {**INVOICE, "channels": ["SMS!"]},
    ],
)
def test_a_bad_article_is_a_400_and_creates_nothing(supervisor: Any, bad: dict[str, Any]) -> None:
    r = supervisor.post("/kb/articles", bad)
    assert r.status_code == 400, r.body
    assert body_of(supervisor.get("/kb/articles"))["items"] == []


@pytest.mark.parametrize(
    "query",
    ["", "?q=", "?q=x&limit=0", "?q=x&limit=21", "?q=x&limit=abc", "?q=x&language=fr", "?q=" + "x" * 501],
)
def test_bad_search_parameters_are_400(api: Any, query: str) -> None:
    assert api("agent1").get(f"/kb/search{query}").status_code == 400


def test_unknown_article_and_version_are_404(api: Any, supervisor: Any) -> None:
    assert api("agent1").get("/kb/articles/kb_nope").status_code == 404
    assert put(supervisor, "/kb/articles/kb_nope", {"title": "x"}).status_code == 404
    article_id = body_of(supervisor.post("/kb/articles", INVOICE))["article_id"]
    assert api("agent1").get(f"/kb/articles/{article_id}?version=9").status_code == 404
    assert api("agent1").get(f"/kb/articles/{article_id}?version=x").status_code == 400


def test_every_save_is_a_version_with_who_and_what_changed_and_a_diff_and_a_rollback(
    api: Any, supervisor: Any
) -> None:
    article_id = body_of(supervisor.post("/kb/articles", INVOICE))["article_id"]
    path = f"/kb/articles/{article_id}"
    r = put(supervisor, path, {"version": 1, "title": "发票抬头怎么改", "questions": ["抬头错了"]})
    assert body_of(r) == {"article_id": article_id, "status": "draft", "version": 2}
    stale = put(supervisor, path, {"version": 1, "body": "lost update"})
    assert stale.status_code == 409
    assert body_of(api("agent1").get(path))["body"] == INVOICE["body"]

    versions = body_of(api("agent1").get(f"{path}/versions"))["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["saved_by"] == "supervisor" and set(versions[0]["changes"]) == {"title", "questions"}
    diff = body_of(api("agent1").get(f"{path}/diff?from=1&to=2"))["fields"]
    assert set(diff) == {"title", "questions"}
    assert diff["questions"] == {"added": ["抬头错了"], "removed": INVOICE["questions"]}
    assert "-发票抬头、税号填错了怎么修改" in diff["title"]["unified"]
    assert body_of(api("agent1").get(f"{path}?version=1"))["title"] == INVOICE["title"]

    r = supervisor.post(f"{path}/rollback", {"version": 1})
    assert body_of(r)["version"] == 3
    assert body_of(api("agent1").get(path))["title"] == INVOICE["title"]
    assert body_of(api("agent1").get(f"{path}/versions"))["versions"][0]["rolled_back_to"] == 1
    actions = [h["action"] for h in body_of(supervisor.get(f"{path}/history"))["history"]]
    assert actions == ["kb.rollback", "kb.update", "kb.create"]


def test_publish_makes_an_article_searchable_and_archive_takes_it_out(api: Any, supervisor: Any) -> None:
    agent = api("agent1")
    article_id = body_of(supervisor.post("/kb/articles", INVOICE))["article_id"]
    supervisor.post("/kb/articles", SHIPPING)
    assert article_id not in [h["article_id"] for h in search(agent, "发票抬头写错了")["results"]]

    assert body_of(supervisor.post(f"/kb/articles/{article_id}/publish"))["status"] == "published"
    found = search(agent, "發票擡頭寫錯了咋改", language="zh-TW")
    assert found["results"][0]["article_id"] == article_id
    assert set(found["results"][0]) == {"article_id", "title", "snippet", "score", "language"}
    assert found["answer"]["article_id"] == article_id
    english = search(agent, "the company name on my invoice is wrong")
    assert english["results"][0]["article_id"] == article_id  # cross-language

    supervisor.post(f"/kb/articles/{article_id}/archive")
    assert article_id not in [h["article_id"] for h in search(agent, "发票抬头写错了")["results"]]


def test_an_edit_goes_live_only_when_published(api: Any, supervisor: Any) -> None:
    from chalicelib import kb

    article_id = body_of(supervisor.post("/kb/articles", {**INVOICE, "status": "published"}))["article_id"]
    put(supervisor, f"/kb/articles/{article_id}", {"body": "新的说明：请在 App 里申请换开。"})
    assert kb.published_article(article_id)["body"] == INVOICE["body"]
    supervisor.post(f"/kb/articles/{article_id}/publish")
    assert kb.published_article(article_id)["body"] == "新的说明：请在 App 里申请换开。"


def test_another_warm_instance_sees_a_publish_at_its_next_refresh(supervisor: Any) -> None:
    from chalicelib.kb.searcher import REFRESH_SECONDS, BuiltinBackend

    now = [0.0]
    other = BuiltinBackend(clock=lambda: now[0])
    assert other.search("运费多久", language=None, limit=3, channel=None).results == []
    article_id = body_of(supervisor.post("/kb/articles", {**INVOICE, "status": "published"}))["article_id"]
    assert other.search("发票抬头写错了", language=None, limit=3, channel=None).results == []  # cached
    now[0] += REFRESH_SECONDS
    hits = other.search("发票抬头写错了", language=None, limit=3, channel=None).results
    assert [h.article_id for h in hits] == [article_id]


def test_channels_limit_where_an_article_is_shown(api: Any, supervisor: Any) -> None:
    web_only = {**INVOICE, "status": "published", "channels": ["web"]}
    article_id = body_of(supervisor.post("/kb/articles", web_only))["article_id"]
    assert search(api("agent1"), "发票抬头写错了", channel="web")["results"][0]["article_id"] == article_id
    assert search(api("agent1"), "发票抬头写错了", channel="sms")["results"] == []


def test_admin_synonyms_change_search_and_are_versioned(api: Any, supervisor: Any) -> None:
    article_id = body_of(supervisor.post("/kb/articles", {**INVOICE, "status": "published"}))["article_id"]
    body = {"version": 0, "groups": [["抬头", "开票名头"]]}
    assert put(supervisor, "/kb/synonyms", body).status_code == 403
    r = put(api("admin"), "/kb/synonyms", body)
    assert r.status_code == 200 and body_of(r)["version"] == 1
    assert put(api("admin"), "/kb/synonyms", body).status_code == 409
    assert put(api("admin"), "/kb/synonyms", {"version": 1, "groups": [["only-one"]]}).status_code == 400
    from chalicelib.kb import searcher

    searcher.reset()  # a fresh instance; a warm one rebuilds at its next refresh
    found = search(api("agent1"), "开票名头")
    assert found["results"] and found["results"][0]["article_id"] == article_id


def test_views_feedback_and_unanswered_questions_are_counted(api: Any, supervisor: Any) -> None:
    agent = api("agent1")
    article_id = body_of(supervisor.post("/kb/articles", {**INVOICE, "status": "published"}))["article_id"]
    agent.get(f"/kb/articles/{article_id}")
    agent.get(f"/kb/articles/{article_id}")
    agent.post(f"/kb/articles/{article_id}/feedback", {"helpful": True})
    agent.post(f"/kb/articles/{article_id}/feedback", {"helpful": False})
    assert agent.post(f"/kb/articles/{article_id}/feedback", {"helpful": "maybe"}).status_code == 400
    assert agent.get(f"/kb/articles/{article_id}/stats").status_code == 403
    stats = body_of(supervisor.get(f"/kb/articles/{article_id}/stats"))["total"]
    assert stats["views"] == 2 and stats["helpful"] == 1 and stats["not_helpful"] == 1
    items = body_of(supervisor.get("/kb/stats"))["items"]
    assert [i["article_id"] for i in items] == [article_id]

    for q in ["你们招人吗", "你们公司招聘吗 在哪投简历", "你们在招人吗?", "今天天气怎么样"]:
        assert search(agent, q)["answer"] is None
    unanswered = body_of(supervisor.get("/kb/unanswered?days=1"))
    assert unanswered["questions"] == 4
    assert unanswered["clusters"][0]["count"] >= 2
    assert supervisor.get("/kb/unanswered?days=0").status_code == 400
