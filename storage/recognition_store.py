"""Kudos and recognitions: the rows, and the shout-out edits and notes they owe Slack.

A kudos press is one atomic toggle (a DELETE, else an INSERT … ON CONFLICT DO NOTHING, each
checked by rowcount), so however many processes handle presses at once, each person counts
once. The shout-out is not edited per press: the toggle owes one `announcement_refresh`
delivery, due a little later, and while one is owed (and not yet being sent) further presses
add nothing to it; the outbox renders it from the kudos as they are when it goes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.domain.recognition import Applause, Shoutout
from bot.domain.vocabulary import DeliveryKind, DeliveryStatus, EventKind
from storage.db import Database
from storage.history import new_delivery, record_event
from storage.models import Case, CaseEvent, Delivery, Kudos, Recognition
from storage.refreshes import owe_refresh

KUDOS = Kudos.__table__


def _shoutout(session: Session, case_id: int) -> Shoutout | None:
    """The case's latest shout-out that reached Slack (a reopened and re-closed loop has two)."""
    row = session.execute(
        select(Delivery.slack_channel, Delivery.slack_ts, Delivery.event_id, CaseEvent.actor, Case.department)
        .join(CaseEvent, CaseEvent.id == Delivery.event_id)
        .join(Case, Case.id == Delivery.case_id)
        .where(
            Delivery.case_id == case_id,
            Delivery.kind == DeliveryKind.ANNOUNCEMENT,
            Delivery.status == DeliveryStatus.SENT,
        )
        .order_by(Delivery.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None or row.slack_channel is None or row.slack_ts is None or row.event_id is None:
        return None
    return Shoutout(case_id, row.department, row.slack_channel, row.slack_ts, row.actor, row.event_id)


class RecognitionStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def shoutout(self, case_id: int) -> Shoutout | None:
        with self.database.transaction() as session:
            return _shoutout(session, case_id)

    def applause(self, case_id: int) -> Applause:
        with self.database.transaction() as session:
            kudos = session.scalars(
                select(Kudos.user_id).where(Kudos.case_id == case_id).order_by(Kudos.given_at, Kudos.id)
            )
            count = session.scalar(select(func.count()).where(Recognition.case_id == case_id))
            return Applause(tuple(kudos), int(count or 0))

    def toggle_kudos(
        self,
        shoutout: Shoutout,
        user: str,
        now: datetime,
        due: Callable[[datetime | None], datetime],
    ) -> bool:
        """Give `user`'s kudos, or take it back if given: True when given. Owes the shout-out's
        edit at `due(last edit sent)` unless one is already owed."""
        with self.database.transaction() as session:
            self._lock(session, shoutout.case_id)
            # Core statements on the session's connection: their rowcount is the database's own.
            connection = session.connection()
            removed = connection.execute(
                delete(KUDOS).where(KUDOS.c.case_id == shoutout.case_id, KUDOS.c.user_id == user)
            ).rowcount
            given = False
            if not removed:
                dialect_insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[
                    connection.dialect.name
                ]
                statement = (
                    dialect_insert(KUDOS)
                    .values(case_id=shoutout.case_id, user_id=user, given_at=now)
                    .on_conflict_do_nothing(index_elements=[KUDOS.c.case_id, KUDOS.c.user_id])
                    .returning(KUDOS.c.id)
                )
                # No row back: the same person's other press won just now; it stands, once. (The
                # returned id, not rowcount: psycopg reported no rowcount of 1 for it in our tests.)
                given = connection.execute(statement).scalar() is not None
            self._owe_refresh(session, shoutout, now, due)
            return given

    def recognise(
        self,
        shoutout: Shoutout,
        leader: str,
        note: str,
        now: datetime,
        due: Callable[[datetime | None], datetime],
    ) -> None:
        """A leader's note: stored, recorded in the case's history, owed to the shout-out's
        thread and to the closer by direct message; the shout-out's count follows."""
        with self.database.transaction() as session:
            case = self._lock(session, shoutout.case_id)
            session.add(
                Recognition(
                    case_id=case.id, leader_id=leader, closer_id=shoutout.closer, note=note, given_at=now
                )
            )
            details = {
                "note": note,
                "closer": shoutout.closer,
                "channel": shoutout.channel,
                "ts": shoutout.ts,
            }
            event = record_event(session, case, leader, EventKind.RECOGNISED, details, now, reply=False)
            for kind, recipient in (
                (DeliveryKind.RECOGNITION_REPLY, None),
                (DeliveryKind.RECOGNITION_DM, shoutout.closer),
            ):
                session.add(new_delivery(kind, case.feedback_id, case.id, event.id, now, recipient=recipient))
            self._owe_refresh(session, shoutout, now, due)

    @staticmethod
    def _lock(session: Session, case_id: int) -> Case:
        """Presses on one case take turns (PostgreSQL row lock; SQLite writes one at a time), so
        'is an edit already owed?' has one answer at a time."""
        return session.scalars(select(Case).where(Case.id == case_id).with_for_update()).one()

    @staticmethod
    def _owe_refresh(
        session: Session, shoutout: Shoutout, now: datetime, due: Callable[[datetime | None], datetime]
    ) -> None:
        case = session.get_one(Case, shoutout.case_id)
        owe_refresh(
            session,
            DeliveryKind.ANNOUNCEMENT_REFRESH,
            (Delivery.case_id == shoutout.case_id,),
            lambda: new_delivery(
                DeliveryKind.ANNOUNCEMENT_REFRESH, case.feedback_id, case.id, shoutout.event_id, now
            ),
            due,
        )
