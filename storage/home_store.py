"""The App Home's rows: who opened it, the refresh each Home is owed, and what each shows.

A refresh is owed on a `home_tabs` row (one per person), so any number of changes owe one
publish: `due_at` is set by the first and kept by the rest, and `owed_seq` grows with each. The
publisher leases a row with a conditional UPDATE (two processes never publish one Home at once),
remembers the `owed_seq` it leased at, and clears `due_at` only if no change came meanwhile.

Which Homes a case change owes is decided from rows, not from the change: the Homes whose last
publish showed the case (`home_shown`: the old owner after a hand-over, the queue's viewers
after a claim), its owner's and closer's, and, while it is open and unclaimed, the Homes listing
its department's queue (`home_queues`), which are also owed when the change took it out of the
queue (their count moves). So the old owner is found even though the case no
longer names them, and only people who opened Home are ever refreshed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy import case as sa_case
from sqlalchemy.dialects import postgresql, sqlite

from bot.domain.home import MonthFigures
from bot.domain.records import CaseSnapshot
from bot.domain.vocabulary import OPEN_STATUSES, CaseStatus
from storage.db import Database
from storage.leaderboard import _seconds_between
from storage.models import Case, Feedback, HomeQueue, HomeShown, HomeTab, Kudos, TurnaroundRow
from storage.snapshots import snapshot

TABS = HomeTab.__table__


@dataclass(frozen=True)
class Lease:
    """A Home leased for publishing: `seq` is the `owed_seq` it was leased at, `until` the lease's
    expiry, which fences the give-back (a publisher that lost its lease changes nothing)."""

    user: str
    seq: int
    until: datetime
    failures: int


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(HomeTab.lease_until.is_(None), HomeTab.lease_until < now)


class HomeStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # ---- who opened Home, and what they are owed -----------------------------------------------

    def opened(self, user: str, now: datetime) -> None:
        """`user` opened their Home: remember them, and owe a refresh due now."""
        with self.database.transaction() as session:
            connection = session.connection()
            dialect_insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[
                connection.dialect.name
            ]
            statement = dialect_insert(TABS).values(
                user_id=user, opened_at=now, owed_seq=1, due_at=now, failures=0
            )
            statement = statement.on_conflict_do_update(
                index_elements=[TABS.c.user_id],
                set_={
                    "opened_at": now,
                    "owed_seq": TABS.c.owed_seq + 1,
                    "due_at": sa_case(
                        (or_(TABS.c.due_at.is_(None), TABS.c.due_at > now), now), else_=TABS.c.due_at
                    ),
                },
            )
            connection.execute(statement)

    def anyone_opened(self) -> bool:
        """Whether anyone has opened Home at all (most workspaces, until someone does: nobody)."""
        with self.database.connection() as connection:
            return connection.execute(select(HomeTab.user_id).limit(1)).first() is not None

    def owe_for_case(self, case: CaseSnapshot, due: datetime) -> int:
        """Owe a refresh, due at `due` unless one is owed sooner, to every Home the change of
        `case` shows in (see the module docstring); how many Homes."""
        people = [person for person in (case.owner_id, case.closed_by) if person]
        showing = select(HomeShown.user_id).where(HomeShown.case_id == case.id)
        conditions = [HomeTab.user_id.in_(showing)]
        if people:
            conditions.append(HomeTab.user_id.in_(people))
        # Its queue lists it while it is open and unclaimed; and when this change took it out
        # (a claim, an assignment, a close: the row's last update is that step), the queue's
        # count moves even where its capped list did not show the case.
        in_or_leaving = exists().where(
            Case.id == case.id,
            or_(
                and_(Case.owner_id.is_(None), Case.status.in_(OPEN_STATUSES)),
                Case.updated_at == Case.claimed_at,
                Case.updated_at == Case.closed_at,
            ),
        )
        listing = select(HomeQueue.user_id).where(HomeQueue.department == case.department)
        conditions.append(and_(HomeTab.user_id.in_(listing), in_or_leaving))
        return self._owe(or_(*conditions), due)

    def owe(self, users: Sequence[str], due: datetime) -> int:
        return self._owe(HomeTab.user_id.in_(sorted(set(users))), due) if users else 0

    def _owe(self, which: ColumnElement[bool], due: datetime) -> int:
        """Rows are locked in user order first: two changes owing overlapping sets of Homes at
        once (PostgreSQL) then wait for each other instead of deadlocking."""
        with self.database.transaction() as session:
            users = list(
                session.scalars(
                    select(HomeTab.user_id).where(which).order_by(HomeTab.user_id).with_for_update()
                )
            )
            if not users:
                return 0
            statement = (
                update(HomeTab)
                .where(HomeTab.user_id.in_(users))
                .values(
                    owed_seq=HomeTab.owed_seq + 1,
                    due_at=sa_case(
                        (or_(HomeTab.due_at.is_(None), HomeTab.due_at > due), due), else_=HomeTab.due_at
                    ),
                )
                .execution_options(synchronize_session=False)
            )
            session.execute(statement)
            return len(users)

    # ---- publishing ------------------------------------------------------------------------------

    def due(self, now: datetime, limit: int) -> list[str]:
        """Homes owed a refresh that may go now (not leased), the longest waiting first."""
        with self.database.transaction() as session:
            return list(
                session.scalars(
                    select(HomeTab.user_id)
                    .where(HomeTab.due_at <= now, _lease_free(now))
                    .order_by(HomeTab.due_at, HomeTab.user_id)
                    .limit(limit)
                )
            )

    def next_due(self) -> datetime | None:
        """When the soonest owed refresh may be taken: when it is due, or, if someone holds it,
        when their lease runs out (they may have died; if not, they publish it meanwhile)."""
        free_at = sa_case(
            (
                and_(HomeTab.lease_until.is_not(None), HomeTab.lease_until > HomeTab.due_at),
                HomeTab.lease_until,
            ),
            else_=HomeTab.due_at,
        )
        with self.database.transaction() as session:
            return session.scalar(select(func.min(free_at)).where(HomeTab.due_at.is_not(None)))

    def lease(self, user: str, now: datetime, until: datetime) -> Lease | None:
        """Take `user`'s owed refresh until `until`, unless it is not due or someone has it."""
        with self.database.transaction() as session:
            taken = session.execute(
                update(HomeTab)
                .where(HomeTab.user_id == user, HomeTab.due_at <= now, _lease_free(now))
                .values(lease_until=until)
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken != 1:
                return None
            seq, failures = session.execute(
                select(HomeTab.owed_seq, HomeTab.failures).where(HomeTab.user_id == user)
            ).one()
            return Lease(user, int(seq), until, int(failures))

    def record_shown(self, lease: Lease, shown: Sequence[CaseSnapshot], departments: Sequence[str]) -> None:
        """What the Home about to be published shows. A case among them changed since it was read
        (its change may have looked for this Home before this row said it shows the case) owes
        the Home again, so what it shows is never left stale."""
        user = lease.user
        with self.database.transaction() as session:
            session.execute(delete(HomeShown).where(HomeShown.user_id == user))
            session.execute(delete(HomeQueue).where(HomeQueue.user_id == user))
            ids = sorted({case.id for case in shown})
            if ids:
                session.execute(insert(HomeShown), [{"user_id": user, "case_id": i} for i in ids])
            if departments:
                rows = [{"user_id": user, "department": d} for d in sorted(set(departments))]
                session.execute(insert(HomeQueue), rows)
            if ids:
                read = {case.id: case.version for case in shown}
                current = select(Case.id, Case.version).where(Case.id.in_(ids))
                versions = {case_id: version for case_id, version in session.execute(current)}
                if any(versions.get(i) != v for i, v in read.items()):
                    session.execute(
                        update(HomeTab)
                        .where(HomeTab.user_id == user)
                        .values(owed_seq=HomeTab.owed_seq + 1)
                        .execution_options(synchronize_session=False)
                    )

    def published(self, lease: Lease, now: datetime, again_at: datetime) -> bool:
        """Published: give the lease back; a change meanwhile (`owed_seq` moved) stays owed, due
        at `again_at`. False if the lease was lost (someone else's publish then covers it)."""
        with self.database.transaction() as session:
            changed = HomeTab.owed_seq > lease.seq
            return (
                session.execute(
                    update(HomeTab)
                    .where(HomeTab.user_id == lease.user, HomeTab.lease_until == lease.until)
                    .values(
                        lease_until=None,
                        published_at=now,
                        failures=0,
                        last_error=None,
                        due_at=sa_case((changed, again_at), else_=None),
                    )
                    .execution_options(synchronize_session=False)
                ).rowcount
                == 1
            )

    def failed(self, lease: Lease, error: str, retry_at: datetime | None) -> None:
        """Not published: try again at `retry_at` (None: give up until the next change owes one)."""
        with self.database.transaction() as session:
            session.execute(
                update(HomeTab)
                .where(HomeTab.user_id == lease.user, HomeTab.lease_until == lease.until)
                .values(
                    lease_until=None,
                    failures=HomeTab.failures + 1,
                    last_error=error[:500],
                    due_at=retry_at,
                )
                .execution_options(synchronize_session=False)
            )

    def put_off(self, lease: Lease, until: datetime) -> None:
        """Not tried (no slot free yet): give the lease back, due again at `until`."""
        with self.database.transaction() as session:
            session.execute(
                update(HomeTab)
                .where(HomeTab.user_id == lease.user, HomeTab.lease_until == lease.until)
                .values(lease_until=None, due_at=until)
                .execution_options(synchronize_session=False)
            )

    def forget_idle(self, before: datetime) -> int:
        """Stop refreshing the Homes of people who have not opened theirs since `before`: Slack
        keeps showing the last view, and opening Home again publishes a fresh one."""
        with self.database.transaction() as session:
            idle = select(HomeTab.user_id).where(HomeTab.opened_at < before)
            session.execute(delete(HomeShown).where(HomeShown.user_id.in_(idle)))
            session.execute(delete(HomeQueue).where(HomeQueue.user_id.in_(idle)))
            return int(session.execute(delete(HomeTab).where(HomeTab.opened_at < before)).rowcount or 0)

    # ---- what a Home shows -----------------------------------------------------------------------

    def open_cases_of(self, user: str, limit: int) -> tuple[int, list[CaseSnapshot]]:
        """The user's open cases, the next deadline first (oldest first where none is set)."""
        mine = (Case.owner_id == user, Case.status.in_(OPEN_STATUSES))
        return self._listed(mine, limit)

    def unclaimed(self, departments: Sequence[str], limit: int) -> tuple[int, list[CaseSnapshot]]:
        """The departments' open, unclaimed cases, the first due to be claimed first (then the oldest)."""
        if not departments:
            return 0, []
        queued = (
            Case.owner_id.is_(None),
            Case.status.in_(OPEN_STATUSES),
            Case.department.in_(sorted(set(departments))),
        )
        return self._listed(queued, limit)

    def _listed(self, where: Sequence[ColumnElement[bool]], limit: int) -> tuple[int, list[CaseSnapshot]]:
        # The deadline of the case's next step is what makes it urgent (a claimed case's claim
        # deadline is behind it); a step without one falls back to the next that has one.
        due = sa_case(
            (
                Case.status == CaseStatus.NEW,
                func.coalesce(Case.claim_due_at, Case.contact_due_at, Case.close_due_at),
            ),
            (Case.status == CaseStatus.CLAIMED, func.coalesce(Case.contact_due_at, Case.close_due_at)),
            else_=Case.close_due_at,
        )
        with self.database.transaction() as session:
            total = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
            rows = session.execute(
                select(Case, Feedback)
                .join(Feedback, Feedback.id == Case.feedback_id)
                .where(*where)
                .order_by(sa_case((due.is_(None), 1), else_=0), due, Case.created_at, Case.id)
                .limit(limit)
            )
            return int(total), [snapshot(case, feedback) for case, feedback in rows]

    def month_figures(self, user: str, since: datetime, until: datetime) -> MonthFigures:
        """One statement: loops `user` closed in [since, until], their median time to close, kudos
        given on them in the period, customers won back (as /loop leaderboard counts them)."""
        with self.database.transaction() as session:
            took = _seconds_between(session, Case.created_at, Case.closed_at)
            closed_in = (Case.closed_by == user, Case.closed_at >= since, Case.closed_at <= until)
            ranked = (
                select(
                    took.label("took"),
                    func.row_number().over(order_by=took).label("rn"),
                    func.count().over().label("n"),
                )
                .where(*closed_in)
                .subquery()
            )
            middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
            row = session.execute(
                select(
                    select(func.count()).select_from(Case).where(*closed_in).scalar_subquery(),
                    select(func.avg(ranked.c.took)).where(middle).scalar_subquery(),
                    select(func.count())
                    .select_from(Kudos)
                    .join(Case, Case.id == Kudos.case_id)
                    .where(Case.closed_by == user, Kudos.given_at >= since, Kudos.given_at <= until)
                    .scalar_subquery(),
                    select(func.count())
                    .select_from(TurnaroundRow)
                    .where(
                        TurnaroundRow.owner_id == user, TurnaroundRow.at >= since, TurnaroundRow.at <= until
                    )
                    .scalar_subquery(),
                )
            ).one()
            closed, median, kudos, won_back = row
            return MonthFigures(
                closed=int(closed or 0),
                median_close_seconds=None if median is None else round(float(median), 3),
                kudos=int(kudos or 0),
                won_back=int(won_back or 0),
            )
