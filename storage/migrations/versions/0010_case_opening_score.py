"""the score a case was opened with

A re-sent response can change an open case's score; when its category changes too, the case
message shows both. NULL on cases opened before this revision: their score is taken as unchanged.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opening_score", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("opening_score")
