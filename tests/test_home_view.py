"""The Home view on its own: who sees which queue, the figures as shown, and the cut when a view
would pass Slack's 100 blocks or 250 KB (checked by the simulator's own Block Kit rules)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.devkit.simulator.blockkit import validate_view
from bot.domain.home import HomeContent, MonthFigures, Queue, QueueScope, month_start, queue_of
from bot.policy_file import parse_policy
from bot.slack import home
from bot.slack.home import home_view
from tests.factories import case_snapshot

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NO_FIGURES = MonthFigures(0, None, 0, 0)
HOSTILE = "<!channel> <@U123> & " * 9  # 189 characters: a name as long as the intake takes


def content(mine: int, queued: int, scope: QueueScope = QueueScope.DEPARTMENTS, **figures) -> HomeContent:
    def case(n: int, owner: str | None):
        return case_snapshot(
            id=n, owner_id=owner, status="claimed" if owner else "new", customer_name=HOSTILE
        )

    return HomeContent(
        user="U0ALICE",
        now=NOW,
        mine_total=mine,
        mine=[case(n, "U0ALICE") for n in range(1, min(mine, 25) + 1)],
        queue=Queue(scope, ("support",) if scope is QueueScope.DEPARTMENTS else ()),
        queue_total=queued,
        queued=[case(1000 + n, None) for n in range(min(queued, 15))],
        figures=MonthFigures(**figures) if figures else NO_FIGURES,
    )


def test_queues_follow_membership_and_the_claim_permission(raw_policy):
    policy = parse_policy(raw_policy, "policy.yml")
    assert queue_of(policy, "U0ALICE") == Queue(QueueScope.DEPARTMENTS, ("support",))
    assert queue_of(policy, "U0OMAR") == Queue(QueueScope.DEPARTMENTS, ("billing",))  # member and manager
    assert queue_of(policy, "U0NOBODY").scope is QueueScope.EVERYONE
    assert queue_of(policy, "U0NOBODY").departments == ("support", "billing", "product")
    raw_policy["permissions"]["claim"] = "department"
    assert queue_of(parse_policy(raw_policy, "policy.yml"), "U0NOBODY") == Queue(QueueScope.NONE, ())


def test_month_start_is_the_first_of_the_month():
    assert month_start(NOW) == datetime(2026, 11, 1, tzinfo=UTC)


def test_figures_and_an_empty_home(policy):
    view = home_view(
        content(0, 0, closed=3, median_close_seconds=5 * 3600 + 7 * 60 + 30, kudos=2, won_back=1), policy
    )
    text = json.dumps(view, ensure_ascii=False)
    assert "*Loops closed*\\n3" in text and "5h 8m" in text and "*Kudos received*\\n2" in text
    assert "Your open cases (0)" in text and "Nothing waiting to be claimed" in text
    assert validate_view(view) == []


def test_someone_in_no_department_is_told_there_is_no_queue(policy):
    text = json.dumps(home_view(content(1, 5, QueueScope.NONE), policy))
    assert "no unclaimed queue is yours" in text and "case_claim" not in text


def test_everyones_queue_is_named_so(policy):
    view = home_view(content(0, 3, QueueScope.EVERYONE), policy)
    assert "Unclaimed in every department* (3)" in json.dumps(view)


def test_a_hundred_cases_fit_and_the_rest_is_counted(policy):
    view = home_view(content(100, 40), policy)
    assert validate_view(view) == []
    text = json.dumps(view, ensure_ascii=False)
    assert len(view["blocks"]) <= 100 and "…and 75 more" in text and "…and 25 more waiting" in text
    assert "<!channel>" not in text and "<@U123>" not in text and "&lt;!channel&gt;" in text


def test_a_view_too_heavy_for_slack_drops_cases_and_says_so(policy, monkeypatch):
    monkeypatch.setattr(home, "MAX_BYTES", 20_000)  # as if each case were ten times heavier
    view = home_view(content(30, 30), policy)
    size = len(json.dumps(view, ensure_ascii=False).encode())
    assert size <= 20_000
    text = json.dumps(view, ensure_ascii=False)
    assert "…and" in text and "more waiting" in text  # the queue went first
    monkeypatch.setattr(home, "MAX_BLOCKS", 30)
    view = home_view(content(30, 30), policy)
    assert len(view["blocks"]) <= 30 and "more, later deadlines" in json.dumps(view, ensure_ascii=False)


@pytest.mark.parametrize("count", [0, 1, 24, 25, 26, 100])
def test_every_size_of_my_list_is_valid_block_kit(policy, count):
    assert validate_view(home_view(content(count, count), policy)) == []
