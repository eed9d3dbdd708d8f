"""Multi-turn flows declared as data: each flow a small state machine an admin edits.

A flow is an ordered list of steps. An *ask* step puts a question and fills one slot from the
answer (an order number, a date, free text), with ``max_retries`` re-asks on input it cannot read;
an *action* step ends the flow with one of the bot's actions (look the order up, answer from the
policy article, give the opening hours, list the open tickets) using the slots. A slot the
customer already gave in the message that started the flow ("我的订单 SO-2 到哪了") is not asked
again. Cancel words end a flow; so does ``timeout_seconds`` of silence (the next message then
starts afresh). All of this is pure: the state lives in the bot's session
(``chalicelib.bot.models.BotSession``) and the actions are the service's.

The whole set is stored and versioned like the routing rules (config item ``bot-flows``/
``default``, ``GET/PUT /api/admin/bot-flows``); :data:`DEFAULT_FLOWS` serve until an admin saves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from chalicelib.bot import text as bot_text

FLOW_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_FLOWS = 50
MAX_STEPS = 12
Expect = Literal["order_number", "date", "text"]
Action = Literal["order_status", "policy_article", "opening_hours", "open_tickets"]


def _strip(value: str) -> str:
    return value.strip()


Trigger = Annotated[str, AfterValidator(_strip), Field(min_length=1, max_length=64)]


class Localized(BaseModel):
    """A prompt in Chinese and English (at least one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str | None = Field(default=None, min_length=1, max_length=1000)
    en: str | None = Field(default=None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one(self) -> Localized:
        if self.zh is None and self.en is None:
            raise ValueError("a prompt needs zh or en text")
        return self

    def get(self, language: str | None) -> str:
        return bot_text.localized(self.model_dump(exclude_none=True), language)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    step_id: str = Field(pattern=FLOW_ID)
    ask: Localized | None = Field(default=None, description="the question (ask steps)")
    slot: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9_]{0,31}$", description="where the answer goes"
    )
    expect: Expect | None = Field(default=None, description="what the answer must be")
    retry: Localized | None = Field(default=None, description="asked again after unreadable input")
    action: Action | None = Field(default=None, description="what the bot does (action steps end the flow)")

    @model_validator(mode="after")
    def _kind(self) -> Step:
        asks = self.ask is not None
        if asks == (self.action is not None):
            raise ValueError(f"step {self.step_id!r} must either ask or act")
        if asks and (self.slot is None or self.expect is None):
            raise ValueError(f"ask step {self.step_id!r} needs slot and expect")
        return self


class Flow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    flow_id: str = Field(pattern=FLOW_ID)
    name: str = Field(min_length=1, max_length=120)
    enabled: bool = True
    triggers: list[Trigger] = Field(
        min_length=1, max_length=100, description="words that start it (CJK: substrings)"
    )
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    timeout_seconds: int = Field(default=600, ge=30, le=86_400, description="silence that ends the flow")
    max_retries: int = Field(default=2, ge=0, le=5, description="re-asks on unreadable input, then a human")
    article_query: str | None = Field(
        default=None, max_length=200, description="policy_article: what to search"
    )
    article_id: str | None = Field(default=None, max_length=100, description="policy_article: this article")
    calendar: str | None = Field(
        default=None, max_length=64, description="opening_hours: the calendar's name"
    )

    @model_validator(mode="after")
    def _steps(self) -> Flow:
        ids = [s.step_id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError(f"flow {self.flow_id!r} repeats a step id")
        if self.steps[-1].action is None:
            raise ValueError(f"flow {self.flow_id!r} must end with an action step")
        if any(s.action is not None for s in self.steps[:-1]):
            raise ValueError(f"flow {self.flow_id!r}: only the last step may act")
        if self.steps[-1].action == "policy_article" and not (self.article_query or self.article_id):
            raise ValueError(f"flow {self.flow_id!r}: policy_article needs article_query or article_id")
        return self

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.step_id == step_id), None)

    def trigger_pattern(self) -> re.Pattern[str]:
        return _trigger_pattern(tuple(self.triggers))


_PATTERNS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _trigger_pattern(triggers: tuple[str, ...]) -> re.Pattern[str]:
    if triggers not in _PATTERNS:
        _PATTERNS[triggers] = bot_text._pattern(tuple(bot_text.fold(t) for t in triggers))
    return _PATTERNS[triggers]


