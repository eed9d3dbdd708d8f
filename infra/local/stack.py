"""The whole of Omniflow on one laptop: ``python -m infra.local.stack`` (what ``make dev`` runs).

1. moto as a server (``ThreadedMotoServer``) with Step Functions execution switched on, so the SLA
   machine really runs; every AWS call of the stack goes there, never to AWS;
2. the resources, created from the cloud's own definitions (``infra/local/provision.py``);
3. a self-signed "SNS" certificate so the email simulator can sign deliveries the email webhook
   verifies like real ones;
4. the Chalice app imported only now, with the environment set, and demo data seeded through it;
5. Lambda's SQS event source mappings emulated for every ``@app.on_sqs_message`` (``sqs_runner``);
6. one HTTP port standing in for both API Gateways (``server``): ``/api/...`` and ``/webhooks/...``.

Outbound replies are recorded, not sent (``OMNIFLOW_OUTBOUND_MODE=record``). Ctrl-C stops it all.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[2]
STAGE = "local"
REGION = "us-east-1"
HOST = "127.0.0.1"
DEFAULT_PORT = 8000
READY_TIMEOUT = 60.0
SNS_CERT_URL = "https://sns.{region}.amazonaws.com/SimpleNotificationService-omniflow-local.pem"

log = logging.getLogger("infra.local")


# --------------------------------------------------------------------------------------------
# files shared with the simulator and the DLQ tool
# --------------------------------------------------------------------------------------------
def local_dir() -> Path:
    """Where the stack keeps its run-time files (``OMNIFLOW_LOCAL_DIR``, default ``.local/``)."""
    path = Path(os.environ.get("OMNIFLOW_LOCAL_DIR") or REPO / ".local")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: Path, data: Any, mode: int = 0o644) -> None:
    """Atomically, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def read_stack_info() -> dict[str, Any] | None:
    """The running local stack's URLs (``.local/stack.json``), or None if none is running."""
    path = local_dir() / "stack.json"
    try:
        info: dict[str, Any] = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return info


def sns_signing_identity(region: str = REGION) -> dict[str, str]:
    """The local "SNS" certificate and key: ``{"cert_url", "cert_pem", "key_pem"}``, created once.

    The email webhook only trusts certificates on ``https://sns.<region>.amazonaws.com``; locally
    it reads them from ``OMNIFLOW_SNS_CERT_FILE`` instead of the network (see channels/sns.py).
    """
    path = local_dir() / "sns-signing.json"
    with contextlib.suppress(OSError, ValueError):
        data: dict[str, str] = json.loads(path.read_text())
        if data.get("cert_url") == SNS_CERT_URL.format(region=region):
            return data

    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sns.{region}.amazonaws.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    data = {
        "cert_url": SNS_CERT_URL.format(region=region),
        "cert_pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "key_pem": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    }
    write_json(path, data, mode=0o600)
    return data


def sns_cert_file(identity: dict[str, str]) -> Path:
    """The ``{cert_url: pem}`` file the email webhook trusts (certificate only, no key)."""
    path = local_dir() / "sns-certs.json"
    write_json(path, {identity["cert_url"]: identity["cert_pem"]})
    return path


# --------------------------------------------------------------------------------------------
# the stack
# --------------------------------------------------------------------------------------------
def base_environment(moto_port: int, port: int) -> dict[str, str]:
    """What every Lambda of the local stack sees, before the resources exist."""
    endpoint = f"http://{HOST}:{moto_port}"
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "MOTO_PORT": str(moto_port),  # moto's Step Functions executor calls localhost:$MOTO_PORT
        "OMNIFLOW_AWS_ENDPOINT": endpoint,
        # a safety net for any client created without our endpoint: it still reaches moto
        "AWS_ENDPOINT_URL": endpoint,
        "OMNIFLOW_STAGE": STAGE,
        "OMNIFLOW_OUTBOUND_MODE": "record",
        "OMNIFLOW_PUBLIC_URL": f"http://{HOST}:{port}",
        # platforms imitated on this port instead of recorded (WeCom's kf API: see wecom_kf.py)
        "OMNIFLOW_STAND_INS": json.dumps({"wecom": f"http://{HOST}:{port}/demo/wecom"}),
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "Omniflow",
    }


def import_app(ref: str) -> Any:
    """``module:attribute``, imported only once the environment is in place."""
    module_name, _, attr = ref.partition(":")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return getattr(importlib.import_module(module_name), attr or "app")


