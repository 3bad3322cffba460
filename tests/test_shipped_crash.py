"""kill -9 halfway through "You said, we did": the restarted process goes on at the same pace
with the customers still pending, the one mail the dead process was handing to the SMTP server
is uncertain and never sent again, and the summary says so."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.devkit.simulator import SlackSimulator
from bot.domain.vocabulary import MessageStatus
from storage.db import Database
from storage.models import ShippedRecipient
from tests.support.crash_helpers import mailing_pair, wait_until
from tests.support.shipped_seed import customers, seed
from tests.support.smtp_server import SmtpServer

pytestmark = [pytest.mark.process, pytest.mark.backends("postgresql")]
MAYA = "U0MAYA"


def test_kill_9_halfway_the_restart_goes_on_and_the_interrupted_mail_is_uncertain(database_url, tmp_path):
    simulator = SlackSimulator(bot_token="xoxb-crash", signing_secret="crash-secret")
    database = Database(database_url)
    seed(database, "export", customers(6), datetime.now(UTC))
    with simulator, SmtpServer() as smtp:
        first, second = mailing_pair(simulator, database_url, tmp_path, smtp.url)
        try:
            slack = simulator.driver(f"{first.url}/slack/events")
            slack.slash_command(MAYA, "C0SUPPORT", "/loop", "shipped export")
            assert wait_until(lambda: len(simulator.open_views(MAYA)) == 1, timeout=15), first.output()
            (modal,) = simulator.open_views(MAYA)
            assert "*6 customers*" in str(modal["blocks"])
            slack.submit_view(MAYA, modal["id"], {"note": "The export works again."})
            assert wait_until(lambda: len(smtp.mailbox.received) >= 2, timeout=30), first.output()
            smtp.mailbox.hang = True  # the next one is taken by the server, which never answers
            assert wait_until(lambda: smtp.mailbox.hung == 1, timeout=30), first.output()
            first.kill()  # between handing the mail over and hearing back
            told_before = len(smtp.mailbox.received)
            smtp.mailbox.hang = False

            second.start()
            assert wait_until(lambda: len(smtp.mailbox.received) == 5, timeout=60), second.output()
            summary = lambda: [m for m in simulator.messages("C0SUPPORT") if "told it is fixed" in m.text]  # noqa: E731
            assert wait_until(lambda: len(summary()) == 1, timeout=60), second.output()
            (posted,) = summary()
            assert posted.text == "✅ 5 customers who reported *export* were told it is fixed"
            assert "1 uncertain" in str(posted.blocks)
            mailed = Counter(tuple(r) for r, _ in smtp.mailbox.received)
            assert len(mailed) == 5 and set(mailed.values()) == {1}  # nobody twice
            assert smtp.mailbox.hung == 1 and told_before >= 2
            with database.transaction() as session:
                statuses = Counter(session.scalars(select(ShippedRecipient.status)))
            assert statuses == {MessageStatus.SENT: 5, MessageStatus.UNCERTAIN: 1}
        finally:
            first.kill()
            second.stop()
            database.dispose()
