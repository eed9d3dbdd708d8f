"""Every table and bucket of infra/data.yaml has an erasure rule (chalicelib/privacy/registry.py):
a new table that holds a customer's data cannot be forgotten by erasure."""

from __future__ import annotations

from typing import Any

from chalicelib.privacy.registry import BUCKETS, TABLES


def _names(template: dict[str, Any], kind: str, name_property: str) -> set[str]:
    out = set()
    for resource in template["Resources"].values():
        if resource["Type"] == kind:
            raw = resource["Properties"][name_property]
            sub = raw["Fn::Sub"] if isinstance(raw, dict) else raw
            out.add(sub.split("omniflow-${Stage}-", 1)[1].split("-${AWS::AccountId}", 1)[0])
    return out


def test_every_table_has_an_erasure_rule_and_no_rule_names_a_missing_table(data_template):
    tables = _names(data_template, "AWS::DynamoDB::Table", "TableName")
    assert len(tables) >= 20
    assert tables - TABLES.keys() == set(), "tables without an erasure rule in chalicelib/privacy/registry.py"
    assert TABLES.keys() - tables == set(), "rules for tables that do not exist"


def test_every_bucket_has_an_erasure_rule(data_template):
    buckets = _names(data_template, "AWS::S3::Bucket", "BucketName")
    assert buckets and buckets == BUCKETS.keys()


def test_a_rule_without_a_handler_says_why_the_table_holds_nothing_of_a_customer():
    for name, rule in TABLES.items():
        assert rule.holds, name
        if rule.erase is None:
            assert rule.holds.startswith("nothing of a customer's"), name


def test_the_erasure_job_on_aws_runs_the_definition_the_local_stack_runs(app_template):
    import json

    from infra.build import REPO

    machine = app_template["Resources"]["ErasureStateMachine"]["Properties"]
    assert machine["Definition"] == json.loads((REPO / "infra" / "erasure.asl.json").read_text())
    assert set(machine["DefinitionSubstitutions"]) == {"StateTable", "EventsQueueUrl"}
