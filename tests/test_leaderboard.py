"""`/loop leaderboard`, end to end: loops closed and their median time to close, kudos,
recognitions and promoter follow-ups per person over a rolling period, and the promoters nobody
followed up within a week, checked against figures worked out by hand for fixed data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.leaderboard import Leaderboard, Period, Standing
from bot.policy_file import parse_policy
from bot.slack.leaderboard import SHOWN, leaderboard_answer
from storage.models import TurnaroundRow
from tests.factories import payload
from tests.support.steps import close_case, open_case

SUPPORT = "C0SUPPORT"
WINS = "C0WINS"


@pytest.fixture
def policy(raw_policy, request):
    for section, changes in getattr(request, "param", {}).items():
        raw_policy[section].update(changes)
    return parse_policy(raw_policy, "policy.yml")


def loop(stack, clock, n: int, closer: str, hours: float) -> str:
    """A detractor's case closed by `closer` after `hours`: its shout-out's ts."""
    case = open_case(stack, id=f"case-{n}", customer={"id": f"cus-{n}", "name": f"Customer {n}"})
    clock.advance(hours=hours)
    close_case(stack, case, closer)
    return stack.simulator.messages(WINS)[-1].ts


def promoter(stack, n: int) -> str:
    answer = stack.post_feedback(payload(id=f"promoter-{n}", score=9, customer={"id": f"fan-{n}"}))
    assert answer.status == 202
    stack.settle()
    return stack.simulator.messages(SUPPORT)[-1].ts


def ask(stack, user: str, text: str) -> str:
    stack.slack.slash_command(user, SUPPORT, "/loop", text)
    stack.settle()
    answer = stack.simulator.ephemerals(user)[-1]
    return " ".join(
        b.get("text", {}).get("text", "") if b["type"] == "section" else str(b) for b in answer.blocks
    )


def line_of(answer: str, user: str) -> str:
    start = answer.index(f"<@{user}> —")
    return answer[start : answer.index("\n", start) if "\n" in answer[start:] else None].split(" 🥈")[0]


@pytest.mark.backends("sqlite", "postgresql")  # the median and the week's arithmetic are per dialect
def test_the_leaderboard_counts_each_persons_loops_median_kudos_and_missed_thank_yous(stack, clock):
    loop(stack, clock, 0, "U0ALICE", 1)  # 40 days before: in the quarter, not in the month
    clock.advance(days=40)
    missed_early = promoter(stack, 1)  # nobody ever presses: missed
    thanked = promoter(stack, 2)
    late = promoter(stack, 3)  # thanked on day 8: a week went by first, so still missed
    clock.advance(days=1)
    stack.slack.click("U0BOB", SUPPORT, thanked, "promoter_thanked")
    stack.settle()
    clock.advance(days=7, minutes=1)
    stack.slack.click("U0ALICE", SUPPORT, late, "promoter_thanked")
    stack.settle()
    assert missed_early
    alice = [loop(stack, clock, 1, "U0ALICE", 0.5), loop(stack, clock, 2, "U0ALICE", 2)]
    alice.append(loop(stack, clock, 3, "U0ALICE", 10))
    bob = [loop(stack, clock, 4, "U0BOB", 1), loop(stack, clock, 5, "U0BOB", 4)]
    for giver, shout in (("U0CAROL", alice[0]), ("U0BOB", alice[1]), ("U0ALICE", bob[0])):
        stack.slack.click(giver, WINS, shout, "announcement_kudos")
        stack.settle()

    month = ask(stack, "U0MAYA", "leaderboard")  # a month by default
    assert "Leaderboard — the last 30 days" in month
    # Alice: 30 min, 2 h, 10 h → median 2 h. Bob: 1 h and 4 h → the middle two's mean, 2 h 30 min.
    rest = "💚 0 won back · median"
    thanks = "🙏 1 promoter follow-up"
    assert f"🥇 <@U0ALICE> — *3* closed · {rest} 2 h to close · 👏 2 · 🏅 0 · {thanks}" in month
    assert f"🥈 <@U0BOB> — *2* closed · {rest} 2 h 30 min to close · 👏 1 · 🏅 0 · {thanks}" in month
    assert "<@U0CAROL>" not in month  # gave kudos, received nothing
    assert "*😶 2 missed thank-yous*" in month and month.count(f"NPS 9/10 in <#{SUPPORT}>") == 2

    quarter = ask(stack, "U0MAYA", "leaderboard quarter")
    # Alice in the quarter: 30 min, 1 h, 2 h, 10 h → (1 h + 2 h) / 2 = 1 h 30 min.
    assert "🥇 <@U0ALICE> — *4* closed · 💚 0 won back · median 1 h 30 min to close" in quarter
    week = ask(stack, "U0MAYA", "leaderboard week")
    assert "Leaderboard — the last 7 days" in week and "*3* closed" in week


def test_a_bad_period_is_answered_calmly_and_hostile_words_stay_inert(stack, clock):
    answer = ask_text(stack, "U0BOB", "leaderboard <!channel>fortnight")
    said = "`&lt;!channel&gt;fortnight`"
    assert answer == f"I show `week`, `month` or `quarter`, not {said}: try `/loop leaderboard month`."


@pytest.mark.parametrize("policy", [{"permissions": {"reports": "managers"}}], indirect=True)
def test_the_leaderboard_follows_the_reports_permission_as_overdue_does(stack, clock):
    assert (
        ask_text(stack, "U0BOB", "leaderboard")
        == "Reports are for managers here (permissions.reports in the policy)."
    )
    assert "Leaderboard" in ask(stack, "U0MAYA", "leaderboard week")


def ask_text(stack, user: str, text: str) -> str:
    stack.slack.slash_command(user, SUPPORT, "/loop", text)
    stack.settle()
    return stack.simulator.ephemerals(user)[-1].text


def test_many_people_show_the_top_and_how_many_more_inside_slacks_limits():
    people = [Standing(f"U{i:04d}", closed=100 - i, median_close_seconds=3600.0) for i in range(80)]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    board = Leaderboard(Period.MONTH, now, now, people, 0, [])
    answer = leaderboard_answer(board)
    assert len(answer["blocks"]) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in answer["blocks"])
    assert sum(1 for b in answer["blocks"] if b["type"] == "section" and "<@U" in b["text"]["text"]) == SHOWN
    assert f"…and {80 - SHOWN} more people." in str(answer["blocks"])


@pytest.mark.backends("sqlite", "postgresql")
def test_won_back_counts_the_turnarounds_credited_to_each_person_in_the_period(stack, clock):
    cases = [open_case(stack, id=f"case-{n}", customer={"id": f"cus-{n}"}) for n in (1, 2)]
    clock.advance(hours=1)
    for case in cases:
        close_case(stack, case, "U0ALICE")
    with stack.runtime.database.transaction() as session:
        # the second one is 45 days old: in the quarter, not in the month
        for case, at in zip(cases, (clock(), clock() - timedelta(days=45)), strict=True):
            session.add(
                TurnaroundRow(
                    earlier_case_id=case.id,
                    later_feedback_id=case.feedback_id,
                    owner_id="U0ALICE",
                    from_score=3,
                    to_score=10,
                    at=at,
                )
            )
    month = ask(stack, "U0MAYA", "leaderboard month")
    assert "🥇 <@U0ALICE> — *2* closed · 💚 1 won back · median 1 h to close" in month
    assert "💚 2 won back" in ask(stack, "U0MAYA", "leaderboard quarter")
