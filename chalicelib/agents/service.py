"""Agent and skill-group records (the admin API and demo seeding write them). Presence, capacity
and seats are chalicelib.assignment's."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.agents import ranking
from chalicelib.agents.models import Agent, SkillGroup
from chalicelib.errors import Invalid
from chalicelib.messages import iso, utcnow

ROLES = ("agent", "supervisor", "admin")


def put_group(group_id: str, name: str, description: str = "", lead_id: str | None = None) -> SkillGroup:
    group = SkillGroup(group_id, name=name, description=description or None, lead_id=lead_id)
    group.save()
    return group


def put_agent(
    agent_id: str,
    display_name: str,
    role: str,
    groups: list[str],
    capacity: dict[str, int] | None = None,
) -> Agent:
    """Create (or replace) an agent's profile: offline, nothing owned."""
    if role not in ROLES:
        raise Invalid(f"unknown role {role!r}")
    agent = Agent(
        agent_id,
        display_name=display_name,
        role=role,
        groups=set(groups) or None,
        capacity=dict(capacity or ranking.DEFAULT_CAPACITY),
        load=dict.fromkeys(ranking.CHANNEL_TYPES, 0),
        created_at=iso(utcnow()),
    )
    agent.save()
    return agent


def get_agent(agent_id: str) -> Agent | None:
    try:
        return Agent.get(agent_id)
    except DoesNotExist:
        return None


def groups_of(agent_id: str) -> set[str]:
    agent = get_agent(agent_id)
    return set(agent.groups or ()) if agent else set()


def get_groups(group_ids: list[str]) -> list[SkillGroup]:
    return list(SkillGroup.batch_get(group_ids)) if group_ids else []


def all_groups() -> list[SkillGroup]:
    return list(SkillGroup.by_kind.query("group"))


def all_agents(limit: int = 500) -> list[Agent]:
    return list(Agent.by_kind.query("agent", limit=limit))
