"""WeChat's signature and message cipher, checked against wechatpy (an independent implementation).

``WeChatPlatform`` plays WeChat's servers in every WeChat test: it signs and encrypts only through
wechatpy, never through our code, so a bug in our crypto cannot hide behind a matching bug in the
test. The integration tests import it from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import xmltodict
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import WeChatSigner, check_signature

from chalicelib.channels.base import BadRequest, Forbidden, Unauthorized
from chalicelib.channels.wechat import MessageCrypto, sha1_signature
from chalicelib.channels.wechat import check_signature as our_check_signature

TOKEN = "omniflow-demo-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx0demo0omniflow01"
TIMESTAMP = "1700000000"
NONCE = "1320562132"


@dataclass(frozen=True)
class WeChatPlatform:
    """What WeChat's servers send for one app: signed query strings and (safe mode) encrypted
    bodies, all produced by wechatpy."""

    token: str = TOKEN
    aes_key: str = AES_KEY
    app_id: str = APP_ID
    to_user: str = "gh_0123456789ab"

    def signature(self, timestamp: str = TIMESTAMP, nonce: str = NONCE) -> str:
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce)
        return signer.signature

    def handshake_query(self, echostr: str, timestamp: str = TIMESTAMP, nonce: str = NONCE) -> dict[str, str]:
        sig = self.signature(timestamp, nonce)
        check_signature(self.token, sig, timestamp, nonce)  # wechatpy agrees it is valid
        return {"signature": sig, "timestamp": timestamp, "nonce": nonce, "echostr": echostr}

    def plain_query(self, timestamp: str = TIMESTAMP, nonce: str = NONCE) -> dict[str, str]:
        return {
            "signature": self.signature(timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": "oUser",
        }

    def _encrypted(self, inner: str, timestamp: str, nonce: str) -> tuple[str, dict[str, str]]:
        """wechatpy's encrypt_message output → the Encrypt value and the safe-mode query."""
        out = xmltodict.parse(
            WeChatCrypto(self.token, self.aes_key, self.app_id).encrypt_message(inner, nonce, timestamp)
        )
        query = {
            "signature": self.signature(timestamp, nonce),
            "timestamp": out["xml"]["TimeStamp"],
            "nonce": out["xml"]["Nonce"],
            "openid": "oUser",
            "encrypt_type": "aes",
            "msg_signature": out["xml"]["MsgSignature"],
        }
        return out["xml"]["Encrypt"], query

    def safe_xml(
        self, inner_xml: str, timestamp: str = TIMESTAMP, nonce: str = NONCE
    ) -> tuple[str, dict[str, str]]:
        """Body and query of a safe-mode XML delivery (``<xml><ToUserName/><Encrypt/></xml>``)."""
        encrypted, query = self._encrypted(inner_xml, timestamp, nonce)
        body = (
            f"<xml><ToUserName><![CDATA[{self.to_user}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return body, query

    def safe_json(
        self, inner_json: str, timestamp: str = TIMESTAMP, nonce: str = NONCE
    ) -> tuple[str, dict[str, str]]:
        """Body and query of a Mini Program safe-mode JSON delivery (``{"ToUserName","Encrypt"}``)."""
        encrypted, query = self._encrypted(inner_json, timestamp, nonce)
        return json.dumps({"ToUserName": self.to_user, "Encrypt": encrypted}), query


def text_xml(content: str = "你好", msg_id: str = "23456789012345678", sender: str = "oUser") -> str:
    """A text message as WeChat's documentation shows it."""
    return (
        f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[{sender}]]>"
        f"</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


# ---- signatures ---------------------------------------------------------------------------------


def test_signature_matches_wechatpy_for_url_check_and_msg_signature():
    platform = WeChatPlatform()
    assert sha1_signature(TOKEN, TIMESTAMP, NONCE) == platform.signature()
    signer = WeChatSigner()
    signer.add_data(TOKEN, TIMESTAMP, NONCE, "ENCRYPTED")
    assert sha1_signature(TOKEN, TIMESTAMP, NONCE, "ENCRYPTED") == signer.signature


def test_signature_check_accepts_wechatpy_signature_in_any_case():
    sig = WeChatPlatform().signature()
    our_check_signature(sig, TOKEN, TIMESTAMP, NONCE)
    our_check_signature(sig.upper(), TOKEN, TIMESTAMP, NONCE)


@pytest.mark.parametrize(
    ("signature", "timestamp", "nonce"),
    [(None, TIMESTAMP, NONCE), ("abc", None, NONCE), ("abc", TIMESTAMP, "")],
)
def test_missing_signature_parts_are_unauthorized(signature, timestamp, nonce):
    with pytest.raises(Unauthorized):
        our_check_signature(signature, TOKEN, timestamp, nonce)


def test_wrong_signature_is_forbidden_and_wechatpy_agrees_it_is_wrong():
    sig = WeChatPlatform(token="another-token").signature()
    with pytest.raises(InvalidSignatureException):
        check_signature(TOKEN, sig, TIMESTAMP, NONCE)
    with pytest.raises(Forbidden):
        our_check_signature(sig, TOKEN, TIMESTAMP, NONCE)


# ---- cipher -------------------------------------------------------------------------------------


def test_decrypts_what_wechatpy_encrypts():
    wechatpy_key = WeChatCrypto(TOKEN, AES_KEY, APP_ID).key
    encrypted = PrpCrypto(wechatpy_key).encrypt(text_xml(), APP_ID)
    assert MessageCrypto(AES_KEY, APP_ID).decrypt(encrypted.decode()) == text_xml().encode()


@pytest.mark.parametrize("size", [0, 1, 11, 12, 43, 44, 1000])
def test_wechatpy_decrypts_what_we_encrypt_at_every_padding_length(size):
    message = ("中" * size).encode()
    encrypted = MessageCrypto(AES_KEY, APP_ID).encrypt(message)
    wechatpy_key = WeChatCrypto(TOKEN, AES_KEY, APP_ID).key
    assert PrpCrypto(wechatpy_key).decrypt(encrypted, APP_ID) == message.decode()
    assert MessageCrypto(AES_KEY, APP_ID).decrypt(encrypted) == message


def test_ciphertext_for_another_app_id_is_forbidden():
    encrypted = xmltodict.parse(
        WeChatCrypto(TOKEN, AES_KEY, "wx-someone-else").encrypt_message(text_xml(), NONCE)
    )
    with pytest.raises(Forbidden, match="another app id"):
        MessageCrypto(AES_KEY, APP_ID).decrypt(encrypted["xml"]["Encrypt"])


def test_ciphertext_under_another_key_is_forbidden():
    other_key = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
    encrypted = xmltodict.parse(WeChatCrypto(TOKEN, other_key, APP_ID).encrypt_message(text_xml(), NONCE))
    with pytest.raises(Forbidden):
        MessageCrypto(AES_KEY, APP_ID).decrypt(encrypted["xml"]["Encrypt"])


@pytest.mark.parametrize("encrypted", ["not base64!", "", "YWJj"])
def test_encrypt_that_is_no_ciphertext_is_a_bad_request(encrypted):
    with pytest.raises(BadRequest):
        MessageCrypto(AES_KEY, APP_ID).decrypt(encrypted)


@pytest.mark.parametrize("aes_key", ["short", AES_KEY + "A", "!" * 43])
def test_a_misconfigured_encoding_aes_key_is_our_error_not_the_platforms(aes_key):
    with pytest.raises(ValueError) as info:
        MessageCrypto(aes_key, APP_ID)
    assert not isinstance(info.value, BadRequest)


def test_the_trailing_id_is_a_parameter_so_wecom_can_use_its_corp_id():
    corp = MessageCrypto(AES_KEY, "ww0corp0id")
    assert corp.decrypt(corp.encrypt(b"<xml/>")) == b"<xml/>"
    with pytest.raises(Forbidden):
        MessageCrypto(AES_KEY, APP_ID).decrypt(corp.encrypt(b"<xml/>"))
