"""``make surge``: a promotion day at 10x, replayed through the local stack from outside.

The local stack (``python -m infra.local.stack``, the demo's team: groups, rules, agents) runs in a
subprocess on free ports; customers write to it over HTTP through their platforms' real request
builders (``infra.local.simulate``: Twilio's validator for SMS, wechatpy for WeChat, SNS-signed SES
notifications for e-mail, the website widget's session and message calls). The day is compressed:
each "hour" opens with a burst (every sender of the hour writes at once, like a promotion's push
notification landing), then the rest of their messages follow; each platform delivery is repeated
``--duplicates`` times (the same signed request again, as a platform retries when its ack is late)
except the widget's (a browser posts once). Concurrent clients: ``--clients``.

Printed: messages in, stored, lost (must be 0), doubled (must be 0), out of order (must be 0: each
sender's messages are stored in the order they were written), the share of conversations the bot
held, webhook latency (each POST) and end-to-end latency (first POST to stored, from the message's
``created_at``) p50/p95/p99, the inbound queue's depth over time, and a PNG chart
(``docs/surge.png``). Stored messages are read from the stack's moto (its DynamoDB tables), not
through the agent API, so nothing the console pages through is missed.

    python -m tests.bench.surge [--senders 120] [--messages 4] [--duplicates 3] [--clients 24]
    python -m tests.bench.surge --smoke      # a small run (the smoke test's)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STAGE = "local"
REGION = "us-east-1"
# The channels' share of senders on a promotion day (chat apps first, then SMS, web, e-mail).
MIX = (("wechat", 0.40), ("sms", 0.30), ("web", 0.20), ("email", 0.10))
TEXTS = (
    "你好，活动的优惠券怎么用",
    "我的订单什么时候发货",
    "能改地址吗？",
    "coupon code 不能用啊",
    "退款要多久",
    "有没有大码的",
    "付款失败了怎么办",
    "谢谢",
)


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_stack(workdir: Path, start_timeout: float) -> Iterator[dict[str, Any]]:
    """The local stack in a subprocess; yields its ``stack.json`` info."""
    port, moto_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "MOTO_PORT": str(moto_port),
        "OMNIFLOW_LOCAL_DIR": str(workdir),
        "OMNIFLOW_DEMO": "team",
        "PYTHONUNBUFFERED": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    log = (workdir / "stack.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.local.stack"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + start_timeout
        info_path = workdir / "stack.json"
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"local stack exited ({proc.returncode}); see {workdir / 'stack.log'}")
            if info_path.exists():
                info: dict[str, Any] = json.loads(info_path.read_text())
                try:
                    with urllib.request.urlopen(f"{info['url']}/api/health", timeout=5) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"local stack not healthy after {start_timeout:.0f}s")
            time.sleep(0.25)
        yield info
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(20)
        log.close()


@dataclass
class Sent:
    sender: str  # "<channel>:<address>"
    index: int  # the sender's n-th message
    text: str
    first_post: float = 0.0  # wall clock (epoch seconds) of the first delivery
    statuses: list[int] = field(default_factory=list)


@dataclass
class Plan:
    senders: list[tuple[str, str]]  # (channel, address)
    messages: int
    duplicates: int
    hours: int


def make_plan(senders: int, messages: int, duplicates: int, hours: int) -> Plan:
    out: list[tuple[str, str]] = []
    for i in range(senders):
        # the mix, spread evenly: sender i takes the channel whose cumulative share passes i/senders
        at, acc = (i + 0.5) / senders, 0.0
        channel = MIX[-1][0]
        for name, share in MIX:
            acc += share
            if at < acc:
                channel = name
                break
        address = {
            "sms": f"+1555{7000000 + i:07d}",
            "wechat": f"o_surge_{i:05d}",
            "email": f"surge{i}@example.com",
            "web": f"Surge visitor {i}",
        }[channel]
        out.append((channel, address))
    return Plan(out, messages, duplicates, hours)


class Customers:
    """Builds and sends each channel's requests, as its platform does."""

    def __init__(self, base_url: str, public_url: str, local_dir: Path) -> None:
        from infra.local import simulate

        self.sim = simulate
        self.target = simulate.Target(base_url, public_url)
        self.creds = {c: simulate.credentials(c) for c in ("sms", "wechat", "email")}
        self.signing = json.loads((local_dir / "sns-signing.json").read_text())
        self.web_tokens: dict[str, str] = {}
        self.visitors: dict[str, str] = {}  # name -> visitor id (the web identity's user id)
        self.lock = threading.Lock()

    def request(self, channel: str, address: str, text: str, n: int) -> Any:
        s = self.sim
        if channel == "sms":
            return s.sms_request(self.target, self.creds["sms"], sender=address, text=text)
        if channel == "wechat":
            return s.wechat_request(self.target, self.creds["wechat"], user=address, text=text)
        if channel == "email":
            return s.email_request(
                self.target,
                self.creds["email"],
                self.signing,
                sender=address,
                subject=f"Promo {n}",
                text=text,
            )
        token = self.web_token(address)
        return s.web_message_request(self.target, token, text)

    def web_token(self, name: str) -> str:
        with self.lock:
            token = self.web_tokens.get(name)
        if token is None:
            for attempt in range(5):  # the widget retries a session that timed out
                try:
                    resp = self.sim.web_session_request(self.target, name=name).send(timeout=60)
                    if resp.status_code < 500:
                        break
                except OSError:
                    if attempt == 4:
                        raise
                time.sleep(0.5 * (attempt + 1))
            resp.raise_for_status()
            token = str(resp.json()["token"])
            with self.lock:
                self.web_tokens[name] = token
                self.visitors[name] = str(resp.json()["visitor_id"])
        return token


