"""The bot (C5): first contact where the routing rules say ``bot_first``.

Where it sits: the router stores a customer's message, then hands it here while the bot holds
the conversation (``Conversation.bot_key == "active"``: not queued, not offered to agents, no
first-response clock). For each message the bot, in order: hands off at once when asked for a
person, when the customer is upset, or for a picture it cannot read; carries on a running flow
(order status, refund conditions, opening hours, ticket progress — ``flows.py``); takes a "did
this solve it?" answer; takes a pick from its "did you mean" list; starts a flow its triggers
name; else searches the knowledge base and answers alone only when the engine is confident,
offers the top three when it is not, and says so (offering a person) when nothing comes up.
Repeated failure hands off too. Its replies go out like an agent's, through the outbound queue
(``tickets.notify``: stored as the conversation's next message, author ``bot``).

Handoff is one step: the conversation joins its skill group's queue with a summary of what the
bot tried (question, articles shown, flow state), stored on the conversation and as a note at the
top of the agent's timeline, so the customer never repeats. Every bot conversation ends resolved
by the bot, handed off or abandoned (``sweep_abandoned``), counted per day by atomic ADD
(``bot-stats``), with the articles it used.

Exactly once: the session records the last message handled (``last_seq``), written on that
condition before anything is sent; a redelivery finds it handled and stays silent.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cachetools import TTLCache, cached
from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.assignment import service as assignment
from chalicelib.audit import service as audit
from chalicelib.bot import knowledge
from chalicelib.bot import text as bot_text
from chalicelib.bot.flows import (
    DEFAULT_FLOWS,
    Flow,
    FlowSet,
    FlowState,
    FlowTurn,
    advance,
    expired,
    find,
    retry,
    start,
)
from chalicelib.bot.format import Reply, render
from chalicelib.bot.models import FLOWS_KIND, FLOWS_NAME, BotSession, BotStat, FlowSetItem, session_key
from chalicelib.bot.turn import REASON_TEXT, HandoffReason, after_search, failed_again, handoff_now, picked
from chalicelib.calendars import service as calendars
from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import OPEN, Conversation
from chalicelib.feed import service as feed
from chalicelib.identity import service as identity
from chalicelib.messages import InboundMessage, iso, utcnow
from chalicelib.observability import logger
from chalicelib.orders import service as orders
from chalicelib.sla import service as sla
from chalicelib.tickets import notify
from chalicelib.tickets import rules as ticket_rules
from chalicelib.tickets import service as tickets
from chalicelib.tickets.models import ACTIVE
from chalicelib.versions import VersionConflict, read_list_item, save_versioned

SESSION_TTL = timedelta(days=30)
CACHE_SECONDS = 30
MAX_STORED_BYTES = 300_000
AUDIT_SUBJECT = "bot-flows"
DEFAULT_CALENDAR = "cn-support"
ORDER_STATUS = {
    "pending": "待发货",
    "paid": "已付款，待发货",
    "processing": "处理中",
    "shipped": "已发货",
    "in_transit": "运输中",
    "out_for_delivery": "派送中",
    "delivered": "已签收",
    "cancelled": "已取消",
    "canceled": "已取消",
    "refunded": "已退款",
    "returned": "已退货",
}


def idle_seconds() -> int:
    """Silence after which a conversation the bot holds counts as abandoned."""
    return int(os.environ.get("OMNIFLOW_BOT_IDLE_SECONDS", "1800"))


def handoff_calendar() -> str:
    """The business hours a handoff quotes when agents are away (``OMNIFLOW_BOT_CALENDAR``)."""
    return os.environ.get("OMNIFLOW_BOT_CALENDAR", DEFAULT_CALENDAR)


def min_suggest_score() -> float:
    return float(os.environ.get("OMNIFLOW_BOT_MIN_SUGGEST_SCORE", "0"))


# ---- the flows, as admins edit them ------------------------------------------------------------------
def _clock() -> float:
    return time.monotonic()


_CACHE: TTLCache[str, FlowSet] = TTLCache(maxsize=1, ttl=CACHE_SECONDS, timer=lambda: _clock())
_LOCK = threading.Lock()


def _read(consistent: bool) -> FlowSet:
    return read_list_item(
        FlowSetItem,
        (FLOWS_KIND, FLOWS_NAME),
        "flows",
        FlowSet,
        consistent=consistent,
        invalid="stored bot flows are invalid; the bot runs without flows",
    )


@cached(cache=_CACHE, lock=_LOCK, key=lambda: "flows")
def flowset() -> FlowSet:
    """The saved flows, cached per instance for ``CACHE_SECONDS`` (the bot's read)."""
    return _read(consistent=False)


def active_flows() -> list[Flow]:
    saved = flowset()
    return saved.flows if saved.version else DEFAULT_FLOWS


def current() -> FlowSet:
    """The saved flows read now; the defaults (version 0) until an admin saves."""
    saved = _read(consistent=True)
    return saved if saved.version else FlowSet(version=0, flows=DEFAULT_FLOWS)


def view(flow_set: FlowSet) -> dict[str, Any]:
    return {
        "version": flow_set.version,
        "flows": [f.model_dump(mode="json", exclude_none=True) for f in flow_set.flows],
        "updated_at": flow_set.updated_at,
        "updated_by": flow_set.updated_by,
    }


def save(version: int, flows: list[Flow], actor: str) -> FlowSet:
    """Replace the whole flow set if ``version`` is still the saved one (else ``VersionConflict``,
    a 409). Audited; seen at once by this instance, by others within ``CACHE_SECONDS``."""
    dumped = [f.model_dump(mode="json", exclude_none=True) for f in flows]
    size = len(json.dumps(dumped, ensure_ascii=False).encode())
    if size > MAX_STORED_BYTES:
        raise ValueError(f"flows take {size} bytes; at most {MAX_STORED_BYTES}")
    before = _read(consistent=True)
    if before.version != version:
        raise VersionConflict(f"bot flows changed since version {version}: reload and retry")
    item = FlowSetItem(FLOWS_KIND, FLOWS_NAME, flows=dumped, updated_at=iso(utcnow()), updated_by=actor)
    saved = save_versioned(item, version, "bot flows")
    audit.record(
        AUDIT_SUBJECT,
        actor,
        "bot_flows.replace",
        {"version": saved, "previous_version": version, "flows": [f.flow_id for f in flows]},
    )
    reset()
    return FlowSet(version=saved, flows=flows, updated_at=item.updated_at, updated_by=actor)


def reset() -> None:
    with _LOCK:
        _CACHE.clear()


# ---- counters ----------------------------------------------------------------------------------------
KB_COUNTERS = {
    "shown": knowledge.SHOWN,
    "answered": knowledge.BOT_ANSWERS,
    "helpful": knowledge.HELPFUL,
    "not_helpful": knowledge.NOT_HELPFUL,
    "handoffs_after": knowledge.HANDOFFS,
}


def count(key: str, **fields: int) -> None:
    """Add to today's counters under ``key`` (one UpdateItem, atomic ADD); an article's go to the
    knowledge base's own usage counters (``article#<id>``). Never raises: a counter must not undo
    a conversation's turn."""
    if key.startswith("article#"):
        for name, n in fields.items():
            for _ in range(n):
                knowledge.record(key.removeprefix("article#"), KB_COUNTERS[name])
        return
    try:
        BotStat(utcnow().date().isoformat(), key).update(
            actions=[getattr(BotStat, name).add(value) for name, value in fields.items()]
        )
    except Exception as exc:  # noqa: BLE001
        logger.warning("bot counter failed", extra={"key": key, "error": type(exc).__name__})


def _outcome(channel: str | None, c: Conversation | None = None, **fields: int) -> None:
    count("outcomes", **fields)
    if channel:
        count(f"channel#{channel}", **fields)
    if c is not None:  # the analytics count it too (events.Activity, once per conversation and outcome)
        from chalicelib.conversations.inbound import activity_dims
        from chalicelib.events import Activity, publish

        for name in fields:
            kind = "bot_started" if name == "conversations" else f"bot_{name}"
            publish(Activity(f"{kind}#{c.conversation_id}", kind, iso(utcnow()), activity_dims(c, channel)))


def report(day: str | None) -> dict[str, Any]:
    """``GET /reports/bot?day=``: one UTC day's counters (default today). ``Invalid`` on a bad day."""
    from datetime import date

    from chalicelib.errors import Invalid

    try:
        when = date.fromisoformat(day) if day else utcnow().date()
    except ValueError:
        raise Invalid(f"bad day {day!r}: use YYYY-MM-DD") from None
    return {"day": when.isoformat(), "counters": stats(when.isoformat())}


def stats(day: str) -> dict[str, dict[str, int]]:
    """One day's counters by key (one Query): what the analytics capability reads."""
    return {
        s.key: {k: int(v) for k, v in s.attribute_values.items() if k not in ("day", "key")}
        for s in BotStat.query(day)
    }


# ---- the session -------------------------------------------------------------------------------------
@dataclass
class Memory:
    """What the bot remembers of a conversation (``BotSession``), changed by one turn."""

    conversation_id: str
    customer_id: str
    last_seq: int = 0
    turns: int = 0
    failures: int = 0
    language: str | None = None
    question: str | None = None
    last_question: str | None = None
    flow: dict[str, Any] | None = None
    offered: list[dict[str, str]] = field(default_factory=list)
    awaiting: str | None = None
    shown: list[dict[str, str]] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)
    flows_run: list[str] = field(default_factory=list)
    pending: list[tuple[str, dict[str, int]]] = field(default_factory=list)  # counters, not stored

    @classmethod
    def load(cls, c: Conversation) -> Memory:
        try:
            s = BotSession.get(session_key(c.conversation_id), consistent_read=True)
        except DoesNotExist:
            return cls(c.conversation_id, c.customer_id)
        return cls(
            c.conversation_id,
            c.customer_id,
            int(s.last_seq or 0),
            int(s.turns or 0),
            int(s.failures or 0),
            s.language,
            s.question,
            s.last_question,
            s.flow,
            list(s.offered or []),
            s.awaiting,
            list(s.shown or []),
            set(s.answered or ()),
            list(s.flows_run or []),
        )

    def save(self, previous_seq: int, now: datetime) -> bool:
        """Write the session if no other delivery handled a message since ``previous_seq``."""
        item = BotSession(
            session_key(self.conversation_id),
            conversation_id=self.conversation_id,
            customer_id=self.customer_id,
            language=self.language,
            last_seq=self.last_seq,
            turns=self.turns,
            failures=self.failures,
            question=self.question,
            last_question=self.last_question,
            flow=self.flow,
            offered=self.offered or None,
            awaiting=self.awaiting,
            shown=self.shown or None,
            answered=self.answered or None,
            flows_run=self.flows_run or None,
            updated_at=iso(now),
            expires_at=int((now + SESSION_TTL).timestamp()),
        )
        condition: Any = BotSession.key.does_not_exist()
        if previous_seq:
            condition = BotSession.last_seq == previous_seq
        try:
            item.save(condition=condition)
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def show(self, article_id: str, title: str) -> None:
        if all(s["article_id"] != article_id for s in self.shown):
            self.shown.append({"article_id": article_id, "title": title})

    def summary(self, reason: str, last_message: str, now: datetime) -> dict[str, Any]:
        state = FlowState.from_json(self.flow)
        return {
            "reason": reason,
            "reason_text": REASON_TEXT.get(reason, reason),
            "question": self.question,
            "last_message": last_message,
            "articles_shown": list(self.shown),
            "articles_answered": sorted(self.answered),
            "flow": state.to_json() if state else None,
            "flows_run": list(self.flows_run),
            "turns": self.turns,
            "language": self.language,
            "at": iso(now),
        }


