"""Both scores on the case message: when a re-sent response moves an open case to another
category, its headline shows the score it was opened with and the new one; a change within the
category (or a case from before the column existed) shows one score, as before."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.devkit.simulator import validate_blocks
from bot.slack.case_message import headline
from storage.models import Case
from tests.factories import case_snapshot
from tests.support.steps import click, open_case
from tests.test_turnarounds import send


def header(stack, case) -> str:
    message = stack.simulator.message(case.slack_channel, case.slack_ts)
    return message.blocks[0]["text"]["text"]


@pytest.mark.backends("sqlite", "postgresql")
def test_a_claimed_case_whose_detractor_turns_promoter_shows_both_scores(stack):
    case = open_case(stack, score=3)
    click(stack, "U0ALICE", case, "case_claim")
    assert header(stack, case) == f"🔴 Detractor · NPS 3/10 · Case #{case.id}"
    send(stack, score=10)
    current = stack.runtime.repository.get_case(case.id)
    assert (current.opening_score, current.score, current.owner_id) == (3, 10, "U0ALICE")
    # The message is edited in place (one per case), the customer's change of mind in its header.
    assert header(stack, case) == f"🔴→🟢 Promoter · NPS 3 → 10/10 · Case #{case.id}"
    message = stack.simulator.message(case.slack_channel, case.slack_ts)
    assert message.text.startswith(f"🔴→🟢 Promoter · NPS 3 → 10/10 · Case #{case.id}")


def test_a_change_within_the_category_shows_one_score(stack):
    case = open_case(stack, score=3)
    click(stack, "U0ALICE", case, "case_claim")
    send(stack, score=5)
    assert stack.runtime.repository.get_case(case.id).opening_score == 3
    assert header(stack, case) == f"🔴 Detractor · NPS 5/10 · Case #{case.id}"


def test_a_case_opened_by_an_update_remembers_the_score_it_was_opened_with(stack):
    send(stack, score=10)  # a promoter: no case
    outcome = send(stack, score=2)  # turned detractor: the case opens now, on the 2
    case = stack.runtime.repository.get_case(outcome["case_id"])
    assert (case.opening_score, case.score) == (2, 2)
    assert header(stack, case) == f"🔴 Detractor · NPS 2/10 · Case #{case.id}"


def test_a_case_from_before_the_column_shows_its_score_as_unchanged(stack):
    case = open_case(stack, score=3)
    click(stack, "U0ALICE", case, "case_claim")
    with stack.runtime.repository.database.transaction() as session:
        session.execute(update(Case).where(Case.id == case.id).values(opening_score=None))
    send(stack, score=10)
    assert header(stack, case) == f"🟢 Promoter · NPS 10/10 · Case #{case.id}"


@pytest.mark.parametrize(
    ("survey", "opened", "score", "category", "expected"),
    [
        ("nps", 0, 10, "promoter", "🔴→🟢 Promoter · NPS 0 → 10/10"),
        ("nps", 9, 7, "passive", "🟢→🟡 Passive · NPS 9 → 7/10"),
        ("csat", 1, 5, "promoter", "🔴→🟢 Happy · CSAT 1 → 5/5"),
        ("ces", 4, 2, "detractor", "🟡→🔴 High effort · CES 4 → 2/7"),
        ("nps", 3, 3, "detractor", "🔴 Detractor · NPS 3/10"),
    ],
)
def test_the_headline_words_and_fits_a_header(survey, opened, score, category, expected):
    case = case_snapshot(id=10**12, survey=survey, opening_score=opened, score=score, category=category)
    text = headline(case)
    assert text == f"{expected} · Case #{10**12}"
    validate_blocks([{"type": "header", "text": {"type": "plain_text", "text": text}}])
