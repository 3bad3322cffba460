"""'You said, we did': who may (and whose customers), what the modal shows, what cannot be
forged, one mailbox told once whatever key it came by, an opt-out arriving after the
confirmation, and themes picked at close. The real bot, the simulated Slack and a real SMTP
server; the customers are written straight into the database (tests.support.shipped_seed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.app.shipped import NOT_ALLOWED
from bot.devkit.local_stack import LocalStack
from storage.db import Database
from storage.shipped import ShippedStore
from tests.factories import CLOSE_FORM
from tests.support import steps
from tests.support.shipped_seed import customers, seed
from tests.support.smtp_server import SmtpServer
from tests.test_tell_customer import make_stack, outer_policy
from tests.test_tell_customer_helpdesk import SECRET, Helpdesk

pytestmark = pytest.mark.backends("sqlite")
MAYA, OMAR, OPS, ALICE = "U0MAYA", "U0OMAR", "U0OPS", "U0ALICE"  # managers, a leader, an agent
BOB = "U0BOB"  # an agent who is an admin
SUPPORT = "C0SUPPORT"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def shipped_stack(database_url, raw_policy, clock, smtp) -> Iterator[tuple[LocalStack, Database]]:
    database = Database(database_url)
    raw = {**raw_policy, "admins": [*raw_policy.get("admins", []), BOB], "themes": ["CSV Export", "Billing"]}
    with make_stack(database_url, outer_policy(raw), clock, smtp) as local:
        yield local, database
        local.settle()
        assert local.simulator.violations == [], "the bot sent Slack something it would reject"
    database.dispose()


def command(stack: LocalStack, user: str, text: str) -> list[dict[str, Any]]:
    stack.slack.slash_command(user, SUPPORT, "/loop", f"shipped {text}".strip())
    stack.settle()
    return stack.simulator.open_views(user)


def answer(stack: LocalStack, user: str) -> str:
    return stack.simulator.ephemerals(user)[-1].text


def sent_all(stack: LocalStack, clock, seconds: int = 30) -> None:
    for _ in range(seconds):
        clock.advance(seconds=1)
        stack.runtime.shipped.run()
    stack.settle()


def forged_submission(stack: LocalStack, user: str, metadata: str, note: str = "Fixed.") -> Any:
    """A view_submission signed like Slack's but of a modal `user` never had open."""
    driver = stack.slack
    view = {
        "id": "VFORGED",
        "type": "modal",
        "callback_id": "shipped_modal",
        "private_metadata": metadata,
        "state": {"values": {"note": {"value": {"type": "plain_text_input", "value": note}}}},
    }
    payload = {**driver._envelope(user, "view_submission"), "view": view, "response_urls": []}
    return driver._post_form({"payload": json.dumps(payload)})


def test_a_non_manager_is_refused_and_a_leader_may(shipped_stack, clock):
    stack, database = shipped_stack
    seed(database, "export", customers(3), clock())
    assert command(stack, ALICE, "export") == []
    assert answer(stack, ALICE) == NOT_ALLOWED
    (modal,) = command(stack, OPS, "export")  # recognition.leaders
    assert modal["callback_id"] == "shipped_modal"
    stack.slack.slash_command(ALICE, SUPPORT, "/loop", "help")
    assert "`/loop shipped <theme>` — managers and leaders:" in answer(stack, ALICE)


def test_an_empty_or_unknown_theme_or_nobody_left_gets_a_private_answer(shipped_stack, clock, smtp):
    stack, database = shipped_stack
    assert command(stack, MAYA, "") == []
    assert answer(stack, MAYA).startswith("Name the theme that is fixed")
    assert command(stack, MAYA, "<!channel> teleport") == []
    said = answer(stack, MAYA)
    assert "*&lt;!channel&gt; teleport*" in said and "<!channel>" not in said
    seed(
        database, "login", [{"id": "x", "name": "X", "email": "x@example.com", "contact_ok": False}], clock()
    )
    assert command(stack, MAYA, "login") == []
    assert answer(stack, MAYA).startswith("Nobody is left to tell about *login*: 0 already told")


