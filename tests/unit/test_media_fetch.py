"""Each channel's ``fetch_media``: the exact platform requests (URLs, auth), asserted with
``responses``, and what happens when media expired, are refused, too large or of a risky type."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import responses
from responses import matchers

from chalicelib.channels import line, telegram, tokens, transport, wechat, wecom
from chalicelib.channels.messenger import ADAPTER as MESSENGER
from chalicelib.channels.sms import ADAPTER as SMS
from chalicelib.channels.transport import LiveTransport, MediaUnavailable, RecordingTransport
from chalicelib.channels.whatsapp import ADAPTER as WHATSAPP
from chalicelib.messages import Attachment

JPEG = b"\xff\xd8\xff\xe0fake-jpeg"
WA = {"access_token": "EAAG-wa-token", "phone_number_id": "106540352242922"}
TG = {"bot_token": "5000000001:AAsecret-bot-token", "secret_token": "s"}
LN = {"channel_secret": "s", "channel_access_token": "line-channel-token"}
WX = {"token": "t", "app_id": "wx0app", "app_secret": "wx-secret"}
WW = {"corp_id": "ww0corp", "secret": "kf-secret", "token": "t", "aes_key": "k"}


@pytest.fixture
def platform() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def image(media_id: str | None = "1234567890", **kw: object) -> Attachment:
    return Attachment(kind="image", media_id=media_id, **kw)  # type: ignore[arg-type]


def bearer(token: str) -> list[object]:
    return [matchers.header_matcher({"authorization": f"Bearer {token}"})]


# ---- WhatsApp (meta.py) ---------------------------------------------------------------------------
def test_whatsapp_looks_the_media_id_up_then_downloads_with_the_same_token(platform):
    cdn = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1234567890&ext=1&hash=x"
    platform.get(
        "https://graph.facebook.com/v21.0/1234567890",
        json={"url": cdn, "mime_type": "image/jpeg", "file_size": len(JPEG), "id": "1234567890"},
        match=bearer("EAAG-wa-token"),
    )
    platform.get(cdn, body=JPEG, content_type="image/jpeg", match=bearer("EAAG-wa-token"))

    media = WHATSAPP.fetch_media(WA, image(name="receipt.jpg"), LiveTransport())

    assert (media.content_type, media.body, media.name, media.inline) == (
        "image/jpeg",
        JPEG,
        "receipt.jpg",
        True,
    )
    assert [c.request.url for c in platform.calls] == ["https://graph.facebook.com/v21.0/1234567890", cdn]


def test_whatsapp_expired_media_id_is_unavailable_with_the_reason(platform):
    platform.get(
        "https://graph.facebook.com/v21.0/1234567890",
        status=400,
        json={"error": {"message": "Unsupported get request.", "code": 100, "error_subcode": 33}},
    )
    with pytest.raises(MediaUnavailable, match="Graph error 100/33: Unsupported get request"):
        WHATSAPP.fetch_media(WA, image(), LiveTransport())
    assert len(platform.calls) == 1


def test_whatsapp_cdn_link_gone_is_unavailable(platform):
    cdn = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"
    platform.get("https://graph.facebook.com/v21.0/1234567890", json={"url": cdn})
    platform.get(cdn, status=404, body=b"")
    with pytest.raises(MediaUnavailable, match="not found or expired"):
        WHATSAPP.fetch_media(WA, image(), LiveTransport())


def test_messenger_cdn_url_is_downloaded_without_any_token(platform):
    url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/photo.jpg?_nc_sid=1"
    platform.get(url, body=JPEG, content_type="image/jpeg")
    media = MESSENGER.fetch_media({"page_access_token": "page-token"}, image(None, url=url), LiveTransport())
    assert media.body == JPEG
    assert "Authorization" not in platform.calls[0].request.headers


# ---- the shared tail: size cap and content types (transport.py) -------------------------------------
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_body_over_the_cap_is_refused_whether_or_not_its_length_is_declared(
    platform, monkeypatch, declared
):
    monkeypatch.setattr(transport, "MAX_MEDIA_BYTES", 8)
    url = "https://scontent.xx.fbcdn.net/big.mp4"
    headers = {"Content-Length": "9"} if declared else {}
    platform.get(
        url, body=b"123456789", content_type="video/mp4", headers=headers, auto_calculate_content_length=False
    )
    with pytest.raises(MediaUnavailable, match="larger than"):
        MESSENGER.fetch_media({"page_access_token": "p"}, image(None, url=url), LiveTransport())


@pytest.mark.parametrize(
    ("given", "declared", "served"),
    [
        ("image/png", None, "image/png"),
        ("application/pdf", None, "application/pdf"),
        ("audio/ogg; codecs=opus", None, "audio/ogg"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            None,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("text/html; charset=utf-8", None, "application/octet-stream"),
        ("image/svg+xml", None, "application/octet-stream"),
        ("application/x-msdownload", None, "application/octet-stream"),
        ("application/octet-stream", "video/mp4", "video/mp4"),  # the webhook's type when the CDN has none
        ("text/html", "image/jpeg", "application/octet-stream"),  # never trusted over a risky answer
    ],
)
def test_only_viewable_types_are_served_as_themselves(platform, given, declared, served):
    url = "https://scontent.xx.fbcdn.net/file"
    platform.get(url, body=b"x", content_type=given)
    attachment = Attachment(kind="file", url=url, mime_type=declared)
    media = MESSENGER.fetch_media({"page_access_token": "p"}, attachment, LiveTransport())
    assert media.content_type == served
    assert media.inline is (served != "application/octet-stream")


def test_the_local_stack_calls_no_platform_and_says_so():
    recorder = RecordingTransport()
    with pytest.raises(MediaUnavailable, match="not available locally"):
        WHATSAPP.fetch_media(WA, image(), recorder)
    with pytest.raises(MediaUnavailable, match="not available locally"):
        telegram.ADAPTER.fetch_media(TG, image("AgAD"), recorder)
    assert all("AAsecret" not in c.url for c in recorder.calls)  # the bot token is not recorded


def test_channels_without_media_download_say_so():
    with pytest.raises(MediaUnavailable, match="sms attachments cannot be fetched"):
        SMS.fetch_media({}, image(), LiveTransport())


# ---- Telegram -------------------------------------------------------------------------------------
def test_telegram_get_file_then_the_file_url_with_the_bot_token(platform):
    base = "https://api.telegram.org"
    platform.get(
        f"{base}/bot5000000001:AAsecret-bot-token/getFile",
        json={"ok": True, "result": {"file_id": "AgAD", "file_size": 9, "file_path": "photos/file_7.jpg"}},
        match=[matchers.query_param_matcher({"file_id": "AgAD"})],
    )
    platform.get(
        f"{base}/file/bot5000000001:AAsecret-bot-token/photos/file_7.jpg",
        body=JPEG,
        content_type="application/octet-stream",  # what Telegram's file server answers
    )
    media = telegram.ADAPTER.fetch_media(TG, image("AgAD", mime_type="image/jpeg"), LiveTransport())
    assert (media.content_type, media.body) == ("image/jpeg", JPEG)


def test_telegram_refusals_keep_the_description_and_never_the_token(platform):
    platform.get(
        "https://api.telegram.org/bot5000000001:AAsecret-bot-token/getFile",
        status=400,
        json={"ok": False, "error_code": 400, "description": "Bad Request: file is too big"},
    )
    with pytest.raises(MediaUnavailable, match="file is too big"):
        telegram.ADAPTER.fetch_media(TG, image("AgAD"), LiveTransport())


def test_telegram_unreachable_is_told_without_the_url():
    class Down:
        recording = False

        def call(self, req: transport.HttpCall) -> transport.HttpReply:
            raise transport.TransportError(f"GET {req.url}: ConnectionError") from requests.ConnectionError()

    with pytest.raises(MediaUnavailable) as caught:
        telegram.ADAPTER.fetch_media(TG, image("AgAD"), Down())
    assert str(caught.value) == "Telegram unreachable (ConnectionError)"


# ---- LINE -----------------------------------------------------------------------------------------
def test_line_content_comes_from_the_data_host_with_the_channel_token(platform):
    platform.get(
        "https://api-data.line.me/v2/bot/message/468789577898262530/content",
        body=JPEG,
        content_type="image/jpeg",
        match=bearer("line-channel-token"),
    )
    media = line.ADAPTER.fetch_media(LN, image("468789577898262530"), LiveTransport())
    assert media.body == JPEG


@pytest.mark.parametrize(
    ("status", "reason"), [(404, "no longer has this file"), (202, "still preparing"), (401, "access token")]
)
def test_line_expired_preparing_and_refused(platform, status, reason):
    platform.get("https://api-data.line.me/v2/bot/message/1/content", status=status, json={"message": "x"})
    with pytest.raises(MediaUnavailable, match=reason):
        line.ADAPTER.fetch_media(LN, image("1"), LiveTransport())


def test_line_external_content_is_fetched_from_its_url_without_our_token(platform):
    url = "https://cdn.example.com/original.jpg"
    platform.get(url, body=JPEG, content_type="image/jpeg")
    line.ADAPTER.fetch_media(LN, image("1", url=url), LiveTransport())
    assert "Authorization" not in platform.calls[0].request.headers


# ---- WeChat and WeCom (access tokens shared through the state table: moto) -------------------------
@pytest.fixture
def fresh_tokens(aws) -> Iterator[None]:
    tokens.reset()
    yield
    tokens.reset()


def wx_token(platform: responses.RequestsMock, token: str = "WX-TOKEN-1") -> None:
    platform.get(
        "https://api.weixin.qq.com/cgi-bin/token",
        json={"access_token": token, "expires_in": 7200},
        match=[
            matchers.query_param_matcher(
                {"grant_type": "client_credential", "appid": "wx0app", "secret": "wx-secret"}
            )
        ],
    )


def wx_media(platform: responses.RequestsMock, token: str, **reply: object) -> None:
    platform.get(
        "https://api.weixin.qq.com/cgi-bin/media/get",
        match=[matchers.query_param_matcher({"access_token": token, "media_id": "MEDIA_1"})],
        **reply,  # type: ignore[arg-type]
    )


def test_wechat_media_get_with_the_shared_access_token(fresh_tokens, platform):
    wx_token(platform)
    wx_media(platform, "WX-TOKEN-1", body=JPEG, content_type="image/jpeg")
    media = wechat.ADAPTER.fetch_media(WX, image("MEDIA_1"), LiveTransport())
    assert media.body == JPEG


def test_wechat_expired_media_is_errcode_40007_inside_a_200(fresh_tokens, platform):
    wx_token(platform)
    wx_media(platform, "WX-TOKEN-1", json={"errcode": 40007, "errmsg": "invalid media_id"})
    with pytest.raises(MediaUnavailable, match="kept 3 days"):
        wechat.ADAPTER.fetch_media(WX, image("MEDIA_1"), LiveTransport())


def test_wechat_rejected_token_is_refreshed_once(fresh_tokens, platform):
    wx_token(platform, "WX-TOKEN-1")
    wx_media(platform, "WX-TOKEN-1", json={"errcode": 40001, "errmsg": "invalid credential"})
    wx_token(platform, "WX-TOKEN-2")
    wx_media(platform, "WX-TOKEN-2", body=JPEG, content_type="image/jpeg")
    assert wechat.ADAPTER.fetch_media(WX, image("MEDIA_1"), LiveTransport()).body == JPEG


def test_wechat_video_is_downloaded_from_the_video_url_it_answers(fresh_tokens, platform):
    wx_token(platform)
    wx_media(platform, "WX-TOKEN-1", json={"video_url": "http://mpvideo.qpic.cn/v1.mp4"})
    platform.get("http://mpvideo.qpic.cn/v1.mp4", body=b"mp4", content_type="video/mp4")
    video = Attachment(kind="video", media_id="MEDIA_1")
    assert wechat.ADAPTER.fetch_media(WX, video, LiveTransport()).content_type == "video/mp4"


def test_wecom_kf_media_get_with_the_kf_token(fresh_tokens, platform):
    platform.get(
        "https://qyapi.weixin.qq.com/cgi-bin/gettoken",
        json={"errcode": 0, "access_token": "WW-TOKEN", "expires_in": 7200},
        match=[matchers.query_param_matcher({"corpid": "ww0corp", "corpsecret": "kf-secret"})],
    )
    platform.get(
        "https://qyapi.weixin.qq.com/cgi-bin/media/get",
        body=b"%PDF-1.7",
        content_type="application/pdf",
        match=[matchers.query_param_matcher({"access_token": "WW-TOKEN", "media_id": "2iSLeVyqzk"})],
    )
    doc = Attachment(kind="file", media_id="2iSLeVyqzk", name="invoice.pdf")
    media = wecom.ADAPTER.fetch_media(WW, doc, LiveTransport())
    assert (media.content_type, media.name) == ("application/pdf", "invoice.pdf")


# ---- how the copy is served (chalicelib/media) ------------------------------------------------------
def test_risky_files_are_downloads_and_names_cannot_break_the_header():
    from chalicelib.media.service import disposition

    page = transport.Media("application/octet-stream", b"<script>", 'x.html"; inline')
    assert disposition(page, "file-1-0") == "attachment; filename*=UTF-8''x.html%22%3B%20inline"
    photo = transport.Media("image/jpeg", JPEG, None)
    assert disposition(photo, "image-3-0") == "inline; filename*=UTF-8''image-3-0"
