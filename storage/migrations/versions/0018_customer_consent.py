"""the customer's word per customer; one mail per mailbox and theme (review of issue 13)

`ix_feedback_customer_email_lower`: a customer's contact_ok is found (and spread) by their id or
their lower-cased address (storage.consent). `shipped_recipients`: UNIQUE (theme, customer)
becomes a unique index over the rows not failed or skipped, so a customer taken again after a
failure gets a new row and the older announcement keeps its failure; and UNIQUE (theme,
lower(to_address)) for e-mail, so one mailbox is told once per theme whatever key it came by.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 15:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status NOT IN ('failed', 'skipped')"


def upgrade() -> None:
    op.create_index("ix_feedback_customer_email_lower", "feedback", [sa.text("lower(customer_email)")])
    with op.batch_alter_table("shipped_recipients") as batch:
        batch.drop_constraint("uq_shipped_recipients_theme_customer", type_="unique")
    op.create_index(
        "uq_shipped_recipients_theme_customer",
        "shipped_recipients",
        ["theme", "customer"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    op.create_index(
        "uq_shipped_recipients_theme_address",
        "shipped_recipients",
        ["theme", sa.text("lower(to_address)")],
        unique=True,
        sqlite_where=sa.text(f"via = 'email' AND {LIVE}"),
        postgresql_where=sa.text(f"via = 'email' AND {LIVE}"),
    )


def downgrade() -> None:
    op.drop_index("uq_shipped_recipients_theme_address", table_name="shipped_recipients")
    op.drop_index("uq_shipped_recipients_theme_customer", table_name="shipped_recipients")
    with op.batch_alter_table("shipped_recipients") as batch:
        batch.create_unique_constraint("uq_shipped_recipients_theme_customer", ["theme", "customer"])
    op.drop_index("ix_feedback_customer_email_lower", table_name="feedback")
