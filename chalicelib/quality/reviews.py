"""The review workflow on score cards: supervisors list what to review (one Query on the sparse
``by_review`` index, lowest score first), score it with a form and comment; the agent sees the result
and may appeal once (their reviews: one Query on pointers kept under the agent, then one BatchGet);
a supervisor decides. Every step is a conditional write (two supervisors
cannot both review, an agent cannot appeal twice), audited (subject ``quality#<conversation_id>``)
and announced on the console feed (``quality.reviewed``, ``quality.appealed``, ``quality.decided``).
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib.audit import service as audit
from chalicelib.auth.service import Principal
from chalicelib.errors import Conflict, Forbidden, Invalid, NotFound
from chalicelib.feed import service as feed
from chalicelib.messages import iso, utcnow
from chalicelib.quality.bodies import AppealBody, DecisionBody, ReviewBody, ReviewForm
from chalicelib.quality.models import AgentReview, ScoreCard, ScoreTotal
from chalicelib.quality.scorecards import card_key, card_view

QUEUES = ("pending", "appealed")
REASONS = ("low_score", "complaint", "negative_csat", "sample")
MAX_LIST = 100


def _subject(conversation_id: str) -> str:
    return f"quality#{conversation_id}"


def _card(conversation_id: str) -> ScoreCard:
    try:
        return ScoreCard.get(card_key(conversation_id), "card", consistent_read=True)
    except ScoreCard.DoesNotExist as exc:
        raise NotFound(f"no score card for {conversation_id} (scored when it closes)") from exc


def _total(form: ReviewForm) -> int:
    """The form as a score out of 100."""
    marks = form.model_dump()
    return round(100 * sum(marks.values()) / (5 * len(marks)))


def _refused(exc: UpdateError) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def card(p: Principal, conversation_id: str) -> dict[str, Any]:
    """A score card: its agent sees their own, supervisors every one."""
    c = _card(conversation_id)
    if not p.allows("supervisor") and c.agent_id != p.agent_id:
        raise Forbidden("only the conversation's agent and supervisors see its score card")
    return card_view(c)


def queue(name: str, limit: int = 50, reason: str | None = None) -> dict[str, Any]:
    """Cards waiting for a review (``pending``) or for an appeal's decision (``appealed``), lowest
    score first; ``reason`` keeps those up for that reason (low_score, complaint, negative_csat,
    sample)."""
    if name not in QUEUES:
        raise NotFound(f"no review queue {name!r} (pending, appealed)")
    if reason is not None and reason not in REASONS:
        raise Invalid(f"reason is one of {', '.join(REASONS)}")
    limit = min(max(limit, 1), MAX_LIST)
    if reason is None:
        items = list(ScoreCard.by_review.query(name, limit=limit))
    else:  # the filter reads past the cards it drops (a supervisor's page, not a message path)
        items = list(
            ScoreCard.by_review.query(
                name, filter_condition=ScoreCard.reasons.contains(reason), limit=limit, page_size=MAX_LIST
            )
        )
    return {"queue": name, "reason": reason, "items": [card_view(c) for c in items]}


def mine(p: Principal, limit: int = 50) -> dict[str, Any]:
    """The agent's reviewed cards, newest review first: one Query on their pointers, one BatchGet."""
    pointers = list(
        AgentReview.query(
            f"reviews#{p.agent_id}", scan_index_forward=False, limit=min(max(limit, 1), MAX_LIST)
        )
    )
    cards = {
        c.conversation_id: c
        for c in ScoreCard.batch_get([(card_key(x.conversation_id), "card") for x in pointers])
    }
    ordered = [cards[x.conversation_id] for x in pointers if x.conversation_id in cards]
    return {"items": [card_view(c) for c in ordered if c.agent_id == p.agent_id]}


def review(p: Principal, conversation_id: str, body: ReviewBody) -> dict[str, Any]:
    """A supervisor's review; one per card (409 if someone reviewed it meanwhile)."""
    c = _card(conversation_id)
    total = _total(body.form)
    result = {
        "by": p.agent_id,
        "at": iso(utcnow()),
        "form": body.form.model_dump(),
        "total": total,
        "comment": body.comment,
    }
    try:
        c.update(
            actions=[
                ScoreCard.review.set(result),
                ScoreCard.review_queue.remove(),
                ScoreCard.review_rank.remove(),
            ],
            condition=ScoreCard.review.does_not_exist(),
        )
    except UpdateError as exc:
        if _refused(exc):
            raise Conflict("this conversation has been reviewed already") from exc
        raise
    _count_review(c, total)
    audit.record(_subject(conversation_id), p.agent_id, "quality.review", {"total": total})
    if c.agent_id:
        AgentReview(
            f"reviews#{c.agent_id}", f"{result['at']}#{conversation_id}", conversation_id=conversation_id
        ).save()
        feed.publish(
            "quality.reviewed", conversation_id=conversation_id, agents=[c.agent_id], supervisors=False
        )
    return card_view(c)


