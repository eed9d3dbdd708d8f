"""Agent profiles and skill groups."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UnicodeSetAttribute
from pynamodb.models import Model

from chalicelib.db import meta


class Agent(Model):
    Meta = meta("agents")

    agent_id = UnicodeAttribute(hash_key=True)  # the Cognito username
    display_name = UnicodeAttribute()
    role = UnicodeAttribute()  # agent | supervisor | admin
    groups = UnicodeSetAttribute(null=True)
    presence = UnicodeAttribute(default="offline")
    created_at = UnicodeAttribute(null=True)


class SkillGroup(Model):
    Meta = meta("skill-groups")

    group_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
