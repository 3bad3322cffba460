"""Sending a follow-up over SMTP against a real server (aiosmtpd): STARTTLS, SMTPS and a login
with a self-signed certificate the client trusts (SSL_CERT_FILE), and refuses when it does not;
a mail the server accepted counts as sent whatever the QUIT answers; an address SMTP cannot carry
(a non-ASCII local part without SMTPUTF8) is known not sent, never uncertain. And the senders'
runs (follow-ups, "you said, we did"): each stops at the first server it cannot reach and is
bounded by time; a follow-up whose case no longer waits for it is cancelled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.domain.outer_loop import Composed
from bot.domain.shipped import audience
from bot.domain.vocabulary import CaseStatus, MessageStatus
from bot.outbox.mail import Addresses, Outcome, SmtpMailer, build_message
from bot.outbox.mail_worker import RUN_SECONDS, FollowUpSender, Person
from bot.outbox.shipped_sender import ShippedSender
from bot.settings import MailSettings, mail_settings
from storage.customer_messages import CustomerMessages
from storage.deadline_store import NoDeadlines
from storage.models import Case
from storage.shipped import ShippedStore
from tests.factories import feedback_and_triage
from tests.support.clock import FakeClock
from tests.support.crash_helpers import free_port
from tests.support.shipped_seed import customers, seed
from tests.support.smtp_server import SmtpServer, self_signed
from tests.test_tell_customer_rules import NOT_TOLD, NOW, settings_with

SENDER = "Acme Support <support@acme.example>"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trusted(certificate, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # read by ssl.create_default_context


def settings_for(url: str) -> MailSettings:
    settings = mail_settings(settings_with(CLOSELOOP_SMTP_URL=url, CLOSELOOP_MAIL_FROM=SENDER))
    assert settings is not None
    return settings


def mail_to(address: str = "dana@example.com") -> Any:
    composed = Composed("en", "About your feedback", "Hello Dana,", "We fixed it.", "Alice")
    return build_message(composed, Addresses(SENDER, "Dana", address, None), NOW, "<m1@acme.example>")


def test_starttls_and_a_login_over_it(certificate, trusted):
    with SmtpServer(tls="starttls", certificate=certificate, login=("alice", "p@ss")) as server:
        url = f"smtp://alice:p%40ss@127.0.0.1:{server.port}?timeout=5"  # starttls is the default
        assert SmtpMailer(settings_for(url)).send(mail_to()) == Outcome(True)
        assert [rcpt for rcpt, _ in server.mailbox.received] == [["dana@example.com"]]
        assert server.logins and all(entry.endswith(":ok") for entry in server.logins)


def test_a_wrong_password_is_refused_and_says_where_to_fix_it(certificate, trusted):
    with SmtpServer(tls="starttls", certificate=certificate, login=("alice", "p@ss")) as server:
        url = f"smtp://alice:wrong@127.0.0.1:{server.port}?timeout=5"
        outcome = SmtpMailer(settings_for(url)).send(mail_to())
        assert not outcome.sent and not outcome.uncertain and outcome.retry
        assert "535" in outcome.reason and "CLOSELOOP_SMTP_URL" in outcome.reason
        assert server.mailbox.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtps_with_a_login(certificate, trusted):
    with SmtpServer(tls="ssl", certificate=certificate, login=("alice", "pw")) as server:
        url = f"smtps://alice:pw@127.0.0.1:{server.port}?timeout=5"
        assert SmtpMailer(settings_for(url)).send(mail_to()) == Outcome(True)
        assert len(server.mailbox.received) == 1


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_a_certificate_nobody_vouches_for_is_refused_before_anything_is_sent(certificate, tls):
    with SmtpServer(tls=tls, certificate=certificate) as server:
        scheme = "smtps" if tls == "ssl" else "smtp"
        outcome = SmtpMailer(settings_for(f"{scheme}://127.0.0.1:{server.port}?timeout=5")).send(mail_to())
        assert not outcome.sent and not outcome.uncertain and outcome.unreachable
        assert "CERTIFICATE_VERIFY_FAILED" in outcome.reason
        assert server.mailbox.received == []


class RefusesQuit:
    async def handle_QUIT(self, _server: Any, _session: Any, _envelope: Any) -> str:
        return "421 4.3.2 shutting down"


def test_a_mail_accepted_is_sent_even_when_the_quit_after_it_is_refused():
    with SmtpServer() as server:
        server.mailbox.handle_QUIT = RefusesQuit().handle_QUIT  # type: ignore[attr-defined]
        assert SmtpMailer(settings_for(server.url)).send(mail_to()) == Outcome(True)
        assert len(server.mailbox.received) == 1  # once: it would have been tried again


def test_a_non_ascii_local_part_is_known_not_sent_without_smtputf8_and_sent_with_it():
    address = "dörte@example.com"
    with SmtpServer(smtputf8=False) as server:
        outcome = SmtpMailer(settings_for(server.url)).send(mail_to(address))
        assert not outcome.sent and not outcome.uncertain and not outcome.retry
        assert "SMTPUTF8" in outcome.reason
    with SmtpServer() as server:
        assert SmtpMailer(settings_for(server.url)).send(mail_to(address)) == Outcome(True)
        assert [rcpt for rcpt, _ in server.mailbox.received] == [[address]]


# ---- the sender's run ---------------------------------------------------------------------------


def queued_cases(repository: Any, store: CustomerMessages, policy: Any, count: int) -> list[int]:
    ids = []
    for index in range(count):
        customer = {"id": f"cus-{index}", "name": "Dana", "email": f"dana{index}@example.com"}
        data, decide = feedback_and_triage(policy, id=f"resp-{index}", customer=customer)
        case_id = repository.record_feedback(data, decide, NOW).case_id
        repository.claim(case_id, "U0ALICE", NOW)
        repository.close(case_id, "U0ALICE", NOT_TOLD, NOW, expected_owner="U0ALICE")
        assert store.queue(
            case_id, "U0ALICE", "Fixed.", via="email", to_address=f"dana{index}@example.com",
            language="en", now=NOW,
        ).refusal is None  # fmt: skip
        ids.append(case_id)
    return ids


class SlowMailer:
    """Accepts every mail, each taking `seconds` of the injected clock."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self.clock, self.seconds, self.sent = clock, seconds, 0

    def send(self, _message: Any) -> Outcome:
        self.clock.advance(seconds=self.seconds)
        self.sent += 1
        return Outcome(True)


