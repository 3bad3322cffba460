"""Promoter follow-ups: the rows, and the notice edits they owe Slack.

A press is one INSERT … ON CONFLICT DO NOTHING on (response, action): the first press of an
action stands, whoever and however many processes press at once, and later presses read who it
was. The notice is not edited per press: a new follow-up owes one `notice_refresh` delivery, due
a little later, and while one is owed (and not yet tried) further presses add nothing to it; the
outbox renders it from the rows as they are when it goes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.domain.promoters import FollowUp, PromoterNotice
from bot.domain.vocabulary import DeliveryKind, DeliveryStatus, PromoterAction
from storage.db import Database
from storage.history import new_delivery
from storage.models import Delivery, Feedback, PromoterFollowUp
from storage.refreshes import owe_refresh

FOLLOW_UPS = PromoterFollowUp.__table__


def _notice(session: Session, feedback_id: int) -> PromoterNotice | None:
    feedback = session.get(Feedback, feedback_id)
    if feedback is None:
        return None
    posted = session.execute(
        select(Delivery.slack_channel, Delivery.slack_ts)
        .where(
            Delivery.feedback_id == feedback_id,
            Delivery.case_id.is_(None),
            Delivery.kind == DeliveryKind.NOTICE,
            Delivery.status == DeliveryStatus.SENT,
        )
        .order_by(Delivery.id.desc())
        .limit(1)
    ).one_or_none()
    channel, ts = (posted.slack_channel, posted.slack_ts) if posted is not None else (None, None)
    return PromoterNotice(feedback_id, feedback.department, feedback.customer_name, channel, ts)


def _first(session: Session, feedback_id: int, action: PromoterAction) -> FollowUp:
    row = session.scalars(
        select(PromoterFollowUp).where(
            PromoterFollowUp.feedback_id == feedback_id, PromoterFollowUp.action == action
        )
    ).one()
    return FollowUp(PromoterAction(row.action), row.user_id, row.at)


class PromoterFollowUps:
    def __init__(self, database: Database) -> None:
        self.database = database

    def notice(self, feedback_id: int) -> PromoterNotice | None:
        """The response's notice (None if there is no such response)."""
        with self.database.transaction() as session:
            return _notice(session, feedback_id)

    def follow_ups(self, feedback_id: int) -> list[FollowUp]:
        with self.database.transaction() as session:
            rows = session.scalars(
                select(PromoterFollowUp)
                .where(PromoterFollowUp.feedback_id == feedback_id)
                .order_by(PromoterFollowUp.at, PromoterFollowUp.id)
            )
            return [FollowUp(PromoterAction(r.action), r.user_id, r.at) for r in rows]

    def press(
        self,
        feedback_id: int,
        action: PromoterAction,
        user: str,
        now: datetime,
        due: Callable[[datetime | None], datetime],
    ) -> tuple[FollowUp, bool]:
        """Record `user`'s press unless someone did `action` first: (the first one, whether it is
        this press). A new follow-up owes the notice's edit at `due(last edit sent)`."""
        with self.database.transaction() as session:
            # Presses on one notice take turns (PostgreSQL row lock; SQLite writes one at a time),
            # so 'is an edit already owed?' has one answer at a time.
            session.scalars(select(Feedback.id).where(Feedback.id == feedback_id).with_for_update()).one()
            connection = session.connection()
            dialects = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
            dialect_insert = dialects[connection.dialect.name]
            statement = (
                dialect_insert(FOLLOW_UPS)
                .values(feedback_id=feedback_id, action=str(action), user_id=user, at=now)
                .on_conflict_do_nothing(index_elements=[FOLLOW_UPS.c.feedback_id, FOLLOW_UPS.c.action])
                .returning(FOLLOW_UPS.c.id)
            )
            new = connection.execute(statement).scalar() is not None
            if new:
                self._owe_refresh(session, feedback_id, now, due)
            return _first(session, feedback_id, action), new

    @staticmethod
    def _owe_refresh(
        session: Session, feedback_id: int, now: datetime, due: Callable[[datetime | None], datetime]
    ) -> None:
        owe_refresh(
            session,
            DeliveryKind.NOTICE_REFRESH,
            (Delivery.feedback_id == feedback_id, Delivery.case_id.is_(None)),
            lambda: new_delivery(DeliveryKind.NOTICE_REFRESH, feedback_id, None, None, now),
            due,
        )