def wait_until_healthy(url: str, timeout: float = READY_TIMEOUT) -> None:
    """Poll ``GET url`` until it answers 200; raise TimeoutError with the last answer."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 — our own http URL
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:200]!r}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        threading.Event().wait(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout:.0f}s ({last})")


class LocalStack:
    """Start and stop everything, in order; ``stop()`` is safe after a partial start."""

    def __init__(
        self,
        *,
        port: int,
        moto_port: int = 0,
        app_ref: str = "app:app",
        seed: bool = True,
        demo: str = "full",
        demo_online: bool = True,
    ) -> None:
        self.requested_port = port
        self.requested_moto_port = moto_port
        self.app_ref = app_ref
        self.demo_level: Literal["none", "team", "full"] = demo if seed else "none"  # type: ignore[assignment]
        self.demo_online = demo_online
        self.seed_seconds = 0.0
        self.env: dict[str, str] = {}
        self.moto: Any = None
        self.server: Any = None
        self.runner: Any = None
        self._info_path: Path | None = None
        self._http_thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        from infra.local.server import LocalHttpServer, serve_in_thread

        # Open the front door first: a busy port fails before any work, PORT=0 picks a free one we
        # can put in OMNIFLOW_PUBLIC_URL (Twilio signs that URL), and until the app is in place
        # every request gets a quick 503 instead of waiting in the accept queue.
        self.server = LocalHttpServer((HOST, self.requested_port))
        self._http_thread = serve_in_thread(self.server)

        from infra.local import moto_transactions

        moto_transactions.install()  # moto copies a whole table per transaction item otherwise
        self.moto = ThreadedMotoServer(ip_address=HOST, port=self.requested_moto_port, verbose=False)
        self.moto.start()
        moto_port = self.moto.get_host_and_port()[1]
        self.env = base_environment(moto_port, self.port)
        os.environ.update(self.env)
        endpoint = self.env["OMNIFLOW_AWS_ENDPOINT"]
        request = urllib.request.Request(  # noqa: S310 — moto on localhost
            f"{endpoint}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310

        from infra.local.provision import provision

        log.info("creating resources in moto at %s", endpoint)
        self.env.update(provision(STAGE, endpoint_url=endpoint, region=REGION))
        identity = sns_signing_identity(REGION)
        self.env["OMNIFLOW_SNS_CERT_FILE"] = str(sns_cert_file(identity))
        os.environ.update(self.env)

        app = import_app(self.app_ref)

        from infra.local.server import Gateway
        from infra.local.sqs_runner import SqsRunner

        lock = threading.Lock()  # one invocation at a time, as in one Lambda runtime
        self.runner = SqsRunner(app, endpoint_url=endpoint, region=REGION, lock=lock, stage=STAGE)
        gateway = Gateway(app, stage=STAGE, lock=lock)
        self.server.demo_gateway = gateway  # WeCom's kf stand-in answers the demo's replies
        if self.demo_level != "none":
            from infra.local import demo

            # Before the pollers start and the door opens: the demo is played through the gateway
            # and the router in this thread, and its queued replies drained inline.
            started = time.monotonic()
            demo.seed(
                self.env, gateway=gateway, runner=self.runner, level=self.demo_level, online=self.demo_online
            )
            self.seed_seconds = time.monotonic() - started
        # The door opens before the pollers start: the replies the demo queued include WeCom's, which
        # the sender delivers to the kf API stand-in behind this very door.
        self.server.gateway = gateway
        self.runner.start()
        wait_until_healthy(f"{self.url}/api/health")
        self._info_path = local_dir() / "stack.json"
        write_json(
            self._info_path,
            {
                "pid": os.getpid(),
                "url": self.url,
                "port": self.port,
                "public_url": self.env["OMNIFLOW_PUBLIC_URL"],
                "endpoint": endpoint,
                "moto_port": moto_port,
                "stage": STAGE,
                "sns_cert_url": identity["cert_url"],
            },
        )

    def stop(self) -> None:
        if self._info_path is not None:
            with contextlib.suppress(OSError):
                self._info_path.unlink()
        if self.server is not None:
            if self._http_thread is not None:
                self.server.shutdown()
            self.server.server_close()
        if self.runner is not None:
            self.runner.stop()
        if self.moto is not None:
            self.moto.stop()


def telegram_set_webhook(public_url: str) -> str:
    """The ``setWebhook`` call (``chalicelib.channels.telegram.set_webhook_call``) an operator makes
    to point a bot at this stack, as a curl command. The bot token and the secret token stay
    ``$OMNIFLOW_TELEGRAM_…`` variables, the ones ``make dev`` seeds them from: the banner shows
    where secrets come from, never their values."""
    from chalicelib.channels import telegram
    from infra.local.provision import credential_env_var

    token_var = credential_env_var("telegram", "bot_token")
    secret_var = credential_env_var("telegram", "secret_token")
    call = telegram.set_webhook_call(public_url, {"bot_token": f"${token_var}", "secret_token": secret_var})
    # The body goes in single quotes; the secret steps out of them so the shell expands it.
    body = json.dumps(call.json).replace(f'"{secret_var}"', f'"\'"${secret_var}"\'"')
    return f"curl -X {call.method} \"{call.url}\" -H 'content-type: application/json' -d '{body}'"


def webhook_urls(base: str) -> list[str]:
    """Every webhook URL that answers: a channel's root, or its sub-paths (``ChannelAdapter.endpoints``;
    the website chat answers only ``/webhooks/web/{sessions,messages,status}``)."""
    from chalicelib import channels

    return [
        f"{base}/webhooks/{name}" + (f"/{endpoint}" if endpoint else "")
        for name in channels.webhook_channels()
        for endpoint in (channels.get(name).endpoints or ("",))
    ]


def demo_summary(stack: LocalStack) -> list[str]:
    """What the demo seeded, for the banner."""
    level = getattr(stack, "demo_level", "none")
    if level == "none":
        return []
    if level == "team":
        return [
            "  Demo         logins, skill groups, canned replies, calendars and routing rules (DEMO=team)"
        ]
    from infra.local.demo.people import PEOPLE
    from infra.local.demo.stories import STORIES

    states = {s: sum(1 for x in STORIES if x.state == s) for s in ("queued", "assigned", "snoozed", "closed")}
    channels = len({p.channel for p in PEOPLE} | {"app", "email"})
    online = "online" if stack.demo_online else "offline"
    return [
        f"  Demo         {len(PEOPLE)} customers on {channels} channels; conversations:"
        f" {states['queued']} waiting, {states['assigned']} assigned, {states['snoozed']} snoozed,"
        f" {states['closed']} closed;",
        f"               tickets in every status; agents {online} (seeded in {stack.seed_seconds:.1f}s);"
        " open 陈静's conversation for the customer 360.",
        f"               The shop's chat is open 24x7; {stack.url}/demo/shop?site=wholesale keeps"
        " business hours (the after-hours form).",
    ]


def banner(stack: LocalStack) -> str:
    from infra.local.demo import USERS, demo_password

    py = ".venv/bin/python" if Path(sys.executable).parent == REPO / ".venv" / "bin" else "python"
    sim = f"{py} -m infra.local.simulate"
    logins = ", ".join(
        f"{u.username} ({u.role}{': ' + '+'.join(u.groups) if u.groups else ''})" for u in USERS
    )
    lines = [
        "",
        f"Omniflow local stack — stage {STAGE!r}, AWS = moto at {stack.env['OMNIFLOW_AWS_ENDPOINT']}",
        f"  Console      {stack.url}/api/console",
        f"  Agent API    {stack.url}/api   (e.g. GET {stack.url}/api/health)",
        f"  Demo shop    {stack.url}/demo/shop   (the website chat widget, embedded with one line)",
        *demo_summary(stack),
        "  Webhooks     " + "\n               ".join(webhook_urls(stack.url)),
        "  Telegram     register the bot's webhook once (Telegram only calls HTTPS: use a tunnel's URL):",
        f"               {telegram_set_webhook(stack.env['OMNIFLOW_PUBLIC_URL'])}",
        f"  Logins       {logins}",
        f"               password: {demo_password()}",
        "  Play customer:",
        f'    {sim} wechat --user o_demo_1 "你好，我的订单还没到"',
        f'    {sim} wechat --safe-mode --user o_demo_2 "请问有优惠吗"',
        f'    {sim} sms --from +8613800138000 "hi, where is my order?"',
        f'    {sim} wecom --user wmDemoNew01 --wait 30 "你好，在吗"   (WeCom, via its kf API stand-in)',
        f'    {sim} email --from alice@example.com --subject "Order 123" "It arrived broken"',
        f'    {sim} web --name Alice --email alice@example.com "hello"',
        '  Outbound     nothing leaves this machine: replies are recorded, shown as "sent (local)" in the',
        "               console (message status sent_local) and logged below as"
        ' {"message": "outbound", "status": "sent_local"}',
        f"  DLQ          {py} -m infra.local.replay_dlq --dry-run   (make replay-dlq to move them back)",
        "  Stop         Ctrl-C",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.stack", description="Run Omniflow locally on moto."
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or DEFAULT_PORT))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT") or 0))
    parser.add_argument(
        "--app", default=os.environ.get("OMNIFLOW_LOCAL_APP", "app:app"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--demo",
        choices=("none", "team", "full"),
        default=os.environ.get("OMNIFLOW_DEMO") or "full",
        help="demo data: full (customers, conversations, tickets), team (logins, groups, rules) or none",
    )
    parser.add_argument("--no-seed", action="store_true", help="no demo data at all (--demo none)")
    args = parser.parse_args(argv)
    online = (os.environ.get("OMNIFLOW_DEMO_ONLINE") or "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    warnings.filterwarnings("ignore", message="Tried to parse AWS::S3::BucketPolicy")  # moto skips it
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF blobs would drown the log

    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    stack = LocalStack(
        port=args.port,
        moto_port=args.moto_port,
        app_ref=args.app,
        seed=not args.no_seed,
        demo=args.demo,
        demo_online=online,
    )
    try:
        stack.start()
    except Exception as exc:
        log.exception("local stack failed to start: %s", exc)
        stack.stop()
        return 1
    print(banner(stack), flush=True)
    print("ready", flush=True)
    while not stopping.wait(0.2):
        pass
    print("stopping …", flush=True)
    started = time.monotonic()
    stack.stop()
    print(f"stopped ({time.monotonic() - started:.1f}s)", flush=True)
    # The heap goes away whole now; letting the interpreter's final collections walk moto's
    # in-memory AWS would add seconds to every Ctrl-C.
    gc.freeze()
    return 0


if __name__ == "__main__":
    sys.exit(main())