def test_promoters_are_left_out_passives_counted(shipped_stack, clock):
    stack, database = shipped_stack
    seed(
        database,
        "export",
        [
            {"id": "d", "name": "Detractor", "email": "d@example.com"},
            {"id": "p", "name": "Passive", "email": "p@example.com", "category": "passive"},
            {"id": "h", "name": "Happy", "email": "h@example.com", "category": "promoter"},
        ],
        clock(),
    )
    (modal,) = command(stack, MAYA, "export")
    text = json.dumps(modal["blocks"], ensure_ascii=False)
    assert "*2 customers*" in text and "Passive" in text and "Happy" not in text


def test_a_forged_submission_is_refused_and_writes_nothing(shipped_stack, clock, smtp):
    stack, database = shipped_stack
    seed(database, "export", customers(3), clock())
    result = forged_submission(stack, ALICE, json.dumps({"theme": "export"}))
    assert result.json["response_action"] == "update"
    assert NOT_ALLOWED in json.dumps(result.json["view"], ensure_ascii=False)
    garbage = forged_submission(stack, MAYA, "not json")
    assert garbage.ok and not garbage.body.strip()  # ignored: a malformed payload
    sent_all(stack, clock)
    assert smtp.mailbox.received == []
    (modal,) = command(stack, MAYA, "export")  # nobody was told: all three are still to tell
    assert "*3 customers*" in json.dumps(modal["blocks"])


def test_two_managers_confirming_at_once_tell_each_customer_once(shipped_stack, clock, smtp):
    stack, database = shipped_stack
    seed(database, "export", customers(12), clock())
    (maya,) = command(stack, MAYA, "export")
    (ops,) = command(stack, OPS, "export")  # a leader: everyone's customers, support's too
    stack.slack.submit_view(MAYA, maya["id"], {"note": "Fixed, says Maya."})
    second = stack.slack.submit_view(OPS, ops["id"], {"note": "Fixed, says Ops."})
    stack.settle()
    assert "Nobody is left to tell about *export*: 12 already told" in json.dumps(second.json["view"])
    sent_all(stack, clock)
    mailed = [tuple(r) for r, _ in smtp.mailbox.received]
    assert len(mailed) == 12 == len(set(mailed))
    assert all("Fixed, says Maya." in m.get_body(("plain",)).get_content() for m in smtp.mailbox.messages())
    summaries = [m for m in stack.simulator.messages(SUPPORT) if "told it is fixed" in m.text]
    assert [m.text for m in summaries] == ["✅ 12 customers who reported *export* were told it is fixed"]


def test_hostile_names_and_themes_ping_nobody(shipped_stack, clock, smtp):
    stack, database = shipped_stack
    evil = "<!channel> <@U0MAYA> *Bold*\n<https://evil.example|click>"
    theme = "<!here> export"
    many = [{"id": f"h{i}", "name": evil + "x" * 300, "email": f"h{i}@example.com"} for i in range(25)]
    seed(database, theme, many, clock())
    (modal,) = command(stack, MAYA, "<!here>   EXPORT")
    shown = [b for b in modal["blocks"] if b["type"] != "input"]  # the input is plain text, not mrkdwn
    text = json.dumps(shown, ensure_ascii=False)
    assert "<!channel>" not in text and "<@U0MAYA>" not in text and "<!here>" not in text
    assert "&lt;!channel&gt; &lt;@U0MAYA&gt;" in text and "and 5 more" in text
    stack.slack.submit_view(MAYA, modal["id"], {"note": "Fixed <b>now</b>."})
    sent_all(stack, clock)
    assert len(smtp.mailbox.received) == 25
    mail = smtp.mailbox.messages()[0]
    (to,) = mail["To"].addresses  # the long hostile name cannot pass for an address
    assert (
        to.addr_spec.startswith("h") and to.addr_spec.endswith("@example.com") and "\n" not in str(mail["To"])
    )
    assert to.display_name.startswith("<!channel> <@U0MAYA> *Bold* <https://evil.example|click>")
    assert "&lt;b&gt;now&lt;/b&gt;" in mail.get_body(("html",)).get_content()
    (summary,) = [m for m in stack.simulator.messages(SUPPORT) if "told it is fixed" in m.text]
    assert "*&lt;!here&gt; export*" in summary.text and "<!here>" not in json.dumps(summary.blocks)


