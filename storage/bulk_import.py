"""Writing a batch of imported history in a handful of set-based statements.

`closeloop import` brings months of responses; the intake's path (a transaction and four
statements per response) would take minutes for a million rows. A batch here costs one SELECT per
survey (the unique (survey, external_id) key finds what is there already), one set-based INSERT
each of the new responses, their cases and their theme rows (PostgreSQL: `json_to_recordset`;
SQLite: sqlite3's executemany), and one executemany UPDATE of the responses that changed.

History is stored closed and silent: a history case is `closed`, has no deadlines, no events
and no deliveries, and its message counts as shown (`NO_MESSAGE_TS`, `message_version ==
version`), so the outbox, which owes a case message while `slack_ts` is NULL
(`CASE_MESSAGE_OWED`), never posts it. Should a survey tool re-send such a response later, the
intake's refresh bumps its version; the outbox's edit of the placeholder then fails as the edit
of a deleted message does, and the case message is posted afresh, showing the case as it is.

Responses that become live cases are not written here: they go through the intake's own path
(`Repository.record_feedback`), one by one, so they are opened, planned and posted exactly as
`POST /feedback` would.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import Numeric, Select, Table, bindparam, func, select, text, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Row

from bot.domain.records import FEEDBACK_FIELDS, FeedbackData, Triage
from bot.domain.themes import theme_keys
from bot.domain.vocabulary import CaseStatus
from storage.consent import inherit_word
from storage.db import Database
from storage.feedback_intake import merge_raw
from storage.models import Case, Feedback, UTCDateTime
from storage.themes import THEMES, resync, theme_rows

FEEDBACK = Feedback.__table__
CASES = Case.__table__
# The case message of a history case: a ts no Slack message has, so the outbox owes nothing.
NO_MESSAGE_TS = "0000000000.000000"
HISTORY_NOTE = "Imported as history by closeloop import: closed without a follow-up in closeloop."


@dataclass(frozen=True)
class ImportItem:
    """One valid row: the response, what the policy decided about it, and whether its age makes
    it a live case (`live`) rather than history."""

    line: int
    data: FeedbackData
    triage: Triage
    live: bool

    @cached_property
    def key(self) -> tuple[str, str]:
        """Asked for a dozen times a row by the import; computed once."""
        return self.data.survey, self.data.external_id


@dataclass(frozen=True)
class Stored:
    """A response already in the database, with its case's kind if it has one."""

    id: int
    values: dict[str, Any]
    raw: dict[str, Any]
    revision: int
    received_at: datetime
    case_id: int | None
    history_case: bool


@dataclass
class BatchResult:
    """What one batch did; `for_intake` are the rows the caller sends through the intake's path
    (live by age, or already shown in Slack as a live case and changed)."""

    created: int = 0
    history_cases: int = 0
    updated: int = 0
    unchanged: int = 0
    for_intake: list[ImportItem] = field(default_factory=list)


_FIELDS_OF = attrgetter(*FEEDBACK_FIELDS)


def _values(data: FeedbackData) -> dict[str, Any]:
    values = dict(zip(FEEDBACK_FIELDS, _FIELDS_OF(data), strict=True))
    values["tags"] = list(data.tags)
    return values


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        return old is not None and new is not None and Decimal(old) == Decimal(new)
    return bool(old == new)


_UPDATE_FEEDBACK = (
    update(FEEDBACK)
    .where(FEEDBACK.c.id == bindparam("b_id"))
    .values(
        {name: bindparam(f"b_{name}") for name in FEEDBACK_FIELDS}
        | {
            "category": bindparam("b_category"),
            "department": bindparam("b_department"),
            "revision": bindparam("b_revision"),
            "updated_at": bindparam("b_updated_at"),
            "raw": bindparam("b_raw"),
        }
    )
)
_UPDATE_HISTORY_CASE = (
    update(CASES)
    .where(CASES.c.id == bindparam("b_id"))
    .values(
        category=bindparam("b_category"),
        department=bindparam("b_department"),
        priority=bindparam("b_priority"),
        updated_at=bindparam("b_updated_at"),
    )
)


