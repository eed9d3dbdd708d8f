"""The WeCom kf webhook end to end on moto: callbacks signed and encrypted by wechatpy go through
``pipeline.handle``; the messages they announce are pulled from WeCom's kf API (``KfServer`` behind
``responses``) and read back from the inbound FIFO queue; the cursor is read from the state table."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import responses

from chalicelib.channels import pipeline, wecom
from chalicelib.config import MAX_BODY_BYTES
from tests.support.events import LambdaContext, http_event
from tests.support.queues import drain_inbound
from tests.unit.test_wechat_inbound import BILLION_LAUGHS
from tests.unit.test_wecom_protocol import (
    CORP_ID,
    OPEN_KFID,
    SYNC_MSG_URL,
    TOKEN_URL,
    KfServer,
    WeComPlatform,
    customer_message,
    event_message,
    kf_event_xml,
)

WECOM = WeComPlatform()  # the provisioned demo account "default"
USER = "wmCustomer0000000000000001"


@pytest.fixture
def kf(aws) -> Iterator[KfServer]:
    """WeCom's kf API for the demo corp; any other HTTP request fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield KfServer(rsps)


def api_event(method: str, query: dict[str, str], body: str | bytes = "", account: str | None = None) -> dict:
    path = "/webhooks/wecom" + (f"/{account}" if account else "")
    return http_event(method, path, body=body, query=query, headers={"content-type": "text/xml"})


def callback(server: KfServer, open_kfid: str = OPEN_KFID, token: str | None = None) -> dict[str, Any]:
    """WeCom announcing that messages wait for ``open_kfid``."""
    body, query = WECOM.kf_callback(token or server.new_msg_token(), open_kfid)
    return pipeline.handle(api_event("POST", query, body))


def saved_cursor(open_kfid: str = OPEN_KFID) -> str | None:
    item = (
        boto3.client("dynamodb")
        .get_item(TableName="omniflow-test-state", Key={"key": {"S": f"cursor#wecom#{CORP_ID}#{open_kfid}"}})
        .get("Item")
    )
    return item["cursor"]["S"] if item else None


def error_of(response: dict[str, Any]) -> str:
    return json.loads(response["body"])["error"]


def texts(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        customer_message(f"msg-{i}", content={"content": f"第{i}条"}, send_time=1700000000 + i)
        for i in range(start, start + n)
    ]


# ---- URL check ----------------------------------------------------------------------------------


def test_url_check_answers_the_decrypted_echostr(aws):
    response = pipeline.handle(api_event("GET", WECOM.handshake_query("2913409428347856742")))
    assert (response["statusCode"], response["body"]) == (200, "2913409428347856742")
    assert response["headers"]["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (WeComPlatform(token="guess").handshake_query("x"), 403),
        (WeComPlatform(corp_id="ww0another0corp").handshake_query("x"), 403),
        ({"echostr": "x"}, 401),
    ],
    ids=["wrong-token", "another-corp", "unsigned"],
)
def test_url_check_refusals_echo_nothing(aws, query, status):
    response = pipeline.handle(api_event("GET", query))
    assert response["statusCode"] == status
    assert response["body"] != "x"


# ---- callback → pull → queue ---------------------------------------------------------------------


def test_a_callback_pulls_every_page_enqueues_each_message_once_and_saves_the_cursor(aws, kf):
    kf.page_size = 2  # WeCom may answer fewer than asked: two pages for three messages
    kf.add(*texts(3))
    token = kf.new_msg_token()

    response = callback(kf, token=token)

    assert (response["statusCode"], response["body"]) == (200, "success")
    messages = drain_inbound(aws)
    assert [(m.platform_message_id, m.text) for m in messages] == [
        ("msg-1", "第1条"),
        ("msg-2", "第2条"),
        ("msg-3", "第3条"),
    ]
    assert {(m.channel, m.account, m.channel_user_id) for m in messages} == {("wecom", "default", USER)}
    assert all(m.reply_context == {"open_kfid": OPEN_KFID} for m in messages)
    assert kf.sync_requests == [
        {"cursor": "", "limit": wecom.PAGE_LIMIT, "open_kfid": OPEN_KFID, "token": token},
        {"cursor": kf.cursor_after(2), "limit": wecom.PAGE_LIMIT, "open_kfid": OPEN_KFID, "token": token},
    ]
    [sync_call] = kf.calls(SYNC_MSG_URL)[:1]
    assert sync_call.request.url == f"{SYNC_MSG_URL}?access_token=ACCESS_TOKEN_1"
    assert saved_cursor() == kf.cursor_after(3)
    [token_call] = kf.calls(TOKEN_URL)
    assert token_call.request.url == f"{TOKEN_URL}?corpid={CORP_ID}&corpsecret=omniflow-demo-wecom-kf-secret"