def test_a_helpdesk_department_is_told_through_its_webhook_and_each_department_gets_its_summary(
    database_url, raw_policy, clock, smtp
):
    desk = Helpdesk(failures=1)
    try:
        route = {"url": desk.url, "secret_env": "CLOSELOOP_HELPDESK_SECRET"}
        policy = outer_policy(raw_policy, helpdesk={"billing": route})
        database = Database(database_url)
        seed(database, "invoices", customers(3, "s"), clock())  # support: by e-mail
        billing = [{"id": f"b-{i}", "name": f"Billed {i}", "department": "billing"} for i in range(2)]
        seed(database, "invoices", billing, clock())  # no address: their helpdesk knows them
        with make_stack(database_url, policy, clock, smtp, {"CLOSELOOP_HELPDESK_SECRET": SECRET}) as stack:
            (modal,) = command(stack, OPS, "invoices")  # a leader: both departments' customers
            assert "*5 customers*" in json.dumps(modal["blocks"])
            stack.slack.submit_view(OPS, modal["id"], {"note": "Invoices add up again."})
            sent_all(stack, clock, 60)  # a 500 from the helpdesk: again after its backoff
            assert len(smtp.mailbox.received) == 3 and desk.bad == []
            assert len(desk.bodies) == 2 and len(desk.ids) == 3 and len(set(desk.ids)) == 2  # same id again
            assert {b["type"] for b in desk.bodies} == {"customer.you_said_we_did"}
            assert {b["data"]["theme"] for b in desk.bodies} == {"invoices"}
            for channel, n in (("C0SUPPORT", 3), ("C0BILLING", 2)):
                (summary,) = [
                    m.text for m in stack.simulator.messages(channel) if "told it is fixed" in m.text
                ]
                assert summary == f"✅ {n} customers who reported *invoices* were told it is fixed"
        database.dispose()
    finally:
        desk.stop()


def test_the_sender_comes_back_when_its_next_slot_is_due(shipped_stack, clock):
    stack, database = shipped_stack
    seed(database, "export", customers(3), clock())
    (modal,) = command(stack, MAYA, "export")
    stack.slack.submit_view(MAYA, modal["id"], {"note": "Fixed."})
    stack.settle()
    deferred: list[float] = []
    stack.runtime.shipped.on_deferred = deferred.append  # production: the pool's come-back timer
    assert stack.runtime.shipped.run() == 0  # the first went at once; the next slot is a second away
    assert deferred == [1.0]
    clock.advance(seconds=1)
    assert stack.runtime.shipped.run() == 1


def test_twenty_of_the_longest_most_escaped_names_fit_the_modal(shipped_stack, clock):
    stack, database = shipped_stack
    seed(
        database,
        "export",
        [{"id": f"l{i}", "name": "<&>" * 66, "email": f"l{i}@example.com"} for i in range(30)],
        clock(),
    )
    (modal,) = command(stack, MAYA, "export")
    (listed,) = [
        b["text"]["text"] for b in modal["blocks"] if b["type"] == "section" and "• " in b["text"]["text"]
    ]
    assert len(listed) <= 3000 and listed.count("• &lt;&amp;&gt;") == 20 and "and 10 more" in listed
    # the fixture fails the test on any Block Kit violation the simulator saw


def count_of(modal: dict[str, Any]) -> str:
    return json.dumps(modal["blocks"], ensure_ascii=False).split("*")[1]  # "*5 customers* reported…"


def mailed(smtp: SmtpServer) -> list[str]:
    return sorted(r for recipients, _ in smtp.mailbox.received for r in recipients)