def summary_note(summary: dict[str, Any]) -> str:
    """The summary as the note at the top of the agent's view (the agent's language: both)."""
    lines = [f"🤖 Bot handoff / 机器人转人工: {summary['reason_text']}"]
    if summary.get("question"):
        lines.append(f"Question / 问题: {summary['question']}")
    if summary.get("last_message") and summary["last_message"] != summary.get("question"):
        lines.append(f"Last message / 最后一句: {summary['last_message']}")
    if summary.get("articles_shown"):
        titles = "; ".join(a["title"] for a in summary["articles_shown"])
        lines.append(f"Articles shown / 已展示文章: {titles}")
    flow = summary.get("flow")
    if flow:
        slots = ", ".join(f"{k}={v}" for k, v in flow["slots"].items()) or "-"
        lines.append(f"Flow / 流程: {flow['flow_id']} at {flow['step_id']} ({slots})")
    elif summary.get("flows_run"):
        lines.append(f"Flows / 流程: {', '.join(summary['flows_run'])}")
    return "\n".join(lines)


# ---- one turn ----------------------------------------------------------------------------------------
@dataclass
class Turn:
    """What one message makes the bot do, decided before anything is written."""

    reply: Reply | None = None
    handoff: HandoffReason | None = None
    resolved: str | None = None  # the key ("article#…"/"flow#…") the customer said helped
    counters: list[tuple[str, dict[str, int]]] = field(default_factory=list)

    def add(self, key: str, **fields: int) -> None:
        self.counters.append((key, fields))


