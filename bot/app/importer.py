"""`closeloop import`: validate each CSV row as the intake would, route it by the policy, and store
it in batches, as history or as a live case.

Rows are checked one by one in Python (the intake's `parse_feedback` and `triage`: the policy's
pure routing and scoring); writing is a batch at a time (storage.bulk_import), so memory stays
flat and the database sees a few statements per thousand rows. The few rows recent enough to be
live cases (`import.open_cases_newer_than`) go through the intake's own path instead, one by one,
so they are opened, planned and posted exactly as a response sent to `POST /feedback` is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.app.import_columns import Columns
from bot.app.intake import IntakeRejected, parse_feedback, triage
from bot.domain.durations import format_duration
from bot.domain.policy import Policy
from bot.domain.records import FeedbackData, Triage
from bot.domain.scoring import score_label
from storage.bulk_import import BulkImport, ImportItem
from storage.repository import Repository

BATCH = 2000  # rows per transaction: big enough for set-based statements, small for memory
EXAMPLES = 5  # examples shown per department and category by --dry-run


@dataclass(frozen=True)
class Refusal:
    line: int
    reason: str


@dataclass
class Route:
    """What --dry-run shows for one department and category."""

    rows: int = 0
    live: int = 0
    cases: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class ImportCounts:
    read: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    live_cases: int = 0
    history: int = 0
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)

    @property
    def changed_nothing(self) -> bool:
        return self.imported == 0 and self.updated == 0


def _reason(rejected: IntakeRejected) -> str:
    return "; ".join(f"{name}: {problem}" for name, problem in rejected.fields.items())


def printable(text: str, limit: int = 60) -> str:
    """Customer text as a terminal may show it: no control characters (escape sequences), cut."""
    clean = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in text[: limit + 1])
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


class Importer:
    """`refused` hears each refused row as it is found (the command lists them); `progress`
    hears how many rows have been handled after each batch."""

    def __init__(
        self,
        policy: Policy,
        columns: Columns,
        now: datetime,
        *,
        refused: Callable[[Refusal], None],
        progress: Callable[[int], None] = lambda _rows: None,
        batch: int = BATCH,
    ) -> None:
        self.policy = policy
        self.columns = columns
        self.now = now
        self.refused = refused
        self.progress = progress
        self.batch = batch
        self.counts = ImportCounts()

    def check(self, line: int, cells: list[str]) -> ImportItem | None:
        """The row as the intake would take it, or None (refused, and said so)."""
        try:
            data = parse_feedback(self.columns.payload(cells))
        except IntakeRejected as rejected:
            self.refuse(Refusal(line, _reason(rejected)))
            return None
        decided = triage(self.policy, data)
        live = self.policy.import_.opens_live_case(data.submitted_at, self.now)
        return ImportItem(line, data, decided, live)

    def refuse(self, refusal: Refusal) -> None:
        self.counts.refused += 1
        self.refused(refusal)

    def dry_run(self, rows: Iterable[tuple[int, list[str] | Refusal]]) -> ImportCounts:
        """The routing the import would apply, per department and category; nothing is written."""
        for item in self._items(rows):
            route = self.counts.routes.setdefault((item.triage.department, item.triage.category), Route())
            route.rows += 1
            route.live += item.live
            route.cases += item.triage.open_case
            if len(route.examples) < EXAMPLES:
                data = item.data
                score = score_label(data.survey, data.score)
                route.examples.append(f"line {item.line}: {printable(data.external_id, 40)} ({score})")
        return self.counts

    def run(
        self, rows: Iterable[tuple[int, list[str] | Refusal]], repository: Repository, bulk: BulkImport
    ) -> ImportCounts:
        channels = {department.name: department.channel for department in self.policy.departments}
        batch: dict[tuple[str, str], ImportItem] = {}
        for item in self._items(rows):
            if item.key in batch or len(batch) >= self.batch:
                # A response twice in one batch: the second is an update of the first, as a re-send is.
                self._write(list(batch.values()), repository, bulk, channels)
                batch = {}
            batch[item.key] = item
        if batch:
            self._write(list(batch.values()), repository, bulk, channels)
        return self.counts

    def _items(self, rows: Iterable[tuple[int, list[str] | Refusal]]) -> Iterable[ImportItem]:
        for line, cells in rows:
            self.counts.read += 1
            if isinstance(cells, Refusal):
                self.refuse(cells)
                continue
            item = self.check(line, cells)
            if item is not None:
                yield item

    def _write(
        self,
        items: list[ImportItem],
        repository: Repository,
        bulk: BulkImport,
        channels: Mapping[str, str],
    ) -> None:
        counts = self.counts
        result = bulk.write(items, channels, self.now)
        counts.imported += result.created
        counts.history += result.created
        counts.updated += result.updated
        counts.unchanged += result.unchanged

        def decide(merged: FeedbackData) -> Triage:
            return triage(self.policy, merged)

        for item in result.for_intake:
            outcome = repository.record_feedback(item.data, decide, self.now)
            if outcome.created:
                counts.imported += 1
                counts.live_cases += outcome.case_id is not None
                counts.history += outcome.case_id is None and not item.live
            elif outcome.changed:
                counts.updated += 1
            else:
                counts.unchanged += 1
        self.progress(counts.read)


def summary(counts: ImportCounts, seconds: float, *, dry_run: bool = False) -> str:
    """The one line a pipe gets (and a terminal after its progress bar)."""
    rate = f"{counts.read / seconds:,.0f} rows/s" if seconds > 0 else "—"
    if dry_run:
        would = sum(route.rows for route in counts.routes.values())
        return (
            f"closeloop import --dry-run: {counts.read:,} rows read, {would:,} valid, {counts.refused:,} "
            f"refused; nothing written ({seconds:.1f} s)"
        )
    line = (
        f"closeloop import: {counts.read:,} rows read, {counts.imported:,} imported, {counts.updated:,} "
        f"updated, {counts.unchanged:,} unchanged, {counts.refused:,} refused; "
        f"{counts.live_cases:,} opened as live cases, {counts.history:,} stored as history "
        f"({seconds:.1f} s, {rate})"
    )
    return line + (" — nothing changed" if counts.changed_nothing else "")


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def routing_report(counts: ImportCounts, policy: Policy) -> list[str]:
    """--dry-run's table: per department and category, the rows, what they become, examples."""
    window = format_duration(policy.import_.open_cases_newer_than)
    lines = [f"Routing (live cases: answered within {window} of now, import.open_cases_newer_than):"]
    order = sorted(counts.routes.items(), key=lambda pair: (-pair[1].rows, pair[0]))
    for (department, category), route in order:
        if route.cases:
            fate = f"{_n(route.live, 'live case')}, {route.rows - route.live:,} closed history"
        else:
            fate = "no case (cases.open_for)"
        lines.append(f"  {department} · {category}: {_n(route.rows, 'row')} — {fate}")
        lines.extend(f"      {example}" for example in route.examples)
    if not order:
        lines.append("  (no valid rows)")
    return lines
