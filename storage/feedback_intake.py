"""Storing a survey response and opening or refreshing its case, in one transaction.

A response seen for the first time (nearly every request under load) is written in four Core
statements and no ORM flush: `INSERT … ON CONFLICT DO NOTHING RETURNING id` on the unique
(survey, external_id) key, then the case (its due dates computed before the INSERT), its
`created` event and its deadline rows. The unique key, not a read before, decides which of two
simultaneous sends of one response inserts it, in every process; the other send finds the row
and merges into it like any re-send. Re-sends are rarer and need the merge rules (`merge_raw`,
the `provided` fields, re-routing), so they go through the ORM as before.

Everything a change owes (deadline rows, outbox rows) is written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.domain.records import FEEDBACK_FIELDS, FeedbackData, IntakeOutcome, Triage
from bot.domain.themes import theme_keys
from bot.domain.turnarounds import SYSTEM_CLOSER, closed_itself_note, is_turnaround
from bot.domain.vocabulary import CaseStatus, Category, DeliveryKind, EventKind, Outcome
from storage.case_webhooks import CaseEventMirror, MirroredEvent
from storage.consent import STORED_WORD, spread_word, stored_word, word_params
from storage.db import Database
from storage.deadline_store import DeadlinePlanner, retire_chains
from storage.history import delivery_row, new_delivery, record_event
from storage.models import Case, CaseEvent, Deadline, Delivery, Feedback
from storage.planning import first_deadline_rows, replan
from storage.snapshots import snapshot_of
from storage.themes import resync, theme_rows, write_themes
from storage.turnarounds import closed_itself_reply, earlier_followed_up_detractor, record_turnaround

FEEDBACK = Feedback.__table__
CASES = Case.__table__
INTAKE_ACTOR = "intake"


def merge_raw(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Later sends add to what earlier ones said (a partial update must not erase the rest)."""
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_raw(merged[key], value)
        else:
            merged[key] = value
    return merged


def stored_data(feedback: Feedback) -> FeedbackData:
    """The response as it stands after all updates, for deciding its category and department."""
    values = {name: getattr(feedback, name) for name in FEEDBACK_FIELDS}
    values["tags"] = tuple(values["tags"] or ())
    return FeedbackData(external_id=feedback.external_id, survey=feedback.survey, raw=feedback.raw, **values)


def _keep_customer_word(session: Session, feedback: Feedback, data: FeedbackData) -> None:
    """A re-send that says contact_ok says it for all the customer's responses; one that does
    not leaves the stored word, or takes the customer's if this response had none (storage.consent)."""
    said = data.contact_ok if "contact_ok" in data.provided else None
    if said is None and feedback.contact_ok is None:
        feedback.contact_ok = stored_word(session.connection(), feedback.customer_id, feedback.customer_email)
    elif said is not None:
        session.flush()
        spread_word(session.connection(), feedback.customer_id, feedback.customer_email, said)


def _feedback_values(data: FeedbackData) -> dict[str, Any]:
    values = {name: getattr(data, name) for name in FEEDBACK_FIELDS}
    values["tags"] = list(data.tags)
    values["contact_ok"] = data.contact_ok  # merged like the others: only when the sender said it
    return values


@cache
def _insert_new_feedback(dialect: str, inherit: bool) -> Insert:
    """INSERT … ON CONFLICT (survey, external_id) DO NOTHING RETURNING id: a row when this call
    inserted the response, none when it was already there (built once; the values are bound
    at execution, so SQLAlchemy compiles it once too). `inherit`: the response did not say
    contact_ok, so it takes the customer's stored word (storage.consent) in the same statement."""
    dialect_insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = dialect_insert(FEEDBACK)
    if inherit:
        statement = statement.values(contact_ok=STORED_WORD)
    return statement.on_conflict_do_nothing(
        index_elements=[FEEDBACK.c.survey, FEEDBACK.c.external_id]
    ).returning(FEEDBACK.c.id, FEEDBACK.c.contact_ok)


_INSERT_CASE = insert(CASES).returning(CASES.c.id)
_INSERT_EVENT = insert(CaseEvent.__table__)
# RETURNING makes SQLAlchemy send the rows as one multi-row INSERT ("insertmanyvalues"), where
# psycopg's executemany pipelines one statement per row at several times the CPU.
_INSERT_DEADLINES = insert(Deadline.__table__).returning(Deadline.__table__.c.id)
_INSERT_DELIVERY = insert(Delivery.__table__)


