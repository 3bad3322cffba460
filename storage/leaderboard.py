"""The figures behind `/loop leaderboard`, each one grouped query over the period's rows only.

Each query reads one period by a time column with an index of its own (migration 0009), so the
cost follows the period's activity, not the history. The median time to close is computed in
SQL too (a row number and a count per person, then the middle one or two rows), so no
per-case rows leave the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from bot.domain.leaderboard import MissedThankYou, Standing
from bot.domain.vocabulary import DeliveryKind, DeliveryStatus
from storage.db import Database
from storage.models import Case, Delivery, Feedback, Kudos, PromoterFollowUp, Recognition, TurnaroundRow

# Whoever closed the loop (an unclaimed case closed directly is theirs too); a case that closed
# itself (its customer's new score opens no case) has none and is credited to nobody.
CLOSER = Case.closed_by


def _seconds_between(
    session: Session, start: ColumnElement[datetime], end: ColumnElement[datetime]
) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


class LeaderboardStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def standings(self, since: datetime, until: datetime) -> list[Standing]:
        """Per person: loops closed in [since, until] (`until` is now: this moment's included)
        and their median time to close, customers won back (turnarounds credited to them),
        kudos and recognitions given in it (credited to the loop's closer), and promoter
        follow-ups."""
        people: dict[str, dict[str, float | int | None]] = {}

        def add(user: str | None, **figures: float | int | None) -> None:
            if user is not None:
                people.setdefault(user, {}).update(figures)

        with self.database.transaction() as session:
            for user, closed, median in session.execute(self._closed(session, since, until)):
                add(user, closed=int(closed), median_close_seconds=round(float(median), 3))
            kudos = (
                select(CLOSER, func.count())
                .select_from(Kudos)
                .join(Case, Case.id == Kudos.case_id)
                .where(Kudos.given_at >= since, Kudos.given_at <= until)
                .group_by(CLOSER)
            )
            for user, count in session.execute(kudos):
                add(user, kudos=int(count))
            recognitions = (
                select(Recognition.closer_id, func.count())
                .where(Recognition.given_at >= since, Recognition.given_at <= until)
                .group_by(Recognition.closer_id)
            )
            for user, count in session.execute(recognitions):
                add(user, recognitions=int(count))
            won_back = (
                select(TurnaroundRow.owner_id, func.count())
                .where(TurnaroundRow.at >= since, TurnaroundRow.at <= until)
                .group_by(TurnaroundRow.owner_id)
            )
            for user, count in session.execute(won_back):
                add(user, won_back=int(count))
            presses = (
                select(PromoterFollowUp.user_id, func.count())
                .where(PromoterFollowUp.at >= since, PromoterFollowUp.at <= until)
                .group_by(PromoterFollowUp.user_id)
            )
            for user, count in session.execute(presses):
                add(user, promoters=int(count))
        return [Standing(user, **figures) for user, figures in people.items()]  # type: ignore[arg-type]

    @staticmethod
    def _closed(session: Session, since: datetime, until: datetime) -> Select[tuple[str, int, float]]:
        took = _seconds_between(session, Case.created_at, Case.closed_at)
        ranked = (
            select(
                CLOSER.label("person"),
                took.label("took"),
                func.row_number().over(partition_by=CLOSER, order_by=took).label("rn"),
                func.count().over(partition_by=CLOSER).label("n"),
            )
            .where(Case.closed_at >= since, Case.closed_at <= until, CLOSER.is_not(None))
            .subquery()
        )
        middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
        return (
            select(ranked.c.person, func.max(ranked.c.n), func.avg(ranked.c.took))
            .where(middle)
            .group_by(ranked.c.person)
        )

    def missed_thank_yous(
        self, sent_from: datetime, sent_before: datetime, within: timedelta, limit: int
    ) -> tuple[int, list[MissedThankYou]]:
        """Promoters' notices posted in [sent_from, sent_before) with no press within `within`
        of being posted: how many, and the oldest `limit`."""
        with self.database.transaction() as session:
            if session.get_bind().dialect.name == "sqlite":
                in_time = func.julianday(PromoterFollowUp.at) - func.julianday(Delivery.sent_at) <= (
                    within.total_seconds() / 86400
                )
            else:
                in_time = PromoterFollowUp.at - Delivery.sent_at <= within
            pressed = exists().where(PromoterFollowUp.feedback_id == Delivery.feedback_id, in_time)
            where = and_(
                Delivery.kind == DeliveryKind.NOTICE,
                Delivery.sent_at >= sent_from,
                Delivery.sent_at < sent_before,
                Delivery.status == DeliveryStatus.SENT,
                Delivery.slack_channel.is_not(None),
                ~pressed,
            )
            total = session.scalar(select(func.count()).select_from(Delivery).where(where)) or 0
            rows = session.execute(
                select(Delivery.slack_channel, Feedback.survey, Feedback.score, Delivery.sent_at)
                .join(Feedback, Feedback.id == Delivery.feedback_id)
                .where(where)
                .order_by(Delivery.sent_at, Delivery.id)
                .limit(limit)
            )
            missed = [MissedThankYou(str(r.slack_channel), r.survey, r.score, r.sent_at) for r in rows]
            return int(total), missed
