"""Filling a database with history in a few set-based statements, not through the intake, so a
million cases take about a minute.

The rows are what the bot itself writes (storage/repository.py `record_feedback`/`_open_case`,
storage/deadline_store.py `sync_deadlines`, the outbox's `mark_posted`), for the bench policy:
- closed cases (the oldest, most of them): claimed, contacted, closed (10 min, 1 h and 1 day after
  opening, each step's seconds stored as the bot stores them); their four deadline rows cancelled
  (each step was done before it was due);
- open cases, unclaimed and overdue: the claim nudge and claim escalation already sent (which
  bumped the version), the contact and close escalations pending in the future;
- due cases (the newest): claim due seconds ago, nudge and escalation pending, so one sweep owes
  exactly two firings per due case.
Every case message is posted and current (`message_version == version`): the outbox owes nothing.
Ids follow the highest already there, so a second fill adds to the first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from bot.devkit.bench.policy import CLAIM_SECONDS, CLOSE_SECONDS, CONTACT_SECONDS
from storage.db import Database

TS_BASE = 1_600_000_000  # slack_ts of a pre-filled case message: TS_BASE + case id
CLOSED_GAP_SECONDS = 30  # closed cases were opened this far apart, the newest two days ago


@dataclass(frozen=True)
class Filled:
    """Case ids of each kind of row written, and how long it took."""

    closed: range
    open: range
    due: range
    seconds: float

    @property
    def total(self) -> int:
        return len(self.closed) + len(self.open) + len(self.due)


class _Dialect:
    """The few spellings that differ: a series of integers, a time `s` seconds before now, JSON."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def series(self) -> tuple[str, str]:
        if self.postgres:
            return "", "generate_series(1, :count) AS g(n)"
        return "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :count) ", "g"

    def before_now(self, seconds: str) -> str:
        if self.postgres:
            return f"(CAST(:now AS timestamp) - make_interval(secs => ({seconds})))"
        # the text SQLAlchemy's SQLite DateTime writes: naive UTC with six fraction digits
        return f"(strftime('%Y-%m-%d %H:%M:%S', :now_epoch - ({seconds}), 'unixepoch') || '.000000')"

    def json(self, expression: str) -> str:
        return f"CAST({expression} AS json)" if self.postgres else expression


def _rows(sql: _Dialect) -> tuple[str, str]:
    """(WITH prefix, FROM source): one row per case with its state, age in seconds and department."""
    prefix, source = sql.series()
    inner = f"""(
        SELECT n,
            CASE WHEN n <= :closed_upto THEN 'closed' WHEN n <= :due_from THEN 'open' ELSE 'due' END AS state,
            CASE WHEN n <= :closed_upto THEN 172800 + (:closed_upto - n) * {CLOSED_GAP_SECONDS}
                 WHEN n <= :due_from THEN 10800 + ((:due_from - n) * 7) % 61200
                 ELSE {CLAIM_SECONDS} + 1 + (:count - n) END AS age,
            (n % 5) + 1 AS k,
            'dept' || CAST((n % 5) + 1 AS text) AS dept,
            CASE WHEN n % 10 = 0 THEN 'passive' ELSE 'detractor' END AS category,
            CASE WHEN n % 10 = 0 THEN 'normal' ELSE 'high' END AS priority
        FROM {source}) AS s"""
    return prefix, inner


