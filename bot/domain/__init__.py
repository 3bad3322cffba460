"""The pure domain: vocabulary, records, the policy model, the case lifecycle, classification,
routing and deadlines. No Slack, no SQLAlchemy, no clock: time comes in as an argument."""
