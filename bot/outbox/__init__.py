"""The outbox: what is owed to Slack (case messages kept in step with their case, and deliveries),
sent after commit and off the request path, paced, retried and never sent twice."""
