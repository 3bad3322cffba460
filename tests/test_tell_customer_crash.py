"""kill -9 while a follow-up is being sent: SMTP has no idempotency key, so a mail the dead process
left `sending` is never resent on its own. The restarted process shows it to its author as
uncertain (the case, its thread, a direct message with Send again), and only the author's click
sends a second copy."""

from __future__ import annotations

from typing import Any

import pytest

from bot.devkit.simulator import SlackSimulator
from bot.domain.vocabulary import FollowUp, MessageStatus
from storage.customer_messages import CustomerMessages
from storage.db import Database
from storage.deadline_store import NoDeadlines
from storage.repository import Repository
from tests.factories import CLOSE_FORM, payload
from tests.support.crash_helpers import mailing_pair, wait_until
from tests.support.smtp_server import SmtpServer

pytestmark = [pytest.mark.process, pytest.mark.backends("postgresql")]

OWNER = "U0ALICE"


def _open_view(simulator: SlackSimulator) -> dict[str, Any]:
    assert wait_until(lambda: len(simulator.open_views(OWNER)) == 1, timeout=10)
    return simulator.open_views(OWNER)[-1]


def test_kill_9_mid_send_leaves_the_mail_uncertain_and_only_a_person_sends_it_again(database_url, tmp_path):
    simulator = SlackSimulator(bot_token="xoxb-crash", signing_secret="crash-secret")
    database = Database(database_url)
    repository = Repository(database)
    messages = CustomerMessages(database, NoDeadlines())
    with simulator, SmtpServer() as smtp:
        first, second = mailing_pair(simulator, database_url, tmp_path, smtp.url)
        simulator.workspace.user(OWNER).email = "alice@company.example"
        try:
            status, answer = first.post_feedback(payload(id="crash-mail"))
            assert status == 202, answer
            case_id = answer["case_id"]
            assert wait_until(lambda: repository.get_case(case_id).slack_ts is not None), first.output()
            case = repository.get_case(case_id)
            slack = simulator.driver(f"{first.url}/slack/events")
            slack.click(OWNER, case.slack_channel, case.slack_ts, "case_claim")
            assert wait_until(lambda: repository.get_case(case_id).owner_id == OWNER), first.output()
            slack.click(OWNER, case.slack_channel, case.slack_ts, "case_close")
            close_form = _open_view(simulator)
            slack.submit_view(OWNER, close_form["id"], {**CLOSE_FORM, "customer_informed": "no"})
            tell_form = _open_view(simulator)
            assert tell_form["callback_id"] == "case_tell_customer_modal"

            smtp.mailbox.hang = True  # the server takes the message and never answers
            slack.submit_view(OWNER, tell_form["id"], {"note": "We fixed the export."})
            sending = lambda: [m.status for m in messages.of_case(case_id)] == [MessageStatus.SENDING]  # noqa: E731
            assert wait_until(sending, timeout=15), first.output()
            assert wait_until(lambda: smtp.mailbox.hung == 1, timeout=15)
            first.kill()  # between handing the mail over and hearing back: nobody knows if it went

            second.start()
            uncertain = lambda: repository.get_case(case_id).follow_up == FollowUp.UNCERTAIN  # noqa: E731
            assert wait_until(uncertain, timeout=30), second.output()
            (message,) = messages.of_case(case_id)
            assert message.status == MessageStatus.UNCERTAIN and message.attempts == 1
            dm_channel = simulator.dm_channel(OWNER).id
            dm_sent = lambda: any("may or may not" in m.text for m in simulator.messages(dm_channel))  # noqa: E731
            assert wait_until(dm_sent, timeout=30), second.output()
            case = repository.get_case(case_id)
            assert wait_until(
                lambda: (
                    "Follow-up uncertain" in str(simulator.message(case.slack_channel, case.slack_ts).blocks)
                )
            )
            thread = simulator.thread(case.slack_channel, case.slack_ts)
            assert any("may or may not have reached the customer" in m.text for m in thread)
            assert smtp.mailbox.hung == 1 and smtp.mailbox.received == []  # not resent on its own

            # The author checks with the customer, who got nothing, and chooses to send it again.
            smtp.mailbox.hang = False
            (dm,) = [m for m in simulator.messages(dm_channel) if "may or may not" in m.text]
            again = simulator.driver(f"{second.url}/slack/events")
            again.click(OWNER, dm_channel, dm.ts, "case_follow_up_send_again")
            form = _open_view(simulator)
            assert "may have reached the customer" in str(form["blocks"])
            assert form["blocks"][2]["element"]["initial_value"] == "We fixed the export."  # as written
            again.submit_view(OWNER, form["id"], {"note": "We fixed the export."})
            assert wait_until(lambda: len(smtp.mailbox.received) == 1, timeout=30), second.output()
            told = lambda: repository.get_case(case_id).follow_up == FollowUp.TOLD  # noqa: E731
            assert wait_until(told, timeout=30), second.output()
            assert [m.status for m in messages.of_case(case_id)] == [
                MessageStatus.UNCERTAIN,
                MessageStatus.SENT,
            ]
            assert smtp.mailbox.hung == 1 and len(smtp.mailbox.received) == 1
        finally:
            first.kill()
            second.stop()
            database.dispose()
