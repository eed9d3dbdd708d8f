"""Agent profiles and skill groups."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.db import Model, meta

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
PRESENCES = (ONLINE, AWAY, OFFLINE)


class _AgentsByKind(GlobalSecondaryIndex["Agent"]):
    class Meta:
        index_name = "by_kind"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    agent_id = UnicodeAttribute(range_key=True)


class Agent(Model):
    """An agent's work profile. ``capacity`` and ``load`` are per channel type (chat, email, voice);
    ``load`` only changes by atomic ADD under a condition, so it is never over-counted by a race."""

    Meta = meta("agents")

    agent_id = UnicodeAttribute(hash_key=True)  # the Cognito username
    kind = UnicodeAttribute(default="agent")
    display_name = UnicodeAttribute()
    role = UnicodeAttribute()  # agent | supervisor | admin
    groups = UnicodeSetAttribute(null=True)
    proficiency = MapAttribute[str, Any](null=True)  # group id -> 1 (learning) .. 5 (expert)
    presence = UnicodeAttribute(default=OFFLINE)
    presence_at = UnicodeAttribute(null=True)
    capacity = MapAttribute[str, Any](null=True)  # channel type -> concurrent conversations
    load = MapAttribute[str, Any](null=True)  # channel type -> conversations owned now
    last_assigned_at = UnicodeAttribute(null=True)  # "longest idle" breaks ties between equals
    rev = NumberAttribute(default=0)  # bumped on every change that moves the agent's seats
    created_at = UnicodeAttribute(null=True)

    by_kind = _AgentsByKind()


class _GroupsByKind(GlobalSecondaryIndex["SkillGroup"]):
    class Meta:
        index_name = "by_kind"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    group_id = UnicodeAttribute(range_key=True)


class SkillGroup(Model):
    Meta = meta("skill-groups")

    group_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default="group")
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    lead_id = UnicodeAttribute(null=True)  # the team lead (escalations, supervisor view)

    by_kind = _GroupsByKind()
