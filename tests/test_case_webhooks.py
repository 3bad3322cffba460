"""Outbound case events, the parts without a database: the policy's `webhooks` section and its
errors, the secrets from the environment, signing per Standard Webhooks, and the backoff."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bot.domain.webhooks import WEBHOOK_EVENTS, CaseWebhook, retry_delay
from bot.outbox.webhooks import signed_headers
from bot.policy_file import PolicyError, parse_policy
from bot.settings import SettingsError, case_webhook_secrets, load_settings

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def hook(**overrides: object) -> dict:
    return {"url": "https://crm.example.com/hooks/closeloop", "secret_env": "CRM_WEBHOOK_SECRET", **overrides}


def problems(raw_policy: dict, *webhooks: dict) -> list[str]:
    raw_policy["webhooks"] = list(webhooks)
    with pytest.raises(PolicyError) as caught:
        parse_policy(raw_policy, "policy.yml")
    return caught.value.problems


def test_a_valid_section_defaults_to_every_event_and_department(raw_policy):
    raw_policy["webhooks"] = [
        hook(),
        hook(url="http://localhost:8080/x", name="local", departments=["billing"]),
    ]
    policy = parse_policy(raw_policy, "policy.yml")
    crm, local = policy.webhooks
    assert crm.events == list(WEBHOOK_EVENTS) and crm.departments == []
    assert crm.key == "crm.example.com/hooks/closeloop" and local.key == "local"
    assert crm.wants("case.closed", "product")
    assert local.wants("case.closed", "billing") and not local.wants("case.closed", "support")
    assert crm.max_attempts == 15 and crm.give_up_after == timedelta(days=2)


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.com/hooks",  # plain http off this machine
        "ftp://crm.example.com/hooks",
        "https://user:pw@crm.example.com/hooks",
        "not a url",
        "http://localhost.evil.example/hooks",
    ],
)
def test_urls_must_be_https_or_local_http(raw_policy, url):
    (line,) = problems(raw_policy, hook(url=url))
    assert line.startswith("policy.yml: webhooks[0].url: ")
    assert "https://" in line


def test_unknown_events_are_named_with_the_valid_ones(raw_policy):
    (line,) = problems(raw_policy, hook(events=["case.claimed", "case.deleted", "<!channel>"]))
    assert line.startswith("policy.yml: webhooks[0].events: ")
    assert "'case.deleted'" in line and "'<!channel>'" in line
    assert ", ".join(WEBHOOK_EVENTS) in line


def test_departments_must_exist_and_names_must_be_unique(raw_policy):
    lines = problems(raw_policy, hook(departments=["sales"]), hook(events=["case.opened"]))
    assert any(
        line.startswith("policy.yml: webhooks[0].departments: 'sales' is not a department") for line in lines
    )
    assert any("webhooks[1].name:" in line and "give each its own name" in line for line in lines)


def test_the_secret_itself_in_the_file_is_refused(raw_policy):
    (line,) = problems(raw_policy, hook(secret_env=SECRET))
    assert line.startswith("policy.yml: webhooks[0].secret_env: ")
    assert "environment variable" in line and SECRET not in line


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("secret_env", "crm secret"),
        ("timeout", "5m"),
        ("give_up_after", "10s"),
        ("max_attempts", 0),
        ("first_retry", "2h"),
        ("name", "A" * 100),
        ("unknown", 1),
    ],
)
def test_bad_fields_name_the_field(raw_policy, field, value):
    lines = problems(raw_policy, hook(**{field: value}))
    assert lines and all(line.startswith("policy.yml: webhooks[0]") for line in lines), lines


def settings(environment: dict[str, str]):
    return load_settings(environ=environment, env_file=None)


def test_secrets_come_from_the_variables_the_policy_names(raw_policy):
    raw_policy["webhooks"] = [hook()]
    policy = parse_policy(raw_policy, "policy.yml")
    found = case_webhook_secrets(settings({"CRM_WEBHOOK_SECRET": SECRET}), policy.webhooks)
    assert found == {"crm.example.com/hooks/closeloop": SECRET}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (None, "webhooks[0].secret_env in the policy names CRM_WEBHOOK_SECRET, which is not set"),
        ("s3cret-but-not-standard", "does not start with 'whsec_'"),
        ("whsec_!!!", "is not base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "5-byte key"),
    ],
)
def test_a_missing_or_malformed_secret_stops_start_up_with_one_line(raw_policy, value, says):
    raw_policy["webhooks"] = [hook()]
    policy = parse_policy(raw_policy, "policy.yml")
    environment = {} if value is None else {"CRM_WEBHOOK_SECRET": value}
    with pytest.raises(SettingsError) as caught:
        case_webhook_secrets(settings(environment), policy.webhooks)
    message = str(caught.value)
    assert says in message and "\n" not in message
    assert "— set" in message and "whsec_" in message  # the fix
    if value:
        assert value not in message  # a secret is never repeated in a log line


def test_signed_headers_verify_with_the_library_and_fail_when_tampered():
    now = datetime.now(UTC)
    body = '{"type":"case.claimed","data":{"x":"<@U123> & 10,000"}}'
    headers = signed_headers(SECRET, "evt_1", now, body)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(body, headers)["type"] == "case.claimed"
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace("claimed", "closed"), headers)
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)


def test_backoff_doubles_up_to_its_cap_and_gives_up_by_attempts_or_age():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(8) == timedelta(hours=1) and retry_delay(10_000) == timedelta(hours=1)
    webhook = CaseWebhook.model_validate(hook(max_attempts=3, give_up_after="1h"))
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert webhook.retry_at(1, start, start) == start + timedelta(seconds=30)
    assert webhook.retry_at(2, start, start + timedelta(minutes=1)) == start + timedelta(minutes=2)
    assert webhook.retry_at(3, start, start + timedelta(minutes=3)) is None  # the third try was the last
    assert webhook.retry_at(1, start, start + timedelta(hours=1)) is None  # too old
