"""`/loop stats` figures on fixed rows, checked against values worked out by hand (in the comments),
on SQLite and PostgreSQL: responses, NPS and its margin, CSAT, CES, cases by status, closure rate,
the SLA hit rate per step, the percentiles of each step's time, root causes, won back, and the
previous period. The rows are written directly, so every time and duration is the test's choice."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import create_engine, pool, text

from bot.app.queries import CaseQueries
from bot.domain.stats import StepSla, nps_with_margin, percentile_cont
from storage.db import normalise_url
from storage.deadline_store import DeadlineStore
from storage.migrate import downgrade, upgrade
from storage.models import Case, Feedback, TurnaroundRow
from storage.repository import Repository
from storage.snapshots import snapshot
from tests.support.databases import postgres_database

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)  # 30 days: the previous period is [Oct 2, Nov 1)
T0 = SINCE + timedelta(days=1)
H = timedelta(hours=1)
D = timedelta(days=1)
_ids = count(1)


def response(
    session, score: int, at: datetime, *, survey: str = "nps", department: str = "support"
) -> Feedback:
    n = next(_ids)
    row = Feedback(
        external_id=f"r-{n}",
        survey=survey,
        score=score,
        category="detractor",
        department=department,
        tags=[],
        received_at=at,
        updated_at=at,
        raw={},
    )
    session.add(row)
    session.flush()
    return row


def case(session, created: datetime, status: str, *, department: str = "support", **columns) -> Case:
    feedback = response(session, 3, created - timedelta(days=400), department=department)  # outside both
    row = Case(
        feedback_id=feedback.id,
        department=department,
        category="detractor",
        priority="high",
        status=status,
        created_at=created,
        updated_at=created,
        **columns,
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def stats(database, policy):
    """The fixed history; returns the queries."""
    with database.transaction() as s:
        # Responses in [Nov 1, Dec 1), support: NPS 10,10,9,9,9 | 8,7 | 6,2,0 → n=10, p=.5, d=.3
        for score in (10, 10, 9, 9, 9, 8, 7, 6, 2, 0):
            response(s, score, T0)
        response(s, 10, SINCE)  # exactly at the start: in the period
        for score in (5, 4, 4, 3, 1):  # CSAT: 3 of 5 satisfied, average 17/5
            response(s, score, T0, survey="csat")
        for score in (7, 5, 3):  # CES: average 5
            response(s, score, T0, survey="ces")
        response(s, 0, UNTIL)  # exactly at the end: not in it
        response(s, 0, T0, department="billing")
        response(s, 10, datetime(2026, 10, 15, tzinfo=UTC))  # the previous period
        response(s, 0, datetime(2026, 9, 1, tzinfo=UTC))  # neither

        a = case(s, T0, "closed", claim_due_at=T0 + 2 * H, claimed_at=T0 + H, claim_seconds=3600,
                 contact_due_at=T0 + D, contacted_at=T0 + 2 * D, contact_seconds=172800,
                 close_due_at=T0 + 7 * D, closed_at=T0 + 3 * D, close_seconds=259200,
                 closed_by="U1", root_cause="Product bug")  # fmt: skip
        case(s, T0, "contacted", claim_due_at=T0 + 2 * H, claimed_at=T0 + 3 * H, claim_seconds=10800,
             contact_due_at=T0 + D, contacted_at=T0 + 20 * H, contact_seconds=72000,
             close_due_at=UNTIL + 5 * D)  # fmt: skip
        case(s, UNTIL - H, "new", claim_due_at=UNTIL + H, contact_due_at=UNTIL + D)  # not yet due
        case(s, T0 + 5 * D, "new", claim_due_at=T0 + 5 * D + 2 * H)  # claim missed, never claimed
        case(s, T0 + 6 * D, "closed", claimed_at=T0 + 6 * D + H / 2, claim_seconds=1800,
             closed_at=T0 + 6 * D + H, close_seconds=3600, closed_by="U2",
             root_cause="Product bug")  # fmt: skip  # no deadlines: in no SLA figure
        case(s, T0 + 7 * D, "closed", closed_at=T0 + 8 * D, close_seconds=86400)  # closed itself
        opened_before = datetime(2026, 10, 10, tzinfo=UTC)
        h = case(s, opened_before, "closed", claim_due_at=opened_before + 2 * H,
                 claimed_at=opened_before + H, claim_seconds=3600,
                 close_due_at=datetime(2026, 10, 17, tzinfo=UTC),
                 closed_at=datetime(2026, 11, 5, tzinfo=UTC), close_seconds=26 * 86400,
                 closed_by="U1", root_cause="Billing error")  # fmt: skip
        g = case(s, T0, "closed", department="billing", claim_due_at=T0 + 2 * H, claimed_at=T0 + H,
                 claim_seconds=3600, closed_at=T0 + 2 * H, close_seconds=7200, closed_by="U3",
                 root_cause="<!channel>")  # fmt: skip
        later = response(s, 10, T0 + 4 * D)
        for earlier, at in ((a, T0 + 4 * D), (h, datetime(2026, 10, 20, tzinfo=UTC)), (g, T0 + 4 * D)):
            s.add(TurnaroundRow(earlier_case_id=earlier.id, later_feedback_id=later.id, owner_id="U1",
                                from_score=3, to_score=10, at=at))  # fmt: skip
    repository = Repository(database)
    return CaseQueries(repository, DeadlineStore(database, snapshot), policy, lambda: UNTIL)


@pytest.mark.backends("sqlite", "postgresql")
def test_a_departments_figures_match_the_hand_computed_ones(stats):
    got = stats.stats("support", SINCE, UNTIL)
    # NPS: the ten, the one at SINCE (10) and the won-back promoter (10, T0+4d): n = 12,
    # promoters 7, detractors 3 (6, 2, 0): p = 7/12, d = 3/12, NPS = 33.33;
    # var = (10/12 − (4/12)²) / 12 = .060185, margin = 1.96 · √var · 100 = 48.08
    assert got.responses == 12 + 5 + 3
    assert (got.nps_responses, got.promoters, got.detractors) == (12, 7, 3)
    p, d = 7 / 12, 3 / 12
    assert got.nps == pytest.approx(100 / 3)
    assert got.nps_margin == pytest.approx(1.96 * math.sqrt((p + d - (p - d) ** 2) / 12) * 100)
    assert got.nps_margin == pytest.approx(48.08, abs=0.01)
    assert (got.csat_responses, got.csat_satisfied, got.csat_average) == (5, 0.6, 3.4)
    assert (got.ces_responses, got.ces_average) == (3, 5.0)

    assert got.cases_opened == 6
    assert got.cases_by_status == {"closed": 3, "contacted": 1, "new": 2}
    assert got.cases_closed == 3 and got.closure_rate == 0.5
    assert got.sla == {
        "claim": StepSla(met=1, missed=2),  # A on time; B late; the never-claimed one past due
        "first_contact": StepSla(met=1, missed=1),  # B on time; A late; the newest not yet due
        "close": StepSla(met=1, missed=0),  # A on time; B not yet due
    }
    assert got.sla_hit_rate == {"claim": 1 / 3, "first_contact": 0.5, "close": 1.0}

    claim, contact, close = (got.times[s] for s in ("claim", "first_contact", "close"))
    assert (claim.count, claim.median, claim.p90) == (3, 3600, pytest.approx(9360))  # [1800, 3600, 10800]
    assert (contact.count, contact.median, contact.p90) == (2, 122400, pytest.approx(162720))
    # of November's cases, closed: 3600, 86400, 259200 (the October case closed Nov 5 is October's)
    assert (close.count, close.median, close.p90) == (3, 86400, pytest.approx(224640))

    assert got.root_causes == [("Product bug", 2), ("Billing error", 1)]  # the self-closed one has none
    assert got.loops_closed == 3
    assert got.won_back == 1

    before = got.previous
    assert before is not None and before.previous is None
    assert (before.since, before.until) == (SINCE - timedelta(days=30), SINCE)
    assert (before.responses, before.nps, before.nps_margin) == (1, 100.0, 0.0)
    assert (before.cases_opened, before.cases_closed, before.closure_rate) == (1, 0, 0.0)  # closed Nov 5
    assert before.sla["claim"] == StepSla(1, 0)
    assert before.sla["close"] == StepSla(0, 1)  # due Oct 17, still open at Nov 1
    assert before.times["claim"].median == 3600
    assert before.times["close"].count == 0  # closed on Nov 5: after its period's end
    assert before.won_back == 1


@pytest.mark.backends("sqlite", "postgresql")
def test_without_a_department_every_department_counts(stats):
    got = stats.stats(None, SINCE, UNTIL)
    assert got.responses == 20 + 1  # billing's detractor
    assert got.cases_opened == 7 and got.cases_by_status["closed"] == 4
    assert got.sla["claim"] == StepSla(met=2, missed=2)
    assert got.times["close"].count == 4  # billing's too
    assert got.root_causes[0] == ("Product bug", 2) and ("<!channel>", 1) in got.root_causes
    assert got.won_back == 2


@pytest.mark.backends("sqlite", "postgresql")
def test_an_empty_period_has_no_rates(stats):
    got = stats.stats("support", datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 8, tzinfo=UTC))
    assert (got.responses, got.nps, got.nps_margin, got.closure_rate) == (0, None, None, None)
    assert got.sla_hit_rate == {"claim": None, "first_contact": None, "close": None}
    assert got.times["claim"].median is None and got.root_causes == []


def test_the_margin_of_error_by_hand():
    # p = .5, d = .3, n = 10: var = (.8 − .04) / 10 = .076; 1.96 · √.076 · 100 = 54.03
    nps, margin = nps_with_margin(5, 3, 10)
    assert nps == pytest.approx(20) and margin == pytest.approx(54.0335, abs=1e-4)
    assert nps_with_margin(0, 0, 0) == (None, None)
    assert nps_with_margin(4, 0, 4) == (100.0, 0.0)  # all promoters: no spread


def test_percentile_cont_interpolates_like_postgresql():
    assert percentile_cont([1800, 3600, 10800], 0.9) == pytest.approx(9360)
    assert percentile_cont([5], 0.5) == 5 and percentile_cont([], 0.5) is None
    assert percentile_cont([1, 2, 3, 4], 0.5) == 2.5


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        for url in postgres_database():  # at head: 0014's downgrade takes it back to 0013
            downgrade(url, "0013")
            yield url


def test_migration_0014_backfills_wall_clock_step_times(fresh_url):
    """Cases stepped before 0014 get the wall-clock seconds from opening to each step (the
    migration cannot read the policy's business hours); steps not done stay NULL."""
    upgrade(fresh_url, "0013")
    engine = create_engine(normalise_url(fresh_url), poolclass=pool.NullPool)
    opened = datetime(2026, 11, 2, 9, 0)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO feedback (id, external_id, survey, score, category, department, tags, "
                "received_at, updated_at, revision, raw) VALUES (1, 'x', 'nps', 3, 'detractor', 'support', "
                "'[]', :t, :t, 1, '{}')"
            ),
            {"t": opened},
        )
        connection.execute(
            text(
                "INSERT INTO cases (id, feedback_id, department, category, priority, status, created_at, "
                "updated_at, claimed_at, contacted_at, closed_at, version, message_version, post_attempts, "
                "sync_failures) VALUES (1, 1, 'support', 'detractor', 'high', 'contacted', :o, :o, :c, :t, "
                "NULL, 1, 1, 0, 0)"
            ),
            {"o": opened, "c": opened + timedelta(minutes=90, seconds=30), "t": opened + timedelta(days=2)},
        )
    upgrade(fresh_url)
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT claim_seconds, contact_seconds, close_seconds FROM cases")
        ).one()
    engine.dispose()
    assert tuple(row) == (5430, 172800, None)