def holds(c: Conversation) -> bool:
    return c.bot_key == conversations.BOT_ACTIVE and c.status == OPEN


def started(c: Conversation, channel: str) -> None:
    """A conversation opened with the bot in front (the router, once)."""
    _outcome(channel, c, conversations=1)


def on_inbound(stored: conversations.Stored, msg: InboundMessage) -> bool:
    """After the router stored a customer's message: True when the bot took it (the agents'
    side — queue events, the tickets' status answer — then stays out)."""
    c = stored.conversation
    if stored.duplicate or stored.message is None or msg.type in ("status", "event") or not holds(c):
        return False
    if conversations.spoken_by_agent(msg):
        return False
    return handle(c, msg, int(stored.message.seq))


def on_redelivery(conversation_id: str, seq: int, msg: InboundMessage) -> None:
    """A redelivered message already stored: answer it if the first attempt died before the bot
    did (the session says which messages were handled)."""
    try:
        c = Conversation.get(conversation_id, consistent_read=True)
    except DoesNotExist:
        return
    if holds(c) and msg.type not in ("status", "event"):
        handle(c, msg, seq)


def handle(c: Conversation, msg: InboundMessage, seq: int) -> bool:
    memory = Memory.load(c)
    if memory.last_seq >= seq:
        return True  # handled by an earlier delivery
    if c.assignee_id:  # an agent stepped in (a supervisor took it from the "all" view)
        if conversations.end_bot_hold(c.conversation_id, "taken_over"):
            _outcome(msg.channel, c, taken_over=1)
        return False
    now = utcnow()
    message = (msg.text or "").strip()
    previous = memory.last_seq
    memory.last_seq = seq
    memory.turns += 1
    memory.language = (
        bot_text.language_of(message, default=memory.language or "en") if message else memory.language
    )
    try:
        turn = decide(c, memory, msg, message, now)
    except Exception:  # noqa: BLE001 — a broken lookup must leave the customer with a person, not silence
        logger.exception("bot turn failed", extra={"conversation_id": c.conversation_id})
        turn = Turn(handoff="error")
    if not memory.save(previous, now):
        return True  # another delivery of this message got there first
    if turn.handoff is not None:
        hand_off(c, memory, turn.handoff, message, msg.channel, now, reply=turn.reply)
    elif turn.reply is not None:
        send(c, turn.reply, msg.channel)  # the customer's answer first; bookkeeping after
    for key, fields in [*memory.pending, *turn.counters]:
        count(key, **fields)
    if turn.handoff is None and turn.resolved is not None:
        resolve(c, memory, turn.resolved, msg.channel, now)
    return True


