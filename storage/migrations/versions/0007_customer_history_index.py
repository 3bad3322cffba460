"""customer history index

An index on feedback (customer_id, received_at): every case message render reads the customer's
earlier responses, newest first (storage.customer_history), which without it scans the table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_feedback_customer_id", "feedback", ["customer_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_customer_id", table_name="feedback")
