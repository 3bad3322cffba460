"""Everything the bot renders stays inside Slack's limits and keeps customer text inert, for any
input the intake accepts (property-based, checked by the simulator's Block Kit validator)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.devkit.simulator import validate_blocks, validate_message_text, validate_view
from bot.domain.policy import Privacy
from bot.domain.records import CaseSnapshot, CustomerHistory, EarlierResponse, EventRecord
from bot.domain.vocabulary import CaseStatus, EventKind, Step
from bot.slack import kit
from bot.slack.case_message import Message, case_message, contact_card
from bot.slack.deadline_text import assigned_dm, escalation_answered, escalation_dm, reminder_dm
from bot.slack.modals import close_modal, contact_modal, full_comment_modal
from bot.slack.notices import announcement, promoter_notice, thread_reply
from tests.support.examples import examples

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# Our own entities: user mentions we write, dates, channel links. Anything else with '<' is a leak.
OURS = re.compile(
    r"<@U0[A-Z0-9]+>|<!subteam\^S0[A-Z0-9]+>|<!date\^\d+\^[^|>]*\|[^>]*>|<#C0[A-Z0-9]+>"
    r"|<https://sim\.slack\.local/archives/C0[A-Z0-9]+/p\d+\|Open case #\d+>"
)

hostile = st.text(alphabet=st.sampled_from(["<", ">", "&", "!", "@", "\n", "a", " ", "|", "é", "😀"]))


def texts(max_size: int):
    return st.one_of(st.none(), hostile.filter(bool).map(lambda t: t[:max_size]), st.text(max_size=max_size))


@st.composite
def cases(draw) -> CaseSnapshot:
    status = draw(st.sampled_from(list(CaseStatus)))
    owner = None if status == CaseStatus.NEW else "U0ALICE"
    survey, score = draw(st.sampled_from([("nps", 0), ("nps", 7), ("nps", 10), ("csat", 1), ("ces", 7)]))
    category = {0: "detractor", 7: "passive", 10: "promoter", 1: "detractor"}.get(score, "promoter")
    return CaseSnapshot(
        id=draw(st.integers(1, 10**9)),
        version=draw(st.integers(1, 10**6)),
        status=status,
        department="support",
        category=category,
        priority="high",
        owner_id=owner,
        created_at=NOW,
        claimed_at=NOW if owner else None,
        contacted_at=None,
        closed_at=NOW if status == "closed" else None,
        closed_by=owner if status == "closed" else None,
        outcome="unreachable" if status == "closed" else None,
        contact_channel="meeting" if status in ("contacted", "closed") else None,
        root_cause="x" * 75 if status == "closed" else None,
        remedy="&" * 75 if status == "closed" else None,
        close_note=draw(texts(2000)) if status == "closed" else None,
        customer_informed=True if status == "closed" else None,
        claim_due_at=draw(st.one_of(st.none(), st.just(NOW))),
        contact_due_at=draw(st.one_of(st.none(), st.just(NOW))),
        close_due_at=draw(st.one_of(st.none(), st.just(NOW))),
        slack_channel="C0SUPPORT",
        slack_ts="1.000100",
        message_version=0,
        post_attempts=0,
        opening_score=draw(st.sampled_from([None, 1, score])),  # 1: another category, on every scale
        feedback_id=1,
        external_id=draw(hostile.map(lambda t: (t or "r")[:200])),
        survey=survey,
        score=score,
        comment=draw(st.one_of(texts(10_000), st.sampled_from(["<\n&" * 3333, "x" * 10_000, "a\n" * 5000]))),
        customer_id=None,
        customer_name=draw(texts(200)),
        customer_email=draw(texts(320)),
        customer_account=draw(texts(200)),
        customer_segment=draw(texts(100)),
        customer_value=draw(st.one_of(st.none(), st.decimals(0, 10**12, places=2).map(Decimal))),
        tags=tuple(draw(st.lists(hostile.map(lambda t: (t or "t")[:50]), max_size=30))),
        touchpoint=draw(texts(100)),
        language=None,
        submitted_at=None,
        received_at=NOW,
    )


def assert_inert(text: str) -> None:
    """Only '<' opens a mention or link in mrkdwn; a '>' alone is a quote mark, which is ours."""
    leftover = OURS.sub("", text)
    assert "<" not in leftover, leftover[:200]


def check_message(message) -> None:
    assert validate_blocks(message.blocks, surface="message") == []
    assert validate_message_text(message.text, message.blocks) == []
    for block in message.blocks:
        for value in re.findall(r"'text': '((?:[^'\\]|\\.)*)'", str(block)):
            assert_inert(value)
    assert_inert(message.text)


@settings(max_examples=examples(150), deadline=None)
@given(case=cases())
def test_case_messages_fit_and_are_inert(case, policy):
    check_message(case_message(case, policy, NOW))
    check_message(promoter_notice(case, policy))
    masked = policy.model_copy(update={"privacy": Privacy(mask_contact_details=True)})
    check_message(case_message(replace(case, status="claimed", owner_id="U0ALICE"), masked, NOW))
    check_message(Message(text="card", blocks=[kit.section(contact_card(case))]))


@settings(deadline=None)
@given(
    case=cases(), kind=st.sampled_from(list(EventKind)), note=texts(2000), step=st.sampled_from(list(Step))
)
def test_thread_replies_shout_outs_and_direct_messages_fit_and_are_inert(case, kind, note, step, policy):
    details = {
        "fields": ["comment", "score", "customer_name"],
        "category": ["detractor", "passive"],
        "channel": "phone",
        "note": note,
        "outcome": "partly_resolved",
        "root_cause": "<!here>" * 10,
        "remedy": "&" * 75,
        "customer_informed": False,
        "step": step,
        "level": 2,
        "due_at": NOW.isoformat(),
        "until": (NOW + timedelta(hours=4)).isoformat(),
        "recipients": ["U0MAYA"],
        "from": "U0ALICE",
        "to": "U0BOB",
    }
    event = EventRecord(1, case.id, NOW + timedelta(days=3), "U0BOB", kind, details)
    check_message(thread_reply(event, case, policy))
    check_message(announcement(event, case, policy))
    link = f"https://sim.slack.local/archives/C0SUPPORT/p{case.id}"
    check_message(escalation_dm(event, case, policy, link))
    masked = policy.model_copy(update={"privacy": Privacy(mask_contact_details=True)})
    check_message(reminder_dm(event, case, None, masked))
    check_message(assigned_dm(event, case, link, NOW, masked))
    check_message(escalation_answered(case, step, "✅ <@U0MAYA> acknowledged this."))


@settings(max_examples=examples(50), deadline=None)
@given(case=cases())
def test_modals_fit(case, policy):
    assert validate_view(close_modal(replace(case, status="claimed"), policy)) == []
    assert validate_view(contact_modal(case)) == []


@st.composite
def histories(draw) -> CustomerHistory:
    earlier = draw(
        st.lists(
            st.builds(
                EarlierResponse,
                score=st.integers(0, 10),
                received_at=st.datetimes(
                    min_value=datetime(2020, 1, 1), max_value=datetime(2026, 11, 23), timezones=st.just(UTC)
                ),
                case_status=st.sampled_from([None, *CaseStatus]),
                case_outcome=st.sampled_from([None, "resolved", "unreachable", "partly_resolved"]),
            ),
            min_size=1,
            max_size=50,
        )
    )
    return CustomerHistory(earlier_count=len(earlier) + draw(st.integers(0, 10**6)), earlier=tuple(earlier))


@settings(max_examples=examples(50), deadline=None)
@given(case=cases(), history=histories())
def test_case_messages_with_a_customers_past_fit_and_are_inert(case, history, policy):
    message = case_message(case, policy, NOW, history)
    check_message(message)
    assert any(
        e["text"].startswith("🗂️") for b in message.blocks if b["type"] == "context" for e in b["elements"]
    )
    with_currency = policy.model_copy(update={"cases": policy.cases.model_copy(update={"currency": "US$"})})
    check_message(case_message(case, with_currency, NOW, history))


@settings(max_examples=examples(50), deadline=None)
@given(case=cases())
def test_the_full_comment_modal_fits_and_is_inert(case, policy):
    masked = policy.model_copy(update={"privacy": Privacy(mask_contact_details=True)})
    for shown_with in (policy, masked):
        view = full_comment_modal(case, shown_with)
        assert validate_view(view) == []
        for value in re.findall(r"'text': '((?:[^'\\]|\\.)*)'", str(view["blocks"])):
            assert_inert(value)