def test_a_manager_tells_their_departments_customers_leaders_and_admins_everyones(shipped_stack, clock, smtp):
    local, database = shipped_stack
    seed(database, "export", customers(3, "s"), clock())  # support's
    seed(database, "export", customers(2, "b"), clock(), department="billing")
    assert command(local, ALICE, "export") == []  # an agent
    assert "departments' managers" in answer(local, ALICE)
    (maya,) = command(local, MAYA, "export")
    (omar,) = command(local, OMAR, "export")
    (ops,) = command(local, OPS, "export")  # recognition.leaders
    (bob,) = command(local, BOB, "export")  # an admin
    counts = [count_of(m) for m in (maya, omar, ops, bob)]
    assert counts == ["3 customers", "2 customers", "5 customers", "5 customers"]
    local.slack.submit_view(OMAR, omar["id"], {"note": "Fixed for billing."})
    local.settle()
    sent_all(local, clock)
    assert mailed(smtp) == ["b0@example.com", "b1@example.com"]  # not support's customers
    seed(database, "login", customers(1, "s"), clock())
    opened = len(local.simulator.open_views(OMAR))
    assert len(command(local, OMAR, "login")) == opened  # no new modal
    assert answer(local, OMAR).startswith("No detractor or passive response of your departments carries")


def test_one_mailbox_is_told_once_by_id_or_by_address(shipped_stack, clock, smtp):
    local, database = shipped_stack
    seed(
        database,
        "export",
        [
            {"name": "Dana", "email": "Dana@Example.com"},
            {"id": "c-42", "name": "Dana", "email": "dana@example.com"},
        ],
        clock(),
    )
    (modal,) = command(local, MAYA, "export")
    assert count_of(modal) == "1 customer"
    local.slack.submit_view(MAYA, modal["id"], {"note": "Fixed."})
    local.settle()
    sent_all(local, clock)
    assert mailed(smtp) == ["dana@example.com"]
    clock.advance(minutes=1)
    seed(database, "export", [{"id": "c-43", "name": "Dana", "email": "DANA@example.com"}], clock())
    opened = len(local.simulator.open_views(MAYA))
    assert len(command(local, MAYA, "export")) == opened  # a later response, another id: the same mailbox
    assert answer(local, MAYA).startswith("Nobody is left to tell about *export*: 1 already told")


def test_an_opt_out_after_the_confirmation_is_counted_skipped_not_failed(shipped_stack, clock, smtp):
    local, database = shipped_stack
    seed(database, "export", customers(3), clock())
    (modal,) = command(local, MAYA, "export")
    local.slack.submit_view(MAYA, modal["id"], {"note": "Fixed."})
    local.settle()
    assert mailed(smtp) == ["c2@example.com"]  # the first at once (the newest), the others paced
    # c-0 answers another survey meanwhile, asking not to be contacted: that is their word now.
    steps.open_case(local, id="later", customer={"id": "c-0", "email": "c0@example.com", "contact_ok": False})
    sent_all(local, clock)
    assert mailed(smtp) == ["c1@example.com", "c2@example.com"]
    (summary,) = [m for m in local.simulator.messages(SUPPORT) if "told it is fixed" in m.text]
    context = json.dumps(summary.blocks, ensure_ascii=False)
    assert summary.text.startswith("✅ 2 customers")
    assert "1 skipped: 1 asked not to be contacted" in context and "could not be sent" not in context


def test_a_theme_picked_at_close_reaches_its_customer(shipped_stack, clock, smtp):
    local, database = shipped_stack
    case = steps.open_case(
        local, id="picked", tags=[], customer={"id": "c-7", "name": "Quinn", "email": "quinn@example.com"}
    )
    steps.close_case(local, case, form={**CLOSE_FORM, "themes": ["CSV Export"]})
    (modal,) = command(local, MAYA, "csv export")
    assert count_of(modal) == "1 customer" and "Quinn" in json.dumps(modal["blocks"])
    local.slack.submit_view(MAYA, modal["id"], {"note": "Fixed."})
    local.settle()
    sent_all(local, clock)
    assert mailed(smtp) == ["quinn@example.com"]
    (told,) = ShippedStore(database).candidates("csv export")[0]
    assert told.case_id == case.id
