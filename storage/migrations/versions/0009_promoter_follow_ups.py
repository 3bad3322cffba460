"""promoter follow-ups and the leaderboard's indexes

Who first thanked a promoter, asked for a review or noted a reference candidate (one row per
response and action), and indexes that let `/loop leaderboard` read only its period's rows.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "promoter_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("user_id", sa.String(length=50), nullable=False),
        sa.Column("at", storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"], ["feedback.id"], name=op.f("fk_promoter_follow_ups_feedback_id_feedback")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promoter_follow_ups")),
        sa.UniqueConstraint("feedback_id", "action", name="uq_promoter_follow_ups_feedback_id_action"),
    )
    op.create_index("ix_promoter_follow_ups_at", "promoter_follow_ups", ["at"], unique=False)
    op.create_index("ix_cases_closed_at", "cases", ["closed_at", "closed_by", "created_at"], unique=False)
    op.create_index("ix_kudos_given_at", "kudos", ["given_at"], unique=False)
    op.create_index("ix_recognitions_given_at", "recognitions", ["given_at"], unique=False)
    op.create_index("ix_deliveries_kind_sent_at", "deliveries", ["kind", "sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deliveries_kind_sent_at", table_name="deliveries")
    op.drop_index("ix_recognitions_given_at", table_name="recognitions")
    op.drop_index("ix_kudos_given_at", table_name="kudos")
    op.drop_index("ix_cases_closed_at", table_name="cases")
    op.drop_index("ix_promoter_follow_ups_at", table_name="promoter_follow_ups")
    op.drop_table("promoter_follow_ups")