def test_the_next_callback_continues_from_the_saved_cursor(aws, kf):
    kf.add(*texts(2))
    callback(kf)
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1", "msg-2"]

    kf.add(*texts(2, start=3))
    callback(kf)

    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-3", "msg-4"]
    assert kf.sync_requests[-1]["cursor"] == kf.cursor_after(2)
    assert saved_cursor() == kf.cursor_after(4)
    assert len(kf.calls(TOKEN_URL)) == 1  # the access token is shared, not fetched per callback


def test_wecoms_retries_of_a_callback_enqueue_nothing_twice(aws, kf):
    kf.add(*texts(2))
    body, query = WECOM.kf_callback(kf.new_msg_token())
    for _ in range(3):  # WeCom retries when it did not get our answer within 5 s
        assert pipeline.handle(api_event("POST", query, body))["statusCode"] == 200
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1", "msg-2"]


def test_a_crash_after_enqueueing_but_before_the_cursor_is_saved_re_pulls_without_duplicates(
    aws, kf, monkeypatch
):
    kf.add(*texts(2))
    real_advance = wecom.CursorStore.advance

    def crash(self, *args):
        raise RuntimeError("Lambda died here")

    monkeypatch.setattr(wecom.CursorStore, "advance", crash)
    assert callback(kf)["statusCode"] == 503  # WeCom will retry
    assert saved_cursor() is None

    monkeypatch.setattr(wecom.CursorStore, "advance", real_advance)
    assert callback(kf)["statusCode"] == 200

    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1", "msg-2"]
    assert saved_cursor() == kf.cursor_after(2)


