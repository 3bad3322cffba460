"""Telling the customer, below the Slack layer: the policy section and its errors, the pure rules
(language, refusals, reminders, the note's limits), the SMTP settings' one-line errors, the mail
built from hostile text. The message rows on both databases are in test_tell_customer_storage."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.domain.outer_loop import (
    Composed,
    OuterLoop,
    compose,
    contact_refusal,
    note_problem,
    promise_reminders,
    template_for,
)
from bot.domain.records import CloseDetails
from bot.domain.vocabulary import FollowUp
from bot.outbox.mail import Addresses, build_message
from bot.policy_file import PolicyError, parse_policy
from bot.settings import Settings, SettingsError, mail_settings
from bot.slack.modals import FormErrors
from bot.slack.tell_customer import parse_note
from tests.factories import case_snapshot

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOT_TOLD = CloseDetails("resolved", "phone", "Product bug", "Workaround given", "Called back.", False)


# ---- the policy ---------------------------------------------------------------------------------


def with_outer(raw_policy: dict[str, Any], outer: dict[str, Any]) -> dict[str, Any]:
    return {**raw_policy, "outer_loop": outer}


@pytest.mark.parametrize(
    ("outer", "expected"),
    [
        ({"templates": {"en": {"greeting": "Hi {nom},"}}}, "{nom} is not a placeholder"),
        ({"templates": {"en": {"subject": "One\nTwo"}}}, "a subject is one line"),
        ({"templates": {"EN": {}}}, "'EN' is not a language tag"),
        ({"default_language": "de"}, "default_language: 'de' has no template"),
        ({"suppress": ["not an address"]}, "neither an e-mail address nor a domain"),
        ({"remind_after": "2"}, "is not a duration"),
        ({"templates": {"en": {"shipped_note": "Fixed: {thema}"}}}, "{thema} is not a placeholder"),
        ({"templates": {"en": {"shipped_subject": "A\nB"}}}, "a subject is one line"),
        ({"shipped_per_minute": 0}, "shipped_per_minute"),
        ({"shipped_per_minute": 100000}, "shipped_per_minute"),
        (
            {"helpdesk": {"nowhere": {"url": "https://h.example/x", "secret_env": "H_SECRET"}}},
            "not a department",
        ),
        ({"helpdesk": {"support": {"url": "http://h.example/x", "secret_env": "H"}}}, "is not an https URL"),
    ],
)
def test_a_wrong_outer_loop_section_names_the_field_and_the_fix(raw_policy, outer, expected):
    with pytest.raises(PolicyError) as error:
        parse_policy(with_outer(raw_policy, outer), "policy.yml")
    assert expected in str(error.value)
    assert "outer_loop" in str(error.value)


def test_the_defaults_remind_after_two_days_three_times_in_english(raw_policy):
    outer = parse_policy(raw_policy, "policy.yml").outer_loop
    assert outer.remind_after == timedelta(days=2) and outer.reminders == 3
    assert template_for(outer, None)[0] == "en"


# ---- pure rules ---------------------------------------------------------------------------------


OUTER = OuterLoop.model_validate(
    {
        "templates": {"en": {"subject": "About {name}"}, "de": {"greeting": "Hallo {name},"}, "pt-br": {}},
        "suppress": ["blocked.example", "someone@example.com"],
    }
)


@pytest.mark.parametrize(
    ("language", "picked"),
    [
        ("de", "de"),
        ("DE_at", "de"),
        ("pt-BR", "pt-br"),
        ("pt", "en"),
        (None, "en"),
        ("", "en"),
        ("x" * 35, "en"),
    ],
)
def test_the_language_falls_back_from_region_to_language_to_the_default(language, picked):
    assert template_for(OUTER, language)[0] == picked


def test_a_name_with_newlines_cannot_break_the_subject():
    case = case_snapshot(customer_name="Eve\r\nBcc: x@evil.example")
    assert "\n" not in compose(OUTER, case, "Alice", "note").subject


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"contact_ok": False}, "opted_out"),
        ({"customer_email": None}, "no_address"),
        ({"customer_email": "not-an-address"}, "no_address"),
        ({"customer_email": "a@blocked.example"}, "suppressed"),
        ({"customer_email": "SomeOne@Example.com"}, "suppressed"),
        ({"customer_email": "other@example.com"}, None),
        ({"contact_ok": True}, None),
    ],
)
def test_who_may_be_written_to(changes, code):
    refusal = contact_refusal(OUTER, case_snapshot(**{"customer_email": "dana@example.org", **changes}))
    assert (refusal.code if refusal else None) == code


def test_reminders_only_for_a_closed_case_still_owing_a_word():
    closed = case_snapshot(status="closed", owner_id="U0ALICE", closed_at=NOW, follow_up=FollowUp.OWED)
    specs = promise_reminders(OUTER, closed)
    assert [s.due_at - NOW for s in specs] == [timedelta(days=2), timedelta(days=4), timedelta(days=6)]
    assert {s.recipient for s in specs} == {"U0ALICE"}
    for state in (FollowUp.TOLD, FollowUp.NOT_NEEDED, FollowUp.SENDING, None):
        assert promise_reminders(OUTER, replace(closed, follow_up=state)) == []
    assert promise_reminders(OUTER, replace(closed, status="claimed")) == []
    assert len(promise_reminders(OUTER, replace(closed, follow_up=FollowUp.FAILED))) == 3
    assert promise_reminders(OUTER.model_copy(update={"reminders": 0}), closed) == []


@pytest.mark.parametrize(
    ("note", "problem"),
    [
        (None, "Write what you want"),
        ("  \n ", "Write what you want"),
        ("x" * 3001, "At most 3,000 characters, please (this one has 3,001)."),
        ("x" * 10_000, "this one has 10,000"),
        ("x" * 3000, None),
    ],
)
def test_the_notes_limits(note, problem):
    found = note_problem(note)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_a_forged_submission_with_a_long_or_wrong_note_is_an_error_in_the_modal():
    for value in ({"value": "x" * 3001}, {"value": 42}, {}, "nonsense"):
        with pytest.raises(FormErrors) as error:
            parse_note({"note": {"value": value}})
        assert set(error.value.errors) == {"note"}
    assert parse_note({"note": {"value": {"value": " Fixed. "}}}) == "Fixed."


# ---- SMTP settings -----------------------------------------------------------------------------


def settings_with(**environment: str) -> Settings:
    return Settings(
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        slack_app_token=None,
        slack_api_url="https://slack.com/api/",
        database_url="sqlite://",
        policy_path=None,
        intake_token=None,
        port=0,
        source=".env",
        environment=environment,
    )


def test_smtp_settings_read_starttls_ssl_and_percent_encoded_passwords():
    assert mail_settings(settings_with()) is None  # e-mail off
    plain = mail_settings(
        settings_with(
            CLOSELOOP_SMTP_URL="smtp://me:p%40ss@mail.example:2525", CLOSELOOP_MAIL_FROM="a@b.example"
        )
    )
    assert plain is not None and (plain.host, plain.port, plain.security) == (
        "mail.example",
        2525,
        "starttls",
    )
    assert plain.username == "me" and plain.password == "p@ss" and "p@ss" not in repr(plain)
    ssl = mail_settings(
        settings_with(CLOSELOOP_SMTP_URL="smtps://mail.example", CLOSELOOP_MAIL_FROM="a@b.example")
    )
    assert ssl is not None and (ssl.port, ssl.security) == (465, "ssl")


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"CLOSELOOP_SMTP_URL": "http://mail.example"}, "CLOSELOOP_SMTP_URL in .env must start with smtp://"),
        ({"CLOSELOOP_SMTP_URL": "smtp://mail.example:port"}, "CLOSELOOP_SMTP_URL in .env is not a URL"),
        ({"CLOSELOOP_SMTP_URL": "smtp://mail.example?tls=yes"}, "unknown option 'tls'"),
        (
            {"CLOSELOOP_SMTP_URL": "smtp://mail.example?starttls=maybe"},
            "write starttls=true or starttls=false",
        ),
        ({"CLOSELOOP_SMTP_URL": "smtp://mail.example"}, "CLOSELOOP_MAIL_FROM in .env is not set"),
        ({"CLOSELOOP_SMTP_URL": "smtp://m.example", "CLOSELOOP_MAIL_FROM": "nobody"}, "is not an address"),
    ],
)
def test_a_wrong_smtp_setting_stops_start_up_with_one_line(environment, expected):
    with pytest.raises(SettingsError) as error:
        mail_settings(settings_with(**environment))
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_the_mail_escapes_html_and_keeps_headers_whole():
    composed = Composed("en", "Hi", 'Hello "Bob" <b>&', "<script>x</script>\n\nline & <i>", "— A")
    addresses = Addresses(
        'Acme "Support" <s@acme.example>', 'Bob\n"B" <x@y>', "bob@example.com", "a@acme.example"
    )
    mail = build_message(composed, addresses, NOW, "<id@acme.example>")
    text = mail.as_string()
    assert "\nBcc" not in text and mail["To"].addresses[0].addr_spec == "bob@example.com"
    markup = mail.get_body(("html",)).get_content()
    assert "<script>" not in markup and "&lt;script&gt;x&lt;/script&gt;" in markup
    assert "Hello &quot;Bob&quot; &lt;b&gt;&amp;" in markup and "line &amp; &lt;i&gt;" in markup
    assert "<script>x</script>" in mail.get_body(("plain",)).get_content()  # plain text is plain


@given(st.text(alphabet=st.sampled_from('<>@,;:."\\ ()[]!éß漢\u202e\nabcXYZ'), max_size=300))
@example("<!channel> <@U0MAYA> <https://evil.example|x>" + "x" * 200)  # longer than a header line
@example("\\" * 60)  # short, but its escapes make it long
@example('"' * 100)
def test_whatever_the_name_the_mail_as_sent_has_one_recipient_the_customer(name):
    """Re-read from its bytes: a long quoted name the email package refolds must not lose its
    quotes, or `<!channel> <x@y>` in it would read as the addresses."""
    composed = Composed("en", "Hi", "Hello", "Note", "— A")
    mail = build_message(composed, Addresses("s@acme.example", name, "bob@example.com", None), NOW, "<i@a.x>")
    parsed = message_from_bytes(mail.as_bytes(), policy=email_policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["bob@example.com"]
