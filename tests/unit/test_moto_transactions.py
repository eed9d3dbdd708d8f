"""The local stack's moto patch (infra/local/moto_transactions.py): a transaction still writes all
of its items or none, without copying the table."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local import moto_transactions


def test_a_failed_transaction_changes_nothing_and_a_good_one_writes_every_item() -> None:
    moto_transactions.install()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "s", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "s", "AttributeType": "S"},
                {"AttributeName": "b", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName="t", Item={"s": {"S": "marker"}, "b": {"S": "-"}})
        ddb.put_item(TableName="t", Item={"s": {"S": "day"}, "b": {"S": "1"}, "n": {"N": "5"}})

        def add(n: int, marker: str) -> list[Any]:
            value = {":n": {"N": str(n)}}
            return [
                {"Update": {"TableName": "t", "Key": {"s": {"S": "day"}, "b": {"S": "1"}},
                            "UpdateExpression": "ADD n :n", "ExpressionAttributeValues": value}},
                {"Update": {"TableName": "t", "Key": {"s": {"S": "hour"}, "b": {"S": "1"}},
                            "UpdateExpression": "ADD n :n", "ExpressionAttributeValues": value}},
                {"Put": {"TableName": "t", "Item": {"s": {"S": marker}, "b": {"S": "-"}},
                         "ConditionExpression": "attribute_not_exists(s)"}},
            ]  # fmt: skip

        from moto.dynamodb.models import dynamodb_backends

        table = dynamodb_backends["123456789012"]["us-east-1"].tables["t"]

        with pytest.raises(ddb.exceptions.TransactionCanceledException):
            ddb.transact_write_items(TransactItems=add(3, "marker"))  # the marker exists: nothing
        assert ddb.get_item(TableName="t", Key={"s": {"S": "day"}, "b": {"S": "1"}})["Item"]["n"] == {
            "N": "5"
        }
        assert "Item" not in ddb.get_item(TableName="t", Key={"s": {"S": "hour"}, "b": {"S": "1"}})

        ddb.transact_write_items(TransactItems=add(3, "marker2"))
        assert ddb.get_item(TableName="t", Key={"s": {"S": "day"}, "b": {"S": "1"}})["Item"]["n"] == {
            "N": "8"
        }
        assert ddb.get_item(TableName="t", Key={"s": {"S": "hour"}, "b": {"S": "1"}})["Item"]["n"] == {
            "N": "3"
        }
        assert "Item" in ddb.get_item(TableName="t", Key={"s": {"S": "marker2"}, "b": {"S": "-"}})
        # moto's own rollback swaps in a copy of the whole table; the patch keeps the table
        assert dynamodb_backends["123456789012"]["us-east-1"].tables["t"] is table