@pytest.fixture
def sender_parts(database, repository, policy) -> Iterator[tuple[Any, CustomerMessages, FakeClock]]:
    yield repository, CustomerMessages(database, NoDeadlines()), FakeClock(NOW)


def follow_up_sender(store, policy, clock, settings, mailer=None) -> tuple[FollowUpSender, list[float]]:
    sender = FollowUpSender(
        store=store, policy=policy, clock=clock, mail=settings,
        people=lambda _user: Person("Alice", "alice@company.example"), on_changed=lambda _case: None,
        mailer=mailer,
    )  # fmt: skip
    deferred: list[float] = []
    sender.on_deferred = deferred.append
    return sender, deferred


def test_a_run_stops_at_the_first_mail_server_it_cannot_reach(sender_parts, policy):
    repository, store, clock = sender_parts
    cases = queued_cases(repository, store, policy, 3)
    nowhere = settings_for(f"smtp://127.0.0.1:{free_port()}?starttls=false&timeout=5")
    sender, deferred = follow_up_sender(store, policy, clock, nowhere)
    assert sender.run() == 0
    tried = [m for case in cases for m in store.of_case(case) if m.attempts]
    assert len(tried) == 1 and "could not reach the mail server" in (tried[0].last_error or "")
    assert tried[0].status == MessageStatus.PENDING and tried[0].retry_at is not None
    assert deferred == [(tried[0].retry_at - clock()).total_seconds()]  # back after the backoff


