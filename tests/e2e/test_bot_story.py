"""The bot on the running local stack, customers on SMS (Twilio-signed with twilio's
RequestValidator) and WeChat (signed with wechatpy), on the demo's self-service account "bot"
(the demo routing rule ``bot-desk`` puts the bot first there):

- a flow asks for the order number and answers with the status from the orders connector (the
  demo order service);
- the opening-hours flow answers from the business-hours calendar;
- "人工" hands off in one step, and the agent sees the summary through the API;
- the bot answers an SMS customer from a published article, and once the article is edited and
  published again, a WeChat customer gets the new text.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from infra.local import simulate
from tests.e2e.conftest import Api, LocalStack, login
from tests.e2e.test_local_stack import creds, poll

pytestmark = pytest.mark.e2e
ACCOUNT = "bot"


@pytest.fixture(scope="module")
def bot_accounts(local_stack: LocalStack) -> Api:
    """The self-service accounts on SMS and WeChat (same credentials as the default ones), put
    through the admin API as an operator would."""
    admin = login(local_stack, "admin")
    for channel in ("sms", "wechat"):
        r = admin.session.put(
            f"{admin.base}/api/admin/channels/{channel}/{ACCOUNT}", json=creds(channel), timeout=30
        )
        assert r.status_code == 200, r.text
    return login(local_stack, "supervisor")


def sms(stack: LocalStack, sender: str, text: str) -> None:
    request = simulate.sms_request(stack.target, creds("sms"), sender=sender, text=text, account=ACCOUNT)
    response = request.send()
    assert response.status_code == 200, response.text


def wechat(stack: LocalStack, user: str, text: str) -> None:
    request = simulate.wechat_request(stack.target, creds("wechat"), user=user, text=text, account=ACCOUNT)
    response = request.send()
    assert response.status_code == 200, response.text


def conversation_showing(agent: Api, text: str) -> dict[str, Any]:
    """The open conversation whose last customer message is ``text`` (bot-held ones are in no
    queue: the supervisor's "all" view)."""

    def probe() -> dict[str, Any] | None:
        resp = agent.get("/conversations", params={"view": "all", "limit": 100})
        assert resp.status_code == 200, resp.text
        return next((c for c in resp.json()["items"] if c.get("preview") == text), None)

    found: dict[str, Any] = poll(f"a conversation showing {text!r}", probe)
    return found


def view(agent: Api, cid: str) -> dict[str, Any]:
    resp = agent.get(f"/conversations/{cid}")
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def bot_says(agent: Api, cid: str, count: int) -> list[str]:
    """The bot's first ``count`` messages in the conversation, once they have gone out."""

    def probe() -> list[str] | None:
        said = [
            m
            for m in view(agent, cid)["messages"]
            if m.get("conversation_id") == cid and m["direction"] == "out" and m.get("author_id") == "bot"
        ]
        if len(said) >= count and all(m["status"] in ("sent", "sent_local") for m in said[:count]):
            return [m.get("text") or "" for m in said[:count]]
        return None

    texts: list[str] = poll(f"the bot's message #{count}", probe)
    return texts


def test_an_sms_customer_gets_their_order_status_from_a_flow_then_hands_off_with_a_summary(
    local_stack: LocalStack, bot_accounts: Api
):
    from infra.local import orders_demo

    agent = bot_accounts
    phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
    while not orders_demo.orders_for([phone], [], []):  # one phone in four has never ordered
        phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
    sms(local_stack, phone, "我的快递到哪了")
    c = conversation_showing(agent, "我的快递到哪了")
    cid = c["conversation_id"]
    assert c["bot_status"] == "active" and "queue_key" not in c
    (ask,) = bot_says(agent, cid, 1)
    assert "订单号" in ask

    def known_orders() -> list[dict[str, Any]]:
        # The connector answers degraded (no orders, "error") when the demo order service is slow
        # on a loaded machine: ask again within the deadline.
        found: list[dict[str, Any]] = agent.get(f"/customers/{c['customer_id']}/orders").json()["orders"]
        return found

    orders = poll("the demo order service's orders for this phone", known_orders)
    order = orders[0]
    sms(local_stack, phone, order["number"].lower())
    answer = bot_says(agent, cid, 2)[1]
    assert answer.startswith(f"订单 {order['number']}：") and "解决您的问题了吗" in answer

    sms(local_stack, phone, "人工")
    texts = bot_says(agent, cid, 3)
    assert "转接人工" in texts[2]
    data = view(agent, cid)
    summary = data["conversation"]["bot_summary"]
    assert summary["reason"] == "asked" and summary["question"] == "我的快递到哪了"
    assert summary["flows_run"] == ["order-status"]
    assert data["conversation"]["bot_status"] == "handed_off"
    note = next(m for m in data["messages"] if m["direction"] == "note" and m.get("author_id") == "bot")
    assert "我的快递到哪了" in note["text"] and "order-status" in note["text"]
    queue = agent.get("/conversations", params={"view": "queue", "group": data["conversation"]["group_id"]})
    assert cid in [i["conversation_id"] for i in queue.json()["items"]] or data["conversation"].get(
        "assignee_id"
    )


def test_a_wechat_customer_gets_the_opening_hours_then_hands_off(local_stack: LocalStack, bot_accounts: Api):
    agent = bot_accounts
    user = f"o_bot_{uuid.uuid4().hex[:10]}"
    wechat(local_stack, user, "你们营业时间是几点")
    c = conversation_showing(agent, "你们营业时间是几点")
    cid = c["conversation_id"]
    (hours,) = bot_says(agent, cid, 1)
    assert "服务时间" in hours  # "we're open now: today 09:00–12:00, …" or "closed; next open …"
    wechat(local_stack, user, "转人工")
    bot_says(agent, cid, 2)
    summary = view(agent, cid)["conversation"]["bot_summary"]
    assert summary["reason"] == "asked" and summary["flows_run"] == ["opening-hours"]


def kb_api(stack: LocalStack) -> Api:
    """An admin session, once the knowledge base's search answers."""
    admin = login(stack, "admin")
    probe = admin.get("/kb/search", params={"q": "probe"})
    assert probe.status_code == 200, probe.text
    return admin


def publish(admin: Api, title: str, body: str, questions: list[str]) -> str:
    made = admin.post(
        "/kb/articles",
        {
            "title": title,
            "body": body,
            "language": "zh-CN",
            "questions": questions,
            "tags": [],
            "status": "draft",
        },
    )
    assert made.status_code == 201, made.text
    article_id: str = made.json()["article_id"]
    published = admin.post(f"/kb/articles/{article_id}/publish")
    assert published.status_code in (200, 201), published.text
    return article_id


def test_sms_and_wechat_customers_get_the_published_article_and_an_edit_changes_the_next_answer(
    local_stack: LocalStack, bot_accounts: Api
):
    admin = kb_api(local_stack)
    agent = bot_accounts
    run = uuid.uuid4().hex[:6]
    title = f"会员积分怎么兑换 {run}"
    article_id = publish(
        admin,
        title,
        "积分可在「我的 → 积分商城」兑换优惠券，100 积分抵 1 元。",
        [f"积分怎么用 {run}", f"积分兑换 {run}", f"怎么用积分 {run}"],
    )
    question = f"积分兑换 {run}"
    sms(local_stack, f"+86137{uuid.uuid4().int % 10**8:08d}", question)
    cid = conversation_showing(agent, question)["conversation_id"]
    (answer,) = bot_says(agent, cid, 1)
    assert "100 积分抵 1 元" in answer and "**" not in answer

    edited = admin.session.put(
        f"{admin.base}/api/kb/articles/{article_id}",
        json={"title": title, "body": "积分可在「我的 → 积分商城」兑换优惠券，50 积分抵 1 元（新规）。"},
        timeout=30,
    )
    assert edited.status_code == 200, edited.text
    republished = admin.post(f"/kb/articles/{article_id}/publish")
    assert republished.status_code in (200, 201, 409), republished.text

    user = f"o_kb_{uuid.uuid4().hex[:10]}"
    again = f"怎么用积分 {run}"
    wechat(local_stack, user, again)
    cid2 = conversation_showing(agent, again)["conversation_id"]
    texts = poll(
        "the edited answer on WeChat",
        lambda: (t := bot_says(agent, cid2, 1)) and "50 积分抵 1 元" in t[0] and t,
    )
    assert "100 积分" not in texts[0]


def test_the_widgets_suggestion_endpoint_needs_a_visitor_token(local_stack: LocalStack):
    r = requests.get(
        f"{local_stack.url}/api/bot/suggest", params={"site": "default", "q": "发票"}, timeout=10
    )
    assert r.status_code == 401
    session = simulate.web_session_request(local_stack.target, name="Typing visitor").send()
    token = session.json()["token"]
    ok = requests.get(
        f"{local_stack.url}/api/bot/suggest",
        params={"site": "default", "q": "发票"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert ok.status_code == 200 and "suggestions" in ok.json()
