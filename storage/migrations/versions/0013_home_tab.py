"""the App Home tab: who has it open and owed refreshes (issue 11, point 4)

`home_tabs`: one row per person who opened the bot's Home, with the refresh it is owed (due
time, a sequence that grows with each change owing one, a lease); `home_shown` and
`home_queues`: the cases and the departments' queues each published Home shows, so a change to
a case owes exactly the Homes showing it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_tabs",
        sa.Column("user_id", sa.String(length=50), nullable=False),
        sa.Column("opened_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("owed_seq", sa.Integer(), nullable=False),
        sa.Column("due_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("lease_until", storage.models.UTCDateTime(), nullable=True),
        sa.Column("published_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_home_tabs")),
    )
    with op.batch_alter_table("home_tabs", schema=None) as batch_op:
        batch_op.create_index("ix_home_tabs_due_at", ["due_at"], unique=False)
    op.create_table(
        "home_shown",
        sa.Column("user_id", sa.String(length=50), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_home_shown_case_id_cases")),
        sa.PrimaryKeyConstraint("user_id", "case_id", name=op.f("pk_home_shown")),
    )
    with op.batch_alter_table("home_shown", schema=None) as batch_op:
        batch_op.create_index("ix_home_shown_case_id", ["case_id"], unique=False)
    op.create_table(
        "home_queues",
        sa.Column("user_id", sa.String(length=50), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "department", name=op.f("pk_home_queues")),
    )
    with op.batch_alter_table("home_queues", schema=None) as batch_op:
        batch_op.create_index("ix_home_queues_department", ["department"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("home_queues", schema=None) as batch_op:
        batch_op.drop_index("ix_home_queues_department")
    op.drop_table("home_queues")
    with op.batch_alter_table("home_shown", schema=None) as batch_op:
        batch_op.drop_index("ix_home_shown_case_id")
    op.drop_table("home_shown")
    with op.batch_alter_table("home_tabs", schema=None) as batch_op:
        batch_op.drop_index("ix_home_tabs_due_at")
    op.drop_table("home_tabs")