def _stored_query(survey: str, ids: list[str], postgres: bool) -> Select[Any]:
    """The stored responses of `survey` among `ids`. On PostgreSQL each id is looked up by its own
    probe of the unique (survey, external_id) index (a LATERAL join on the ids): with an IN list
    the planner trusts the table's statistics, which during an import (or on a server without
    autovacuum) still say it is empty, and filters the whole survey each batch, a cost that grows
    with the history (100k rows: 525 rows/s)."""
    columns = (
        FEEDBACK.c.id,
        FEEDBACK.c.external_id,
        FEEDBACK.c.raw,
        FEEDBACK.c.revision,
        FEEDBACK.c.received_at,
        CASES.c.id.label("case_id"),
        CASES.c.slack_ts,
        *(FEEDBACK.c[name] for name in FEEDBACK_FIELDS),
    )
    joined = FEEDBACK.outerjoin(CASES, CASES.c.feedback_id == FEEDBACK.c.id)
    if not postgres:
        return (
            select(*columns)
            .select_from(joined)
            .where(FEEDBACK.c.survey == survey, FEEDBACK.c.external_id.in_(ids))
        )
    wanted = (
        func.unnest(bindparam("ids", ids, type_=ARRAY(FEEDBACK.c.external_id.type)))
        .table_valued("external_id")
        .render_derived("wanted")
    )
    one = (
        select(*columns)
        .select_from(joined)
        .where(FEEDBACK.c.survey == survey, FEEDBACK.c.external_id == wanted.c.external_id)
        .lateral("stored")
    )
    return select(one).select_from(wanted).join(one, true())


def stored_responses(
    connection: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Stored]:
    """The responses among `keys` already stored: one query per survey, on the unique key, so the
    cost follows the batch, not the history."""
    by_survey: dict[str, list[str]] = defaultdict(list)
    for survey, external_id in keys:
        by_survey[survey].append(external_id)
    postgres = connection.dialect.name == "postgresql"
    found: dict[tuple[str, str], Stored] = {}
    for survey, ids in by_survey.items():
        for row in connection.execute(_stored_query(survey, ids, postgres)):
            mapping = row._mapping
            found[(survey, row.external_id)] = Stored(
                id=row.id,
                values={name: mapping[name] for name in FEEDBACK_FIELDS},
                raw=row.raw or {},
                revision=row.revision,
                received_at=row.received_at,
                case_id=row.case_id,
                history_case=row.slack_ts == NO_MESSAGE_TS,
            )
    return found


def _changed(stored: Stored, data: FeedbackData) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(the response's fields after the merge, its raw payload after it), or None when the row
    says nothing new: only the fields the row provides change, as with a re-send to /feedback."""
    values = dict(stored.values)
    values["tags"] = list(values["tags"] or ())
    changed = False
    for name, value in _values(data).items():
        if name in data.provided and not _same(values[name], value):
            values[name] = value
            changed = True
    raw = merge_raw(stored.raw, data.raw)
    if not changed and raw == stored.raw:
        return None
    return values, raw


def recordset_insert(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str] = (),
    returning: Sequence[str] = (),
    times: dict[datetime, Any] | None = None,
) -> list[Row[Any]]:
    """PostgreSQL: the batch as one `INSERT … SELECT FROM json_to_recordset(:rows)`, the rows sent
    as one JSON document (json.dumps runs in C). With an array per column (`unnest`) psycopg
    escapes every element in Python: a 100k-row import took 177–205 µs of CPU a row that way
    against 117–144 µs this way (2026-12-02). Values are written as the column types would
    (naive UTC times; JSON as JSON). `returning`: those columns of the rows inserted. `times`:
    the times converted so far (a batch repeats them: `now`, a case created when answered)."""
    names = list(rows[0])
    timed = [name for name in names if isinstance(table.c[name].type, UTCDateTime)]
    decimals = [name for name in names if isinstance(table.c[name].type, Numeric)]
    document = []
    texts = {} if times is None else times
    for row in rows:
        values = dict(row)
        for name in timed:
            if (value := values[name]) is not None:
                text_ = texts.get(value)
                if text_ is None:
                    text_ = texts[value] = value.astimezone(UTC).replace(tzinfo=None).isoformat()
                values[name] = text_
        for name in decimals:
            if values[name] is not None:
                values[name] = str(values[name])
        document.append(values)
    types = ", ".join(
        f"{name} {'timestamp' if name in timed else table.c[name].type.compile(dialect=connection.dialect)}"
        for name in names
    )
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(names)} "
        f"FROM json_to_recordset(CAST(:rows AS json)) AS r({types})"
    )
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    params = {"rows": json.dumps(document, ensure_ascii=False)}
    if not returning:
        connection.execute(text(sql), params)
        return []
    return list(connection.execute(text(f"{sql} RETURNING {', '.join(returning)}"), params))


def _once_per_value(process: Callable[[Any], Any], done: dict[datetime, Any] | None) -> Callable[[Any], Any]:
    """A time column's bind processor run once per distinct value (every UTCDateTime converts
    alike; equal instants give the same naive UTC time): a batch repeats its times (`now` in
    every row; a history case is created and closed when it was answered)."""
    done = {} if done is None else done

    def convert(value: Any) -> Any:
        stored = done.get(value)
        if stored is None:
            stored = done[value] = process(value)
        return stored

    return convert


def driver_insert(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str] = (),
    times: dict[datetime, Any] | None = None,
) -> None:
    """SQLite: the rows converted by each column type's own bind processor (what SQLAlchemy would
    store), then handed to sqlite3's executemany, which loops in C: SQLAlchemy's per-row
    parameter handling costs several times what SQLite spends inserting. `times`: as for
    `recordset_insert`, each distinct time is converted once."""
    names = list(rows[0])
    # Only the columns whose type converts (times, JSON, numbers) are visited cell by cell.
    converted = [
        (at, _once_per_value(process, times) if isinstance(table.c[name].type, UTCDateTime) else process)
        for at, name in enumerate(names)
        if (process := table.c[name].type.bind_processor(connection.dialect)) is not None
    ]
    cells = itemgetter(*names)
    values = []
    for row in rows:
        value = list(cells(row)) if len(names) > 1 else [cells(row)]
        for at, process in converted:
            if value[at] is not None:
                value[at] = process(value[at])
        values.append(tuple(value))
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    connection.exec_driver_sql(sql, values)


def set_insert(
    connection: Connection, table: Table, rows: list[dict[str, Any]], times: dict[datetime, Any] | None = None
) -> None:
    """The batch's rows of a table nothing else writes to them: one statement either way."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        recordset_insert(connection, table, rows, times=times)
    else:
        driver_insert(connection, table, rows, times=times)


