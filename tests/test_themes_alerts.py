"""The theme spike alert on SQLite and PostgreSQL: the count and ratio rules against numbers
worked out by hand, once per theme per window with real threads checking at the same instant,
again in the next window (a moved clock), and the rule's policy errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.domain.deadlines import SlaPlanner
from bot.domain.themes import ThemeSpike, WindowCount, spikes
from bot.domain.vocabulary import DeliveryKind
from bot.outbox.theme_alert_check import ThemeSpikeCheck
from bot.policy_file import PolicyError, parse_policy
from storage.models import Delivery, ThemeAlertRow
from storage.repository import Repository
from storage.themes import ThemeStore
from tests.factories import feedback_and_triage
from tests.support.race import race

H, D = timedelta(hours=1), timedelta(days=1)


def policy_with(raw_policy, rule: dict):
    raw_policy["alerts"] = {"theme_spike": rule}
    return parse_policy(raw_policy, "policy.yml")


class Arrivals:
    """Detractors (or others) with tags, recorded as the intake records them, at given times."""

    def __init__(self, database, policy) -> None:
        self.repo = Repository(database, SlaPlanner(policy))
        self.policy = policy
        self.n = 0

    def __call__(self, at, tags: list[str], *, score: int = 2, comment: str | None = None) -> int:
        self.n += 1
        data, decide = feedback_and_triage(
            self.policy,
            id=f"a-{self.n}",
            score=score,
            tags=tags,
            customer={"id": f"c-{self.n}"},
            comment=comment,
        )
        return self.repo.record_feedback(data, decide, at).feedback_id


def alert_deliveries(database) -> list[Delivery]:
    with database.transaction() as session:
        rows = session.scalars(
            select(Delivery).where(Delivery.kind == DeliveryKind.THEME_ALERT).order_by(Delivery.id)
        ).all()
        session.expunge_all()
        return list(rows)


def test_the_rules_decide_from_the_window_and_the_four_weeks_before_by_hand():
    count = ThemeSpike(count=5)
    assert [count.fires(n, 0) for n in (4, 5)] == [False, True]
    ratio = ThemeSpike(ratio=3, within="24h")
    # 14 in the 28 days before: 0.5 a day; 3× is 1.5, but never fewer than 3.
    assert ratio.average(14) == 0.5 and [ratio.fires(n, 14) for n in (2, 3)] == [False, True]
    # 56 before: 2 a day, so 6 are needed.
    assert [ratio.fires(n, 56) for n in (5, 6)] == [False, True]
    both = ThemeSpike(count=10, ratio=2, within="12h")  # 12 h windows: 56 in 4 weeks is 1 a window
    assert both.average(56) == 1 and [both.fires(n, 56) for n in (9, 10)] == [False, True]
    counts = [
        WindowCount("support", "a", 6, 56),
        WindowCount("billing", "b", 7, 0),
        WindowCount("x", "c", 5, 56),
    ]
    assert [c.theme for c in spikes(ratio, counts)] == ["b", "a"]


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ({}, "alerts.theme_spike: needs count or ratio — e.g. {count: 5, within: 24h}"),
        ({"count": 0}, "alerts.theme_spike.count: 0 is too few — use a count of at least 1, e.g. count: 5"),
        ({"ratio": 1}, "alerts.theme_spike.ratio: 1 is no rise — use a ratio above 1, e.g. ratio: 3"),
        ({"count": 5, "within": "30m"}, "alerts.theme_spike.within: 0.5h is outside 1h to 7d"),
        ({"count": 5, "within": "8d"}, "alerts.theme_spike.within: 8d is outside 1h to 7d"),
        ({"count": 5, "within": "24"}, "alerts.theme_spike.within: "),
        ({"count": 5, "every": "1h"}, "alerts.theme_spike.every: Extra inputs are not permitted — remove it"),
    ],
)
def test_a_bad_rule_names_the_field_and_the_fix(raw_policy, rule, error):
    with pytest.raises(PolicyError) as raised:
        policy_with(raw_policy, rule)
    assert any(p.startswith(f"policy.yml: {error}") for p in raised.value.problems), raised.value.problems


def test_policy_themes_are_checked_like_root_causes(raw_policy):
    raw_policy["themes"] = ["Export", " export", "Login"]
    with pytest.raises(PolicyError) as raised:
        parse_policy(raw_policy, "policy.yml")
    assert raised.value.problems == [
        "policy.yml: themes: 'Export', 'export' listed twice (case and spaces aside) — remove the repeat"
    ]
    raw_policy["themes"] = [f"t{n}" for n in range(101)]
    with pytest.raises(PolicyError, match=r"themes: 101 entries, but they are shown in a Slack menu"):
        parse_policy(raw_policy, "policy.yml")
    assert parse_policy({k: v for k, v in raw_policy.items() if k != "themes"}, "p").themes == []


@pytest.mark.backends("sqlite", "postgresql")
def test_one_alert_per_theme_per_window_with_threads_checking_at_once_then_again_next_window(
    database, raw_policy, clock, backend
):
    policy = policy_with(raw_policy, {"count": 3, "within": "24h"})
    arrive = Arrivals(database, policy)
    start = clock()
    ids = [arrive(start + n * H, ["Export"]) for n in range(3)]
    arrive(start, ["export"], score=10)  # a promoter: not counted
    arrive(start + H, ["login"])  # another theme, below the count
    now = start + 3 * H
    store = ThemeStore(database)
    told: list[int] = []
    checks = [ThemeSpikeCheck(store, policy, lambda: now, lambda: told.append(1)) for _ in range(4)]

    queued = race(len(checks), lambda i: checks[i].check())
    assert sorted(queued) == [0, 0, 0, 1] and told == [1]  # only the winner queued, and told the outbox
    (first,) = alert_deliveries(database)
    assert first.case_id is None and first.feedback_id == ids[-1]  # the newest triggering response
    alert = store.alert(first.id, policy.alerts.theme_spike.within)
    assert alert is not None and (alert.department, alert.theme, alert.count) == ("support", "export", 3)
    assert [c.feedback_id for c in alert.cases] == ids[::-1] and alert.average is None

    # Later in the same window: more detractors, still one alert.
    later = now + 12 * H
    for n in range(3):
        arrive(later - n * H, ["EXPORT "])
    assert race(4, lambda i: ThemeSpikeCheck(store, policy, lambda: later, lambda: None).check()) == [0] * 4
    assert len(alert_deliveries(database)) == 1

    # The next window (the first alert a window old): the theme is still spiking, one new alert.
    following = now + 24 * H
    results = race(4, lambda i: ThemeSpikeCheck(store, policy, lambda: following, lambda: None).check())
    assert sorted(results) == [0, 0, 0, 1]
    first_again, second = alert_deliveries(database)
    assert first_again.id == first.id
    assert store.alert(first.id, D) is None  # its row was taken over: the older delivery is moot
    renewed = store.alert(second.id, D)
    assert renewed is not None and renewed.count == 3 and renewed.fired_at == following
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ThemeAlertRow)) == 1


@pytest.mark.backends("sqlite", "postgresql")
def test_the_ratio_rule_counts_the_four_weeks_before_by_department(database, raw_policy, clock):
    policy = policy_with(raw_policy, {"ratio": 3, "within": "24h"})
    arrive = Arrivals(database, policy)
    now = clock() + 40 * D
    # 56 billing detractors tagged 'billing' in the 28 days before the window: 2 a day.
    for n in range(56):
        arrive(now - D - timedelta(hours=12 * n + 1), ["billing"], comment="My invoice is wrong.")
    arrive(now - 30 * D, ["billing"], comment="My invoice is wrong.")  # before the 4 weeks: not counted
    for n in range(5):
        arrive(now - timedelta(hours=n + 1), ["billing"], comment="My invoice is wrong.")
    # Support's 'billing' has no history: 3 detractors are a spike there.
    for n in range(3):
        arrive(now - timedelta(hours=n + 1), ["billing"])
    store = ThemeStore(database)
    counts = {
        (c.department, c.theme): (c.count, c.baseline)
        for c in store.window_counts(policy.alerts.theme_spike, now)
    }
    assert counts == {("billing", "billing"): (5, 56), ("support", "billing"): (3, 0)}
    check = ThemeSpikeCheck(store, policy, lambda: now, lambda: None)
    assert check.check() == 1  # support's only: billing's 5 is under 3 × 2
    arrive(now - timedelta(minutes=5), ["billing"], comment="My invoice is wrong.")
    assert check.check() == 1  # billing's 6 now reaches 3 × its average
    alerts = [store.alert(d.id, D) for d in alert_deliveries(database)]
    assert [(a.department, a.count, a.average) for a in alerts if a] == [
        ("support", 3, 0.0),
        ("billing", 6, 2.0),
    ]
