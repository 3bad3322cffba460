"""Theme rows and their counts on SQLite and PostgreSQL: the survey's tags at intake (normalised,
kept in step with re-sends), and `CaseQueries.themes` against counts worked out by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app.queries import CaseQueries
from bot.domain.deadlines import SlaPlanner
from bot.domain.themes import theme_key, theme_keys
from bot.policy_file import parse_policy
from storage.deadline_store import DeadlineStore
from storage.models import ThemeTag
from storage.repository import Repository
from storage.snapshots import snapshot
from tests.factories import feedback_and_triage

D = timedelta(days=1)


@pytest.fixture
def themed_policy(raw_policy):
    raw_policy["themes"] = ["CSV Export", "Billing", "Login"]
    return parse_policy(raw_policy, "policy.yml")


@pytest.fixture
def repo(database, themed_policy) -> Repository:
    return Repository(database, SlaPlanner(themed_policy))


def rows(database, feedback_id: int) -> list[tuple]:
    with database.transaction() as session:
        found = session.scalars(
            select(ThemeTag).where(ThemeTag.feedback_id == feedback_id).order_by(ThemeTag.theme)
        )
        return [(r.theme, r.source, r.department, r.category) for r in found]


def test_theme_keys_fold_case_and_spaces_and_drop_repeats_and_blanks():
    assert theme_key("  CSV \t Export ") == "csv export"
    assert theme_key("STRASSE") == theme_key("straße")  # case-folded, not only lower-cased
    assert theme_keys(["Export", "export ", "  ", "Billing", "EXPORT"]) == ["export", "billing"]
    assert len(theme_key("x" * 500)) == 100


def test_tags_become_theme_rows_at_intake_and_follow_a_resend(repo, database, themed_policy, clock):
    data, decide = feedback_and_triage(themed_policy, id="t-1", tags=["CSV  Export", "csv export", "Refund"])
    first = repo.record_feedback(data, decide, clock())
    assert rows(database, first.feedback_id) == [
        ("csv export", "tag", "support", "detractor"),
        ("refund", "tag", "support", "detractor"),
    ]
    untagged = repo.record_feedback(*feedback_and_triage(themed_policy, id="t-2", tags=[]), clock())
    assert rows(database, untagged.feedback_id) == []

    # The same response re-sent: new tags replace the old, a new score moves the category.
    data, decide = feedback_and_triage(themed_policy, id="t-1", tags=["Login"], score=8)
    again = repo.record_feedback(data, decide, clock() + timedelta(minutes=5))
    assert again.feedback_id == first.feedback_id
    assert rows(database, first.feedback_id) == [("login", "tag", "support", "passive")]
    # A re-send without tags leaves them (fields left out keep their values).
    data, decide = feedback_and_triage(themed_policy, id="t-1", score=2)
    data = type(data)(**{**data.__dict__, "provided": data.provided - {"tags"}})
    repo.record_feedback(data, decide, clock() + timedelta(minutes=9))
    assert rows(database, first.feedback_id) == [("login", "tag", "support", "detractor")]


def test_a_resend_that_reroutes_an_unclaimed_case_moves_its_themes(repo, database, themed_policy, clock):
    first = repo.record_feedback(
        *feedback_and_triage(themed_policy, id="r-1", comment=None, tags=["Billing"]), clock()
    )
    assert rows(database, first.feedback_id)[0][2] == "support"
    data, decide = feedback_and_triage(themed_policy, id="r-1", comment="My invoice is wrong.")
    data = type(data)(**{**data.__dict__, "provided": data.provided - {"tags"}})
    moved = repo.record_feedback(data, decide, clock() + timedelta(minutes=2))
    assert moved.department == "billing"
    assert rows(database, first.feedback_id) == [("billing", "tag", "billing", "detractor")]


def test_themes_count_this_period_against_the_previous_one_by_hand(repo, database, themed_policy, clock):
    """Fixed data, 7-day periods ending at `until`:
    - this week: export ×3 detractors (one also tagged 'EXPORT' again: one response), billing ×1,
      login ×1, and a promoter and a passive tagged export (not detractors: not counted);
    - the week before: export ×1, billing ×3;
    - 15 days ago (outside both): login ×4.
    So export 3 vs 1 (+2), login 1 vs 0 (+1), billing 1 vs 3 (−2)."""
    until = clock() + 30 * D
    n = 0

    def arrive(days_before: float, tags: list[str], score: int = 2, comment: str | None = None) -> None:
        nonlocal n
        n += 1
        data, decide = feedback_and_triage(
            themed_policy, id=f"h-{n}", score=score, tags=tags, customer={"id": f"c-{n}"}, comment=comment
        )
        repo.record_feedback(data, decide, until - timedelta(days=days_before))

    for days in (1, 2, 6.9):
        arrive(days, ["csv export", "CSV EXPORT "])
    arrive(3, ["Billing"], comment="My invoice is wrong.")
    arrive(0.01, ["login"])
    arrive(2, ["csv export"], score=10)
    arrive(2, ["csv export"], score=8)
    arrive(7.5, ["CSV Export"])
    for days in (8, 9, 13.9):
        arrive(days, ["billing"], comment="My invoice is wrong.")
    for _ in range(4):
        arrive(15, ["login"])
    arrive(-1, ["csv export"])  # after `until`: outside

    queries = CaseQueries(repo, DeadlineStore(database, snapshot), themed_policy, lambda: until)
    report = queries.themes(until - 7 * D, until)
    assert report.days == 7 and report.previous_since == until - 14 * D
    assert [(t.theme, t.current, t.previous, t.rise) for t in report.themes] == [
        ("CSV Export", 3, 1, 2),
        ("Login", 1, 0, 1),
        ("Billing", 1, 3, -2),
    ]
    assert [t.theme for t in report.rising()] == ["CSV Export", "Login"]
    assert [(t.theme, t.current) for t in report.top(2)] == [("CSV Export", 3), ("Billing", 1)]

    billing = queries.themes(until - 7 * D, until, "billing")
    assert [(t.theme, t.current, t.previous) for t in billing.themes] == [("Billing", 1, 3)]
    month = queries.themes(until - 16 * D, until)
    assert {t.theme: (t.current, t.previous) for t in month.themes} == {
        "CSV Export": (4, 0),
        "Billing": (4, 0),
        "Login": (5, 0),
    }


def test_the_bench_prefills_theme_rows_and_reports_the_themes_query(database, themed_policy) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import func

    from bot.devkit.bench import inprocess
    from bot.devkit.bench.prefill import prefill
    from bot.devkit.bench.report import Report
    from storage.models import Feedback

    now = datetime.now(UTC)
    prefill(database, cases=500, open_cases=50, due=0, now=now)
    with database.transaction() as session:
        month = session.scalar(
            select(func.count()).where(
                Feedback.category == "detractor", Feedback.received_at >= now - timedelta(days=30)
            )
        )
        assert session.scalar(select(func.count()).select_from(ThemeTag)) == 500  # one tag each
    report = Report()
    inprocess.themes_query(database, themed_policy, report, "500")
    (figure,) = report.figures
    assert figure.measure == "/loop themes month query, 500 cases" and figure.value > 0
    assert month and figure.note == f"{month:,} themed detractors"


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql"])
def test_migration_0011_backfills_the_tags_already_stored(tmp_path, engine_name):
    """Responses stored before 0011 get their tags as theme rows (normalised, each once; none for
    untagged ones), in batches; downgrading drops the tables again."""
    from datetime import datetime

    from sqlalchemy import create_engine, inspect, pool, text

    from storage.db import normalise_url
    from storage.migrate import downgrade, upgrade
    from tests.support.databases import postgres_database

    databases = None
    if engine_name == "sqlite":
        url = f"sqlite:///{tmp_path / 'before.sqlite3'}"
        upgrade(url, "0010")
    else:
        databases = postgres_database()
        url = next(databases)
        downgrade(url, "0010")
    engine = create_engine(normalise_url(url), poolclass=pool.NullPool)
    at = datetime(2026, 11, 2, 9, 0)  # naive UTC, as stored
    insert = text(
        "INSERT INTO feedback (id, external_id, survey, score, category, department, tags, "
        "received_at, updated_at, revision, raw) VALUES (:id, :x, 'nps', 2, :category, 'support', "
        f"{'CAST(:tags AS json)' if engine_name == 'postgresql' else ':tags'}, :at, :at, 1, '{{}}')"
    )
    try:
        with engine.begin() as connection:
            for n, (tags, category) in enumerate(
                [
                    ('["Export", " export ", "Billing"]', "detractor"),
                    ("[]", "detractor"),
                    ('["Login"]', "promoter"),
                ],
                start=1,
            ):
                connection.execute(
                    insert, {"id": n, "x": f"old-{n}", "category": category, "tags": tags, "at": at}
                )
        upgrade(url, "0011")
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT feedback_id, theme, source, department, category FROM theme_tags ORDER BY 1, 2")
            ).all()
        assert [tuple(r) for r in rows] == [
            (1, "billing", "tag", "support", "detractor"),
            (1, "export", "tag", "support", "detractor"),
            (3, "login", "tag", "support", "promoter"),
        ]
        downgrade(url, "0010")
        assert "theme_tags" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
        if databases is not None:
            databases.close()
