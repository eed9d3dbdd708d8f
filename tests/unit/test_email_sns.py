"""SNS signature verification (``chalicelib.channels.sns``), checked against messages signed the
way SNS signs them: a self-signed RSA 2048 certificate made with ``cryptography``, the canonical
"Key\\nValue\\n" text built here from AWS's documentation, SHA1withRSA (v1) or SHA256withRSA (v2).

``SnsSigner`` is also used by the e-mail unit and integration tests.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from chalicelib import config
from chalicelib.channels import sns
from chalicelib.channels.base import BadRequest, Forbidden

TOPIC = "arn:aws:sns:us-east-1:123456789012:omniflow-inbound-email"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"


def sns_time(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


class SnsSigner:
    """Signs SNS envelopes like SNS does, with its own throwaway key and certificate."""

    def __init__(
        self, *, valid_for: timedelta = timedelta(days=1), not_before: datetime | None = None
    ) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        start = not_before or datetime.now(UTC) - timedelta(hours=1)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + valid_for)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def envelope(
        self,
        message: str,
        *,
        kind: str = "Notification",
        topic_arn: str = TOPIC,
        version: str = "1",
        timestamp: datetime | None = None,
        message_id: str | None = None,
        subject: str | None = None,
        cert_url: str = CERT_URL,
        subscribe_url: str = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok",
    ) -> dict[str, str]:
        env: dict[str, str] = {
            "Type": kind,
            "MessageId": message_id or str(uuid.uuid4()),
            "TopicArn": topic_arn,
            "Message": message,
            "Timestamp": sns_time(timestamp or datetime.now(UTC)),
            "SignatureVersion": version,
            "SigningCertURL": cert_url,
        }
        if kind == "Notification":
            signed = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
            env["UnsubscribeURL"] = "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
            if subject is not None:
                env["Subject"] = subject
        else:
            signed = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
            env["SubscribeURL"] = subscribe_url
            env["Token"] = "tok"
        canonical = "".join(f"{k}\n{env[k]}\n" for k in signed if k in env).encode()
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        env["Signature"] = base64.b64encode(self.key.sign(canonical, padding.PKCS1v15(), digest)).decode()
        return env

    def body(self, message: str, **kwargs: Any) -> bytes:
        return json.dumps(self.envelope(message, **kwargs)).encode()


@pytest.fixture(scope="session")
def signer() -> SnsSigner:
    return SnsSigner()


class FakeUrlopen:
    """Stands in for ``urllib.request.urlopen``: records URLs, serves fixed bodies."""

    def __init__(self, bodies: dict[str, bytes] | None = None, error: Exception | None = None) -> None:
        self.bodies = bodies or {}
        self.error = error
        self.urls: list[str] = []

    def __call__(self, url: str, timeout: float | None = None) -> io.BytesIO:
        self.urls.append(url)
        assert timeout is not None, "a webhook must never wait on the network without a timeout"
        if self.error is not None:
            raise self.error
        return io.BytesIO(self.bodies.get(url, b"<ConfirmSubscriptionResponse/>"))


@pytest.fixture(autouse=True)
def fresh_sns_state():
    sns.reset_cache()
    config.settings.cache_clear()
    yield
    sns.reset_cache()
    config.settings.cache_clear()


@pytest.fixture
def served(monkeypatch, signer) -> FakeUrlopen:
    fake = FakeUrlopen({CERT_URL: signer.pem})
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    return fake


# ---- the canonical text ------------------------------------------------------------------------
def test_the_signed_text_lists_notification_fields_in_order_and_skips_a_missing_subject():
    env = {"Type": "Notification", "MessageId": "m", "TopicArn": "t", "Message": "x", "Timestamp": "ts"}
    assert (
        sns.signing_string(env)
        == b"Message\nx\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n"
    )
    assert sns.signing_string({**env, "Subject": "s"}).startswith(b"Message\nx\nMessageId\nm\nSubject\ns\n")


def test_the_signed_text_of_a_confirmation_includes_subscribe_url_and_token():
    env = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "m",
        "TopicArn": "t",
        "Message": "x",
        "Timestamp": "ts",
        "SubscribeURL": "u",
        "Token": "k",
    }
    assert sns.signing_string(env) == (
        b"Message\nx\nMessageId\nm\nSubscribeURL\nu\nTimestamp\nts\nToken\nk\nTopicArn\nt\n"
        b"Type\nSubscriptionConfirmation\n"
    )


# ---- genuine messages --------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1", "2"])
def test_a_message_signed_by_sns_is_accepted(served, signer, version):
    env = sns.parse_envelope(signer.body("hello", version=version, subject="Amazon SES Email Receipt"))
    sns.verify(env, topic_arn=TOPIC)
    assert served.urls == [CERT_URL]


def test_the_certificate_is_fetched_once_per_url(served, signer):
    for _ in range(3):
        sns.verify(sns.parse_envelope(signer.body("hello")), topic_arn=TOPIC)
    assert served.urls == [CERT_URL]


def test_the_local_cert_file_is_consulted_before_the_network(monkeypatch, tmp_path, signer):
    cert_file = tmp_path / "sns-certs.json"
    cert_file.write_text(json.dumps({CERT_URL: signer.pem.decode()}))
    monkeypatch.setenv("OMNIFLOW_SNS_CERT_FILE", str(cert_file))
    network = FakeUrlopen(error=urllib.error.URLError("no network"))
    monkeypatch.setattr(urllib.request, "urlopen", network)
    sns.verify(sns.parse_envelope(signer.body("hello")), topic_arn=TOPIC)
    assert network.urls == []


def test_an_unreadable_cert_file_falls_back_to_the_network(monkeypatch, tmp_path, served, signer):
    broken = tmp_path / "sns-certs.json"
    broken.write_text("{not json")
    monkeypatch.setenv("OMNIFLOW_SNS_CERT_FILE", str(broken))
    sns.verify(sns.parse_envelope(signer.body("hello")), topic_arn=TOPIC)
    assert served.urls == [CERT_URL]


# ---- forgeries ---------------------------------------------------------------------------------
def test_a_changed_message_does_not_match_its_signature(served, signer):
    env = signer.envelope("pay 10")
    env["Message"] = "pay 1000"
    with pytest.raises(Forbidden):
        sns.verify(env, topic_arn=TOPIC)


def test_a_message_signed_with_another_key_is_refused(served):
    with pytest.raises(Forbidden):
        sns.verify(SnsSigner().envelope("hello"), topic_arn=TOPIC)


def test_a_v1_signature_presented_as_v2_is_refused(served, signer):
    env = signer.envelope("hello", version="1")
    env["SignatureVersion"] = "2"
    with pytest.raises(Forbidden):
        sns.verify(env, topic_arn=TOPIC)


@pytest.mark.parametrize(
    "cert_url",
    [
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://evil.test/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.test/cert.pem",
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
        "https://user@sns.us-east-1.amazonaws.com/cert.pem",
        "https://s3.amazonaws.com/sns/cert.pem",
    ],
)
def test_a_certificate_anywhere_but_an_sns_host_is_refused_without_fetching(served, signer, cert_url):
    with pytest.raises(Forbidden):
        sns.verify(signer.envelope("hello", cert_url=cert_url), topic_arn=TOPIC)
    assert served.urls == []


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com:443/x.pem",
    ],
)
def test_sns_hosts_in_every_partition_are_accepted(url):
    assert sns.is_sns_url(url)


def test_a_message_from_another_topic_is_refused(served, signer):
    env = signer.envelope("hello", topic_arn="arn:aws:sns:us-east-1:999999999999:someone-elses-topic")
    with pytest.raises(Forbidden):
        sns.verify(env, topic_arn=TOPIC)
    assert served.urls == []


def test_an_account_without_a_topic_accepts_nothing(served, signer):
    with pytest.raises(Forbidden):
        sns.verify(signer.envelope("hello"), topic_arn="")


def test_a_message_older_than_an_hour_is_refused_as_a_replay(served, signer):
    env = signer.envelope("hello", timestamp=datetime.now(UTC) - timedelta(hours=1, minutes=1))
    with pytest.raises(Forbidden):
        sns.verify(env, topic_arn=TOPIC)


def test_an_unknown_signature_version_is_refused(served, signer):
    env = signer.envelope("hello")
    env["SignatureVersion"] = "3"
    with pytest.raises(Forbidden):
        sns.verify(env, topic_arn=TOPIC)


def test_a_signature_that_is_not_base64_is_refused(served, signer):
    env = signer.envelope("hello")
    env["Signature"] = "not base64!"
    with pytest.raises(Forbidden):
        sns.verify(env, topic_arn=TOPIC)


def test_an_expired_certificate_is_refused(monkeypatch, signer):
    expired = SnsSigner(not_before=datetime.now(UTC) - timedelta(days=3), valid_for=timedelta(days=1))
    monkeypatch.setattr(urllib.request, "urlopen", FakeUrlopen({CERT_URL: expired.pem}))
    with pytest.raises(Forbidden):
        sns.verify(expired.envelope("hello"), topic_arn=TOPIC)


def test_a_certificate_sns_does_not_have_is_refused(monkeypatch, signer):
    missing = urllib.error.HTTPError(CERT_URL, 404, "Not Found", {}, None)  # type: ignore[arg-type]
    monkeypatch.setattr(urllib.request, "urlopen", FakeUrlopen(error=missing))
    with pytest.raises(Forbidden):
        sns.verify(signer.envelope("hello"), topic_arn=TOPIC)


def test_a_certificate_url_serving_something_else_is_refused(monkeypatch, signer):
    monkeypatch.setattr(urllib.request, "urlopen", FakeUrlopen({CERT_URL: b"<html>maintenance</html>"}))
    with pytest.raises(Forbidden):
        sns.verify(signer.envelope("hello"), topic_arn=TOPIC)


def test_an_unreachable_certificate_host_is_a_transient_failure(monkeypatch, signer):
    monkeypatch.setattr(urllib.request, "urlopen", FakeUrlopen(error=TimeoutError("timed out")))
    with pytest.raises(sns.SnsUnavailable):
        sns.verify(signer.envelope("hello"), topic_arn=TOPIC)


# ---- envelope shape ----------------------------------------------------------------------------
@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_400(body):
    with pytest.raises(BadRequest):
        sns.parse_envelope(body)


@pytest.mark.parametrize(
    "field", ["MessageId", "TopicArn", "Timestamp", "Signature", "SigningCertURL", "Type"]
)
def test_an_envelope_missing_a_signed_field_is_400(signer, field):
    env = signer.envelope("hello")
    del env[field]
    with pytest.raises(BadRequest):
        sns.parse_envelope(json.dumps(env).encode())


def test_a_confirmation_without_subscribe_url_is_400(signer):
    env = signer.envelope("join", kind="SubscriptionConfirmation")
    del env["SubscribeURL"]
    with pytest.raises(BadRequest):
        sns.parse_envelope(json.dumps(env).encode())


def test_a_malformed_timestamp_is_400(served, signer):
    env = signer.envelope("hello")
    env["Timestamp"] = "yesterday"
    with pytest.raises(BadRequest):
        sns.verify(env, topic_arn=TOPIC)


# ---- subscription confirmation -----------------------------------------------------------------
def test_a_subscription_is_confirmed_by_getting_its_subscribe_url(monkeypatch, signer):
    url = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=t&Token=abc"
    fake = FakeUrlopen()
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    sns.confirm_subscription(signer.envelope("join", kind="SubscriptionConfirmation", subscribe_url=url))
    assert fake.urls == [url]


def test_a_subscribe_url_off_sns_is_never_called(monkeypatch, signer):
    fake = FakeUrlopen()
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    env = signer.envelope("join", kind="SubscriptionConfirmation", subscribe_url="https://evil.test/ssrf")
    with pytest.raises(Forbidden):
        sns.confirm_subscription(env)
    assert fake.urls == []


def test_a_confirmation_sns_does_not_answer_is_a_transient_failure(monkeypatch, signer):
    monkeypatch.setattr(urllib.request, "urlopen", FakeUrlopen(error=urllib.error.URLError("unreachable")))
    with pytest.raises(sns.SnsUnavailable):
        sns.confirm_subscription(signer.envelope("join", kind="SubscriptionConfirmation"))


def test_the_local_stack_only_logs_a_confirmation(monkeypatch, signer):
    monkeypatch.setenv("OMNIFLOW_OUTBOUND_MODE", "record")
    fake = FakeUrlopen()
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    sns.confirm_subscription(signer.envelope("join", kind="SubscriptionConfirmation"))
    assert fake.urls == []