def test_a_run_is_bounded_by_time_and_comes_back_at_once_for_the_rest(sender_parts, policy):
    repository, store, clock = sender_parts
    cases = queued_cases(repository, store, policy, 4)
    mailer = SlowMailer(clock, RUN_SECONDS / 2)
    sender, deferred = follow_up_sender(store, policy, clock, settings_for("smtp://127.0.0.1:1"), mailer)
    assert sender.run() == 2 and deferred == [0.0]
    assert sender.run() == 2 and deferred == [0.0, 0.0]
    assert sender.run() == 0 and deferred == [0.0, 0.0]  # nothing left, nothing backing off
    assert all(store.latest(case).status == MessageStatus.SENT for case in cases)
    assert clock() == NOW + timedelta(seconds=2 * RUN_SECONDS)


def test_a_follow_up_whose_case_is_no_longer_waiting_for_it_is_cancelled_not_sent(
    database, sender_parts, policy
):
    repository, store, clock = sender_parts
    (case_id,) = queued_cases(repository, store, policy, 1)
    with database.transaction() as session:  # reopened by a process that did not cancel it
        session.execute(update(Case).where(Case.id == case_id).values(status=CaseStatus.CLAIMED))
    mailer = SlowMailer(clock, 0)
    sender, _deferred = follow_up_sender(store, policy, clock, settings_for("smtp://127.0.0.1:1"), mailer)
    assert sender.run() == 0 and mailer.sent == 0
    assert store.latest(case_id).status == MessageStatus.CANCELLED


# ---- "You said, we did": the same bounds on its run ---------------------------------------------


class Unreachable:
    """No server: each try fails at once (as a refused connection does), moving the clock on
    past the pace's next slot, so only the sender's own rule stops the run."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.tried = clock, 0

    def send(self, _message: Any) -> Outcome:
        self.clock.advance(seconds=5)
        self.tried += 1
        return Outcome(False, "could not reach the mail server", retry=True, unreachable=True)


def shipped_sender(database, policy, clock, mailer) -> tuple[ShippedSender, ShippedStore, list[float]]:
    store = ShippedStore(database)
    seed(database, "export", customers(5), clock())
    found, told = store.candidates("export")
    store.announce(
        theme="export", label="export", note="Fixed.", author="U0MAYA",
        audience=audience(policy.outer_loop, found, told), now=clock(),
    )  # fmt: skip
    sender = ShippedSender(
        store=store, policy=policy, clock=clock, mail=settings_for("smtp://127.0.0.1:1"),
        people=lambda _user: Person("Maya", None), on_settled=lambda: None, mailer=mailer,
    )  # fmt: skip
    deferred: list[float] = []
    sender.on_deferred = deferred.append
    return sender, store, deferred


def test_a_shipped_run_stops_at_the_first_mail_server_it_cannot_reach(database, policy):
    clock = FakeClock(NOW)
    mailer = Unreachable(clock)
    sender, _store, deferred = shipped_sender(database, policy, clock, mailer)
    assert sender.run() == 0 and mailer.tried == 1
    assert deferred and 0 < deferred[-1] <= 15  # the first backoff (or the next pace slot, sooner)


def test_a_shipped_run_is_bounded_by_time(database, policy):
    clock = FakeClock(NOW)
    mailer = SlowMailer(clock, RUN_SECONDS / 2)
    sender, _store, deferred = shipped_sender(database, policy, clock, mailer)
    assert sender.run() == 2 and deferred == [0.0]
    assert sender.run() == 2 and sender.run() == 1 and mailer.sent == 5


def test_a_conversation_is_cut_at_its_limit_and_a_mail_handed_over_is_then_uncertain():
    """A server may answer each command just within the timeout and still outlast the lease;
    here it stalls after DATA, and the whole conversation (limit 1 s, timeout 5 s) is cut."""
    with SmtpServer() as server:
        server.mailbox.hang = True
        outcome = SmtpMailer(settings_for(server.url), limit=1.0).send(mail_to())
        assert not outcome.sent and outcome.uncertain
        assert outcome.reason.startswith("the mail server took longer than 1 s")
        assert server.mailbox.hung == 1
