"""'You said, we did' end to end: the real bot, the simulated Slack and a real SMTP server.
`/loop shipped export` with 500 matching customers opens a modal (the count, 20 names, who is
skipped and why, the message); confirmed, the mails go at `outer_loop.shipped_per_minute` on
the injected clock, survive a restart halfway (the mail a dead process was sending is uncertain,
never resent), and the department's channel gets one summary. A second confirmation mails
nobody; a non-manager is refused, and so is a forged submission; hostile names ping nobody."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from bot.devkit.local_stack import LocalStack
from bot.domain.vocabulary import EventKind
from storage.db import Database
from storage.shipped import ShippedStore
from tests.support import steps
from tests.support.shipped_seed import customers, seed
from tests.support.smtp_server import SmtpServer
from tests.test_tell_customer import make_stack, outer_policy

pytestmark = pytest.mark.backends("sqlite")  # the rows' races run on both in test_shipped_storage
MAYA = "U0MAYA"  # support's manager
SUPPORT = "C0SUPPORT"


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


def shipped(stack: LocalStack, user: str, text: str) -> tuple[Any, list[dict[str, Any]]]:
    result = stack.slack.slash_command(user, SUPPORT, "/loop", f"shipped {text}")
    stack.settle()
    return result, stack.simulator.open_views(user)


def last_answer(stack: LocalStack, user: str) -> str:
    return stack.simulator.ephemerals(user)[-1].text


def drive(stack: LocalStack, clock, seconds: int) -> None:
    """`seconds` of the injected clock, one at a time, the sender run at each (as its
    come-back timer would in production)."""
    for _ in range(seconds):
        clock.advance(seconds=1)
        stack.runtime.shipped.run()
    stack.settle()


def summaries(stack: LocalStack) -> list[str]:
    return [m.text for m in stack.simulator.messages(SUPPORT) if "were told it is fixed" in m.text]


def test_500_customers_paced_surviving_a_restart_halfway_each_mailed_once(
    database_url, raw_policy, clock, smtp
):
    policy = outer_policy(raw_policy, suppress=["blocked.example"])
    database = Database(database_url)
    people = customers(500)
    skipped = [
        {"id": "no-1", "name": "Opted Out", "email": "o1@example.com", "contact_ok": False},
        {"id": "no-2", "name": "Blocked", "email": "b@blocked.example"},
        {"id": "no-3", "name": "No Address"},
    ]
    seed(database, "export", [*skipped, *people, *people[:40]], clock())  # 40 answered twice
    with make_stack(database_url, policy, clock, smtp) as stack:
        case = steps.open_case(
            stack, id="via-intake", customer={"id": "c-7", "name": "Customer 7", "email": "c7@example.com"}
        )
        _result, (modal,) = shipped(stack, MAYA, "Export")
        text = json.dumps(modal["blocks"], ensure_ascii=False)
        assert "*500 customers* reported *export*" in text
        assert text.count("• Customer ") == 20 and "and 480 more" in text
        assert (
            "3 skipped: 1 no e-mail address, 1 asked not to be contacted, 1 on the suppression list" in text
        )
        stack.slack.submit_view(MAYA, modal["id"], {"note": "The CSV export works again."})
        stack.settle()
        assert len(smtp.mailbox.received) == 1  # the first slot at once, then one a second
        drive(stack, clock, 249)
        assert len(smtp.mailbox.received) == 250
        # The bot dies while handing the 251st to the mail server: its row is left `sending`.
        store = ShippedStore(database)
        clock.advance(seconds=1)
        dying = store.lease_next(clock(), stack.runtime.shipped.lease, stack.runtime.shipped.interval)
        assert dying is not None and not isinstance(dying, float)
        assert store.mark_sending(dying.id, dying.lease_until, clock(), "<dying@acme.example>")
    with make_stack(database_url, policy, clock, smtp) as stack:  # a new runtime, the same database
        drive(stack, clock, 248)
        assert len(smtp.mailbox.received) == 498  # the pace goes on where it was: one a second
        drive(stack, clock, 60)
        assert len(smtp.mailbox.received) == 499  # 500 - the one whose fate nobody knows
        mailed = Counter(tuple(recipients) for recipients, _ in smtp.mailbox.received)
        assert len(mailed) == 499 and set(mailed.values()) == {1}  # nobody twice
        assert (dying.to_address,) not in mailed
        (summary,) = summaries(stack)
        assert summary.startswith("✅ 499 customers who reported *export* were told it is fixed")
        message = next(m for m in stack.simulator.messages(SUPPORT) if m.text == summary)
        context = json.dumps(message.blocks, ensure_ascii=False)
        assert "1 uncertain" in context and "3 skipped" in context
        first = smtp.mailbox.messages()[0]
        assert first["Subject"] == "You said, we did: export"
        assert "The CSV export works again." in first.get_body(("plain",)).get_content()
        events = stack.runtime.repository.history(case.id)
        assert any(e.kind == EventKind.SHIPPED_TOLD and e.details["theme"] == "export" for e in events)

        # A second `/loop shipped export` finds nobody left; re-submitting is refused too.
        _result, views = shipped(stack, MAYA, "export")
        assert views == []
        assert last_answer(stack, MAYA).startswith("Nobody is left to tell about *export*: 500 already told")
    database.dispose()
