"""Stack outputs as AWS would return them, for writing a stage config without deploying."""

FAKE_APP_OUTPUTS: dict[str, str] = {
    "SlaStateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:omniflow-prod-sla",
    "TicketSlaStateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:omniflow-prod-ticket-sla",
    "ErasureStateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:omniflow-prod-erasure",
    "IntentBackend": "builtin",
    "UserPoolId": "us-east-1_AbCdEf123",
    "UserPoolArn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEf123",
    "UserPoolClientId": "1example23456789",
    "WebhookApiUrl": "https://abc123.execute-api.us-east-1.amazonaws.com",
    "CoreRoleArn": "arn:aws:iam::123456789012:role/omniflow-prod-app-CoreRole-1ABC",
}
FAKE_DATA_OUTPUTS: dict[str, str] = {
    "InboundQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/omniflow-prod-inbound.fifo",
    "OutboundQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/omniflow-prod-outbound.fifo",
    "EventsQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/omniflow-prod-events",
    "AnalyticsQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/omniflow-prod-analytics",
    "AlertsTopicArn": "arn:aws:sns:us-east-1:123456789012:omniflow-prod-alerts",
    "MediaBucketName": "omniflow-prod-media-123456789012-us-east-1",
    "ApiTokenSigningKeyArn": "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-api-token",
}
