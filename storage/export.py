"""Every response with its case, if any, read in one streamed query for `closeloop export`.

A million rows must not sit in memory: the select is Core (no ORM identity map), and the rows
come through a server-side cursor on PostgreSQL (psycopg 3 names the cursor when the statement
runs with `yield_per`), fetched `BATCH` at a time. SQLite's cursor already steps lazily.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, create_engine, func, pool, select

from storage.db import normalise_url
from storage.models import Case, Feedback
from storage.themes import themes_cell

BATCH = 2000  # rows per fetch from the server-side cursor

FEEDBACK_COLUMNS = (
    "id",
    "external_id",
    "survey",
    "score",
    "category",
    "received_at",
    "submitted_at",
    "customer_id",
    "customer_name",
    "customer_email",
    "customer_account",
    "customer_segment",
    "touchpoint",
    "language",
    "comment",
    "tags",
)
CASE_COLUMNS = (
    "id",
    "status",
    "priority",
    "owner_id",
    "outcome",
    "root_cause",
    "remedy",
    "close_note",
    "customer_informed",
    "contact_channel",
    "created_at",
    "claimed_at",
    "contacted_at",
    "closed_at",
    "claim_due_at",
    "contact_due_at",
    "close_due_at",
)


def export_query(since: datetime | None, until: datetime | None, department: str | None) -> Select[Any]:
    """Responses received in [since, until), in id order, the case's columns prefixed `case_`.

    The department is the case's when there is one (a case can be re-routed), else the response's."""
    department_column = func.coalesce(Case.department, Feedback.department).label("department")
    columns = [getattr(Feedback, name).label(f"feedback_{name}") for name in FEEDBACK_COLUMNS]
    columns += [getattr(Case, name).label(f"case_{name}") for name in CASE_COLUMNS]
    themes = themes_cell(Feedback.id).label("themes")  # aggregated in SQL: the rows stay a stream
    query = (
        select(*columns, department_column, themes)
        .select_from(Feedback)
        .outerjoin(Case, Case.feedback_id == Feedback.id)
        .order_by(Feedback.id)
    )
    if since is not None:
        query = query.where(Feedback.received_at >= since)
    if until is not None:
        query = query.where(Feedback.received_at < until)
    if department is not None:
        query = query.where(department_column == department)
    return query


def export_rows(
    url: str, *, since: datetime | None = None, until: datetime | None = None, department: str | None = None
) -> Iterator[dict[str, Any]]:
    """Each row as a plain dict, streamed. Its own engine, without the bot's `BEGIN IMMEDIATE` on
    SQLite: a long export must not hold the write lock the running bot needs."""
    engine = create_engine(normalise_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            result = connection.execution_options(yield_per=BATCH).execute(
                export_query(since, until, department)
            )
            for row in result.mappings():
                yield dict(row)
    finally:
        engine.dispose()
