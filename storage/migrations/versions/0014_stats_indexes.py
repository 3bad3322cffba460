"""step times and indexes for /loop stats (issue 11, point 1)

Each case keeps how long its claim, first contact and close took from its opening (seconds of
business time where its department has business hours, written when the step happens), so the
percentiles are taken in SQL. Indexes read a period by time, covering what the figures need so
PostgreSQL reads the index alone: responses by arrival, cases by opening, closes with their root
causes, turnarounds by time.

Backfill: the policy's business hours live in a file this migration does not read, so cases that
took their steps before it get wall-clock seconds (created_at to the step's time). For a
department with business hours their times read longer than those written afterwards; the
README's "/loop stats" section says so.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEPS = (("claim_seconds", "claimed_at"), ("contact_seconds", "contacted_at"), ("close_seconds", "closed_at"))
CASE_COLUMNS = [
    "status",
    "claimed_at",
    "claim_due_at",
    "claim_seconds",
    "contacted_at",
    "contact_due_at",
    "contact_seconds",
    "closed_at",
    "close_due_at",
    "close_seconds",
]
# (table, name, key columns, columns carried in the index on PostgreSQL, for index-only scans)
INDEXES: tuple[tuple[str, str, list[str], list[str]], ...] = (
    ("feedback", "ix_feedback_received_at", ["received_at", "department", "survey", "score"], []),
    ("cases", "ix_cases_created_at", ["created_at", "department"], CASE_COLUMNS),
    ("cases", "ix_cases_closed_at_root_cause", ["closed_at", "department"], ["closed_by", "root_cause"]),
    ("turnarounds", "ix_turnarounds_at", ["at"], []),
)


def _seconds(column: str, postgres: bool) -> str:
    if postgres:
        return f"CAST(ROUND(EXTRACT(EPOCH FROM ({column} - created_at))) AS integer)"
    return f"CAST(ROUND((julianday({column}) - julianday(created_at)) * 86400) AS integer)"


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for seconds, _ in STEPS:
            batch_op.add_column(sa.Column(seconds, sa.Integer(), nullable=True))
    postgres = op.get_bind().dialect.name == "postgresql"
    for seconds, at in STEPS:
        # never negative: a step stamped before the opening (clock skew) took no time
        took = f"CASE WHEN {at} > created_at THEN {_seconds(at, postgres)} ELSE 0 END"
        op.execute(f"UPDATE cases SET {seconds} = {took} WHERE {at} IS NOT NULL")
    for table, name, columns, carried in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False, postgresql_include=carried)


def downgrade() -> None:
    for table, name, _, _ in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for seconds, _ in reversed(STEPS):
            batch_op.drop_column(seconds)
