"""The running API keeps the promises of its OpenAPI document: schemathesis generates requests for
every operation from ``/api/openapi.json`` (valid ones and ones the document refuses), sends each
with an agent's and an admin's token to the local stack, and checks every answer: never a 5xx, a
status the operation declares, JSON where JSON is declared, and a body that matches the declared
schema (success bodies and the ``{"error", "message"}`` error shape alike).

Left out on purpose: ``positive_data_acceptance`` (a schema cannot say every cross-field rule, e.g.
"text or template", so a valid-looking body may rightly be a 400), ``negative_data_rejection``
(an empty ``?cursor=`` reads as no cursor) and ``unsupported_method`` (API Gateway answers an
unknown method with 403, not 405; infra/local/server.py does the same).

Bounded: ``MAX_EXAMPLES`` per operation, so the whole file stays within a few minutes on a busy
2-core machine."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from infra.local import simulate
from tests.e2e.conftest import LocalStack, login, running_stack

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 6  # per operation, generation mode and token
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of its own: the generated admin requests replace routing rules, SLA policies,
    calendars and groups, which must not leak into the stories sharing the session's stack."""
    with running_stack(tmp_path_factory.mktemp("omniflow-contract"), OMNIFLOW_DEMO="team") as stack:
        yield stack


@pytest.fixture(scope="module")
def tokens(local_stack: LocalStack) -> dict[str, str]:
    return {who: str(login(local_stack, who).session.headers["Authorization"]) for who in ("agent1", "admin")}


def exercise(operation: Any, mode: Any, base_url: str, token: str, counter: list[int]) -> None:
    """One bounded Hypothesis run of one operation: raises the first failing check."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        counter.append(1)
        case.call_and_validate(base_url=base_url, headers={"Authorization": token}, checks=CHECKS, timeout=30)

    run()


def test_every_operation_answers_as_its_document_says(
    local_stack: LocalStack, tokens: dict[str, str]
) -> None:
    # schemathesis.pytest.from_fixture does not run on pytest 9 (it reads Function._nodeid), so the
    # operations are driven here: one Hypothesis run per operation, generation mode and token.
    api = schemathesis.openapi.from_url(f"{local_stack.url}/api/openapi.json")
    failures: list[str] = []
    operations, examples = 0, list[int]()
    for result in api.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        operations += 1
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            for who, token in tokens.items():
                try:
                    exercise(operation, mode, f"{local_stack.url}/api", token, examples)
                except Unsatisfiable:
                    continue  # nothing to break: no parameters and no body (GET /health, negative)
                except (Exception, BaseExceptionGroup) as exc:  # collect every failure, then report
                    failures.append(f"{operation.label} ({mode.value}, {who}): {str(exc)[:1500]}")
    print(f"schemathesis: {operations} operations, {len(examples)} examples, {len(failures)} failing runs")
    assert operations >= 50
    assert not failures, "\n\n".join(failures)


def test_answers_about_real_data_match_the_document(local_stack: LocalStack, tokens: dict[str, str]) -> None:
    """Generated ids mostly meet 404s, so the success answers are also checked on real data: a
    customer's SMS becomes a conversation, an admin works it (claim, note, reply, tag, ticket,
    comment, close) and reads every view around it; each answer must be a 2xx matching its schema."""
    api = schemathesis.openapi.from_url(f"{local_stack.url}/api/openapi.json")
    base_url, admin = f"{local_stack.url}/api", tokens["admin"]
    text = f"where is my order? #{uuid.uuid4().hex[:8]}"
    sent = simulate.sms_request(
        local_stack.target, simulate.credentials("sms"), sender="+8613800138555", text=text
    ).send()
    assert sent.status_code == 200

    def call(method: str, path: str, **kw: Any) -> Any:
        case = api[path][method].Case(**kw)
        response = case.call_and_validate(
            base_url=base_url, headers={"Authorization": admin}, checks=CHECKS, timeout=30
        )
        assert 200 <= response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    deadline, found = time.monotonic() + 30, None
    while found is None:
        page = call("GET", "/conversations", query={"view": "all"})
        found = next((c for c in page["items"] if c.get("preview") == text), None)
        assert found or time.monotonic() < deadline, "the SMS never became a conversation"
        time.sleep(0.25)
    cid, customer = {"conversation_id": found["conversation_id"]}, {"customer_id": found["customer_id"]}
    call("GET", "/conversations/{conversation_id}", path_parameters=cid)
    call("GET", "/conversations/{conversation_id}/queue-position", path_parameters=cid)
    call("POST", "/conversations/{conversation_id}/claim", path_parameters=cid)
    call("POST", "/conversations/{conversation_id}/notes", path_parameters=cid, body={"text": "checking"})
    call("POST", "/conversations/{conversation_id}/reply", path_parameters=cid, body={"text": "Let me look"})
    call("PUT", "/conversations/{conversation_id}/tags", path_parameters=cid, body={"add": ["order"]})
    call("PUT", "/conversations/{conversation_id}/priority", path_parameters=cid, body={"priority": "high"})
    ticket = call("POST", "/conversations/{conversation_id}/ticket", path_parameters=cid, body={})["ticket"]
    tid = {"ticket_id": ticket["ticket_id"]}
    call("GET", "/tickets/{ticket_id}", path_parameters=tid)
    call("POST", "/tickets/{ticket_id}/comments", path_parameters=tid, body={"text": "on it", "public": True})
    call(
        "POST",
        "/tickets/{ticket_id}/subtickets",
        path_parameters=tid,
        body={"subject": "refund", "group_id": "aftersales"},
    )
    for view in ("mine", "overdue"):
        call("GET", "/tickets", query={"view": view})
    call("GET", "/tickets", query={"view": "requester", "customer_id": customer["customer_id"]})
    call("GET", "/customers/{customer_id}", path_parameters=customer)
    call("GET", "/customers/{customer_id}/orders", path_parameters=customer)
    call("GET", "/customers/{customer_id}/audit", path_parameters=customer)
    call("PATCH", "/customers/{customer_id}", path_parameters=customer, body={"attributes": {"tier": "gold"}})
    reply = call("POST", "/canned-replies", body={"title": "Order", "body": "Hi {{customer.name}}"})
    rid = {"reply_id": reply["reply_id"]}
    call("POST", "/canned-replies/{reply_id}/render", path_parameters=rid, body=cid)
    call("GET", "/canned-replies", query={"q": "order"})
    for path in (
        "/me",
        "/events",
        "/supervisor/queues",
        "/admin/agents",
        "/admin/groups",
        "/admin/channels",
        "/admin/routing-rules",
        "/admin/sla-policies",
        "/admin/calendars",
        "/reports/sla",
        "/tickets/at-risk",
        "/tickets/breached",
        "/health",
    ):
        call("GET", path)
    call("POST", "/conversations/{conversation_id}/close", path_parameters=cid)
    call("DELETE", "/canned-replies/{reply_id}", path_parameters=rid)
    # privacy (issue 17): the export, the audit by agent, then erasure (last: it removes the customer)
    call("GET", "/customers/{customer_id}/export", path_parameters=customer)
    call("GET", "/audit", query={"agent_id": "admin"})
    call("POST", "/customers/{customer_id}/erasure", path_parameters=customer)
    call("GET", "/customers/{customer_id}/erasure", path_parameters=customer)
