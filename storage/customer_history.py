"""A customer's earlier responses and cases, for the line a case message shows about them.

One statement per case message render, on the index (customer_id, received_at): the newest
earlier responses with their cases, and (a window count, taken before the LIMIT) how many
there are in all.
"""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select

from bot.domain.records import CaseSnapshot, CustomerHistory, EarlierResponse
from storage.db import Database
from storage.models import Case, Feedback

SHOWN = 50  # earlier responses read at most; the count covers them all


class CustomerHistories:
    def __init__(self, database: Database) -> None:
        self.database = database

    def of(self, case: CaseSnapshot) -> CustomerHistory | None:
        """None without a customer id (nothing to match on) or when this is their first response."""
        if not case.customer_id:
            return None
        before = or_(
            Feedback.received_at < case.received_at,
            and_(Feedback.received_at == case.received_at, Feedback.id < case.feedback_id),
        )
        query = (
            select(
                Feedback.score,
                Feedback.received_at,
                Case.status,
                Case.outcome,
                func.count().over().label("total"),
            )
            .outerjoin(Case, Case.feedback_id == Feedback.id)
            .where(Feedback.customer_id == case.customer_id, Feedback.id != case.feedback_id, before)
            .order_by(Feedback.received_at.desc(), Feedback.id.desc())
            .limit(SHOWN)
        )
        with self.database.transaction() as session:
            rows = session.execute(query).all()
        if not rows:
            return None
        earlier = tuple(
            EarlierResponse(score=score, received_at=at, case_status=status, case_outcome=outcome)
            for score, at, status, outcome, _total in rows
        )
        return CustomerHistory(earlier_count=int(rows[0].total), earlier=earlier)
