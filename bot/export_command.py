"""`closeloop export`: checks its arguments, then streams every response with its case to stdout.

Kept out of bot/cli.py like `bot/check.py`: the command parses dates, knows the departments from
the policy, and ends quietly when the reader stops reading (`| head`).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import TextIO

from bot.settings import Settings, SettingsError


def parse_day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else _not_a_date(option, value)
    except ValueError:
        return _not_a_date(option, value)


def _not_a_date(option: str, value: str) -> date:
    raise SettingsError(f"{option} {value}: not a date — use YYYY-MM-DD")


def _start_of(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), tzinfo=UTC)


def check_department(settings: Settings, department: str | None) -> None:
    """An unknown department would export nothing in silence: refuse it, naming the known ones."""
    if department is None:
        return
    if not settings.policy_path:
        raise SettingsError(
            "--department needs the policy to know the departments: "
            f"set CLOSELOOP_POLICY in {settings.source}"
        )
    from bot.policy_file import load_policy

    known = [d.name for d in load_policy(settings.policy_path).departments]
    if department not in known:
        raise SettingsError(f"--department {department}: no such department — known: {', '.join(known)}")


def _utf8(stream: TextIO) -> TextIO:
    """stdout as UTF-8 whatever the locale, with no newline translation (csv writes CRLF itself)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        return stream
    return io.TextIOWrapper(buffer, encoding="utf-8", newline="", write_through=False)


def run_export(
    settings: Settings,
    *,
    since: str | None,
    until: str | None,
    department: str | None,
    fmt: str,
    bom: bool,
    now: datetime,
) -> int:
    """0 when everything (or everything the reader wanted) was written; argument and database
    problems are raised as SettingsError, which `closeloop` prints as one line and exits 2 with."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.app.export import COLUMNS, records
    from bot.export_format import write_csv, write_jsonl
    from storage.db import unreachable
    from storage.export import export_rows

    first, last = parse_day("--since", since), parse_day("--until", until)
    if first is not None and last is not None and last < first:
        raise SettingsError(f"--until {until} is before --since {since} — swap them")
    check_department(settings, department)
    end = None if last is None else last + timedelta(days=1)  # --until's day is included
    stored = export_rows(
        settings.database_url, since=_start_of(first), until=_start_of(end), department=department
    )
    rows = records(stored, now)
    out = _utf8(sys.stdout)
    try:
        if fmt == "csv":
            write_csv(out, COLUMNS, rows, bom=bom)
        else:
            write_jsonl(out, COLUMNS, rows)
        out.flush()
    except BrokenPipeError:
        # The reader left (`| head`): point stdout at /dev/null so the interpreter's final flush
        # does not complain, and stop without a word.
        devnull = os.open(os.devnull, os.O_WRONLY)
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    except SQLAlchemyError as error:
        reason = unreachable(error)
        if reason is None:
            raise
        raise SettingsError(
            f"DATABASE_URL in {settings.source} cannot be read: {reason} — check the host, database name "
            "and credentials, or the SQLite file's folder"
        ) from None
    finally:
        if out is not sys.stdout:
            with contextlib.suppress(ValueError, BrokenPipeError):
                out.detach()  # leave sys.stdout's buffer open for the interpreter
    return 0
