"""telling the customer (issue 13, points 1 and 2)

`customer_messages`: one row per follow-up to a customer, the outbox the mail worker leases
from; `cases.follow_up`: where telling the customer stands; `feedback.contact_ok`: the
customer's own "do not contact me" from the intake.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("author", sa.String(length=50), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=True),
        sa.Column("reply_to", sa.String(length=320), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("message_id", sa.String(length=250), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", storage.models.UTCDateTime(), nullable=True),
        sa.Column("retry_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("sent_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_customer_messages_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_messages")),
    )
    op.create_index(op.f("ix_customer_messages_case_id"), "customer_messages", ["case_id"])
    op.create_index("ix_customer_messages_status_retry_at", "customer_messages", ["status", "retry_at"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("follow_up", sa.String(length=20), nullable=True))
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("contact_ok", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("contact_ok")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("follow_up")
    op.drop_index("ix_customer_messages_status_retry_at", table_name="customer_messages")
    op.drop_index(op.f("ix_customer_messages_case_id"), table_name="customer_messages")
    op.drop_table("customer_messages")
