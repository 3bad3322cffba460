"""you said, we did (issue 13, point 3)

`shipped_announcements`: one `/loop shipped <theme>` confirmation, its message and pace;
`shipped_recipients`: one row per (theme, customer), UNIQUE, so nobody is told twice about one
theme; `shipped_summaries`: the summary deliveries owed to the departments' channels; and an
index of theme rows by theme, so the audience of a theme is read without the whole history.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = storage.models.UTCDateTime


def upgrade() -> None:
    op.create_index("ix_theme_tags_theme_category", "theme_tags", ["theme", "category", "feedback_id"])
    op.create_table(
        "shipped_announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("theme", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=50), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("next_at", UTC(), nullable=False),
        sa.Column("done_at", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipped_announcements")),
    )
    op.create_index("ix_shipped_announcements_status_id", "shipped_announcements", ["status", "id"])
    op.create_table(
        "shipped_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("theme", sa.String(length=100), nullable=False),
        sa.Column("customer", sa.String(length=330), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UTC(), nullable=True),
        sa.Column("retry_at", UTC(), nullable=True),
        sa.Column("sent_at", UTC(), nullable=True),
        sa.Column("message_id", sa.String(length=250), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["shipped_announcements.id"],
            name=op.f("fk_shipped_recipients_announcement_id_shipped_announcements"),
        ),
        sa.ForeignKeyConstraint(
            ["feedback_id"], ["feedback.id"], name=op.f("fk_shipped_recipients_feedback_id_feedback")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_shipped_recipients_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipped_recipients")),
        sa.UniqueConstraint("theme", "customer", name="uq_shipped_recipients_theme_customer"),
    )
    op.create_index(
        "ix_shipped_recipients_announcement_id_status", "shipped_recipients", ["announcement_id", "status"]
    )
    op.create_table(
        "shipped_summaries",
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_shipped_summaries_delivery_id_deliveries")
        ),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["shipped_announcements.id"],
            name=op.f("fk_shipped_summaries_announcement_id_shipped_announcements"),
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_shipped_summaries")),
    )


def downgrade() -> None:
    op.drop_table("shipped_summaries")
    op.drop_index("ix_shipped_recipients_announcement_id_status", table_name="shipped_recipients")
    op.drop_table("shipped_recipients")
    op.drop_index("ix_shipped_announcements_status_id", table_name="shipped_announcements")
    op.drop_table("shipped_announcements")
    op.drop_index("ix_theme_tags_theme_category", table_name="theme_tags")