class FlowSet(BaseModel):
    """The stored set. ``version`` 0: nothing saved (the defaults serve)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 0
    flows: list[Flow] = Field(default_factory=list, max_length=MAX_FLOWS)
    updated_at: str | None = None
    updated_by: str | None = None

    @model_validator(mode="after")
    def _ids(self) -> FlowSet:
        unique_ids(self.flows)
        return self


def unique_ids(flows: list[Flow]) -> None:
    ids = [f.flow_id for f in flows]
    if len(set(ids)) != len(ids):
        raise ValueError("flow ids must be unique")


# ---- the engine ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlowState:
    flow_id: str
    step_id: str
    slots: dict[str, str] = field(default_factory=dict)
    retries: int = 0
    updated_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "step_id": self.step_id,
            "slots": dict(self.slots),
            "retries": self.retries,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> FlowState | None:
        if not data or not data.get("flow_id"):
            return None
        return cls(
            str(data["flow_id"]),
            str(data.get("step_id") or ""),
            {str(k): str(v) for k, v in (data.get("slots") or {}).items()},
            int(data.get("retries") or 0),
            str(data.get("updated_at") or ""),
        )


@dataclass(frozen=True)
class FlowTurn:
    """What a flow does with one message: ``ask`` (``prompt``; ``state`` to keep), ``act``
    (``action`` with ``slots``; the flow is over), ``cancelled`` or ``failed`` (retries spent)."""

    kind: Literal["ask", "act", "cancelled", "failed"]
    flow: Flow
    state: FlowState | None = None
    prompt: str | None = None
    action: Action | None = None
    slots: dict[str, str] = field(default_factory=dict)
    retried: bool = False


def find(flows: list[Flow], message: str) -> Flow | None:
    """The first enabled flow one of whose triggers is in the message."""
    folded = bot_text.fold(message)
    return next((f for f in flows if f.enabled and f.trigger_pattern().search(folded)), None)


def read_slot(expect: Expect, message: str, today: date) -> str | None:
    """The slot value an answer gives, or None when it cannot be read."""
    if expect == "order_number":
        return bot_text.order_number_in(message)
    if expect == "date":
        day = bot_text.purchase_date(message, today)
        return day.isoformat() if day is not None else None
    cleaned = " ".join(message.split())[:200]
    return cleaned or None


def _walk(
    flow: Flow, index: int, slots: dict[str, str], retries: int, language: str | None, now: str
) -> FlowTurn:
    """From step ``index`` on, skip asks whose slot is known; ask the first unknown, or act."""
    for step in flow.steps[index:]:
        if step.action is not None:
            return FlowTurn("act", flow, None, action=step.action, slots=dict(slots))
        if step.slot in slots:
            continue
        assert step.ask is not None
        state = FlowState(flow.flow_id, step.step_id, dict(slots), retries, now)
        return FlowTurn("ask", flow, state, prompt=step.ask.get(language))
    raise AssertionError("a validated flow ends with an action")  # pragma: no cover


def start(flow: Flow, message: str, language: str | None, now: datetime) -> FlowTurn:
    """Start ``flow`` on the message that triggered it (order numbers and dates in it count)."""
    slots: dict[str, str] = {}
    for step in flow.steps:
        if step.slot and step.expect in ("order_number", "date"):
            value = read_slot(step.expect, message, now.date())
            if value is not None:
                slots[step.slot] = value
    return _walk(flow, 0, slots, 0, language, now.isoformat())


def expired(flow: Flow, state: FlowState, now: datetime) -> bool:
    if not state.updated_at:
        return True
    return datetime.fromisoformat(state.updated_at) + timedelta(seconds=flow.timeout_seconds) < now


def advance(flow: Flow, state: FlowState, message: str, language: str | None, now: datetime) -> FlowTurn:
    """The customer answered the question of ``state.step_id``."""
    if bot_text.wants_cancel(message):
        return FlowTurn("cancelled", flow)
    index = next((i for i, s in enumerate(flow.steps) if s.step_id == state.step_id), None)
    if index is None:  # the admin removed the step meanwhile: start over
        return start(flow, message, language, now)
    step = flow.steps[index]
    assert step.slot is not None and step.expect is not None
    value = read_slot(step.expect, message, now.date())
    if value is None:
        return retry(flow, state, language, now)
    return _walk(flow, index + 1, {**state.slots, step.slot: value}, 0, language, now.isoformat())


def retry(
    flow: Flow, state: FlowState, language: str | None, now: datetime, *, forget: str | None = None
) -> FlowTurn:
    """Ask ``state``'s question again (``forget``: a slot an action could not use, e.g. an order
    number the shop does not know), or give up when the retries are spent."""
    slots = {k: v for k, v in state.slots.items() if k != forget}
    step = (
        flow.step(state.step_id)
        if forget is None
        else next((s for s in flow.steps if s.slot == forget), None)
    )
    if step is None or step.ask is None or state.retries >= flow.max_retries:
        return FlowTurn("failed", flow, slots=slots)
    prompt = (step.retry or step.ask).get(language)
    new = FlowState(flow.flow_id, step.step_id, slots, state.retries + 1, now.isoformat())
    return FlowTurn("ask", flow, new, prompt=prompt, retried=True)


def _l(zh: str, en: str) -> Localized:
    return Localized(zh=zh, en=en)


DEFAULT_FLOWS: list[Flow] = [
    Flow(
        flow_id="order-status",
        name="Order status",
        triggers=[
            "订单状态",
            "订单到哪",
            "快递到哪",
            "物流到哪",
            "包裹到哪",
            "到哪了",
            "到哪里了",
            "发货了吗",
            "发货没",
            "什么时候发货",
            "查订单",
            "查快递",
            "查物流",
            "物流信息",
            "物流进度",
            "我的订单",
            "我的快递",
            "我的包裹",
            "訂單狀態",
            "我的訂單",
            "查訂單",
            "where is my order",
            "where's my order",
            "order status",
            "track my order",
            "tracking number",
            "where is my package",
            "where's my package",
            "has my order shipped",
            "my order",
        ],
        steps=[
            Step(
                step_id="ask-number",
                ask=_l("请发送您的订单号（例如 SO-2）。", "Please send your order number (e.g. SO-2)."),
                retry=_l(
                    "没能识别订单号，请只发送订单号，例如 SO-2。回复“取消”可退出。",
                    'I couldn\'t read an order number. Please send just the number, e.g. SO-2 (or "cancel").',
                ),
                slot="order_number",
                expect="order_number",
            ),
            Step(step_id="answer", action="order_status"),
        ],
    ),
    Flow(
        flow_id="refund-conditions",
        name="Refund conditions",
        triggers=[
            "能退吗",
            "可以退吗",
            "能不能退",
            "可不可以退",
            "退货条件",
            "退款条件",
            "能退货吗",
            "可以退货吗",
            "能退款吗",
            "可以退款吗",
            "能退嗎",
            "可以退嗎",
            "can i return",
            "can i get a refund",
            "eligible for a refund",
            "refund conditions",
            "return conditions",
            "can i send it back",
        ],
        article_query="退货 退款 政策 七天无理由 return refund policy",
        steps=[
            Step(
                step_id="ask-item",
                ask=_l("请问您想退的是什么商品？", "What did you buy that you'd like to return?"),
                slot="item",
                expect="text",
            ),
            Step(
                step_id="ask-when",
                ask=_l(
                    "什么时候买的？（例如“3天前”、“上周”或“5月2日”）",
                    'When did you buy it? (e.g. "3 days ago", "last week" or 2025-05-02)',
                ),
                retry=_l(
                    "没能识别日期，请写成“3天前”或“5月2日”这样的格式。",
                    'I couldn\'t read a date. Try "3 days ago" or 2025-05-02.',
                ),
                slot="bought_on",
                expect="date",
            ),
            Step(step_id="answer", action="policy_article"),
        ],
    ),
    Flow(
        flow_id="opening-hours",
        name="Opening hours",
        triggers=[
            "营业时间",
            "上班时间",
            "服务时间",
            "客服时间",
            "几点上班",
            "几点下班",
            "几点开门",
            "什么时候上班",
            "工作时间",
            "營業時間",
            "服務時間",
            "opening hours",
            "business hours",
            "when are you open",
            "what time do you open",
            "are you open",
            "office hours",
        ],
        steps=[Step(step_id="answer", action="opening_hours")],
    ),
    Flow(
        flow_id="ticket-progress",
        name="Ticket progress",
        triggers=[
            "工单",
            "工單",
            "处理进度",
            "處理進度",
            "进度怎么样",
            "进展如何",
            "my ticket",
            "ticket status",
            "case status",
            "status of my ticket",
            "status of my case",
        ],
        steps=[Step(step_id="answer", action="open_tickets")],
    ),
]