def decide(c: Conversation, memory: Memory, msg: InboundMessage, message: str, now: datetime) -> Turn:
    language = memory.language
    reason = handoff_now(message, msg.type)
    if reason is not None:
        return Turn(handoff=reason)
    if memory.question is None:
        memory.question = message
    flows = active_flows()
    prefix = ""
    # 1. A flow in progress takes the answer (unless it timed out).
    state = FlowState.from_json(memory.flow)
    if state is not None:
        flow = next((f for f in flows if f.flow_id == state.flow_id), None)
        if flow is None or expired(flow, state, now):
            memory.flow = None
            prefix = bot_text.say("timed_out", language) + "\n\n" if flow is not None else ""
            if flow is not None:
                memory.pending.append((f"flow#{flow.flow_id}", {"timed_out": 1}))
        else:
            return _flow_turn(c, memory, advance(flow, state, message, language, now), message, now)
    # 2. "Did this solve it?"
    if memory.awaiting:
        answer = bot_text.yes_no(message)
        awaited, memory.awaiting = memory.awaiting, None
        if answer is True:
            turn = Turn(reply=Reply(bot_text.say("glad", language)), resolved=awaited)
            turn.add(awaited, helpful=1)
            return turn
        if answer is False:
            memory.failures += 1
            turn = Turn()
            turn.add(awaited, not_helpful=1)
            if failed_again(memory.failures):
                turn.handoff = "repeated_failure"
            else:
                turn.reply = Reply(bot_text.say("sorry_more", language))
            return turn
    # 3. A pick from "did you mean".
    chosen = picked(message, memory.offered)
    memory.offered = []
    if chosen is not None:
        return _answer(memory, chosen, msg.channel, prefix)
    if bot_text.choice(message, 5) is not None:
        return Turn()  # a lone 1–5 with nothing offered: a satisfaction score (the tickets' to take)
    # 4. A flow's trigger.
    flow = find(flows, message)
    if flow is not None:
        memory.flows_run.append(flow.flow_id)
        memory.pending.append((f"flow#{flow.flow_id}", {"started": 1}))
        turn = _flow_turn(c, memory, start(flow, message, language, now), message, now)
        if prefix and turn.reply is not None:
            turn.reply = Reply(
                prefix + turn.reply.body, turn.reply.options, turn.reply.footer, turn.reply.option_hint
            )
        return turn
    # 5. The knowledge base.
    memory.last_question = message
    return _search(memory, message, msg.channel, prefix)


