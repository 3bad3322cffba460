"""The pure domain: classification, routing and case rules. No Slack, no SQLAlchemy, no clock:
time comes in as an argument."""
