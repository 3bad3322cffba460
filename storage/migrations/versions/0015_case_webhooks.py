"""outbound case events (issue 13, point 4)

One row per case event and receiver of the policy's `webhooks`, written with the case change:
the durable outbox the webhook sender leases from, in order per case and receiver.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "status = 'pending'"


def upgrade() -> None:
    op.create_table(
        "case_webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("case_event_id", sa.Integer(), nullable=False),
        sa.Column("receiver", sa.String(length=60), nullable=False),
        sa.Column("event_type", sa.String(length=30), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("lease_until", storage.models.UTCDateTime(), nullable=True),
        sa.Column("retry_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("sent_at", storage.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_webhook_events_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["case_event_id"],
            ["case_events.id"],
            name=op.f("fk_case_webhook_events_case_event_id_case_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_webhook_events")),
        sa.UniqueConstraint("event_id", "receiver", name="uq_case_webhook_events_event_id_receiver"),
    )
    op.create_index(
        "ix_case_webhook_events_pending",
        "case_webhook_events",
        ["case_id", "receiver", "id"],
        unique=False,
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )
    op.create_index(
        "ix_case_webhook_events_status_created_at",
        "case_webhook_events",
        ["status", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_case_webhook_events_status_created_at", table_name="case_webhook_events")
    op.drop_index("ix_case_webhook_events_pending", table_name="case_webhook_events")
    op.drop_table("case_webhook_events")
