"""Agent and skill-group records (the admin API and demo seeding write them)."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.agents.models import Agent, SkillGroup
from chalicelib.messages import iso, utcnow

ROLES = ("agent", "supervisor", "admin")


def put_group(group_id: str, name: str, description: str = "") -> SkillGroup:
    group = SkillGroup(group_id, name=name, description=description or None)
    group.save()
    return group


def put_agent(agent_id: str, display_name: str, role: str, groups: list[str]) -> Agent:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    agent = Agent(
        agent_id, display_name=display_name, role=role, groups=set(groups) or None, created_at=iso(utcnow())
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