def _search(memory: Memory, message: str, channel: str, prefix: str = "") -> Turn:
    language = memory.language
    found = knowledge.search(message, language=language, limit=5, channel=channel)  # a miss is counted
    plan = after_search(found, min_score=min_suggest_score())
    if plan.kind == "answer" and plan.article_id:
        return _answer(memory, plan.article_id, channel, prefix)
    if plan.kind == "suggest":
        memory.offered = [{"article_id": h.article_id, "title": h.title} for h in plan.options]
        for h in plan.options:
            memory.show(h.article_id, h.title)
        turn = Turn(
            reply=Reply(
                prefix + bot_text.say("did_you_mean", language),
                options=tuple(h.title for h in plan.options),
                option_hint=bot_text.say("pick_number", language),
            )
        )
        turn.add("outcomes", suggested=1)
        for h in plan.options:
            turn.add(f"article#{h.article_id}", shown=1)
        return turn
    memory.failures += 1
    turn = Turn()
    turn.add("outcomes", no_answer=1)
    if failed_again(memory.failures):
        turn.handoff = "repeated_failure"
    else:
        turn.reply = Reply(prefix + bot_text.say("nothing", language))
    return turn


def _answer(memory: Memory, article_id: str, channel: str, prefix: str = "", note: str = "") -> Turn:
    """Answer with the article as published now (an edit shows in the very next answer)."""
    article = knowledge.article(article_id)
    if article is None:  # archived since it was offered: search again rather than invent
        return _search(memory, memory.last_question or memory.question or "", channel, prefix)
    memory.show(article.article_id, article.title)
    memory.answered.add(article.article_id)
    memory.failures = 0
    key = f"article#{article.article_id}"
    memory.awaiting = key
    body = f"{prefix}**{article.title}**\n\n{article.body}" + (f"\n\n{note}" if note else "")
    turn = Turn(reply=Reply(body, footer=bot_text.say("solved?", memory.language)))
    turn.add("outcomes", answered=1)
    turn.add(key, shown=1, answered=1)
    return turn


def _flow_turn(c: Conversation, memory: Memory, turn: FlowTurn, message: str, now: datetime) -> Turn:
    language = memory.language
    key = f"flow#{turn.flow.flow_id}"
    if turn.kind == "ask":
        memory.flow = turn.state.to_json() if turn.state else None
        if turn.retried:
            memory.failures += 1
        return Turn(reply=Reply(turn.prompt or ""))
    memory.flow = None
    if turn.kind == "cancelled":
        out = Turn(reply=Reply(bot_text.say("cancelled", language)))
        out.add(key, cancelled=1)
        return out
    if turn.kind == "failed":
        memory.flow = FlowState(turn.flow.flow_id, "failed", turn.slots, 0, iso(now)).to_json()
        out = Turn(handoff="flow_failed", reply=Reply(bot_text.say("flow_failed", language)))
        out.add(key, failed=1)
        return out
    return _act(c, memory, turn, now)


