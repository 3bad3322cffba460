"""turnarounds

A detractor won back: one row per earlier case (unique, so each turnaround is celebrated once
across processes), credited to that case's owner, indexed by (owner, time) for the leaderboard.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "turnarounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("earlier_case_id", sa.Integer(), nullable=False),
        sa.Column("later_feedback_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(length=50), nullable=False),
        sa.Column("from_score", sa.Integer(), nullable=False),
        sa.Column("to_score", sa.Integer(), nullable=False),
        sa.Column("at", storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["earlier_case_id"], ["cases.id"], name=op.f("fk_turnarounds_earlier_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["later_feedback_id"], ["feedback.id"], name=op.f("fk_turnarounds_later_feedback_id_feedback")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turnarounds")),
        sa.UniqueConstraint("earlier_case_id", name="uq_turnarounds_earlier_case_id"),
    )
    with op.batch_alter_table("turnarounds", schema=None) as batch_op:
        batch_op.create_index("ix_turnarounds_owner_id_at", ["owner_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("turnarounds", schema=None) as batch_op:
        batch_op.drop_index("ix_turnarounds_owner_id_at")
    op.drop_table("turnarounds")