def run_day(
    plan: Plan, customers: Customers, clients: int, on_post: Callable[[float], None]
) -> tuple[list[Sent], list[float]]:
    """Send the day: per hour a burst of every sender's first message, then their next ones; each
    sender's messages in order (the next after the previous one's first delivery was answered),
    duplicates re-posted at once by other clients (so they race the original)."""
    sent: list[Sent] = []
    per_hour = [plan.senders[h :: plan.hours] for h in range(plan.hours)]
    latencies: list[float] = []
    lock = threading.Lock()

    def post(prepared: Any) -> int:
        started = time.perf_counter()
        try:
            status = int(prepared.send(timeout=60).status_code)
        except Exception:  # a refused connection counts as a failed delivery
            status = 0
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
        on_post(elapsed)
        return status

    def one_sender(pool: ThreadPoolExecutor, channel: str, address: str) -> list[Sent]:
        mine: list[Sent] = []
        for n in range(plan.messages):
            text = f"{TEXTS[(n + len(address)) % len(TEXTS)]} #{n + 1} [{address[-5:]}]"
            record = Sent(f"{channel}:{address}", n, text)
            prepared = customers.request(channel, address, text, n)
            record.first_post = time.time()
            copies = 1 if channel == "web" else plan.duplicates
            dup_futures = [pool.submit(post, prepared) for _ in range(copies - 1)]
            record.statuses.append(post(prepared))
            # a platform retries until one delivery is acknowledged
            attempts = 0
            while record.statuses[-1] not in (200, 201, 202, 204) and attempts < 5:
                attempts += 1
                time.sleep(0.2 * attempts)
                record.statuses.append(post(prepared))
            record.statuses += [f.result() for f in dup_futures]
            mine.append(record)
        return mine

    with ThreadPoolExecutor(max_workers=clients) as pool, ThreadPoolExecutor(max_workers=clients) as dups:
        for hour in per_hour:
            futures = [pool.submit(one_sender, dups, c, a) for c, a in hour]
            for f in futures:
                sent += f.result()
    return sent, latencies