def _act(c: Conversation, memory: Memory, turn: FlowTurn, now: datetime) -> Turn:
    language = memory.language
    flow, slots = turn.flow, turn.slots
    key = f"flow#{flow.flow_id}"
    if turn.action == "order_status":
        number = slots.get("order_number", "")
        answer = orders.orders_for(identity.get_customer(c.customer_id))
        if answer.reason:
            memory.flow = FlowState(flow.flow_id, "answer", slots, 0, iso(now)).to_json()
            out = Turn(
                handoff="orders_unavailable", reply=Reply(bot_text.say("orders_unavailable", language))
            )
            out.add(key, failed=1)
            return out
        order = next((o for o in answer.orders if _same_number(o.number, number)), None)
        if order is None:
            state = FlowState(flow.flow_id, "answer", slots, _retries(memory, flow), iso(now))
            again = retry(flow, state, language, now, forget="order_number")
            if again.kind == "ask":
                memory.flow = again.state.to_json() if again.state else None
                memory.failures += 1
                return Turn(
                    reply=Reply(
                        bot_text.say("no_orders", language, number=number) + "\n" + (again.prompt or "")
                    )
                )
            return _flow_turn(c, memory, again, "", now)
        body = _order_text(order, language)
    elif turn.action == "policy_article":
        article_id = flow.article_id
        if article_id is None:
            found = knowledge.search(flow.article_query or "", language=language, limit=1, channel=None)
            article_id = found.answer or (found.results[0].article_id if found.results else None)
        note = ""
        if "bought_on" in slots:
            days = (now.date() - datetime.fromisoformat(slots["bought_on"]).date()).days
            note = bot_text.say("purchase_was", language, item=slots.get("item", "?"), days=max(days, 0))
        if article_id is None or knowledge.article(article_id) is None:
            out = Turn(handoff="no_article", reply=Reply(bot_text.say("no_article", language)))
            out.add(key, failed=1)
            return out
        out = _answer(memory, article_id, c.last_channel or "", note=note)
        out.add(key, completed=1)
        return out
    elif turn.action == "opening_hours":
        body = _hours_text(flow.calendar, language, now)
    else:  # open_tickets
        active = [t for t in tickets.tickets_of(c.customer_id) if t.status in ACTIVE][:5]
        body = ticket_rules.status_summary(
            [{"number": t.number, "subject": t.subject, "status": t.status} for t in active],
            "zh-CN" if (language or "").startswith("zh") else "en",
        )
    memory.failures = 0
    memory.awaiting = key
    out = Turn(reply=Reply(body, footer=bot_text.say("solved?", language), markdown=False))
    out.add(key, completed=1)
    return out


def _retries(memory: Memory, flow: Flow) -> int:
    state = FlowState.from_json(memory.flow)
    return state.retries if state is not None else 0


