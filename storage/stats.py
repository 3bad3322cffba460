"""The counts behind `/loop stats`, for a period and the one of the same length before it.

Set-based, each statement reading both periods at once through an index on its time column:
- responses: one grouped sum over `ix_feedback_received_at` (received_at, department, survey,
  score), which covers it, so PostgreSQL answers it from the index alone;
- cases opened: one grouped count per (period, status) over `ix_cases_created_at`, with the
  closes and each step's SLA met / missed as CASE sums;
- step times: percentiles of the seconds stored on the case when the step happened (see
  `stamp_step_times`), over the steps done in the period: PostgreSQL's percentile_cont in one
  statement; SQLite has none, so a count and the one or two values around each percentile;
- root causes of the period's closes, and the turnarounds of both periods: one grouped count each.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, text
from sqlalchemy import case as sa_case
from sqlalchemy.orm import Session

from bot.domain.records import CaseSnapshot
from bot.domain.scoring import SCALES
from bot.domain.stats import (
    CaseCounts,
    PeriodCounts,
    ResponseCounts,
    StepSla,
    StepTimes,
    interpolate,
)
from bot.domain.vocabulary import Step, Survey
from storage.db import Database
from storage.deadline_store import DeadlinePlanner
from storage.models import Case, Feedback, TurnaroundRow, UTCDateTime

SHARES = (0.5, 0.9)

# (step, when it was done, when it was due, seconds it took)
STEP_COLUMNS: tuple[tuple[str, Any, Any, Any], ...] = (
    (Step.CLAIM, Case.claimed_at, Case.claim_due_at, Case.claim_seconds),
    (Step.FIRST_CONTACT, Case.contacted_at, Case.contact_due_at, Case.contact_seconds),
    (Step.CLOSE, Case.closed_at, Case.close_due_at, Case.close_seconds),
)


def stamp_step_times(case: Case, snapshot: CaseSnapshot, planner: DeadlinePlanner, now: datetime) -> None:
    """Store how long each step took, when it happens (called on every case change, inside its
    transaction): a step done now, or done and not yet measured, is measured from the opening in
    the department's business time (the planner knows the hours); an undone step (released,
    reopened) forgets its time."""
    for _, done, _, seconds in STEP_COLUMNS:
        at: datetime | None = getattr(case, done.key)
        if at is None:
            setattr(case, seconds.key, None)
        elif at == now or getattr(case, seconds.key) is None:
            took = planner.working_time(snapshot, case.created_at, at)
            setattr(case, seconds.key, round(took.total_seconds()))


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(sa_case((condition, 1), else_=0))


def _sum(condition: ColumnElement[bool], value: Any) -> ColumnElement[int]:
    return func.sum(sa_case((condition, value), else_=0))


class StatsStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def periods(
        self, department: str | None, before: datetime, since: datetime, until: datetime
    ) -> tuple[PeriodCounts, PeriodCounts]:
        """Counts for [before, since) and [since, until): (previous, current)."""
        with self.database.transaction() as session:
            responses = self._responses(session, department, before, since, until)
            cases = self._cases(session, department, before, since, until)
            won_back = self._won_back(session, department, before, since, until)
            periods = [(before, since), (since, until)]
            if self.database.is_postgres:
                times = self._times_postgres(session, department, periods)
            else:
                times = [self._times_sqlite(session, department, a, b) for a, b in periods]
        return (
            PeriodCounts(responses[False], cases[False], times[0], won_back[False]),
            PeriodCounts(responses[True], cases[True], times[1], won_back[True]),
        )

    def root_causes(
        self, department: str | None, since: datetime, until: datetime
    ) -> list[tuple[str | None, int]]:
        """Root causes of the loops closed by a person in the period, most first, then by name (a
        case that closed itself on its customer's new score has none, as in `/loop causes`)."""
        query = (
            select(Case.root_cause, func.count())
            .where(Case.closed_at >= since, Case.closed_at < until, Case.closed_by.is_not(None))
            .group_by(Case.root_cause)
        )
        if department is not None:
            query = query.where(Case.department == department)
        with self.database.transaction() as session:
            rows = [(cause, int(n)) for cause, n in session.execute(query)]
        return sorted(rows, key=lambda row: (-row[1], row[0] or ""))

    # ---- one statement each --------------------------------------------------------------------

    @staticmethod
    def _responses(
        session: Session, department: str | None, before: datetime, since: datetime, until: datetime
    ) -> dict[bool, ResponseCounts]:
        nps, csat, ces = (Feedback.survey == s for s in (Survey.NPS, Survey.CSAT, Survey.CES))
        scale_nps, scale_csat = SCALES[Survey.NPS], SCALES[Survey.CSAT]
        query = select(
            (Feedback.received_at >= since).label("current"),
            func.count(),
            _count(nps),
            _count(and_(nps, Feedback.score > scale_nps.passive_max)),
            _count(and_(nps, Feedback.score <= scale_nps.detractor_max)),
            _count(csat),
            _count(and_(csat, Feedback.score > scale_csat.passive_max)),
            _sum(csat, Feedback.score),
            _count(ces),
            _sum(ces, Feedback.score),
        ).where(Feedback.received_at >= before, Feedback.received_at < until)
        if department is not None:
            query = query.where(Feedback.department == department)
        found = {False: ResponseCounts(), True: ResponseCounts()}
        for current, *numbers in session.execute(query.group_by(text("1"))):
            found[bool(current)] = ResponseCounts(*(int(n or 0) for n in numbers))
        return found

    @staticmethod
    def _cases(
        session: Session, department: str | None, before: datetime, since: datetime, until: datetime
    ) -> dict[bool, CaseCounts]:
        """Each period's cases as they stood at its end: closed by then, a step met when done by
        then and on time, missed when its deadline passed before then with the step not done on
        time."""
        current = Case.created_at >= since
        end = sa_case((current, literal(until, UTCDateTime())), else_=literal(since, UTCDateTime()))
        columns: list[ColumnElement[Any]] = [_count(and_(Case.closed_at.is_not(None), Case.closed_at < end))]
        for _, done, due, _ in STEP_COLUMNS:
            columns.append(_count(and_(done.is_not(None), done <= due, done < end)))
            columns.append(_count(and_(due < end, or_(done.is_(None), done > due))))
        query = select(current.label("current"), Case.status, func.count(), *columns).where(
            Case.created_at >= before, Case.created_at < until
        )
        if department is not None:
            query = query.where(Case.department == department)
        totals: dict[bool, dict[str, Any]] = {
            flag: {"opened": 0, "closed": 0, "by_status": {}, "sla": [0] * (2 * len(STEP_COLUMNS))}
            for flag in (False, True)
        }
        rows = session.execute(query.group_by(text("1"), text("2")))
        for current_flag, status, opened, closed, *sla in rows:
            total = totals[bool(current_flag)]
            total["opened"] += int(opened)
            total["closed"] += int(closed or 0)
            total["by_status"][status] = int(opened)
            total["sla"] = [a + int(b or 0) for a, b in zip(total["sla"], sla, strict=True)]
        return {
            flag: CaseCounts(
                t["opened"],
                t["closed"],
                t["by_status"],
                {
                    step: StepSla(t["sla"][2 * i], t["sla"][2 * i + 1])
                    for i, (step, *_) in enumerate(STEP_COLUMNS)
                },
            )
            for flag, t in totals.items()
        }

    @staticmethod
    def _won_back(
        session: Session, department: str | None, before: datetime, since: datetime, until: datetime
    ) -> dict[bool, int]:
        query = select((TurnaroundRow.at >= since).label("current"), func.count()).where(
            TurnaroundRow.at >= before, TurnaroundRow.at < until
        )
        if department is not None:
            query = query.join(Case, Case.id == TurnaroundRow.earlier_case_id).where(
                Case.department == department
            )
        found = {False: 0, True: 0}
        for current, n in session.execute(query.group_by(text("1"))):
            found[bool(current)] = int(n)
        return found

    @staticmethod
    def _times_postgres(
        session: Session, department: str | None, periods: list[tuple[datetime, datetime]]
    ) -> list[dict[str, StepTimes]]:
        """One statement: for each period and step, the count and percentile_cont of the seconds
        of the steps done in it (each aggregate filtered to its period and step)."""
        columns: list[ColumnElement[Any]] = []
        done_in_any = []
        for start, end in periods:
            for _, done, _, seconds in STEP_COLUMNS:
                in_period = and_(done >= start, done < end, seconds.is_not(None))
                columns.append(func.count().filter(in_period))
                for share in SHARES:
                    columns.append(func.percentile_cont(share).within_group(seconds).filter(in_period))
        for _, done, _, _ in STEP_COLUMNS:
            done_in_any.append(and_(done >= periods[0][0], done < periods[-1][1]))
        query = select(*columns).where(or_(*done_in_any))
        if department is not None:
            query = query.where(Case.department == department)
        row = list(session.execute(query).one())
        answers = []
        for _ in periods:
            times = {}
            for step, *_ in STEP_COLUMNS:
                count, median, p90 = row[:3]
                del row[:3]
                times[step] = StepTimes(int(count), _float(median), _float(p90))
            answers.append(times)
        return answers

    @staticmethod
    def _times_sqlite(
        session: Session, department: str | None, start: datetime, end: datetime
    ) -> dict[str, StepTimes]:
        times = {}
        for step, done, _, seconds in STEP_COLUMNS:
            conditions = [done >= start, done < end, seconds.is_not(None)]
            if department is not None:
                conditions.append(Case.department == department)
            count = int(session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0)
            found: list[float | None] = []
            for share in SHARES:
                if not count:
                    found.append(None)
                    continue
                position = (count - 1) * share
                values = session.scalars(
                    select(seconds).where(*conditions).order_by(seconds).limit(2).offset(math.floor(position))
                ).all()
                found.append(interpolate([float(v) for v in values], position))
            times[step] = StepTimes(count, *found)
        return times


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