def appeal(p: Principal, conversation_id: str, body: AppealBody) -> dict[str, Any]:
    """The reviewed agent disagrees: once per review (409 the second time)."""
    c = _card(conversation_id)
    if c.agent_id != p.agent_id:
        raise Forbidden("only the conversation's agent may appeal its review")
    if c.review is None:
        raise Conflict("there is no review to appeal yet")
    entry = {"by": p.agent_id, "at": iso(utcnow()), "reason": body.reason}
    try:
        c.update(
            actions=[
                ScoreCard.appeal.set(entry),
                ScoreCard.appeal_state.set("pending"),
                ScoreCard.review_queue.set("appealed"),
                ScoreCard.review_rank.set(f"{entry['at']}#{conversation_id}"),
            ],
            condition=ScoreCard.appeal_state.does_not_exist() & ScoreCard.review.exists(),
        )
    except UpdateError as exc:
        if _refused(exc):
            raise Conflict("this review has been appealed already (one appeal per review)") from exc
        raise
    audit.record(_subject(conversation_id), p.agent_id, "quality.appeal", {})
    feed.publish("quality.appealed", conversation_id=conversation_id)
    return card_view(c)


def decide(p: Principal, conversation_id: str, body: DecisionBody) -> dict[str, Any]:
    """A supervisor decides a pending appeal: the review stands, or is replaced by the corrected
    form. The appealing agent cannot decide their own appeal."""
    c = _card(conversation_id)
    if c.appeal_state != "pending" or c.appeal is None:
        raise Conflict("there is no pending appeal on this review")
    if c.agent_id == p.agent_id:
        raise Forbidden("an agent cannot decide their own appeal")
    now = iso(utcnow())
    decided = {**c.appeal, "decision": body.decision, "decided_by": p.agent_id, "decided_at": now}
    decided["comment"] = body.comment
    actions: list[Action] = [
        ScoreCard.appeal.set(decided),
        ScoreCard.appeal_state.set("decided"),
        ScoreCard.review_queue.remove(),
        ScoreCard.review_rank.remove(),
    ]
    before = int(c.review["total"]) if c.review else 0
    if body.decision == "overturned" and body.form is not None:
        corrected = {**(c.review or {}), "form": body.form.model_dump(), "total": _total(body.form)}
        corrected["revised_by"], corrected["revised_at"] = p.agent_id, now
        actions.append(ScoreCard.review.set(corrected))
    try:
        c.update(actions=actions, condition=ScoreCard.appeal_state == "pending")
    except UpdateError as exc:
        if _refused(exc):
            raise Conflict("this appeal has been decided already") from exc
        raise
    if body.decision == "overturned" and c.review:
        _count_review(c, int(c.review["total"]) - before, reviewed=0)
    audit.record(
        _subject(conversation_id),
        p.agent_id,
        "quality.appeal_decided",
        {
            "decision": body.decision,
            "total_before": before,
            "total_after": int((c.review or {}).get("total", 0)),
        },
    )
    if c.agent_id:
        feed.publish(
            "quality.decided", conversation_id=conversation_id, agents=[c.agent_id], supervisors=False
        )
    return card_view(c)


def _count_review(c: ScoreCard, total: int, reviewed: int = 1) -> None:
    keys = []
    if c.agent_id:
        keys += [("agent", f"{c.day}#{c.agent_id}"), (f"agent#{c.agent_id}", c.day)]
    if c.group_id:
        keys.append(("group", f"{c.day}#{c.group_id}"))
    for pk, sk in keys:
        ScoreTotal(pk, sk).update(
            actions=[ScoreTotal.reviewed.add(reviewed), ScoreTotal.review_sum.add(total)]
        )


def history(conversation_id: str) -> list[dict[str, Any]]:
    """The audit trail of a card's reviews and appeals."""
    return [
        {"at": r.at, "actor": r.actor, "action": r.action, "details": r.details}
        for r in audit.history(_subject(conversation_id))
    ]
