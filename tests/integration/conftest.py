"""Integration fixtures: demo agents in Cognito and DynamoDB, and an API client that logs in."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

PASSWORD = "Integration-pass-1"


@dataclass
class Api:
    """The Chalice app through ``chalice.test.Client``, as a signed-in user."""

    client: Any
    token: str | None = None

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"content-type": "application/json"}
        if self.token:
            h["authorization"] = f"Bearer {self.token}"
        return h | (extra or {})

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.http.get(path, headers=self._headers(kw.get("headers")))

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body or {})
        return self.client.http.post(path, body=raw, headers=self._headers(kw.get("headers")))


@pytest.fixture
def team(aws: dict[str, str]) -> dict[str, str]:
    """Two skill groups and four logins (admin, supervisor, agent1 in presales, agent2 in aftersales)."""
    from chalicelib.agents import service as agents
    from infra.local.provision import create_agent_login

    agents.put_group("presales", "Pre-sales")
    agents.put_group("aftersales", "After-sales")
    people = {
        "admin": ("admin", []),
        "supervisor": ("supervisor", ["presales", "aftersales"]),
        "agent1": ("agent", ["presales"]),
        "agent2": ("agent", ["aftersales"]),
    }
    for name, (role, groups) in people.items():
        agents.put_agent(name, name.title(), role, groups)
        create_agent_login(name, role, PASSWORD, user_pool_id=aws["OMNIFLOW_USER_POOL_ID"])
    return {name: role for name, (role, _) in people.items()}


@pytest.fixture
def api(team: dict[str, str]) -> Iterator[Callable[[str | None], Api]]:
    """``api("agent1")`` → an Api logged in as agent1; ``api(None)`` → anonymous."""
    from chalice.test import Client

    import app as app_module

    with Client(app_module.app, stage_name="test") as client:  # no stage env over the tests' own

        def as_user(username: str | None) -> Api:
            session = Api(client)
            if username:
                r = session.post("/auth/login", {"username": username, "password": PASSWORD})
                assert r.status_code == 200, r.body
                session.token = json.loads(r.body)["id_token"]
            return session

        yield as_user
