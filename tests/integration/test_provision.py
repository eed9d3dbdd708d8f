"""The local resources come up from the cloud's own definitions."""

import boto3


def test_data_stack_and_sla_machine_come_up_from_infra_definitions(aws):
    sqs = boto3.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=aws["OMNIFLOW_INBOUND_QUEUE_URL"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert attrs["FifoQueue"] == "true"
    assert '"maxReceiveCount": 3' in attrs["RedrivePolicy"]
    sfn = boto3.client("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=aws["OMNIFLOW_SLA_STATE_MACHINE_ARN"])
    assert "WaitForDeadline" in machine["definition"]
    names = boto3.client("dynamodb").list_tables()["TableNames"]
    assert {"omniflow-test-customers", "omniflow-test-messages", "omniflow-test-idempotency"} <= set(names)
