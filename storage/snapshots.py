"""Reading cases out of a transaction as plain snapshots, so no ORM object escapes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.domain.records import CaseSnapshot
from storage.models import Case, Feedback

# CaseSnapshot's fields by where they come from: the case's, `feedback_id` (the feedback's id),
# then the feedback's.
_FIELDS = tuple(CaseSnapshot.__dataclass_fields__)
_CASE_FIELDS = _FIELDS[: _FIELDS.index("feedback_id")]
_FEEDBACK_FIELDS = _FIELDS[_FIELDS.index("feedback_id") + 1 :]


def snapshot(case: Case, feedback: Feedback) -> CaseSnapshot:
    values = {name: getattr(case, name) for name in _CASE_FIELDS}
    values.update({name: getattr(feedback, name) for name in _FEEDBACK_FIELDS})
    values["tags"] = tuple(values["tags"] or ())
    return CaseSnapshot(feedback_id=feedback.id, **values)


def snapshot_of(case: Mapping[str, Any], feedback: Mapping[str, Any]) -> CaseSnapshot:
    """The same from column values not (yet) in ORM objects: the intake plans a new case's
    deadlines from it before inserting the row."""
    values = {name: case[name] for name in _CASE_FIELDS if name in case}  # keyword-only ones may be left out
    values.update({name: feedback[name] for name in _FEEDBACK_FIELDS if name in feedback})
    values["tags"] = tuple(values["tags"] or ())
    return CaseSnapshot(feedback_id=feedback["id"], **values)


def count_and_oldest(
    session: Session, conditions: Sequence[ColumnElement[bool]], limit: int
) -> tuple[int, list[CaseSnapshot]]:
    """How many cases match, and the oldest `limit` of them: lists in Slack are capped, counts not."""
    total = session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
    rows = session.execute(
        select(Case, Feedback)
        .join(Feedback, Feedback.id == Case.feedback_id)
        .where(*conditions)
        .order_by(Case.created_at, Case.id)
        .limit(limit)
    )
    return total, [snapshot(case, feedback) for case, feedback in rows]