def stored_messages(
    info: dict[str, Any], plan: Plan, visitors: dict[str, str]
) -> tuple[dict[str, list[dict[str, Any]]], int, int]:
    """Each sender's stored inbound messages (oldest first) read from moto; and how many
    conversations the surge opened and how many of them the bot held."""
    import boto3
    from boto3.dynamodb.conditions import Key

    ddb = boto3.resource(
        "dynamodb",
        endpoint_url=info["endpoint"],
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    prefix = f"omniflow-{info.get('stage', STAGE)}"
    identities, customers = ddb.Table(f"{prefix}-identities"), ddb.Table(f"{prefix}-customers")
    conversations, messages = ddb.Table(f"{prefix}-conversations"), ddb.Table(f"{prefix}-messages")
    out: dict[str, list[dict[str, Any]]] = {}
    opened = bot_held = 0
    for channel, address in plan.senders:
        user = visitors.get(address, "") if channel == "web" else address
        ident = identities.get_item(Key={"identity_key": f"{channel}#default#{user}"}).get("Item")
        if ident is None:
            out[f"{channel}:{address}"] = []
            continue
        customer = customers.get_item(Key={"customer_id": ident["customer_id"]}).get("Item") or {}
        rows: list[dict[str, Any]] = []
        convs = conversations.query(
            IndexName="by_customer",
            KeyConditionExpression=Key("customer_id").eq(customer.get("customer_id", "")),
        )["Items"]
        for conv in sorted(convs, key=lambda c: str(c["created_at"])):
            opened += 1
            bot_held += 1 if conv.get("bot_first") else 0
            page = messages.query(KeyConditionExpression=Key("conversation_id").eq(conv["conversation_id"]))
            rows += [m for m in page["Items"] if m.get("direction") == "in" and m.get("text")]
        out[f"{channel}:{address}"] = rows
    return out, opened, bot_held


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.surge", description=__doc__)
    parser.add_argument("--senders", type=int, default=120)
    parser.add_argument("--messages", type=int, default=4, help="messages per sender")
    parser.add_argument("--duplicates", type=int, default=3, help="deliveries of each platform message")
    parser.add_argument("--hours", type=int, default=4, help="hours of the day replayed (a burst each)")
    parser.add_argument("--clients", type=int, default=24, help="concurrent HTTP clients")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--start-timeout", type=float, default=180.0)
    parser.add_argument("--chart", type=Path, default=REPO / "docs" / "surge.png")
    parser.add_argument("--out", type=Path, default=REPO / ".local" / "surge.json")
    parser.add_argument("--smoke", action="store_true", help="a small run: 12 senders x 2 messages")
    args = parser.parse_args(argv)
    if args.smoke:
        args.senders, args.messages, args.hours, args.clients = 12, 2, 2, 8
    plan = make_plan(args.senders, args.messages, args.duplicates, args.hours)
    with (
        tempfile.TemporaryDirectory(prefix="omniflow-surge-") as tmp,
        local_stack(Path(tmp), args.start_timeout) as info,
    ):
        result = replay(plan, info, Path(tmp), args.clients, args.drain_timeout)
    print(render(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    if args.chart and not args.smoke:
        chart(result, args.chart)
        print(f"chart: {args.chart.relative_to(REPO) if args.chart.is_relative_to(REPO) else args.chart}")
    ok = result["lost"] == 0 and result["doubled"] == 0 and result["out_of_order"] == 0
    return 0 if ok else 1


def replay(
    plan: Plan, info: dict[str, Any], local_dir: Path, clients: int, drain_timeout: float
) -> dict[str, Any]:
    import boto3

    sqs = boto3.client(
        "sqs",
        endpoint_url=info["endpoint"],
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    queue = sqs.get_queue_url(QueueName=f"omniflow-{info.get('stage', STAGE)}-inbound.fifo")["QueueUrl"]
    depth: list[tuple[float, int, int]] = []  # (seconds since start, visible, in flight)
    stop = threading.Event()
    started = time.time()

    def sample() -> None:
        while not stop.is_set():
            try:
                attrs = sqs.get_queue_attributes(
                    QueueUrl=queue,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
            except Exception:  # a busy moto: this sample is skipped, not the run
                stop.wait(0.5)
                continue
            depth.append(
                (
                    round(time.time() - started, 2),
                    int(attrs["ApproximateNumberOfMessages"]),
                    int(attrs["ApproximateNumberOfMessagesNotVisible"]),
                )
            )
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    customers = Customers(info["url"], info["public_url"], local_dir)
    sent, webhook = run_day(plan, customers, clients, lambda _: None)
    sent_done = time.time() - started
    # wait until every message is stored (or the drain timeout)
    expected = Counter(s.sender for s in sent)
    deadline = time.time() + drain_timeout
    while True:
        stored, opened, bot_held = stored_messages(info, plan, customers.visitors)
        have = sum(min(len(v), expected[k]) for k, v in stored.items())
        if have >= len(sent) or time.time() > deadline:
            break
        time.sleep(1.0)
    drained = time.time() - started
    stop.set()
    sampler.join(5)

    lost = doubled = out_of_order = 0
    e2e: list[float] = []
    by_text = {(s.sender, s.text): s for s in sent}
    for sender in expected:
        texts = [str(m["text"]) for m in stored.get(sender, [])]
        wanted = [s.text for s in sent if s.sender == sender]
        counts = Counter(texts)
        lost += sum(1 for t in wanted if counts[t] == 0)
        doubled += sum(n - 1 for n in counts.values() if n > 1)
        firsts = list(dict.fromkeys(texts))
        if [t for t in firsts if t in wanted] != [t for t in wanted if t in counts]:
            out_of_order += 1
        for m in stored.get(sender, []):
            s = by_text.get((sender, str(m["text"])))
            if s is not None and m.get("created_at"):
                e2e.append(datetime.fromisoformat(str(m["created_at"])).timestamp() - s.first_post)
    posts = sum(len(s.statuses) for s in sent)
    refused = sum(1 for s in sent for st in s.statuses if st not in (200, 201, 202, 204))
    return {
        "senders": len(plan.senders),
        "channels": dict(Counter(c for c, _ in plan.senders)),
        "messages_in": len(sent),
        "posts": posts,
        "posts_refused": refused,
        "stored": sum(min(len(v), expected[k]) for k, v in stored.items()),
        "lost": lost,
        "doubled": doubled,
        "out_of_order": out_of_order,
        "conversations": opened,
        "bot_share": round(bot_held / opened, 3) if opened else None,
        "webhook_s": {p: round(_percentile(webhook, p), 3) for p in (50, 95, 99)},
        "end_to_end_s": {p: round(_percentile(e2e, p), 3) for p in (50, 95, 99)},
        "sent_in_s": round(sent_done, 1),
        "all_stored_after_s": round(drained, 1),
        "posts_per_s": round(posts / sent_done, 1) if sent_done else None,
        "queue_depth": depth,
        "max_queue_depth": max((v + f for _, v, f in depth), default=0),
        "mean_webhook_s": round(statistics.fmean(webhook), 3) if webhook else None,
    }


def render(r: dict[str, Any]) -> str:
    def pct(d: dict[Any, float]) -> str:
        return " / ".join(f"{d[p]:.3f}" for p in sorted(d, key=int))

    return "\n".join(
        [
            "Surge replay (local stack, real platform requests)",
            f"  senders {r['senders']} {r['channels']}; posts {r['posts']} ({r['posts_per_s']}/s), "
            f"refused {r['posts_refused']}",
            f"  messages in {r['messages_in']}, stored {r['stored']}, lost {r['lost']} (0), "
            f"doubled {r['doubled']} (0), out of order {r['out_of_order']} (0)",
            f"  conversations {r['conversations']}, held by the bot first: {r['bot_share']}",
            f"  webhook latency p50/p95/p99 s: {pct(r['webhook_s'])}",
            f"  end-to-end latency p50/p95/p99 s: {pct(r['end_to_end_s'])}",
            f"  all sent after {r['sent_in_s']} s, all stored after {r['all_stored_after_s']} s; "
            f"inbound queue depth max {r['max_queue_depth']}",
            "  queue depth over time (s: visible+in flight): "
            + ", ".join(
                f"{t:.0f}:{v + f}" for t, v, f in r["queue_depth"][:: max(1, len(r["queue_depth"]) // 12)]
            ),
        ]
    )


def chart(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.5), dpi=100)
    t = [p[0] for p in r["queue_depth"]]
    ax.plot(t, [p[1] for p in r["queue_depth"]], label="visible")
    ax.plot(t, [p[1] + p[2] for p in r["queue_depth"]], label="visible + in flight")
    ax.axvline(r["sent_in_s"], color="grey", linestyle=":", label="last post")
    ax.set_xlabel("seconds since the first post")
    ax.set_ylabel("inbound queue depth")
    ax.set_title(
        f"Surge: {r['messages_in']} messages, {r['posts']} posts; lost {r['lost']}, doubled {r['doubled']}, "
        f"out of order {r['out_of_order']}",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
