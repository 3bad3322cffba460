"""`closeloop import FILE.csv`: reads the file as a stream, reports each refused row on stderr and
ends with one summary line; a progress bar on a terminal.

Kept out of bot/cli.py like `bot/export_command.py`. Exit status: 0 when every row was taken,
1 when a row was refused (the others are imported), 2 when nothing could be done (the file, its
columns, an option, the policy or the database), with one line naming the fix.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TextIO

from bot.app.import_columns import ColumnsError, parse_maps, resolve
from bot.app.importer import ImportCounts, Importer, Refusal, routing_report, summary
from bot.settings import Settings, SettingsError

UTF8_BOM = codecs.BOM_UTF8
CHECKED_BYTES = 64 * 1024  # how much of the file is checked to be UTF-8 before anything is written
MAX_LISTED = 100  # refused rows listed one per line; the rest are counted
GC_EVERY = 50_000  # new objects between two runs of the garbage collector while importing
FIELD_LIMIT = 1024 * 1024  # a cell this long is refused by validation, not by the csv module
NOT_UTF8 = (
    "save it as UTF-8 — in Excel 'CSV UTF-8 (Comma delimited)', in LibreOffice choose the "
    "character set Unicode (UTF-8), or convert it with iconv -f WINDOWS-1252 -t UTF-8"
)


class _Lines:
    """The file's physical lines as text (a UTF-8 BOM dropped), counting bytes for the progress
    bar. A line that is not UTF-8 is remembered: the row it belongs to is refused."""

    def __init__(self, binary: IO[bytes]) -> None:
        self.binary = binary
        self.number = 0
        self.bytes = 0
        self.not_utf8: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        for raw in self.binary:
            self.number += 1
            self.bytes += len(raw)
            if self.number == 1:
                raw = raw.removeprefix(UTF8_BOM)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self.not_utf8.add(self.number)
                yield raw.decode("utf-8", "replace")


def _check_utf8(path: Path, binary: IO[bytes]) -> None:
    head = binary.read(CHECKED_BYTES)
    binary.seek(0)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SettingsError(f"{path} is UTF-16, not UTF-8: {NOT_UTF8}")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as error:
        line = head[: error.start].count(b"\n") + 1
        raise SettingsError(
            f"{path} is not UTF-8 (line {line} has the byte 0x{head[error.start]:02x}): {NOT_UTF8}"
        ) from None


def _rows(lines: _Lines, reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str] | Refusal]]:
    """(line where the row starts, its cells or why it cannot be read), blank lines left out."""
    while True:
        start = lines.number + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start, Refusal(start, f"not valid CSV: {error}")
            continue
        if not cells or not any(cell.strip() for cell in cells):
            continue
        if lines.not_utf8 and any(n in lines.not_utf8 for n in range(start, lines.number + 1)):
            yield start, Refusal(start, f"not UTF-8 text: {NOT_UTF8}")
            continue
        yield start, cells


class _Report:
    """Refused rows on stderr, one line each up to MAX_LISTED; above a progress bar when there
    is one, so the two do not garble each other."""

    def __init__(self, err: TextIO, bar: Any) -> None:
        self.err = err
        self.bar = bar
        self.listed = 0

    def refused(self, refusal: Refusal) -> None:
        if self.listed >= MAX_LISTED:
            return
        self.listed += 1
        self.say(f"line {refusal.line}: refused — {refusal.reason}")

    def say(self, text: str) -> None:
        if self.bar is not None:
            from tqdm import tqdm

            tqdm.write(text, file=self.err)
        else:
            print(text, file=self.err)


def _open(path: Path) -> IO[bytes]:
    try:
        if path.is_dir():
            raise SettingsError(f"{path} is a folder — give the CSV file's path")
        return path.open("rb")
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such file — check the path") from None
    except OSError as error:
        raise SettingsError(f"{path} cannot be read: {error.strerror} — check its permissions") from None


def run_import(
    settings: Settings,
    *,
    path: str,
    maps: Sequence[str],
    survey: str | None,
    dry_run: bool,
    now: datetime,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if not settings.policy_path:
        raise SettingsError(
            "closeloop import routes each response by the policy: set CLOSELOOP_POLICY in "
            f"{settings.source} to the policy file"
        )
    from bot.policy_file import load_policy

    policy = load_policy(settings.policy_path)
    file = Path(path)
    try:
        chosen = parse_maps(maps)
    except ColumnsError as error:
        raise SettingsError(str(error)) from None
    csv.field_size_limit(FIELD_LIMIT)
    with _open(file) as binary:
        _check_utf8(file, binary)
        lines = _Lines(binary)
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            raise SettingsError(f"{file} is empty — its first line must name the columns") from None
        except csv.Error as error:
            raise SettingsError(f"{file}: its first line is not valid CSV ({error})") from None
        try:
            columns = resolve(header, chosen, survey, str(file))
        except ColumnsError as error:
            raise SettingsError(str(error)) from None
        size = file.stat().st_size
        bar = _progress_bar(size, err)
        report = _Report(err, bar)
        done = [0]

        def progress(_rows: int) -> None:
            if bar is not None:
                bar.update(lines.bytes - done[0])
                done[0] = lines.bytes

        importer = Importer(policy, columns, now, refused=report.refused, progress=progress)
        started = time.monotonic()
        try:
            with _fewer_collections():
                if dry_run:
                    counts = importer.dry_run(_rows(lines, reader))
                else:
                    counts = _write(settings, importer, _rows(lines, reader))
            progress(0)
        finally:
            if bar is not None:
                bar.close()
        seconds = time.monotonic() - started
    if counts.refused > report.listed:
        report.say(f"… and {counts.refused - report.listed:,} more refused rows (not listed)")
    if dry_run:
        for line in routing_report(counts, policy):
            print(line, file=out)
    print(summary(counts, seconds, dry_run=dry_run), file=out)
    return 1 if counts.refused else 0


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """The cyclic garbage collector run every 50,000 new objects instead of 700 while importing:
    a row makes a dozen containers and a batch of 2,000 lives until it is written, so by default
    the collector ran ~35 times a batch, each older generation's run walking the batch again;
    rows make no cycles worth collecting sooner. 40k rows, 2026-12-02, alternated: CPU a row
    92-110 us on PostgreSQL against 127-136, SQLite 115-140 against 127-158. Put back after."""
    before = gc.get_threshold()
    gc.set_threshold(GC_EVERY, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _progress_bar(size: int, err: TextIO) -> Any:
    """tqdm over the file's bytes (known before reading, unlike its rows), on a terminal only."""
    isatty = getattr(err, "isatty", None)
    if not (isatty and isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=size, unit="B", unit_scale=True, file=err, desc="importing", leave=False)


def _write(
    settings: Settings, importer: Importer, rows: Iterator[tuple[int, list[str] | Refusal]]
) -> ImportCounts:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.domain.deadlines import SlaPlanner
    from storage.bulk_import import BulkImport
    from storage.db import Database, unreachable
    from storage.repository import Repository

    database = Database(settings.database_url, pool_size=1, max_overflow=1)
    try:
        repository = Repository(database, SlaPlanner(importer.policy))
        return importer.run(rows, repository, BulkImport(database))
    except SQLAlchemyError as error:
        reason = unreachable(error)
        if reason is None:
            raise
        raise SettingsError(
            f"DATABASE_URL in {settings.source} cannot be written: {reason} — the batches before were "
            "stored; run the same import again once the database is back (it is idempotent)"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            database.dispose()
