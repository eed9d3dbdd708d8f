"""Demo data for the local stack: people who can log in, and the skill groups they work in.

Logins are Cognito users (moto) in the role groups the API checks; agents and skill groups are
written through the agents service, the same code the admin API uses, so the demo data has exactly
the shape production data has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from infra.local.provision import DEFAULT_DEMO_PASSWORD, create_agent_login


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    groups: tuple[str, ...]


SKILL_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("presales", "售前 Pre-sales", "Product questions before a purchase"),
    ("aftersales", "售后 After-sales", "Orders, delivery, returns and refunds"),
)

USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "Admin", "admin", ()),
    DemoUser("supervisor", "Supervisor 主管", "supervisor", ("presales", "aftersales")),
    DemoUser("agent1", "Agent One 小李", "agent", ("presales",)),
    DemoUser("agent2", "Agent Two 小王", "agent", ("aftersales",)),
)


def demo_password() -> str:
    return os.environ.get("OMNIFLOW_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD


def seed(env: dict[str, str], password: str | None = None) -> tuple[DemoUser, ...]:
    """Create the demo logins, skill groups and agent records. Needs the OMNIFLOW_* environment
    in ``os.environ`` already (the agents service reads its settings from there)."""
    from chalicelib.agents import service as agents

    password = password or demo_password()
    for user in USERS:
        create_agent_login(
            user.username,
            user.role,
            password,
            user_pool_id=env["OMNIFLOW_USER_POOL_ID"],
            endpoint_url=env.get("OMNIFLOW_AWS_ENDPOINT"),
            region=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        )
    for group_id, name, description in SKILL_GROUPS:
        agents.put_group(group_id, name, description)
    for user in USERS:
        agents.put_agent(user.username, user.display_name, user.role, list(user.groups))
    return USERS