class FeedbackIntake:
    def __init__(
        self, database: Database, planner: DeadlinePlanner, mirror: CaseEventMirror | None = None
    ) -> None:
        self.database = database
        self.planner = planner
        self.mirror = mirror  # outbound case events (storage.case_webhooks); None: none owed

    def record(
        self, data: FeedbackData, decide: Callable[[FeedbackData], Triage], now: datetime
    ) -> IntakeOutcome:
        """Upsert a response and open or refresh its case, in one transaction.

        Re-sent responses update the same rows; only fields the sender included are changed.
        `decide` (the domain's triage) sees the response as merged, so an update that omits the
        comment is still routed by the comment sent before.
        """
        triage = decide(data)
        feedback = {
            **_feedback_values(data),
            "external_id": data.external_id,
            "survey": data.survey,
            "category": triage.category,
            "department": triage.department,
            "received_at": now,
            "updated_at": now,
            "revision": 1,
            "raw": data.raw,
        }
        with self.database.connection() as connection:
            inherit = data.contact_ok is None  # not said: the customer's word on an earlier response holds
            insert_feedback = _insert_new_feedback(connection.dialect.name, inherit)
            values = feedback
            if inherit:
                values = {k: v for k, v in feedback.items() if k != "contact_ok"}
                values.update(word_params(data.customer_id, data.customer_email))
            inserted = connection.execute(insert_feedback, values).first()
            if inserted is not None:
                feedback_id, feedback["contact_ok"] = inserted  # the word as stored, inherited or said
                if data.contact_ok is not None:  # said: it is the customer's word on every response
                    spread_word(connection, data.customer_id, data.customer_email, data.contact_ok)
                return self._first_sight(connection, {**feedback, "id": feedback_id}, triage, now)
            with self.database.session_on(connection) as session:
                outcome = self._resent(session, data, decide, now)
                session.commit()  # flushes; the connection's transaction commits below
            return outcome

    def _first_sight(
        self, connection: Connection, feedback: dict[str, Any], triage: Triage, now: datetime
    ) -> IntakeOutcome:
        case_id = None
        if feedback["tags"]:  # one multi-row INSERT, only for a tagged response
            write_themes(connection, theme_rows(feedback, theme_keys(feedback["tags"])))
        if triage.open_case:
            case_id = self._open_case(connection, feedback, triage, now)
        elif triage.notify:
            connection.execute(
                _INSERT_DELIVERY, delivery_row(DeliveryKind.NOTICE, feedback["id"], None, None, now)
            )
        if triage.category == Category.PROMOTER:
            _won_back_by_new_response(connection, feedback, case_id, now)
        return IntakeOutcome(
            feedback_id=feedback["id"],
            case_id=case_id,
            category=triage.category,
            department=triage.department,
            created=True,
            changed=True,
        )

    def _open_case(
        self, connection: Connection, feedback: dict[str, Any], triage: Triage, now: datetime
    ) -> int:
        """Insert the case with its due dates, its `created` event and its deadline rows: a case
        that has no rows yet needs no read to plan them."""
        case: dict[str, Any] = {
            "id": 0,  # not known before the INSERT; the planner reads the case's facts, not its id
            "feedback_id": feedback["id"],
            "version": 1,
            "status": CaseStatus.NEW,
            "department": triage.department,
            "category": triage.category,
            "priority": triage.priority,
            "owner_id": None,
            "created_at": now,
            "updated_at": now,
            **dict.fromkeys(
                (
                    "claimed_at",
                    "contacted_at",
                    "closed_at",
                    "closed_by",
                    "outcome",
                    "contact_channel",
                    "root_cause",
                    "remedy",
                    "close_note",
                    "customer_informed",
                    "slack_channel",
                    "slack_ts",
                    "claim_due_at",
                    "contact_due_at",
                    "close_due_at",
                )
            ),
            "message_version": 0,
            "post_attempts": 0,
            "opening_score": feedback["score"],  # a re-send may change the score; this stays
        }
        facts = snapshot_of(case, feedback)
        dates = self.planner.due_dates(facts)
        case.update(claim_due_at=dates.claim, contact_due_at=dates.first_contact, close_due_at=dates.close)
        specs = self.planner.plan(
            replace(
                facts,
                claim_due_at=dates.claim,
                contact_due_at=dates.first_contact,
                close_due_at=dates.close,
            )
        )
        del case["id"]
        case_id: int = connection.execute(_INSERT_CASE, case).scalar_one()
        event = {
            "case_id": case_id,
            "at": now,
            "actor": INTAKE_ACTOR,
            "kind": EventKind.CREATED,
            "details": {},
        }
        if self.mirror is not None and self.mirror.webhooks:
            returning = _INSERT_EVENT.returning(CaseEvent.__table__.c.id)
            event_id = connection.execute(returning, event).scalar_one()
            opened = MirroredEvent(event_id, case_id, EventKind.CREATED, INTAKE_ACTOR, {}, now)
            self.mirror.owe(connection, [opened], now)
        else:
            connection.execute(_INSERT_EVENT, event)
        rows = first_deadline_rows(case_id, specs, now)
        if rows:
            connection.execute(_INSERT_DEADLINES, rows)
        return case_id

    def _resent(
        self, session: Session, data: FeedbackData, decide: Callable[[FeedbackData], Triage], now: datetime
    ) -> IntakeOutcome:
        """Merge a response already stored: the fields sent change, the rest stays; the case is
        refreshed (or opened, for a promoter who turned detractor)."""
        feedback = session.scalars(
            select(Feedback)
            .where(Feedback.survey == data.survey, Feedback.external_id == data.external_id)
            # NO KEY UPDATE, not UPDATE: it still serialises two sends of one response, but does
            # not block the KEY SHARE lock that inserting a delivery (a foreign key to this row)
            # takes, so a deadline sweep holding the case cannot deadlock with this intake.
            .with_for_update(key_share=True)
        ).one()
        changed_fields: list[str] = []
        score_before, category_before = feedback.score, feedback.category
        for name, value in _feedback_values(data).items():
            if name in data.provided and getattr(feedback, name) != value:
                setattr(feedback, name, value)
                changed_fields.append(name)
        _keep_customer_word(session, feedback, data)
        merged = merge_raw(feedback.raw, data.raw)
        raw_changed = merged != feedback.raw
        if changed_fields or raw_changed:
            feedback.revision += 1
            feedback.updated_at = now
            feedback.raw = merged
        triage = decide(stored_data(feedback))
        feedback.category = triage.category
        case = session.scalar(select(Case).where(Case.feedback_id == feedback.id).with_for_update())
        case_id = case.id if case is not None else None
        case_before = (case.status, case.category) if case is not None else None
        if case is not None and changed_fields:
            self._refresh_case(session, case, feedback, triage, changed_fields, score_before, now)
        elif case is None and triage.open_case:
            feedback.department = triage.department
            session.flush()
            values = {column.key: getattr(feedback, column.key) for column in FEEDBACK.columns}
            case_id = self._open_case(session.connection(), values, triage, now)
        session.flush()
        # The theme rows follow the response (its tags, department, category): rare, so unread.
        tags = theme_keys(feedback.tags or ()) if "tags" in changed_fields else None
        department = case.department if case is not None else feedback.department
        themed = {"id": feedback.id, "department": department, "category": feedback.category}
        resync(session.connection(), {**themed, "received_at": feedback.received_at}, tags)
        if triage.category == Category.PROMOTER and category_before != Category.PROMOTER:
            if case is not None and case_before is not None:
                self._won_back_by_update(session, case, case_before, score_before, feedback, now)
            elif case is None:
                values = {column.key: getattr(feedback, column.key) for column in FEEDBACK.columns}
                _won_back_by_new_response(session.connection(), values, case_id, now)
        return IntakeOutcome(
            feedback_id=feedback.id,
            case_id=case_id,
            category=feedback.category,
            department=case.department if case is not None else feedback.department,
            created=False,
            changed=bool(changed_fields) or raw_changed,
        )

    def _refresh_case(
        self,
        session: Session,
        case: Case,
        feedback: Feedback,
        triage: Triage,
        changed_fields: list[str],
        score_before: int,
        now: datetime,
    ) -> None:
        details: dict[str, Any] = {"fields": changed_fields, "revision": feedback.revision}
        if feedback.score != score_before:  # what the case was opened on shows in its history
            details["score"] = [score_before, feedback.score]
        if case.category != triage.category:
            details["category"] = [case.category, triage.category]
            case.category = triage.category
        if case.status == CaseStatus.NEW:
            case.priority = triage.priority
        case.version += 1
        case.updated_at = now
        record_event(session, case, INTAKE_ACTOR, EventKind.FEEDBACK_UPDATED, details, now, reply=True)
        if case.status == CaseStatus.NEW and case.owner_id is None and not triage.open_case:
            self._close_itself(session, case, feedback, now)
        elif case.status == CaseStatus.NEW and case.owner_id is None and triage.department != case.department:
            self._reroute(session, case, feedback, triage.department, now)
        replan(session, self.planner, case, feedback, now, due=True)

    def _close_itself(self, session: Session, case: Case, feedback: Feedback, now: datetime) -> None:
        """Nobody claimed it and the new score no longer opens a case (`cases.open_for`): nothing
        is left to follow up, so it closes as resolved by closeloop, credited to nobody (no owner,
        no `closed_by`, no shout-out); the replan that follows cancels its deadlines."""
        note = closed_itself_note(feedback.score)
        case.status = CaseStatus.CLOSED
        case.closed_at = now
        case.outcome = Outcome.RESOLVED
        case.close_note = note
        details = {"outcome": Outcome.RESOLVED, "note": note, "closed_itself": True}
        event = record_event(session, case, SYSTEM_CLOSER, EventKind.CLOSED, details, now, reply=False)
        closed_itself_reply(session.connection(), case.id, feedback.id, event.id, now)
        if self.mirror is not None:
            session.flush()
            closed = MirroredEvent(event.id, case.id, EventKind.CLOSED, SYSTEM_CLOSER, details, now)
            self.mirror.owe(session.connection(), [closed], now)

    @staticmethod
    def _won_back_by_update(
        session: Session,
        case: Case,
        before: tuple[str, str],
        score_before: int,
        feedback: Feedback,
        now: datetime,
    ) -> None:
        """The same response updated to a promoter score after its detractor case was closed by
        a person: that person won the customer back (an open case is closed as won back by its
        owner instead, a case that closed itself credits nobody)."""
        status, category = before
        if (
            status != CaseStatus.CLOSED
            or case.owner_id is None
            or not is_turnaround(category, feedback.category)
        ):
            return
        record_turnaround(
            session.connection(),
            earlier_case_id=case.id,
            owner_id=case.owner_id,
            later_feedback_id=feedback.id,
            from_score=score_before,
            to_score=feedback.score,
            contacted_at=case.contacted_at,
            closed_at=case.closed_at,
            now=now,
        )

    def _reroute(
        self, session: Session, case: Case, feedback: Feedback, department: str, now: datetime
    ) -> None:
        """Move an untouched case to the department its updated response belongs to (the comment
        that routes it often arrives after the score). The old message, if posted, is owed an
        edit pointing to the new one; the new channel is owed a fresh case message."""
        details = {
            "from": case.department,
            "to": department,
            "old_channel": case.slack_channel,
            "old_ts": case.slack_ts,
        }
        event = record_event(session, case, INTAKE_ACTOR, EventKind.REROUTED, details, now, reply=False)
        if case.slack_ts is not None:
            session.add(new_delivery(DeliveryKind.MOVED, feedback.id, case.id, event.id, now))
        case.department = department
        feedback.department = department
        case.slack_channel = None
        case.slack_ts = None
        case.message_version = 0
        case.post_attempts = 0
        retire_chains(session, case.id, steps=None)  # the new department's people are told afresh


def _won_back_by_new_response(
    connection: Connection, feedback: dict[str, Any], later_case_id: int | None, now: datetime
) -> None:
    """A promoter response from a customer whose earlier detractor case someone followed up."""
    if not feedback.get("customer_id"):
        return
    earlier = earlier_followed_up_detractor(
        connection,
        customer_id=feedback["customer_id"],
        survey=feedback["survey"],
        later_feedback_id=feedback["id"],
    )
    if earlier is None:
        return
    record_turnaround(
        connection,
        earlier_case_id=earlier["id"],
        owner_id=earlier["owner_id"],
        later_feedback_id=feedback["id"],
        from_score=earlier["score"],
        to_score=feedback["score"],
        contacted_at=earlier["contacted_at"],
        closed_at=earlier["closed_at"],
        now=now,
        later_case_id=later_case_id,
    )