def test_two_racing_callbacks_enqueue_each_message_once_and_never_move_the_cursor_back(aws, kf, monkeypatch):
    # Two Lambda instances share no memory: only the cursor (DynamoDB) and the FIFO queue's
    # deduplication (the router's dedupe marker would catch what came after its window).
    kf.page_size = 2
    kf.delay = 0.05  # both pulls are in flight at once
    kf.add(*texts(6))
    body_a, query_a = WECOM.kf_callback(kf.new_msg_token(), nonce="a")
    body_b, query_b = WECOM.kf_callback(kf.new_msg_token(), nonce="b")
    start = threading.Barrier(2)
    answers: list[dict] = []

    def run(query: dict[str, str], body: str) -> None:
        start.wait()
        answers.append(pipeline.handle(api_event("POST", query, body)))

    threads = [threading.Thread(target=run, args=args) for args in ((query_a, body_a), (query_b, body_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(a["statusCode"] for a in answers) == [200, 200]
    ids = [m.platform_message_id for m in drain_inbound(aws)]
    assert sorted(ids) == [f"msg-{i}" for i in range(1, 7)]  # each exactly once
    assert saved_cursor() == kf.cursor_after(6)


def test_messages_typed_by_servicers_in_the_wecom_app_are_skipped_but_passed(aws, kf):
    kf.add(
        customer_message("msg-1"),
        customer_message("servicer-1", origin=5),
        customer_message("msg-2"),
    )
    callback(kf)
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1", "msg-2"]
    assert saved_cursor() == kf.cursor_after(3)


def test_events_send_failures_and_media_arrive_normalized(aws, kf):
    kf.add(
        event_message(
            "ev-enter",
            {"event_type": "enter_session", "open_kfid": OPEN_KFID, "external_userid": USER, "scene": "web"},
        ),
        customer_message("img-1", "image", {"media_id": "MEDIA_ID_1"}),
        event_message(
            "ev-fail",
            {
                "event_type": "msg_send_fail",
                "open_kfid": OPEN_KFID,
                "external_userid": USER,
                "fail_msgid": "MSG0001",
                "fail_type": 4,
            },
        ),
        event_message(
            "ev-staff", {"event_type": "servicer_status_change", "servicer_userid": "lisi", "status": 2}
        ),
    )
    callback(kf)
    enter, image, failed = drain_inbound(aws)
    assert (enter.type, enter.event, enter.text) == ("event", "enter_session", "web")
    assert (image.type, image.attachments[0].media_id) == ("image", "MEDIA_ID_1")
    assert (failed.type, failed.status.platform_message_id, failed.status.state) == (
        "status",
        "MSG0001",
        "failed",
    )


def test_a_malformed_entry_is_skipped_without_stalling_the_stream(aws, kf):
    kf.add(
        customer_message("msg-1"),
        {"origin": 3, "msgtype": "text", "text": {"content": "no ids"}},
        customer_message("msg-2"),
    )
    assert callback(kf)["statusCode"] == 200
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1", "msg-2"]
    assert saved_cursor() == kf.cursor_after(3)


def test_each_kf_account_has_its_own_cursor(aws, kf):
    kf.add(*texts(2))
    kf.add(customer_message("other-1", open_kfid="wkOther"), open_kfid="wkOther")
    callback(kf)
    callback(kf, open_kfid="wkOther")
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1", "msg-2", "other-1"]
    assert (saved_cursor(), saved_cursor("wkOther")) == (kf.cursor_after(2), kf.cursor_after(1))


# ---- the 5 s deadline ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_pull_stops_fetching_pages_when_its_budget_is_spent_and_the_next_callback_continues(
    aws, kf, monkeypatch
):
    clock = Clock()
    monkeypatch.setattr(wecom.ADAPTER, "clock", clock)
    kf.page_size = 2
    kf.add(*texts(6))

    def slow_wecom(_body: dict) -> None:
        clock.now += wecom.PULL_SECONDS / 2 + 0.01  # each page takes over half the budget

    kf.on_sync = slow_wecom

    assert callback(kf)["statusCode"] == 200
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1", "msg-2", "msg-3", "msg-4"]
    assert saved_cursor() == kf.cursor_after(4)
    assert len(kf.sync_requests) == 2

    assert callback(kf)["statusCode"] == 200
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-5", "msg-6"]
    assert saved_cursor() == kf.cursor_after(6)


def test_a_page_cut_short_by_the_deadline_is_pulled_again_whole(aws, kf, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(wecom.ADAPTER, "clock", clock)
    kf.add(*texts(2))

    def stuck_wecom(_body: dict) -> None:
        clock.now += wecom.ENQUEUE_SECONDS  # the answer came too late to enqueue anything

    kf.on_sync = stuck_wecom
    assert callback(kf)["statusCode"] == 200
    assert drain_inbound(aws) == []
    assert saved_cursor() is None

    kf.on_sync = None
    callback(kf)
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1", "msg-2"]


# ---- WeCom API trouble ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {"errcode": -1, "errmsg": "system busy"},
        (502, {}, "Bad Gateway"),
        {"errcode": 95000, "errmsg": "invalid open_kfid"},
    ],
    ids=["busy", "http-502", "refused"],
)
def test_a_failing_sync_msg_is_503_so_wecom_retries_and_the_retry_delivers(aws, kf, answer):
    kf.add(*texts(1))
    kf.sync_answers.append(answer)
    body, query = WECOM.kf_callback(kf.new_msg_token())

    failed = pipeline.handle(api_event("POST", query, body))
    assert (failed["statusCode"], error_of(failed)) == (503, "unavailable")
    assert "errcode" not in failed["body"] and "Traceback" not in failed["body"]
    assert drain_inbound(aws) == []

    retried = pipeline.handle(api_event("POST", query, body))
    assert retried["statusCode"] == 200
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1"]


def test_a_wrong_kf_secret_is_503_and_pulls_nothing(aws, kf):
    kf.secret = "rotated-in-wecom-but-not-here"
    kf.add(*texts(1))
    assert callback(kf)["statusCode"] == 503
    assert kf.calls(SYNC_MSG_URL) == []


def test_an_expired_callback_token_is_dropped_and_the_page_pulled_without_it(aws, kf):
    kf.add(*texts(1))
    response = callback(kf, token="ENC-expired-ten-minutes-ago")
    assert response["statusCode"] == 200
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1"]
    assert [("token" in r) for r in kf.sync_requests] == [True, False]


def test_a_rejected_access_token_is_replaced_once(aws, kf):
    kf.add(*texts(1))
    kf.sync_answers.append({"errcode": 42001, "errmsg": "access_token expired"})
    assert callback(kf)["statusCode"] == 200
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1"]
    assert len(kf.calls(TOKEN_URL)) == 2


# ---- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mangle", "status"),
    [
        (lambda q: {}, 401),
        (lambda q: {**q, "msg_signature": "0" * 40}, 403),
        (lambda q: {**q, "nonce": "changed"}, 403),
    ],
    ids=["unsigned", "forged", "tampered"],
)
def test_unsigned_or_wrongly_signed_callbacks_are_refused_and_nothing_is_pulled(aws, kf, mangle, status):
    kf.add(*texts(1))
    body, query = WECOM.kf_callback(kf.new_msg_token())
    response = pipeline.handle(api_event("POST", mangle(query), body))
    assert response["statusCode"] == status
    assert len(kf.rsps.calls) == 0
    assert drain_inbound(aws) == []


