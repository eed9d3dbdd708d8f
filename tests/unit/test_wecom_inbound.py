"""WeCom kf without AWS: the URL check and callback verification on plain ``WebhookRequest``s, the
callback event, normalization of every sync_msg entry, and the mapping of WeCom's answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.channels.base import BadRequest, Forbidden, MethodNotAllowed, Unauthorized, WebhookRequest
from chalicelib.channels.transport import HttpReply
from chalicelib.channels.wecom import (
    ADAPTER,
    KfCallback,
    MalformedMessage,
    PullFailed,
    callback_event,
    normalize,
    send_result,
    sync_page,
)
from chalicelib.messages import Attachment, DeliveryStatus, Location
from tests.unit.test_wechat_inbound import BILLION_LAUGHS
from tests.unit.test_wecom_protocol import (
    AES_KEY,
    CORP_ID,
    OPEN_KFID,
    SECRET,
    TOKEN,
    WeComPlatform,
    customer_message,
    event_message,
    kf_event_xml,
)

CREDS = {"corp_id": CORP_ID, "secret": SECRET, "token": TOKEN, "aes_key": AES_KEY}
PLATFORM = WeComPlatform()
USER = "wmCustomer0000000000000001"


def request(
    method: str = "GET", query: dict[str, str] | None = None, body: str | bytes = b""
) -> WebhookRequest:
    return WebhookRequest(
        method=method,
        channel="wecom",
        path_parts=(),
        headers={},
        query=query or {},
        body=body.encode() if isinstance(body, str) else body,
        url="https://omniflow.test/webhooks/wecom",
    )


def one(entry: dict) -> object:
    return normalize(entry, account="default", open_kfid=OPEN_KFID)


# ---- the URL check -------------------------------------------------------------------------------


def test_url_check_answers_the_plaintext_of_the_encrypted_echostr():
    response = ADAPTER.handshake(request(query=PLATFORM.handshake_query("6183396128447059")), CREDS)
    assert response is not None
    assert (response.status, response.body) == (200, "6183396128447059")
    assert response.headers["content-type"].startswith("text/plain")


def test_url_check_tolerates_a_plus_decoded_into_a_space():
    for n in range(40):  # find an echostr whose base64 has a "+"
        query = PLATFORM.handshake_query(f"echo-{n}")
        if "+" in query["echostr"]:
            break
    else:
        pytest.skip("no '+' in 40 ciphertexts")
    mangled = {**query, "echostr": query["echostr"].replace("+", " ")}
    assert ADAPTER.handshake(request(query=mangled), CREDS).body == f"echo-{n}"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"echostr": "abc"}, Unauthorized),
        ({**PLATFORM.handshake_query("x"), "msg_signature": "0" * 40}, Forbidden),
        (WeComPlatform(token="guess").handshake_query("x"), Forbidden),
        (WeComPlatform(corp_id="ww0another0corp").handshake_query("x"), Forbidden),
        ({"msg_signature": "s", "timestamp": "1", "nonce": "n"}, BadRequest),
    ],
    ids=["unsigned", "forged", "wrong-token", "another-corp", "no-echostr"],
)
def test_url_check_refusals(query, error):
    with pytest.raises(error):
        ADAPTER.handshake(request(query=query), CREDS)


def test_url_check_with_a_signed_echostr_that_is_not_a_ciphertext_is_400():
    echostr = "not*base64"
    query = {
        "msg_signature": PLATFORM.signature("1", "n", echostr),
        "timestamp": "1",
        "nonce": "n",
        "echostr": echostr,
    }
    with pytest.raises(BadRequest):
        ADAPTER.handshake(request(query=query), CREDS)


def test_posts_fall_through_to_verification_and_other_methods_are_405():
    assert ADAPTER.handshake(request("POST"), CREDS) is None
    with pytest.raises(MethodNotAllowed):
        ADAPTER.handshake(request("PUT"), CREDS)


# ---- callback verification -----------------------------------------------------------------------


def test_a_signed_callback_verifies():
    body, query = PLATFORM.kf_callback("ENCtoken")
    ADAPTER.verify(request("POST", query, body), CREDS)


@pytest.mark.parametrize(
    ("mangle", "error"),
    [
        (lambda q: {}, Unauthorized),
        (lambda q: {**q, "msg_signature": "0" * 40}, Forbidden),
        (lambda q: {**q, "timestamp": "1700000001"}, Forbidden),  # the signature covers the timestamp
    ],
    ids=["unsigned", "forged", "replayed-with-new-timestamp"],
)
def test_unsigned_or_wrongly_signed_callbacks_are_refused(mangle, error):
    body, query = PLATFORM.kf_callback("ENCtoken")
    with pytest.raises(error):
        ADAPTER.verify(request("POST", mangle(query), body), CREDS)


@pytest.mark.parametrize(
    "body",
    [b"<xml><Encrypt>unclosed</xml>", BILLION_LAUGHS, b"<xml><ToUserName>ww</ToUserName></xml>", b"{}", b""],
    ids=["malformed", "billion-laughs", "no-encrypt", "json", "empty"],
)
def test_malformed_callback_bodies_are_400(body):
    with pytest.raises(BadRequest):
        ADAPTER.verify(request("POST", {"msg_signature": "s", "timestamp": "1", "nonce": "n"}, body), CREDS)


# ---- the decrypted callback ----------------------------------------------------------------------


def test_kf_msg_or_event_asks_for_a_pull_of_one_kf_account():
    assert callback_event(kf_event_xml("ENCabc", "wkOther").encode()) == KfCallback("ENCabc", "wkOther")


def test_other_kf_events_ask_for_nothing():
    xml = (
        "<xml><ToUserName><![CDATA[ww]]></ToUserName><CreateTime>1700000000</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_account_auth_change]]></Event>"
        "<AuthAddOpenKfId><![CDATA[wkNew]]></AuthAddOpenKfId></xml>"
    )
    assert callback_event(xml.encode()) is None


@pytest.mark.parametrize(
    "xml",
    [
        kf_event_xml("ENCabc").replace("<Token><![CDATA[ENCabc]]></Token>", ""),
        kf_event_xml("ENCabc", ""),
        BILLION_LAUGHS.decode(),
    ],
    ids=["no-token", "no-open-kfid", "entity-bomb"],
)
def test_broken_callbacks_are_400(xml):
    with pytest.raises(BadRequest):
        callback_event(xml.encode())


# ---- normalization -------------------------------------------------------------------------------


def test_customer_text():
    msg = one(customer_message("msg-1", content={"content": "你好，我想退货"}, send_time=1700000123))
    assert (msg.channel, msg.account, msg.channel_user_id) == ("wecom", "default", USER)
    assert (msg.type, msg.text, msg.platform_message_id) == ("text", "你好，我想退货", "msg-1")
    assert msg.sent_at == datetime.fromtimestamp(1700000123, tz=UTC)
    assert msg.reply_context == {"open_kfid": OPEN_KFID}
    assert msg.dedupe_key == "wecom#default#msg-1"


@pytest.mark.parametrize("kind", ["image", "voice", "video", "file"])
def test_customer_media(kind):
    msg = one(customer_message("m", kind, {"media_id": f"{kind}-media-1"}))
    assert msg.type == kind
    assert msg.attachments == (
        Attachment(kind=kind, media_id=f"{kind}-media-1", mime_type="audio/amr" if kind == "voice" else None),
    )


def test_customer_location():
    content = {
        "latitude": 23.106021881103501,
        "longitude": 113.320503234863,
        "name": "广州国际媒体港",
        "address": "广州市海珠区滨江东路",
    }
    msg = one(customer_message("m", "location", content))
    assert msg.location == Location(
        latitude=23.106021881103501, longitude=113.320503234863, label="广州国际媒体港\n广州市海珠区滨江东路"
    )


def test_links_and_mini_programs_become_text():
    link = one(
        customer_message(
            "a", "link", {"title": "标题", "desc": "描述", "url": "https://example.com/x", "pic_url": "p"}
        )
    )
    mini = one(
        customer_message(
            "b",
            "miniprogram",
            {"title": "商城", "appid": "wx1", "pagepath": "pages/index", "thumb_media_id": "t"},
        )
    )
    assert link.text == "标题\n描述\nhttps://example.com/x"
    assert mini.text == "商城\npages/index"


def test_unknown_types_are_kept_as_a_placeholder():
    msg = one(customer_message("m", "channels_shop_product", {"product_id": "1"}))
    assert (msg.type, msg.text) == ("text", "[unsupported WeCom message type: channels_shop_product]")


def test_a_message_naming_its_kf_account_keeps_it_for_the_reply():
    msg = normalize(customer_message("m", open_kfid="wkOther"), account="default", open_kfid=OPEN_KFID)
    assert msg.reply_context == {"open_kfid": "wkOther"}


def test_messages_typed_by_servicers_in_the_wecom_app_are_not_customer_messages():
    assert one(customer_message("m", origin=5)) is None


def test_enter_session_is_an_event_for_the_customer_with_its_scene():
    event = {
        "event_type": "enter_session",
        "open_kfid": OPEN_KFID,
        "external_userid": USER,
        "scene": "shop",
        "scene_param": "order-42",
        "welcome_code": "WELCOME",
    }
    msg = one(event_message("ev-1", event))
    assert (msg.type, msg.event, msg.text, msg.channel_user_id) == (
        "event",
        "enter_session",
        "shop\norder-42",
        USER,
    )
    assert msg.platform_message_id == "ev-1"
    assert msg.reply_context == {"open_kfid": OPEN_KFID}


def test_msg_send_fail_is_a_failure_report_on_our_message():
    event = {
        "event_type": "msg_send_fail",
        "open_kfid": OPEN_KFID,
        "external_userid": USER,
        "fail_msgid": "MSG0001",
        "fail_type": 10,
    }
    msg = one(event_message("ev-2", event))
    assert msg.type == "status"
    assert msg.status == DeliveryStatus(
        platform_message_id="MSG0001",
        state="failed",
        error="WeCom could not deliver: the customer refuses messages",
    )


def test_events_without_a_customer_are_skipped():
    assert (
        one(
            event_message(
                "ev-3", {"event_type": "servicer_status_change", "servicer_userid": "zhangsan", "status": 1}
            )
        )
        is None
    )


@pytest.mark.parametrize(
    "entry",
    [
        {**customer_message("m"), "msgid": ""},
        {k: v for k, v in customer_message("m").items() if k != "external_userid"},
        {**customer_message("m"), "send_time": "yesterday"},
        customer_message("m", "location", {"latitude": 123.0, "longitude": 0}),
        event_message("e", {"external_userid": USER}),
        event_message("e", {"event_type": "msg_send_fail", "external_userid": USER}),
    ],
    ids=["no-msgid", "no-customer", "bad-time", "bad-latitude", "no-event-type", "fail-without-msgid"],
)
def test_entries_that_cannot_be_messages_are_refused(entry):
    with pytest.raises(MalformedMessage):
        one(entry)


# ---- WeCom's answers -----------------------------------------------------------------------------


def reply(data: object, status: int = 200) -> HttpReply:
    return HttpReply(status, json.dumps(data).encode())


def test_a_sync_msg_page():
    page = sync_page(
        reply(
            {"errcode": 0, "errmsg": "ok", "next_cursor": "c1", "has_more": 1, "msg_list": [{"msgid": "a"}]}
        )
    )
    assert (page.msg_list, page.next_cursor, page.has_more) == ([{"msgid": "a"}], "c1", True)


@pytest.mark.parametrize(
    "answer",
    [
        reply({"errcode": -1, "errmsg": "system busy"}),
        reply({}, 502),
        HttpReply(200, b"<html>"),
        reply({"errcode": 0, "msg_list": "x"}),
    ],
    ids=["busy", "http-502", "not-json", "bad-shape"],
)
def test_sync_msg_failures(answer):
    with pytest.raises(PullFailed):
        sync_page(answer)


def test_a_sent_reply_keeps_wecoms_msgid():
    result = send_result(reply({"errcode": 0, "errmsg": "ok", "msgid": "MSG0001"}))
    assert (result.status, result.platform_message_id) == ("sent", "MSG0001")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (95001, "at most 5 replies per customer message"),
        (95002, "outside WeCom's 48 h reply window"),
        (95018, "does not accept API replies in this session's current state"),
        (95016, "does not allow this session state change"),
        (95013, "WeCom kf refused the reply (95013: session closed)"),
    ],
)
def test_kf_refusals_are_permanent_and_say_what_happened(code, words):
    result = send_result(reply({"errcode": code, "errmsg": "session closed"}))
    assert (result.status, result.retryable) == ("failed", False)
    assert words in (result.error or "")


@pytest.mark.parametrize(("code", "retryable"), [(-1, True), (45009, True), (40014, True), (40096, False)])
def test_other_errcodes(code, retryable):
    result = send_result(reply({"errcode": code, "errmsg": "x"}))
    assert (result.status, result.retryable, result.error) == ("failed", retryable, f"WeCom error {code}: x")
