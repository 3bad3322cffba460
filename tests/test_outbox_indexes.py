"""The publisher's scan and the /metrics depth read the partial index of owed cases, so their
cost follows the work waiting, not the number of cases ever handled (issue 9: ~270 ms at 1M)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Select, func, or_, select, text

from storage.db import Database
from storage.models import CASE_MESSAGE_OWED, Case


def plan(database: Database, backend: str, query: Select) -> str:
    compiled = str(query.compile(database.engine, compile_kwargs={"literal_binds": True}))
    with database.engine.connect() as connection:
        if backend == "postgresql":
            connection.execute(text("SET enable_seqscan = off"))  # an empty table would be scanned
            rows = connection.execute(text(f"EXPLAIN {compiled}")).all()
        else:
            rows = connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    return "\n".join(str(tuple(row)) for row in rows)


def test_owed_cases_are_found_through_the_partial_index(database, backend):
    now = datetime(2026, 12, 1, tzinfo=UTC)
    lease_free = or_(Case.sync_lease_until.is_(None), Case.sync_lease_until < now)
    scan = select(Case.id).where(lease_free, CASE_MESSAGE_OWED).limit(100)
    depth = select(func.count(), func.min(Case.updated_at)).where(CASE_MESSAGE_OWED)
    for query in (scan, depth):
        assert "ix_cases_owed" in plan(database, backend, query)
    leased = select(Case.id).where(Case.sync_lease_until.is_not(None)).order_by(Case.sync_lease_until)
    assert "ix_cases_leased" in plan(database, backend, leased)