def _same_number(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return "".join(ch for ch in s.upper() if ch.isalnum())

    return bool(b) and norm(a) == norm(b)


def _order_text(order: Any, language: str | None) -> str:
    zh = (language or "").startswith("zh")
    status = order.status or "-"
    if zh:
        status = ORDER_STATUS.get(status.lower(), status)
    tracking = ""
    if order.tracking is not None and (order.tracking.number or order.tracking.carrier):
        t_status = order.tracking.status or ""
        if zh and t_status:
            t_status = ORDER_STATUS.get(t_status.lower(), t_status)
        tracking = bot_text.say(
            "tracking",
            language,
            carrier=order.tracking.carrier or "",
            tracking_number=order.tracking.number or "",
            tracking_status=f" {t_status}" if t_status else "",
        )
    return bot_text.say("order_status", language, number=order.number, status=status, tracking=tracking)


def _hours_text(calendar_name: str | None, language: str | None, now: datetime) -> str:
    try:
        if calendar_name:
            calendar = calendars.get_calendar(calendar_name)
        else:
            every = calendars.all_calendars()
            calendar = every.get(DEFAULT_CALENDAR) or next(iter(every[k] for k in sorted(every)))
    except (KeyError, StopIteration):
        return bot_text.say("no_calendar", language)
    if calendar.is_open(now):
        local_day = now.astimezone(calendar.zone).date()
        spans = ", ".join(
            f"{s // 60:02d}:{s % 60:02d}–{e // 60:02d}:{e % 60:02d}" for s, e in calendar.hours_on(local_day)
        )
        return bot_text.say("open_now", language, hours=spans)
    try:
        opens = calendar.next_open(now)
    except ValueError:
        return bot_text.say("no_calendar", language)
    return bot_text.say("closed_now", language, next_open=bot_text.when(opens, language, calendar.zone))


# ---- what the bot does ---------------------------------------------------------------------------
def send(c: Conversation, reply: Reply, channel: str) -> notify.Notice:
    """A bot message through the outbound path, formatted for the customer's channel."""
    rendered = render(reply, channel)
    notice = notify.send(
        c.customer_id,
        rendered.text,
        author="bot",
        prefer=c.conversation_id,
        quick_replies=list(rendered.quick_replies) or None,
    )
    if not notice.sent:
        logger.warning(
            "bot reply not sent", extra={"conversation_id": c.conversation_id, "reason": notice.reason}
        )
    return notice


def hand_off(
    c: Conversation,
    memory: Memory,
    reason: HandoffReason,
    last_message: str,
    channel: str,
    now: datetime,
    *,
    reply: Reply | None = None,
) -> Conversation | None:
    """One step: the summary is kept, the conversation joins its group's queue (first-response
    clock from now), an agent is offered it, and the customer is told. None if the bot no longer
    held the conversation."""
    summary = memory.summary(reason, last_message, now)
    moved = conversations.hand_over_from_bot(c.conversation_id, summary)
    if moved is None:
        return None
    send(c, reply or Reply(_handoff_text(memory.language, now)), channel)
    conversations.add_note(c.conversation_id, "bot", summary_note(summary))
    assignment.entered_queue(moved)
    sla.start_first_response_clock(moved)
    if assignment.assign(moved) is None:
        feed.publish(
            "conversation.queued",
            conversation_id=c.conversation_id,
            groups=[moved.group_id],
            data={"channel": channel, "reason": "bot_handoff"},
        )
    _outcome(channel, moved, handed_off=1)
    for shown in memory.shown:
        count(f"article#{shown['article_id']}", handoffs_after=1)
    logger.info("bot handoff", extra={"conversation_id": c.conversation_id, "reason": reason})
    return moved


def _handoff_text(language: str | None, now: datetime) -> str:
    """ "Connecting you", and when the agents are away, when they will answer."""
    try:
        calendar = calendars.get_calendar(handoff_calendar())
        if calendar.is_open(now):
            return bot_text.say("handoff", language)
        opens = calendar.next_open(now)
    except (KeyError, ValueError):
        return bot_text.say("handoff", language)
    return bot_text.say("handoff_closed", language, next_open=bot_text.when(opens, language, calendar.zone))


def resolve(c: Conversation, memory: Memory, key: str, channel: str, now: datetime) -> None:
    """The customer said it helped: the bot's conversation ends resolved and closes."""
    summary = memory.summary("resolved", "", now)
    if not conversations.end_bot_hold(c.conversation_id, "resolved", summary):
        return
    _outcome(channel, c, resolved=1)
    _close(c.conversation_id, "resolved by the bot")


def _close(conversation_id: str, why: str) -> None:
    try:
        closed = conversations.close(conversation_id, "bot")
    except conversations.NotAllowed:
        return
    sla.stop_first_response_clock(conversation_id, why)
    assignment.closed(closed)


def sweep_abandoned(now: datetime | None = None, limit: int = 100) -> int:
    """End conversations the bot holds that went quiet for ``idle_seconds``: abandoned (counted,
    closed). One Query on the sparse by_bot index; run on a schedule."""
    now = now or utcnow()
    ended = 0
    for conversation_id in conversations.held_by_bot_since(
        iso(now - timedelta(seconds=idle_seconds())), limit
    ):
        try:
            c = Conversation.get(conversation_id, consistent_read=True)
        except DoesNotExist:
            continue
        summary = Memory.load(c).summary("abandoned", "", now)  # what it was shown, for the figures
        if not conversations.end_bot_hold(conversation_id, "abandoned", summary):
            continue
        channel = c.last_channel
        _outcome(channel, c, abandoned=1)
        ended += 1
        _close(conversation_id, "abandoned with the bot")
    return ended
