"""Merging two customers an agent confirmed are one person, and undoing it.

A merge re-points identities (``identity``) and conversations (here), so it lives in
``conversations``, above both; the audit record holds everything ``unmerge`` needs.
"""

from __future__ import annotations

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib import events
from chalicelib.audit import service as audit
from chalicelib.conversations.models import Conversation
from chalicelib.errors import Invalid, NotFound
from chalicelib.identity.models import Customer, Identity
from chalicelib.identity.service import identities_of
from chalicelib.messages import iso, utcnow


def _customer(customer_id: str) -> Customer:
    try:
        return Customer.get(customer_id)
    except Customer.DoesNotExist as exc:  # an unknown id is the caller's 404, not our 500
        raise NotFound(f"customer {customer_id}") from exc


def merge(target_id: str, source_id: str, actor: str) -> dict[str, object]:
    """Fold customer ``source_id`` into ``target_id`` (an agent confirmed they are one person).

    Every identity and conversation of the source is re-pointed with a conditional write, the
    target gains the source's phones, e-mails, unionids, tags and channels, and the source keeps a
    ``merged_into`` pointer. The audit record lists exactly what moved, so ``unmerge`` can undo it.
    """
    if target_id == source_id:
        raise Invalid("cannot merge a customer into itself")
    target, source = _customer(target_id), _customer(source_id)
    if target.merged_into or source.merged_into:
        raise Invalid("one of these customers was already merged")
    moved_identities = []
    for ident in identities_of(source_id):
        ident.update(
            actions=[Identity.customer_id.set(target_id)], condition=Identity.customer_id == source_id
        )
        moved_identities.append(ident.identity_key)
    moved_conversations = []
    for conv in Conversation.by_customer.query(source_id):
        conv.update(
            actions=[Conversation.customer_id.set(target_id)], condition=Conversation.customer_id == source_id
        )
        moved_conversations.append(conv.conversation_id)
    actions: list[Action] = [
        Customer.updated_at.set(iso(utcnow())),
        Customer.version.add(1),
        Customer.conversations_opened.remove(),  # the source's conversations join: count unknown
    ]
    for attr in (Customer.phones, Customer.emails, Customer.unionids, Customer.tags):
        values = getattr(source, attr.attr_name)
        if values:
            actions.append(attr.add(set(values)))
    if not target.open_conversation_id and source.open_conversation_id:
        actions.append(Customer.open_conversation_id.set(source.open_conversation_id))
    target.update(actions=actions)
    source.update(
        actions=[Customer.merged_into.set(target_id), Customer.open_conversation_id.remove()],
        condition=Customer.merged_into.does_not_exist(),
    )
    details: dict[str, object] = {
        "source_customer_id": source_id,
        "identities": moved_identities,
        "conversations": moved_conversations,
        "source_snapshot": {
            "phones": sorted(source.phones or []),
            "emails": sorted(source.emails or []),
            "unionids": sorted(source.unionids or []),
            "tags": sorted(source.tags or []),
            "open_conversation_id": source.open_conversation_id,
        },
    }
    audit.record(f"customer#{target_id}", actor, "customer.merge", details)
    audit.record(f"customer#{source_id}", actor, "customer.merged_into", {"target_customer_id": target_id})
    events.publish(
        events.Announced(
            "customer.merged",
            {
                "customer_id": target_id,
                "source_customer_id": source_id,
                "conversation_ids": moved_conversations,
                "by": actor,
            },
        )
    )
    return details


def unmerge(target_id: str, merge_details: dict[str, object], actor: str) -> None:
    """Undo ``merge`` from its audit record: identities and conversations go back to the source."""
    source_id = str(merge_details["source_customer_id"])
    for key in merge_details.get("identities", []):  # type: ignore[attr-defined]
        Identity(key).update(
            actions=[Identity.customer_id.set(source_id)], condition=Identity.customer_id == target_id
        )
    for cid in merge_details.get("conversations", []):  # type: ignore[attr-defined]
        Conversation(cid).update(
            actions=[Conversation.customer_id.set(source_id)], condition=Conversation.customer_id == target_id
        )
    snapshot = merge_details.get("source_snapshot") or {}
    actions: list[Action] = [
        Customer.merged_into.remove(),
        Customer.updated_at.set(iso(utcnow())),
        Customer.conversations_opened.remove(),  # conversations opened meanwhile stay with the target
    ]
    open_id = snapshot.get("open_conversation_id") if isinstance(snapshot, dict) else None
    if open_id:
        actions.append(Customer.open_conversation_id.set(open_id))
        try:  # the target had adopted the source's open conversation: give it back
            Customer(target_id).update(
                actions=[Customer.open_conversation_id.remove()],
                condition=Customer.open_conversation_id == open_id,
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
    Customer(source_id).update(actions=actions, condition=Customer.merged_into == target_id)
    audit.record(f"customer#{target_id}", actor, "customer.unmerge", {"source_customer_id": source_id})
