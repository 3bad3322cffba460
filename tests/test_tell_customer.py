"""Telling the customer, end to end: the real bot, the simulated Slack and a real SMTP server
(aiosmtpd) on a free port. The close form goes on to the follow-up form when "customer told" is
not ticked; the mail arrives with its headers, both parts escaped, the owner's Reply-To and the
customer's language; the case and its thread show it; a refusing server is retried with backoff
on a moved clock; without the owner's address in Slack the policy's reply_to stands in; a
customer who opted out, or is suppressed, is never mailed and the button says why; the form's
errors show in the form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.devkit.local_stack import LocalStack
from bot.devkit.simulator import SlackSimulator
from bot.domain.policy import Policy
from bot.domain.vocabulary import EventKind, FollowUp, MessageStatus
from bot.policy_file import parse_policy
from tests.factories import CLOSE_FORM
from tests.support import steps
from tests.support.clock import FakeClock
from tests.support.smtp_server import SmtpServer

OWNER = "U0ALICE"
OWNER_EMAIL = "alice@company.example"
pytestmark = pytest.mark.backends("sqlite")  # the storage tests run on both (test_tell_customer_storage)

NOT_TOLD = {**CLOSE_FORM, "customer_informed": "no"}
KNOWN_HEADERS = {
    b"from", b"to", b"reply-to", b"subject", b"date", b"message-id", b"auto-submitted",
    b"content-type", b"content-transfer-encoding", b"mime-version", b"content-language",
}  # fmt: skip


def outer_policy(raw_policy: dict[str, Any], **outer: Any) -> Policy:
    raw = dict(raw_policy)
    raw["outer_loop"] = {
        "remind_after": "2d",
        "templates": {
            "en": {
                "subject": "About your feedback on case {case}",
                "greeting": "Hello {name},",
                "note": "We fixed the export for you.",
                "signature": "Best regards,\n{owner}",
            },
            "de": {
                "subject": "Zu Ihrem Feedback",
                "greeting": "Hallo {name},",
                "note": "Wir haben den Export repariert.",
                "signature": "Viele Grüße\n{owner}",
            },
        },
        **outer,
    }
    return parse_policy(raw, "the test policy")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def make_stack(
    database_url: str, policy: Policy, clock: FakeClock, smtp: SmtpServer, more: dict[str, str] | None = None
) -> LocalStack:
    simulator = SlackSimulator(
        bot_token="xoxb-test", signing_secret="test-signing-secret", clock=clock.timestamp
    )
    environment = {
        "CLOSELOOP_SMTP_URL": smtp.url,
        "CLOSELOOP_MAIL_FROM": "Acme Support <support@acme.example>",
        **(more or {}),
    }
    local = LocalStack(
        policy=policy, database_url=database_url, clock=clock, simulator=simulator, environment=environment
    )
    local.simulator.workspace.user(OWNER).email = OWNER_EMAIL
    return local


@pytest.fixture
def mail_stack(database_url, raw_policy, clock, smtp) -> Iterator[LocalStack]:
    with make_stack(database_url, outer_policy(raw_policy), clock, smtp) as local:
        yield local
        local.settle()
        assert local.simulator.violations == [], "the bot sent Slack something it would reject"


def close_not_told(stack: LocalStack, **overrides: Any) -> tuple[Any, dict[str, Any]]:
    """Alice claims and closes a case with "customer told: not yet": the follow-up form opens."""
    case = steps.open_case(stack, **overrides)
    steps.click(stack, OWNER, case, "case_claim")
    _view, result = steps.close_case(stack, case, OWNER, NOT_TOLD)
    assert result.ok, result
    (form,) = stack.simulator.open_views(OWNER)
    return stack.runtime.repository.get_case(case.id), form


def note_value(form: dict[str, Any]) -> str:
    (block,) = [b for b in form["blocks"] if b.get("block_id") == "note"]
    return block["element"]["initial_value"]


def send(stack: LocalStack, form: dict[str, Any], note: str, user: str = OWNER) -> Any:
    result = stack.slack.submit_view(user, form["id"], {"note": note})
    stack.settle()
    stack.runtime.outbox_queue.request_sweep()  # the follow-ups unit runs at each sweep too
    stack.settle()
    return result


def case_blocks(stack: LocalStack, case: Any) -> str:
    case = stack.runtime.repository.get_case(case.id)
    return str(stack.simulator.message(case.slack_channel, case.slack_ts).blocks)


def thread_texts(stack: LocalStack, case: Any) -> list[str]:
    return [m.text for m in stack.simulator.thread(case.slack_channel, case.slack_ts)[1:]]


def test_closing_not_told_opens_the_follow_up_form_and_the_mail_arrives_as_written(mail_stack, smtp):
    case, form = close_not_told(mail_stack)
    assert form["callback_id"] == "case_tell_customer_modal"
    assert note_value(form) == "We fixed the export for you."  # the policy's template prefills it
    assert "dana@example.com" in str(form["blocks"])

    send(mail_stack, form, "We fixed the export <script>alert(1)</script> & refunded you.")

    ((recipients, mail),) = smtp.mailbox.received
    assert recipients == ["dana@example.com"]
    assert mail["From"] == "Acme Support <support@acme.example>"
    assert mail["To"] == "Dana Scully <dana@example.com>"
    assert mail["Reply-To"] == OWNER_EMAIL  # the owner's own address, from users.info
    assert mail["Subject"] == f"About your feedback on case {case.id}"
    assert mail["Message-ID"].startswith("<") and mail["Message-ID"].endswith("@acme.example>")
    assert mail["Content-Language"] == "en"
    plain = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # as sent: CRLF lines
    markup = mail.get_body(("html",)).get_content()
    assert plain.startswith("Hello Dana Scully,\n\nWe fixed the export <script>alert(1)</script> & refunded")
    assert "Best regards,\nAlice Agent" in plain  # {owner}: the owner's name from Slack
    assert "<script>" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; refunded you." in markup

    stored = mail_stack.runtime.repository.get_case(case.id)
    assert stored.follow_up == FollowUp.TOLD and stored.customer_informed is True
    assert "Customer told" in case_blocks(mail_stack, case)
    assert "case_tell_customer" not in case_blocks(mail_stack, case)  # nothing left to tell
    (reply,) = [t for t in thread_texts(mail_stack, case) if t.startswith("📨")]
    assert f"<@{OWNER}> told the customer what was done, by e-mail" in reply
    assert mail["Message-ID"].strip("<>") in reply
    kinds = [e.kind for e in mail_stack.runtime.repository.history(case.id)]
    assert kinds[-2:] == [EventKind.FOLLOW_UP_QUEUED, EventKind.CUSTOMER_TOLD]
    (told,) = [e for e in mail_stack.runtime.repository.history(case.id) if e.kind == EventKind.CUSTOMER_TOLD]
    assert told.actor == OWNER and told.details["via"] == "email"
    assert told.at == mail_stack.runtime.services.clock()


def test_hostile_names_cannot_add_headers_and_are_escaped_in_html(mail_stack, smtp):
    name = 'Eve "the" <Hacker>\r\nBcc: victim@evil.example'
    _case, form = close_not_told(
        mail_stack,
        customer={"id": "c-1", "name": name, "email": "eve@example.com"},
    )
    send(mail_stack, form, "Fixed.")
    ((recipients, mail),) = smtp.mailbox.received
    assert recipients == ["eve@example.com"]  # no Bcc smuggled in
    assert mail["Bcc"] is None
    assert mail["To"].addresses[0].addr_spec == "eve@example.com"
    assert "victim" in str(mail["To"])  # kept inside the display name
    # As sent, every header line starts a header or continues one (folded): none was smuggled in.
    head = smtp.mailbox.raw[0].split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    names = [line.split(b":", 1)[0].lower() for line in head if not line[:1].isspace()]
    assert b"bcc" not in names and names.count(b"to") == 1
    assert all(name in KNOWN_HEADERS for name in names), names
    markup = mail.get_body(("html",)).get_content()
    assert "&lt;Hacker&gt;" in markup and "&quot;the&quot;" in markup and "<Hacker>" not in markup


def test_without_an_address_in_slack_the_policys_reply_to_stands_in(database_url, raw_policy, clock, smtp):
    policy = outer_policy(raw_policy, reply_to="help@acme.example")
    with make_stack(database_url, policy, clock, smtp) as stack:
        stack.simulator.workspace.user(OWNER).email = None  # no users:read.email, or no address
        _case, form = close_not_told(stack)
        send(stack, form, "Fixed.")
        ((_recipients, mail),) = smtp.mailbox.received
        assert mail["Reply-To"] == "help@acme.example"
        stack.settle()
        assert stack.simulator.violations == []


def test_the_customers_language_picks_the_template_and_the_default_stands_in(mail_stack, smtp):
    _case, form = close_not_told(mail_stack, language="de-AT")
    assert note_value(form) == "Wir haben den Export repariert."
    send(mail_stack, form, note_value(form))
    (mail,) = smtp.mailbox.messages()
    assert mail["Subject"] == "Zu Ihrem Feedback" and mail["Content-Language"] == "de"
    assert mail.get_body(("plain",)).get_content().startswith("Hallo Dana Scully,\r\n")

    _other, form = close_not_told(mail_stack, id="resp-2", language="fr")
    send(mail_stack, form, "Nous avons corrigé l'export.")
    assert smtp.mailbox.messages()[-1]["Content-Language"] == "en"  # no French template: English


def test_a_refusing_server_is_retried_with_backoff_on_a_moved_clock(mail_stack, smtp, clock):
    smtp.mailbox.refuse_with = "451 4.3.0 try again later"
    case, form = close_not_told(mail_stack)
    send(mail_stack, form, "Fixed.")
    assert smtp.mailbox.refused == 1 and smtp.mailbox.received == []
    (message,) = mail_stack.runtime.follow_ups.store.of_case(case.id)
    assert message.status == MessageStatus.PENDING and "451" in (message.last_error or "")
    assert message.retry_at is not None and message.retry_at > clock()

    mail_stack.runtime.outbox_queue.request_sweep()  # not yet due: nothing tried
    mail_stack.settle()
    assert smtp.mailbox.refused == 1

    smtp.mailbox.refuse_with = None
    clock.advance(seconds=16)
    mail_stack.runtime.outbox_queue.request_sweep()
    mail_stack.settle()
    mail_stack.runtime.outbox_queue.request_sweep()
    mail_stack.settle()
    assert len(smtp.mailbox.received) == 1  # once, after the backoff
    assert mail_stack.runtime.repository.get_case(case.id).follow_up == FollowUp.TOLD


def test_a_server_refusing_for_good_is_given_up_and_shown_on_the_case(mail_stack, smtp, clock):
    smtp.mailbox.refuse_with = "451 4.3.0 try again later"
    case, form = close_not_told(mail_stack)
    send(mail_stack, form, "Fixed.")
    for _ in range(8):
        clock.advance(minutes=20)
        mail_stack.runtime.outbox_queue.request_sweep()
        mail_stack.settle()
    assert smtp.mailbox.refused == 6 and smtp.mailbox.received == []
    assert mail_stack.runtime.repository.get_case(case.id).follow_up == FollowUp.FAILED
    blocks = case_blocks(mail_stack, case)
    assert "Follow-up failed" in blocks and "case_tell_customer" in blocks  # try again from the case
    assert any(t.startswith("⚠️") and "451" in t for t in thread_texts(mail_stack, case))
    channel = mail_stack.simulator.dm_channel(OWNER)
    (dm,) = mail_stack.simulator.messages(channel.id)
    assert "could not be sent" in dm.text


def test_a_customer_who_opted_out_is_never_mailed_and_the_button_says_why(mail_stack, smtp):
    case = steps.open_case(
        mail_stack,
        customer={"id": "c-2", "name": "Quiet Quinn", "email": "quinn@example.com", "contact_ok": False},
    )
    assert mail_stack.runtime.repository.get_case(case.id).contact_ok is False
    steps.click(mail_stack, OWNER, case, "case_claim")
    steps.close_case(mail_stack, case, OWNER, NOT_TOLD)
    assert mail_stack.simulator.open_views(OWNER) == []  # no follow-up form for them
    blocks = case_blocks(mail_stack, case)
    assert "Asked not to be contacted" in blocks and "contact_ok: false" in blocks
    case = mail_stack.runtime.repository.get_case(case.id)
    steps.click(mail_stack, OWNER, case, "case_tell_customer")
    assert mail_stack.simulator.open_views(OWNER) == []
    (answer,) = [r for r in mail_stack.simulator.responses if "not to be contacted" in str(r.payload)]
    assert "Not sent" in str(answer.payload)
    assert smtp.mailbox.received == []
    assert mail_stack.runtime.follow_ups.store.of_case(case.id) == []


def test_a_suppressed_address_is_never_mailed(database_url, raw_policy, clock, smtp):
    policy = outer_policy(raw_policy, suppress=["example.com"])
    with make_stack(database_url, policy, clock, smtp) as stack:
        case = steps.open_case(stack)
        steps.click(stack, OWNER, case, "case_claim")
        steps.close_case(stack, case, OWNER, NOT_TOLD)
        assert stack.simulator.open_views(OWNER) == []
        assert "Address suppressed" in case_blocks(stack, case)
        assert smtp.mailbox.received == []
        stack.settle()
        assert stack.simulator.violations == []


def test_the_forms_errors_show_in_the_form_and_nothing_is_queued(mail_stack, smtp):
    case, form = close_not_told(mail_stack)
    result = mail_stack.slack.submit_view(OWNER, form["id"], {"note": "   "})
    mail_stack.settle()
    assert result.json["response_action"] == "errors"
    assert result.json["errors"]["note"] == "Write what you want to tell the customer."
    assert mail_stack.simulator.open_views(OWNER)  # still open, showing the error
    assert mail_stack.runtime.follow_ups.store.of_case(case.id) == []


def test_tell_the_customer_later_from_the_case_message_and_not_twice(mail_stack, smtp):
    case = steps.open_case(mail_stack)
    steps.click(mail_stack, OWNER, case, "case_claim")
    steps.close_case(mail_stack, case, OWNER, NOT_TOLD)
    (form,) = mail_stack.simulator.open_views(OWNER)
    mail_stack.simulator.workspace.close_view(form["id"])  # Alice cancels: she'll do it later
    assert "Customer not told yet" in case_blocks(mail_stack, case)

    case = mail_stack.runtime.repository.get_case(case.id)
    steps.click(mail_stack, "U0BOB", case, "case_tell_customer")  # not Bob's case
    assert mail_stack.simulator.open_views("U0BOB") == []
    steps.click(mail_stack, OWNER, case, "case_tell_customer")
    (form,) = mail_stack.simulator.open_views(OWNER)
    send(mail_stack, form, "Done, and sorry.")
    assert len(smtp.mailbox.received) == 1
    again = mail_stack.runtime.services.tell_customer.send(case.id, OWNER, "Again?")
    assert again.refusal == "The customer has been told already (the case's thread says when)."
    mail_stack.runtime.outbox_queue.request_sweep()
    mail_stack.settle()
    assert len(smtp.mailbox.received) == 1
