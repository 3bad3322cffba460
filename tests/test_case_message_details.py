"""Issue 10, point 6: the whole comment in a modal, the customer's past on the case message, and
rows left out when they have no data. End to end where Slack is involved: the real bot, the
simulated workspace (which fails the test on any Block Kit violation)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain.policy import Policy, Privacy
from bot.domain.records import EventRecord
from bot.domain.vocabulary import EventKind
from bot.policy_file import load_policy
from bot.slack.case_message import money
from bot.slack.deadline_text import reminder_reply
from bot.slack.text import escape
from tests.factories import case_snapshot, payload
from tests.support.steps import click, close_case, open_case

EXAMPLE = Path(__file__).parent.parent / "bot" / "examples" / "policy.yml"
HOSTILE = "<!channel> ping <@U1> & <https://evil.example|Invoice> "
EMAILS = " ".join(f"person{i}@mail{i}.example" for i in range(300))


@pytest.fixture
def policy(request: pytest.FixtureRequest) -> Policy:
    """The example policy; parametrized indirectly with "masked", with contact details masked."""
    policy = load_policy(EXAMPLE)
    if getattr(request, "param", None) == "masked":
        policy = policy.model_copy(update={"privacy": Privacy(mask_contact_details=True)})
    return policy


def comment_block(stack, case):
    message = stack.simulator.message(case.slack_channel, case.slack_ts)
    (block,) = [b for b in message.blocks if b.get("block_id") == "comment"]
    return block


def full_comment(stack, user: str, case) -> dict:
    """`user` presses Full comment; the modal the bot opened for them."""
    click(stack, user, case, "case_full_comment")
    (view,) = stack.simulator.open_views(user)
    return view


def modal_text(view: dict) -> str:
    return "".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")


def test_a_cut_comment_opens_whole_escaped_and_split_to_fit(stack):
    comment = (HOSTILE * 200)[:10_000].strip()  # the intake's maximum, every character hostile
    case = open_case(stack, comment=comment)
    block = comment_block(stack, case)
    assert "[cut:" in block["text"]["text"]
    assert block["accessory"]["text"]["text"] == "Full comment"
    view = full_comment(stack, "U0BOB", case)  # anyone who sees the message, not only an owner
    sections = [b for b in view["blocks"] if b["type"] == "section"]
    assert len(sections) > 1 and all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert len(view["blocks"]) <= 100 and len(str(view).encode()) < 250_000
    assert modal_text(view) == escape(comment)  # all of it, in order, nothing cut
    assert all(s["text"]["text"].endswith(" ") for s in sections[:-1])  # split between words
    assert "<!channel>" not in str(view["blocks"]) and "<@U1>" not in str(view["blocks"])
    assert "&amp; &lt;https://evil.example|Invoice&gt;" in modal_text(view)


def test_a_comment_of_ampersands_splits_between_entities(stack):
    comment = "&" * 10_000  # escapes to 50,000 characters: 17 sections
    case = open_case(stack, comment=comment)
    view = full_comment(stack, "U0ALICE", case)
    sections = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    assert len(sections) == 17
    assert all(re.fullmatch(r"(&amp;)+", s) for s in sections)  # no entity cut in two
    assert "".join(sections) == "&amp;" * 10_000


def test_a_comment_that_fits_has_no_button(stack):
    case = open_case(stack, comment="Short & <!here> sweet.")
    block = comment_block(stack, case)
    assert "accessory" not in block
    assert block["text"]["text"] == ">Short &amp; &lt;!here&gt; sweet."


@pytest.mark.parametrize("policy", ["masked"], indirect=True)
def test_the_modal_masks_contact_details_as_the_channel_does(stack):
    case = open_case(stack, comment=EMAILS)
    assert "[cut:" in comment_block(stack, case)["text"]["text"]
    text = modal_text(full_comment(stack, "U0BOB", case))
    assert "person" not in text  # every address masked as in the channel: p•••@mail1.example
    assert text.count("p•••@mail") == 300  # and none dropped


def history_context(stack, case) -> list[str]:
    message = stack.simulator.message(case.slack_channel, case.slack_ts)
    return [
        e["text"]
        for b in message.blocks
        if b["type"] == "context"
        for e in b["elements"]
        if e["text"].startswith("🗂️")
    ]


def test_the_case_message_shows_the_customers_past(stack, clock):
    customer = {"id": "cus-77", "name": "Dana Scully", "account": "Acme Corp"}
    assert stack.post_feedback(payload(id="r-1", score=9, customer=customer)).status == 202  # no case
    clock.advance(days=30)
    first = open_case(stack, id="r-2", score=2, customer=customer)
    close_case(stack, first)
    clock.advance(days=30)
    third = open_case(stack, id="r-3", score=4, customer=customer)
    assert history_context(stack, third) == [
        "🗂️ 3rd response · was 2 in December 2026 · 1 earlier case (resolved)"
    ]
    assert history_context(stack, first) == ["🗂️ 2nd response · was 9 in November"]
    someone_else = open_case(stack, id="r-4", score=3, customer={"id": "cus-78", "name": "Fox"})
    assert history_context(stack, someone_else) == []  # a first response says nothing
    anonymous = open_case(stack, id="r-5", score=3, customer={"name": "Walter"})
    assert history_context(stack, anonymous) == []  # no customer id: nothing to match on


def test_a_history_line_counts_open_and_closed_cases(stack, clock):
    customer = {"id": "cus-88", "name": "<@U1> & co"}
    resolved = open_case(stack, id="h-1", score=1, customer=customer)
    close_case(stack, resolved)
    clock.advance(days=1)
    open_case(stack, id="h-2", score=5, customer=customer)
    clock.advance(days=1)
    latest = open_case(stack, id="h-3", score=6, customer=customer)
    assert history_context(stack, latest) == [
        "🗂️ 3rd response · was 5 in November · 2 earlier cases (1 resolved, 1 open)"
    ]


def detail_fields(stack, case) -> list[str]:
    message = stack.simulator.message(case.slack_channel, case.slack_ts)
    (block,) = [b for b in message.blocks if b["type"] == "section" and "fields" in b]
    return [f["text"] for f in block["fields"]]


def test_rows_without_data_are_left_out(stack):
    bare = open_case(stack, id="bare", customer={"name": "Fox"}, tags=[], touchpoint=None)
    fields = detail_fields(stack, bare)
    assert [f.split("\n")[0] for f in fields] == ["*Customer*", "*Received*", "*Department · priority*"]
    assert "—" not in "".join(fields)
    value_only = open_case(stack, id="v", customer={"name": "Fox", "value": 1200}, tags=[], touchpoint=None)
    assert "*Value*\n1,200 EUR" in detail_fields(stack, value_only)  # the example policy: EUR
    full = open_case(stack, id="full")
    assert detail_fields(stack, full)[1:4] == [
        "*Segment · value*\nenterprise · 48,000 EUR",
        "*Tags*\nexport",
        "*Touchpoint*\nsupport",
    ]


@pytest.mark.parametrize(
    ("currency", "shown"),
    [(None, "48,000"), ("EUR", "48,000 EUR"), ("€", "€48,000"), ("US$", "US$48,000")],
)
def test_customer_value_is_labelled_with_the_policys_currency(currency, shown):
    assert money(Decimal(48000), currency) == shown
    assert money(Decimal("12.5"), currency).startswith(("12.50", "€12.50", "US$12.50"))


@pytest.mark.parametrize(
    ("level", "recipients", "told"),
    [
        (1, ["U0MAYA"], "the department's managers were told"),
        (2, ["U0CAROL"], "the second-level contacts were told"),
        (2, [], "no one to tell (the second-level contacts are not set)"),
    ],
)
def test_escalation_replies_say_who_was_told_in_plain_english(policy, level, recipients, told):
    details = {
        "step": "claim",
        "level": level,
        "due_at": "2026-11-23T09:00:00+00:00",
        "recipients": recipients,
    }
    event = EventRecord(
        1, 1, datetime(2026, 11, 23, 9, 5, tzinfo=UTC), "closeloop", EventKind.ESCALATED, details
    )
    reply = reminder_reply(event, case_snapshot(), policy)
    assert reply is not None and reply.endswith(f" — {told}.")
