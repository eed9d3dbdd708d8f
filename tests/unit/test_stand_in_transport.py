"""The local stack's transports: recorded calls, or calls to a platform's local stand-in."""

from __future__ import annotations

import json

import responses

from chalicelib.channels.transport import (
    HttpCall,
    LiveTransport,
    RecordingTransport,
    StandInTransport,
    json_post,
    transport_for,
)


def test_record_mode_records_unless_the_channel_has_a_stand_in() -> None:
    assert isinstance(transport_for("record"), RecordingTransport)
    assert isinstance(transport_for("record", "http://127.0.0.1:9/demo/wecom"), StandInTransport)
    assert isinstance(transport_for("live", "http://127.0.0.1:9/demo/wecom"), LiveTransport)


@responses.activate
def test_a_stand_in_gets_the_platforms_path_and_query_and_its_answer_counts_as_local() -> None:
    seen = responses.post(
        "http://127.0.0.1:9/demo/wecom/cgi-bin/kf/send_msg",
        json={"errcode": 0, "errmsg": "ok", "msgid": "m1"},
        match=[responses.matchers.query_param_matcher({"access_token": "T"})],
    )
    http = StandInTransport("http://127.0.0.1:9/demo/wecom/")
    call = json_post(
        "https://qyapi.weixin.qq.com/cgi-bin/kf/send_msg",
        {"text": {"content": "你好"}},
        params={"access_token": "T"},
    )
    reply = http.call(call)
    assert seen.call_count == 1
    assert json.loads(seen.calls[0].request.body) == {"text": {"content": "你好"}}
    assert reply.ok and reply.json()["msgid"] == "m1"
    assert reply.recorded and not http.recording  # tokens are fetched; the reply is "sent (local)"
    assert http.calls == [call]  # what the console shows: the platform's URL, redacted later


@responses.activate
def test_a_get_to_a_stand_in_keeps_its_query() -> None:
    responses.get("http://127.0.0.1:9/demo/wecom/cgi-bin/gettoken", json={"errcode": 0, "access_token": "A"})
    http = StandInTransport("http://127.0.0.1:9/demo/wecom")
    reply = http.call(
        HttpCall("GET", "https://qyapi.weixin.qq.com/cgi-bin/gettoken", params={"corpid": "ww1"})
    )
    assert reply.json()["access_token"] == "A"
    assert "corpid=ww1" in (responses.calls[0].request.url or "")
