"""Theme rows (`theme_tags`), their counts, and the spike alerts' claims (`theme_alerts`).

Writing: a new response's tags are one multi-row INSERT in the intake's transaction (no read,
no ORM); a re-send keeps its rows in step with the response (tags, department, category); a
close replaces the owner's picks. Counting: one grouped query over
`ix_theme_tags_category_received_at` per question, so only a row per theme leaves the database.
Alerting: one conditional upsert per (department, theme) decides, in every process at once,
which check queues the alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, ScalarSelect, case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.domain.themes import (
    BASELINE,
    ThemeAlert,
    ThemeSpike,
    ThemeTally,
    WindowCount,
    theme_keys,
)
from bot.domain.vocabulary import Category, DeliveryKind, ThemeSource
from storage.db import Database
from storage.history import delivery_row
from storage.models import Case, Delivery, Feedback, ThemeAlertRow, ThemeTag
from storage.snapshots import snapshot

THEMES = ThemeTag.__table__
ALERTS = ThemeAlertRow.__table__
NAMED_CASES = 20  # cases an alert lists by number; the rest are counted
# RETURNING makes SQLAlchemy send the rows as one multi-row INSERT (as the intake's deadlines).
_INSERT_THEMES = insert(THEMES).returning(THEMES.c.id)


def theme_rows(
    feedback: dict[str, Any], keys: Iterable[str], source: ThemeSource = ThemeSource.TAG
) -> list[dict[str, Any]]:
    """One row per key for a response given as its columns (`id`, `department`, `category`,
    `received_at`); the keys are already normalised (`bot.domain.themes.theme_keys`)."""
    return [
        {
            "feedback_id": feedback["id"],
            "theme": key,
            "source": source,
            "department": feedback["department"],
            "category": feedback["category"],
            "received_at": feedback["received_at"],
        }
        for key in keys
    ]


def write_themes(connection: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(_INSERT_THEMES, rows)


def resync(connection: Connection, feedback: dict[str, Any], tag_keys: Sequence[str] | None) -> None:
    """After a re-send: the rows follow the response's department and category, and its tags
    when they were sent again (`tag_keys`, None when unchanged)."""
    if tag_keys is not None:
        connection.execute(
            delete(THEMES).where(THEMES.c.feedback_id == feedback["id"], THEMES.c.source == ThemeSource.TAG)
        )
        write_themes(connection, theme_rows(feedback, tag_keys))
    connection.execute(
        update(THEMES)
        .where(
            THEMES.c.feedback_id == feedback["id"],
            (THEMES.c.department != feedback["department"]) | (THEMES.c.category != feedback["category"]),
        )
        .values(department=feedback["department"], category=feedback["category"])
    )


def replace_owner_themes(connection: Connection, feedback: dict[str, Any], keys: Sequence[str]) -> None:
    """The owner's picks at a close replace those of an earlier close (a reopened loop)."""
    connection.execute(
        delete(THEMES).where(THEMES.c.feedback_id == feedback["id"], THEMES.c.source == ThemeSource.OWNER)
    )
    write_themes(connection, theme_rows(feedback, keys, ThemeSource.OWNER))


def owner_themes(picked: Sequence[str]) -> Callable[[Session, Case, Feedback, Any, datetime], None]:
    """A close's `after` step (`Repository._guarded_update`): the picks replace earlier ones,
    in the close's own transaction, so a close and its themes are written together or not at all."""

    def write(session: Session, case: Case, feedback: Feedback, _event: Any, _now: datetime) -> None:
        values = {"id": feedback.id, "department": case.department, "category": feedback.category}
        replace_owner_themes(
            session.connection(), {**values, "received_at": feedback.received_at}, theme_keys(picked)
        )

    return write


THEMES_SEPARATOR = "\x1f"  # the unit separator: theme_key turns it (whitespace to Python) into a space


def themes_cell(feedback_id: Any) -> ScalarSelect[Any]:
    """A response's theme keys, sorted, each once, joined with `THEMES_SEPARATOR` (NULL for
    none): a correlated subquery the export selects beside its columns, on the unique index's
    leading `feedback_id`, so the themes are aggregated in SQL and the export stays a stream.
    string_agg on PostgreSQL, group_concat on SQLite, over the subquery's sorted rows."""
    keys = (
        select(THEMES.c.theme.label("theme"))
        .where(THEMES.c.feedback_id == feedback_id)
        .distinct()
        .order_by(THEMES.c.theme)
        .correlate_except(THEMES)
        .subquery()
    )
    return select(func.aggregate_strings(keys.c.theme, THEMES_SEPARATOR)).select_from(keys).scalar_subquery()


def split_themes(cell: str | None) -> list[str]:
    return cell.split(THEMES_SEPARATOR) if cell else []


class ThemeStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # ---- counting ----------------------------------------------------------------------------

    def tallies(self, since: datetime, until: datetime, department: str | None = None) -> list[ThemeTally]:
        """Detractor responses per theme in [since, until) and in the period of the same length
        before it, from one grouped query over the index."""
        previous = since - (until - since)
        current = THEMES.c.received_at >= since
        query = (
            select(
                THEMES.c.theme,
                func.count(case((current, THEMES.c.feedback_id)).distinct()),
                func.count(case((~current, THEMES.c.feedback_id)).distinct()),
            )
            .where(
                THEMES.c.category == Category.DETRACTOR,
                THEMES.c.received_at >= previous,
                THEMES.c.received_at < until,
            )
            .group_by(THEMES.c.theme)
        )
        if department is not None:
            query = query.where(THEMES.c.department == department)
        with self.database.connection() as connection:
            return [
                ThemeTally(theme, int(now), int(before)) for theme, now, before in connection.execute(query)
            ]

    def window_counts(self, rule: ThemeSpike, now: datetime) -> list[WindowCount]:
        """Per (department, theme): detractors in (now - within, now] and, for a ratio, in the 4
        weeks before; only pairs with at least the rule's floor in the window leave the database."""
        start = now - rule.within
        inside = THEMES.c.received_at > start
        earliest = start - BASELINE if rule.ratio is not None else start
        in_window = func.count(case((inside, THEMES.c.feedback_id)).distinct())
        query = (
            select(
                THEMES.c.department,
                THEMES.c.theme,
                in_window,
                func.count(case((~inside, THEMES.c.feedback_id)).distinct()),
            )
            .where(
                THEMES.c.category == Category.DETRACTOR,
                THEMES.c.received_at > earliest,
                THEMES.c.received_at <= now,
            )
            .group_by(THEMES.c.department, THEMES.c.theme)
            .having(in_window >= rule.floor)
        )
        with self.database.connection() as connection:
            return [WindowCount(d, t, int(n), int(b)) for d, t, n, b in connection.execute(query)]

    def alerted_since(self, since: datetime) -> set[tuple[str, str]]:
        """(department, theme) pairs alerted after `since`: a check skips them without a claim."""
        query = select(ALERTS.c.department, ALERTS.c.theme).where(ALERTS.c.fired_at > since)
        with self.database.connection() as connection:
            return {(d, t) for d, t in connection.execute(query)}

    # ---- alerting ----------------------------------------------------------------------------

    def claim_alert(self, spike: WindowCount, rule: ThemeSpike, now: datetime) -> int | None:
        """Claim the alert of one spiking (department, theme) and queue its delivery in the same
        transaction; the delivery's id when this call won, None when an alert of this theme went
        out within the window (from this process or another)."""
        start = now - rule.within
        with self.database.connection() as connection:
            named = (
                connection.execute(
                    select(THEMES.c.feedback_id)
                    .where(
                        THEMES.c.category == Category.DETRACTOR,
                        THEMES.c.received_at > start,
                        THEMES.c.received_at <= now,
                        THEMES.c.department == spike.department,
                        THEMES.c.theme == spike.theme,
                    )
                    .group_by(THEMES.c.feedback_id)
                    .order_by(func.max(THEMES.c.received_at).desc(), THEMES.c.feedback_id.desc())
                    .limit(NAMED_CASES)
                )
                .scalars()
                .all()
            )
            if not named:
                return None
            claim = self._claim_statement(connection, start)
            won = connection.execute(
                claim,
                {
                    "department": spike.department,
                    "theme": spike.theme,
                    "fired_at": now,
                    "count": spike.count,
                    "average": rule.average(spike.baseline) if rule.ratio is not None else None,
                    "feedback_ids": list(named),
                    "delivery_id": None,
                },
            ).first()
            if won is None:
                return None
            delivery = connection.execute(
                insert(Delivery.__table__).returning(Delivery.__table__.c.id),
                delivery_row(DeliveryKind.THEME_ALERT, named[0], None, None, now),
            ).scalar_one()
            connection.execute(
                update(ALERTS)
                .where(ALERTS.c.department == spike.department, ALERTS.c.theme == spike.theme)
                .values(delivery_id=delivery)
            )
            return int(delivery)

    @staticmethod
    def _claim_statement(connection: Connection, window_start: datetime) -> Insert:
        dialect_insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[connection.dialect.name]
        statement = dialect_insert(ALERTS)
        excluded = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=[ALERTS.c.department, ALERTS.c.theme],
            set_={
                "fired_at": excluded.fired_at,
                "count": excluded.count,
                "average": excluded.average,
                "feedback_ids": excluded.feedback_ids,
                "delivery_id": None,
            },
            # Only an alert from before this window may be taken over.
            where=ALERTS.c.fired_at <= window_start,
        ).returning(ALERTS.c.department)

    def alert(self, delivery_id: int, within: timedelta) -> ThemeAlert | None:
        """The alert a delivery stands for, with its named cases as they are now; None when a
        later alert of the same theme took its row over (that one is the current news)."""
        with self.database.connection() as connection:
            row = connection.execute(select(ALERTS).where(ALERTS.c.delivery_id == delivery_id)).first()
            if row is None:
                return None
            ids = [int(i) for i in row.feedback_ids or []]
        with self.database.transaction() as session:
            found = session.execute(
                select(Case, Feedback)
                .join(Feedback, Feedback.id == Case.feedback_id)
                .where(Case.feedback_id.in_(ids))
            ).all()
            by_feedback = {feedback.id: snapshot(case, feedback) for case, feedback in found}
        cases = [by_feedback[i] for i in ids if i in by_feedback]
        return ThemeAlert(row.department, row.theme, row.count, within, row.fired_at, row.average, cases)
