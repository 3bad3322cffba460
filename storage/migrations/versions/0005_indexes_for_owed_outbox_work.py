"""indexes for owed outbox work

Partial indexes on cases: the owed ones (message never posted, or showing an older version) for
the publisher's scan and the /metrics depth, and the leased ones for coming back to a dead
process's leases. Both hold only the rows of work waiting now, so the scans cost what is owed,
not the table's history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWED = "slack_ts IS NULL OR message_version < version"
LEASED = "sync_lease_until IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_cases_owed", "cases", ["id"], postgresql_where=sa.text(OWED), sqlite_where=sa.text(OWED)
    )
    op.create_index(
        "ix_cases_leased",
        "cases",
        ["sync_lease_until"],
        postgresql_where=sa.text(LEASED),
        sqlite_where=sa.text(LEASED),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_leased", table_name="cases")
    op.drop_index("ix_cases_owed", table_name="cases")
