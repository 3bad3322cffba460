"""themes on responses and cases, and theme spike alerts (issue 11, point 5)

`theme_tags`: one row per (response, theme, source): the survey tool's tags (`tag`) and the
themes an owner picks when closing (`owner`), with the response's department, category and
arrival, indexed so that counting a period's detractors per theme reads the index alone.
`theme_alerts`: the last spike alert per (department, theme), claimed with a conditional upsert.

The tags of responses already stored are backfilled here, a batch of responses at a time (in id
order, so memory stays flat), with the same normalisation as `bot.domain.themes.theme_key`
(whitespace collapsed, case-folded), copied rather than imported so this step never changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
THEME_MAX = 100


def _key(name: object) -> str:
    return " ".join(str(name).split()).casefold()[:THEME_MAX]


def upgrade() -> None:
    op.create_table(
        "theme_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("theme", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("received_at", storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"], ["feedback.id"], name=op.f("fk_theme_tags_feedback_id_feedback")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_tags")),
        sa.UniqueConstraint("feedback_id", "theme", "source", name="uq_theme_tags_feedback_id_theme_source"),
    )
    op.create_index(
        "ix_theme_tags_category_received_at",
        "theme_tags",
        ["category", "received_at", "department", "theme", "feedback_id"],
        unique=False,
    )
    op.create_table(
        "theme_alerts",
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("theme", sa.String(length=100), nullable=False),
        sa.Column("fired_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("average", sa.Float(), nullable=True),
        sa.Column("feedback_ids", sa.JSON(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_theme_alerts_delivery_id_deliveries")
        ),
        sa.PrimaryKeyConstraint("department", "theme", name=op.f("pk_theme_alerts")),
    )
    _backfill()


def _backfill() -> None:
    """Theme rows for the tags of the responses already stored (the raw JSON text `[]` is skipped
    in SQL, so untagged responses cost nothing but the scan)."""
    feedback = sa.table(
        "feedback",
        sa.column("id", sa.Integer()),
        sa.column("tags", sa.JSON()),
        sa.column("department", sa.String()),
        sa.column("category", sa.String()),
        sa.column("received_at", storage.models.UTCDateTime()),
    )
    themes = sa.table(
        "theme_tags",
        sa.column("feedback_id", sa.Integer()),
        sa.column("theme", sa.String()),
        sa.column("source", sa.String()),
        sa.column("department", sa.String()),
        sa.column("category", sa.String()),
        sa.column("received_at", storage.models.UTCDateTime()),
    )
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(feedback)
            .where(feedback.c.id > last, sa.cast(feedback.c.tags, sa.Text) != "[]")
            .order_by(feedback.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = []
        for row in rows:
            tags = row.tags if isinstance(row.tags, list) else []
            for key in dict.fromkeys(k for k in map(_key, tags) if k):
                values.append(
                    {
                        "feedback_id": row.id,
                        "theme": key,
                        "source": "tag",
                        "department": row.department,
                        "category": row.category,
                        "received_at": row.received_at,
                    }
                )
        if values:
            connection.execute(sa.insert(themes), values)
        last = rows[-1].id


def downgrade() -> None:
    op.drop_table("theme_alerts")
    op.drop_index("ix_theme_tags_category_received_at", table_name="theme_tags")
    op.drop_table("theme_tags")