def _statements(sql: _Dialect) -> list[str]:
    prefix, rows = _rows(sql)
    at = sql.before_now
    closed = "state = 'closed'"
    tags = sql.json("'[\"' || dept || '\"]'")
    raw = sql.json('\'{"id": "bench-\' || CAST(:c0 + n AS text) || \'", "survey": "nps"}\'')
    feedback = f"""
        INSERT INTO feedback (id, external_id, survey, score, category, department, comment, customer_id,
            customer_name, customer_email, customer_account, customer_segment, customer_value, tags,
            touchpoint, language, submitted_at, received_at, updated_at, revision, raw)
        {prefix}SELECT :f0 + n, 'bench-' || CAST(:c0 + n AS text), 'nps',
            CASE WHEN n % 10 = 0 THEN 7 + n % 2 ELSE n % 7 END, category, dept,
            'Benchmark response ' || CAST(n AS text) || ': the export keeps failing.',
            'cus-' || CAST(n % 5000 AS text), 'Customer ' || CAST(n % 5000 AS text), NULL,
            'Account ' || CAST(n % 5000 AS text), 'smb', 1200, {tags},
            'support', 'en', {at("age + 60")}, {at("age")}, {at("age")}, 1,
            {raw}
        FROM {rows}"""
    cases = f"""
        INSERT INTO cases (id, feedback_id, department, category, priority, status, owner_id, created_at,
            updated_at, claimed_at, contacted_at, closed_at, closed_by, outcome, contact_channel,
            root_cause, remedy, close_note, customer_informed, claim_due_at, contact_due_at, close_due_at,
            claim_seconds, contact_seconds, close_seconds,
            version, slack_channel, slack_ts, message_version, post_attempts, sync_failures)
        {prefix}SELECT :c0 + n, :f0 + n, dept, category, priority,
            CASE WHEN {closed} THEN 'closed' ELSE 'new' END,
            CASE WHEN {closed} THEN 'U0BMGR' || CAST(k AS text) END,
            {at("age")},
            CASE state WHEN 'closed' THEN {at("age - 86400")} WHEN 'open' THEN {at(f"age - {CLAIM_SECONDS}")}
                ELSE {at("age")} END,
            CASE WHEN {closed} THEN {at("age - 600")} END,
            CASE WHEN {closed} THEN {at("age - 3600")} END,
            CASE WHEN {closed} THEN {at("age - 86400")} END,
            CASE WHEN {closed} THEN 'U0BMGR' || CAST(k AS text) END,
            CASE WHEN {closed} THEN 'resolved' END,
            CASE WHEN {closed} THEN 'phone' END,
            CASE WHEN {closed} THEN 'Product bug' END,
            CASE WHEN {closed} THEN 'Workaround given' END,
            CASE WHEN {closed} THEN 'Called the customer; the workaround helped.' END,
            CASE WHEN {closed} THEN TRUE END,
            {at(f"age - {CLAIM_SECONDS}")}, {at(f"age - {CONTACT_SECONDS}")}, {at(f"age - {CLOSE_SECONDS}")},
            CASE WHEN {closed} THEN 600 END, CASE WHEN {closed} THEN 3600 END,
            CASE WHEN {closed} THEN 86400 END,
            CASE state WHEN 'closed' THEN 4 WHEN 'open' THEN 2 ELSE 1 END,
            'C0BENCH' || CAST(k AS text), CAST({TS_BASE} + :c0 + n AS text) || '.000100',
            CASE state WHEN 'closed' THEN 4 WHEN 'open' THEN 2 ELSE 1 END, 1, 0
        FROM {rows}"""
    events = f"""
        INSERT INTO case_events (id, case_id, at, actor, kind, details)
        {prefix}SELECT :e0 + n, :c0 + n, {at("age")}, 'intake', 'created', {sql.json("'{}'")}
        FROM {rows}"""
    # The response's tag as its theme row, as the intake writes it (storage.themes).
    themes = f"""
        INSERT INTO theme_tags (feedback_id, theme, source, department, category, received_at)
        {prefix}SELECT :f0 + n, dept, 'tag', dept, category, {at("age")}
        FROM {rows}"""
    statements = [feedback, cases, events, themes]
    # (kind, step, level, seconds from opening to due, status of an open case, sent when open)
    deadlines = [
        ("claim_nudge", "claim", 0, CLAIM_SECONDS, "sent"),
        ("escalation", "claim", 1, CLAIM_SECONDS, "sent"),
        ("escalation", "first_contact", 1, CONTACT_SECONDS, "pending"),
        ("escalation", "close", 1, CLOSE_SECONDS, "pending"),
    ]
    for number, (kind, step, level, due_after, when_open) in enumerate(deadlines, start=1):
        due = at(f"age - {due_after}")
        sent = f"CASE WHEN state = 'open' THEN {due} END" if when_open == "sent" else "NULL"
        statements.append(f"""
            INSERT INTO deadlines (id, case_id, kind, step, level, recipient, due_at, status, held,
                created_at, sent_at, acknowledged_by)
            {prefix}SELECT :d0 + (n - 1) * 4 + {number}, :c0 + n, '{kind}', '{step}', {level}, NULL, {due},
                CASE state WHEN 'closed' THEN 'cancelled' WHEN 'open' THEN '{when_open}' ELSE 'pending' END,
                FALSE, {at("age")}, {sent}, NULL
            FROM {rows}""")
    return statements


def _next_ids(connection: Connection) -> dict[str, int]:
    found = {}
    for key, table in (("f0", "feedback"), ("c0", "cases"), ("e0", "case_events"), ("d0", "deadlines")):
        found[key] = int(connection.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one())
    return found


def prefill(database: Database, *, cases: int, open_cases: int, due: int, now: datetime) -> Filled:
    """Add `cases` cases, the newest `open_cases` of them open, the newest `due` of those with their
    claim step due at `now`. Returns the ids written."""
    if not 0 <= due <= open_cases <= cases:
        raise ValueError("need 0 <= due <= open_cases <= cases")
    started = time.monotonic()
    sql = _Dialect(database.is_postgres)
    now = now.astimezone(UTC).replace(microsecond=0)
    with database.engine.begin() as connection:
        ids = _next_ids(connection)
        params = {
            **ids,
            "count": cases,
            "closed_upto": cases - open_cases,
            "due_from": cases - due,
            "now": now.replace(tzinfo=None),
            "now_epoch": int(now.timestamp()),
        }
        for statement in _statements(sql):
            connection.execute(text(statement), params)
        if database.is_postgres:
            for table in ("feedback", "cases", "case_events", "deadlines"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                connection.execute(text(f"SELECT setval({sequence}, (SELECT MAX(id) FROM {table}))"))
    if database.is_postgres:  # a long-lived database has statistics; the planner needs them
        with database.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    c0 = ids["c0"]
    return Filled(
        closed=range(c0 + 1, c0 + cases - open_cases + 1),
        open=range(c0 + cases - open_cases + 1, c0 + cases - due + 1),
        due=range(c0 + cases - due + 1, c0 + cases + 1),
        seconds=time.monotonic() - started,
    )
