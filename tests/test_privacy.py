"""With masking on, the channel never sees a customer's email or phone number; the owner does."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.privacy import EMAIL, contact_details, mask_email, mask_text
from bot.policy_file import parse_policy
from tests.factories import CLOSE_FORM
from tests.support.steps import click, open_case

PHONE = "+49 170 1234567"
COMMENT = f"Export broken since 2024-11-18, order 12345. Call me on {PHONE} or write to dana.s@acme.example"


@pytest.fixture
def policy(raw_policy):
    raw_policy["privacy"] = {"mask_contact_details": True}
    raw_policy["announcements"]["quote_feedback"] = True
    return parse_policy(raw_policy, "policy.yml")


def test_masking_keeps_what_is_useful_and_hides_what_identifies():
    assert mask_email("dana@acme.example") == "d•••@acme.example"
    assert mask_text(COMMENT) == (
        "Export broken since 2024-11-18, order 12345. Call me on •••67 or write to d•••@acme.example"
    )
    assert mask_text("(555) 123-4567") == "•••67"
    assert contact_details("dana@example.com", COMMENT) == ["dana@example.com", "dana.s@acme.example", PHONE]


def test_the_channel_sees_masked_details_and_the_owner_sees_them_in_full(stack):
    case = open_case(stack, comment=COMMENT)
    click(stack, "U0ALICE", case, "case_claim")
    click(stack, "U0ALICE", case, "case_contact_details")
    (card,) = stack.simulator.ephemerals("U0ALICE")
    assert "dana@example.com" in card.text and PHONE in card.text and "dana.s@acme.example" in card.text
    click(stack, "U0BOB", case, "case_contact_details")
    (refused,) = stack.simulator.ephemerals("U0BOB")
    assert refused.text == "Only the case's owner can see these details."
    # Close with a shout-out that quotes the comment, then look at everything posted to channels.
    click(stack, "U0ALICE", case, "case_close")
    (view,) = stack.simulator.open_views("U0ALICE")
    stack.slack.submit_view(
        "U0ALICE",
        view["id"],
        {**CLOSE_FORM, "note": "Called."},
    )
    stack.settle()
    public = [
        json.dumps(call.params, ensure_ascii=False)
        for call in stack.simulator.calls
        if call.method in ("chat.postMessage", "chat.update")
        and str(call.params.get("channel", "")).startswith("C")
    ]
    assert public and any("d•••@example.com" in p for p in public)
    for posted in public:
        for secret in ("dana@example.com", "dana.s@acme.example", "1234567"):
            assert secret not in posted


@pytest.mark.parametrize(
    "text",
    [
        "Order 12345678",
        "paid 1 250 000 EUR",
        "2026-11-23 08:55",
        "23.11.2026",
        "09.11.2026",
        "192.168.10.1",
        "open 9.00-17.00",
        "ticket #1234567",
    ],
)
def test_numbers_that_are_not_phone_numbers_stay_readable(text):
    assert mask_text(text) == text


@pytest.mark.parametrize(
    "text", ["+49 170 1234567", "(555) 123-4567", "0170 1234567", "555-123-4567", "+44 (0)20 7946 0958"]
)
def test_phone_numbers_are_masked(text):
    assert mask_text(f"call {text} today") == f"call •••{text[-2:]} today"


def test_the_owners_contact_card_fits_slack_even_for_a_comment_full_of_numbers(policy):
    from bot.devkit.simulator import validate_blocks
    from bot.slack import kit
    from bot.slack.case_message import contact_card
    from tests.factories import case_snapshot

    comment = " ".join(f"+49 170 {1000000 + n}" for n in range(60)) + " " + "x" * 1500
    card = contact_card(case_snapshot(comment=comment, customer_email="d" * 300 + "@acme.example"))
    assert validate_blocks([kit.section(card)], surface="message") == []
    assert "…and 53 more in the comment" in card


def test_staff_notes_names_and_manager_dms_are_masked_too(stack, clock):
    customer = {"name": "dana@acme.example", "account": "Acme +49 170 7654321", "segment": "smb"}
    case = open_case(stack, customer=customer, comment="Call me.")
    click(stack, "U0ALICE", case, "case_claim")
    click(stack, "U0ALICE", case, "case_log_contact")
    (view,) = stack.simulator.open_views("U0ALICE")
    stack.slack.submit_view(
        "U0ALICE", view["id"], {"channel": "phone", "note": "Reached her on 0170 5550123."}
    )
    stack.settle()
    clock.advance(days=2)  # first contact is done; the close deadline is not: nothing else due
    clock.advance(days=2)
    stack.sweep_deadlines()  # close deadline missed: Maya (a manager, not the owner) gets a DM
    maya = stack.simulator.messages(stack.simulator.dm_channel("U0MAYA").id)
    assert maya, "the escalation reached the manager"
    seen_by_others = [
        json.dumps(call.params, ensure_ascii=False)
        for call in stack.simulator.calls
        if call.method in ("chat.postMessage", "chat.update")
        and str(call.params.get("channel", "")) not in ("U0ALICE", stack.simulator.dm_channel("U0ALICE").id)
    ]
    for posted in seen_by_others:
        for secret in ("dana@acme.example", "7654321", "5550123"):
            assert secret not in posted, posted[:300]


@given(
    st.text(alphabet="ab.+-@ _x", max_size=200).map(lambda s: s.replace("x", "example.com"))
    | st.builds(
        lambda n, tail: "a" * n + tail, st.integers(0, 10_000), st.sampled_from(["", "@acme.example"])
    )
)
def test_the_owner_is_shown_exactly_the_addresses_the_channel_masks(text):
    """One email pattern serves both, the one anchored by a look-behind: a second, unanchored copy
    retried every position of a long run of address characters (quadratic: ~400 ms for 10,000)."""
    masked = [m.group(0) for m in EMAIL.finditer(text)]
    shown = [found for found in contact_details(None, text) if "@" in found]
    assert shown == list(dict.fromkeys(masked))
    for address in masked:
        assert address not in (mask_text(text) or "")
