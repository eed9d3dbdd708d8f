"""Settings read once from the environment.

Every Lambda (webhook, router, sender, API) and the local stack read the same variables, so a
resource is named in exactly one place: here, by convention ``omniflow-<stage>-<name>``, matching
``infra/data.yaml``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache

MAX_BODY_BYTES = 1024 * 1024  # webhook bodies above this get 413


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _json_map(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError("expected a JSON object of strings")
    return {str(k): v for k, v in data.items()}


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    endpoint_url: str | None  # moto locally, None on AWS
    outbound_mode: str  # "live" sends over HTTP; "record" keeps what would be sent (local stack)
    public_url: str | None  # public base URL the platforms call (Twilio signs it)
    user_pool_id: str
    user_pool_client_id: str
    state_machine_arn: str
    alerts_topic_arn: str
    first_response_seconds: int
    sns_cert_file: str | None  # local stack only: pre-fetched SNS signing certs (url -> pem)
    queue_urls: dict[str, str] = field(default_factory=dict)
    # builtin | comprehend:<endpoint-arn> | bedrock:<model-id> (chalicelib/routing/intent.py)
    intent_backend: str = "builtin"
    ticket_state_machine_arn: str = ""  # tickets' SLA clocks (infra/ticket-sla.asl.json)
    media_bucket: str = ""  # customers' files copied from the platforms (infra/data.yaml MediaBucket)
    kb_backend: str = "builtin"  # knowledge-base search backend (chalicelib/kb/search.py)
    # API clients' tokens: a KMS asymmetric key id/ARN in AWS; empty: a key in Secrets Manager
    # (local stack, tests; chalicelib/auth/tokens.py)
    token_key_id: str = ""
    # local stack only: {channel: base URL} of platforms imitated on this machine (WeCom's kf API),
    # called instead of being recorded (OMNIFLOW_STAND_INS, JSON; see channels/transport.py)
    stand_ins: dict[str, str] = field(default_factory=dict)
    erasure_state_machine_arn: str = ""  # customers' erasure jobs (infra/erasure.asl.json)
    message_retention_days: int = 730  # messages expire (TTL) this long after they were stored

    @property
    def prefix(self) -> str:
        return f"omniflow-{self.stage}"

    def table(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def queue_name(self, name: str) -> str:
        """Queue names; inbound and outbound are FIFO (order per conversation)."""
        fifo = name in {"inbound", "outbound", "inbound-dlq", "outbound-dlq"}
        return f"{self.prefix}-{name}{'.fifo' if fifo else ''}"

    def secret_name(self, channel: str) -> str:
        return f"omniflow/{self.stage}/channels/{channel}"

    @property
    def jwks_url(self) -> str:
        base = self.endpoint_url or f"https://cognito-idp.{self.region}.amazonaws.com"
        return f"{base.rstrip('/')}/{self.user_pool_id}/.well-known/jwks.json"

    @property
    def token_issuer(self) -> str:
        # moto issues the same issuer string as Cognito does.
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"


@lru_cache(maxsize=1)
def settings() -> Settings:
    env = os.environ
    queue_urls = {
        name: env[f"OMNIFLOW_{name.upper().replace('-', '_')}_QUEUE_URL"]
        for name in ("inbound", "outbound", "events", "webhooks", "webhooks-dlq", "analytics")
        if env.get(f"OMNIFLOW_{name.upper().replace('-', '_')}_QUEUE_URL")
    }
    return Settings(
        stage=env.get("OMNIFLOW_STAGE", "local"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        endpoint_url=env.get("OMNIFLOW_AWS_ENDPOINT") or None,
        outbound_mode=env.get("OMNIFLOW_OUTBOUND_MODE", "live"),
        public_url=(env.get("OMNIFLOW_PUBLIC_URL") or "").rstrip("/") or None,
        user_pool_id=env.get("OMNIFLOW_USER_POOL_ID", ""),
        user_pool_client_id=env.get("OMNIFLOW_USER_POOL_CLIENT_ID", ""),
        state_machine_arn=env.get("OMNIFLOW_SLA_STATE_MACHINE_ARN", ""),
        alerts_topic_arn=env.get("OMNIFLOW_ALERTS_TOPIC_ARN", ""),
        first_response_seconds=_int("OMNIFLOW_FIRST_RESPONSE_SECONDS", 300),
        sns_cert_file=env.get("OMNIFLOW_SNS_CERT_FILE") or None,
        queue_urls=queue_urls,
        intent_backend=env.get("OMNIFLOW_INTENT_BACKEND") or "builtin",
        ticket_state_machine_arn=env.get("OMNIFLOW_TICKET_SLA_STATE_MACHINE_ARN", ""),
        media_bucket=env.get("OMNIFLOW_MEDIA_BUCKET", ""),
        kb_backend=env.get("OMNIFLOW_KB_BACKEND") or "builtin",
        token_key_id=env.get("OMNIFLOW_TOKEN_KEY_ID", ""),
        stand_ins=_json_map(env.get("OMNIFLOW_STAND_INS")),
        erasure_state_machine_arn=env.get("OMNIFLOW_ERASURE_STATE_MACHINE_ARN", ""),
        message_retention_days=_int("OMNIFLOW_MESSAGE_RETENTION_DAYS", 730),
    )


def reset() -> None:
    """Forget cached settings (tests and the local stack change the environment); ``aws.reset``
    forgets the clients."""
    settings.cache_clear()