def test_a_callback_encrypted_for_another_corp_is_403(aws, kf):
    body, query = WeComPlatform(corp_id="ww0another0corp").kf_callback("ENCx")
    response = pipeline.handle(api_event("POST", query, body))
    assert (response["statusCode"], error_of(response)) == (403, "forbidden")
    assert len(kf.rsps.calls) == 0


@pytest.mark.parametrize(
    "body",
    [b"<xml><Encrypt>unclosed</xml>", BILLION_LAUGHS, b"<xml><ToUserName>ww</ToUserName></xml>"],
    ids=["malformed", "billion-laughs", "no-encrypt"],
)
def test_malformed_and_dangerous_bodies_are_400(aws, kf, body):
    response = pipeline.handle(
        api_event("POST", {"msg_signature": "s", "timestamp": "1", "nonce": "n"}, body)
    )
    assert (response["statusCode"], error_of(response)) == (400, "bad_request")
    assert drain_inbound(aws) == []


@pytest.mark.parametrize(
    "inner",
    [BILLION_LAUGHS.decode(), "<xml><MsgType>event</MsgType>", kf_event_xml("ENCx").replace("ENCx", "")],
    ids=["entity-bomb", "malformed", "no-token"],
)
def test_a_bad_body_inside_a_valid_ciphertext_is_400_too(aws, kf, inner):
    body, query = WECOM.callback(inner)
    response = pipeline.handle(api_event("POST", query, body))
    assert response["statusCode"] == 400
    assert len(kf.rsps.calls) == 0


def test_other_kf_events_are_acknowledged_without_pulling(aws, kf):
    inner = kf_event_xml("ENCx").replace("kf_msg_or_event", "kf_account_auth_change")
    body, query = WECOM.callback(inner)
    response = pipeline.handle(api_event("POST", query, body))
    assert (response["statusCode"], response["body"]) == (200, "success")
    assert len(kf.rsps.calls) == 0


def test_oversized_unknown_account_and_other_methods(aws, kf):
    body, query = WECOM.kf_callback("ENCx")
    assert pipeline.handle(api_event("POST", query, "x" * (MAX_BODY_BYTES + 1)))["statusCode"] == 413
    assert pipeline.handle(api_event("POST", query, body, account="nobody"))["statusCode"] == 404
    assert pipeline.handle(api_event("PUT", query, body))["statusCode"] == 405


# ---- local stack and entry point -----------------------------------------------------------------


def test_the_local_stack_acknowledges_without_calling_wecom(aws, kf, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("OMNIFLOW_OUTBOUND_MODE", "record")
    config.settings.cache_clear()
    kf.add(*texts(1))

    response = callback(kf)

    assert (response["statusCode"], response["body"]) == (200, "success")
    assert len(kf.rsps.calls) == 0  # neither gettoken nor sync_msg
    assert drain_inbound(aws) == []
    config.settings.cache_clear()


def test_the_lambda_entry_point_runs_the_pipeline_for_wecom_only(aws, kf):
    from functions.wecom import handler

    response = handler(api_event("GET", WECOM.handshake_query("from-lambda")), LambdaContext())
    assert (response["statusCode"], response["body"]) == (200, "from-lambda")

    kf.add(*texts(1))
    body, query = WECOM.kf_callback(kf.new_msg_token())
    assert handler(api_event("POST", query, body), LambdaContext())["body"] == "success"
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["msg-1"]

    other = api_event("GET", WECOM.handshake_query("x"))
    other["rawPath"] = "/webhooks/wechat"
    assert handler(other, LambdaContext())["statusCode"] == 404