def _ids_written(
    connection: Connection, keys: Sequence[tuple[str, str]], now: datetime
) -> dict[tuple[str, str], int]:
    """SQLite (its executemany cannot return rows): the ids of the rows this batch inserted, those
    written at `now` (a row a survey tool sent meanwhile was written at another time, and ON
    CONFLICT left it alone)."""
    by_survey: dict[str, list[str]] = defaultdict(list)
    for survey, external_id in keys:
        by_survey[survey].append(external_id)
    ids: dict[tuple[str, str], int] = {}
    for survey, external_ids in by_survey.items():
        rows = connection.execute(
            select(FEEDBACK.c.id, FEEDBACK.c.external_id, FEEDBACK.c.updated_at).where(
                FEEDBACK.c.survey == survey, FEEDBACK.c.external_id.in_(external_ids)
            )
        )
        ids.update({(survey, row.external_id): row.id for row in rows if row.updated_at == now})
    return ids


class BulkImport:
    def __init__(self, database: Database) -> None:
        self.database = database

    def write(self, items: Sequence[ImportItem], channels: Mapping[str, str], now: datetime) -> BatchResult:
        """Store the batch's history in one transaction. `items` hold each response once;
        `channels` names each department's channel (a history case's message placeholder)."""
        result = BatchResult()
        with self.database.connection() as connection:
            stored = stored_responses(connection, [item.key for item in items])
            new: list[ImportItem] = []
            changed: list[tuple[ImportItem, Stored, dict[str, Any], dict[str, Any]]] = []
            for item in items:
                before = stored.get(item.key)
                if before is None:
                    (result.for_intake if item.live else new).append(item)
                    continue
                merged = _changed(before, item.data)
                if merged is None:
                    result.unchanged += 1
                elif (before.case_id is not None and not before.history_case) or (
                    before.case_id is None and item.live and item.triage.open_case
                ):
                    result.for_intake.append(item)  # Slack shows it, or is to: the intake's path
                else:
                    changed.append((item, before, *merged))
            if new:
                raced = self._insert_new(connection, new, channels, now, result)
                result.for_intake.extend(raced)
            if changed:
                self._update_changed(connection, changed, channels, now, result)
        return result

    def _insert_new(
        self,
        connection: Connection,
        items: list[ImportItem],
        channels: Mapping[str, str],
        now: datetime,
        result: BatchResult,
    ) -> list[ImportItem]:
        times: dict[datetime, Any] = {}  # each distinct time converted once for the batch's rows
        rows = [
            {
                **_values(item.data),
                "external_id": item.data.external_id,
                "survey": item.data.survey,
                "category": item.triage.category,
                "department": item.triage.department,
                # History is placed when it happened, so figures by period count it there.
                "received_at": item.data.submitted_at or now,
                "updated_at": now,
                "revision": 1,
                "raw": item.data.raw,
            }
            for item in items
        ]
        key = ("survey", "external_id")
        if connection.dialect.name == "postgresql":
            inserted = recordset_insert(
                connection, FEEDBACK, rows, conflict=key, returning=("id", *key), times=times
            )
            ids = {(row.survey, row.external_id): row.id for row in inserted}
        else:
            driver_insert(connection, FEEDBACK, rows, conflict=key, times=times)
            ids = _ids_written(connection, [item.key for item in items], now)
        result.created += len(ids)
        inherit_word(connection, list(ids.values()))  # an import carries no contact_ok: the customer's holds
        # Sent to /feedback by a survey tool while this batch ran: merged by the intake instead.
        raced = [item for item in items if item.key not in ids]
        cases = [
            _history_case(ids[item.key], item, row["received_at"], channels, now)
            for item, row in zip(items, rows, strict=True)
            if item.key in ids and item.triage.open_case
        ]
        if cases:
            set_insert(connection, CASES, cases, times)
            result.history_cases += len(cases)
        # Their survey tags as theme rows, as the intake writes them, in one set-based INSERT.
        set_insert(
            connection,
            THEMES,
            [
                theme
                for item, row in zip(items, rows, strict=True)
                if item.key in ids and item.data.tags
                for theme in theme_rows({**row, "id": ids[item.key]}, theme_keys(item.data.tags))
            ],
            times,
        )
        return raced

    def _update_changed(
        self,
        connection: Connection,
        changed: list[tuple[ImportItem, Stored, dict[str, Any], dict[str, Any]]],
        channels: Mapping[str, str],
        now: datetime,
        result: BatchResult,
    ) -> None:
        """Responses stored before, with no live case: their fields change quietly, as history."""
        connection.execute(
            _UPDATE_FEEDBACK,
            [
                {f"b_{name}": value for name, value in values.items()}
                | {
                    "b_id": before.id,
                    "b_category": item.triage.category,
                    "b_department": item.triage.department,
                    "b_revision": before.revision + 1,
                    "b_updated_at": now,
                    "b_raw": raw,
                }
                for item, before, values, raw in changed
            ],
        )
        result.updated += len(changed)
        for item, before, values, _raw in changed:  # the theme rows follow, as after a re-send
            tags = theme_keys(values["tags"]) if values["tags"] != list(before.values["tags"] or ()) else None
            themed = {
                "id": before.id,
                "department": item.triage.department,
                "category": item.triage.category,
                "received_at": before.received_at,
            }
            resync(connection, themed, tags)
        history = [
            {
                "b_id": before.case_id,
                "b_category": item.triage.category,
                "b_department": item.triage.department,
                "b_priority": item.triage.priority,
                "b_updated_at": now,
            }
            for item, before, _values_, _raw in changed
            if before.case_id is not None
        ]
        if history:
            connection.execute(_UPDATE_HISTORY_CASE, history)
        opened = [
            _history_case(before.id, item, values["submitted_at"] or now, channels, now)
            for item, before, values, _raw in changed
            if before.case_id is None and item.triage.open_case
        ]
        if opened:
            set_insert(connection, CASES, opened)
            result.history_cases += len(opened)


def _history_case(
    feedback_id: int, item: ImportItem, at: datetime, channels: Mapping[str, str], now: datetime
) -> dict[str, Any]:
    """A closed case that never had a follow-up here: no owner, outcome or deadlines, closed
    when it was answered (so it lands in its own period's figures, with no time to close)."""
    triage = item.triage
    return {
        "feedback_id": feedback_id,
        "department": triage.department,
        "category": triage.category,
        "priority": triage.priority,
        "status": CaseStatus.CLOSED.value,
        "owner_id": None,
        "created_at": at,
        "updated_at": now,
        "closed_at": at,
        "close_note": HISTORY_NOTE,
        "opening_score": item.data.score,
        "version": 1,
        "message_version": 1,
        "slack_channel": channels.get(triage.department),
        "slack_ts": NO_MESSAGE_TS,
        "post_attempts": 0,
        "sync_failures": 0,
    }
