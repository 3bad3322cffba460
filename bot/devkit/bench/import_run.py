"""`closeloop import` of a generated history file: rows per second into the bench's database and
into a SQLite file of its own, the real command run in process (its start-up is not the point).

`write_responses_csv` also makes the tests' files (tests/test_import*.py): a year of responses, the
newest few inside `import.open_cases_newer_than`, and, when asked, one bad row in `bad_every`.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta
from pathlib import Path

from bot.devkit.bench.load import DEPARTMENTS
from bot.devkit.bench.report import Figure, Report
from bot.settings import Settings

HEADER = (
    "id",
    "survey",
    "score",
    "comment",
    "customer_id",
    "customer_name",
    "customer_email",
    "customer_segment",
    "tags",
    "submitted_at",
)
GOAL = 10_000  # rows per second (issue 12)
# What a bad row is made of, in turn: (the cell to spoil, its value, the reason the import gives).
BAD_CELLS = (("score", "11"), ("score", "ten"), ("survey", "xyz"), ("id", ""), ("customer_email", "not-mail"))


def bad_line_numbers(rows: int, bad_every: int) -> list[int]:
    """The file lines (the header is line 1) `write_responses_csv` spoils."""
    return [n + 2 for n in range(rows) if bad_every and n % bad_every == bad_every - 1]


def write_responses_csv(
    path: Path, rows: int, now: datetime, *, recent: int = 0, bad_every: int = 0, prefix: str = "hist"
) -> None:
    """`rows` responses, one a minute back from 20 days ago (history), except the last `recent`,
    answered in the last day (live cases). A tenth are promoters; tags route to five departments."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(rows):
            if n >= rows - recent:
                answered = now - timedelta(minutes=(rows - n) % 1440 + 1)
            else:
                answered = now - timedelta(days=20, minutes=rows - n)
            cells = {
                "id": f"{prefix}-{n}",
                "survey": "nps",
                "score": str(9 + n % 2 if n % 10 == 0 else n % 7),
                "comment": f"Response {n}: the export keeps failing, again.",
                "customer_id": f"cus-{n % 5000}",
                "customer_name": f"Customer {n % 5000}",
                "customer_email": f"c{n % 5000}@example.com",
                "customer_segment": "smb",
                "tags": DEPARTMENTS[n % len(DEPARTMENTS)],
                "submitted_at": answered.isoformat(),
            }
            if bad_every and n % bad_every == bad_every - 1:
                column, value = BAD_CELLS[(n // bad_every) % len(BAD_CELLS)]
                cells[column] = value
            writer.writerow([cells[name] for name in HEADER])


def measure_import(
    database_url: str, policy_path: Path, csv_path: Path, now: datetime
) -> tuple[float, float, str]:
    """(seconds, CPU seconds of this process, the summary line) of one `closeloop import`: the
    CPU time tells the import's own cost apart from waiting for a busy machine or the database."""
    from bot.import_command import run_import

    settings = Settings(
        slack_bot_token=None,
        slack_signing_secret=None,
        slack_app_token=None,
        slack_api_url="",
        database_url=database_url,
        policy_path=str(policy_path),
        intake_token=None,
        port=0,
        source="the bench",
    )
    out, err = io.StringIO(), io.StringIO()
    started, cpu = time.monotonic(), time.process_time()
    code = run_import(
        settings, path=str(csv_path), maps=(), survey=None, dry_run=False, now=now, out=out, err=err
    )
    seconds, cpu = time.monotonic() - started, time.process_time() - cpu
    if code != 0:
        raise RuntimeError(f"closeloop import exited {code}: {err.getvalue()[-500:]}")
    return seconds, cpu, out.getvalue().strip()


def import_figures(database_url: str, workdir: Path, policy_path: Path, report: Report, rows: int) -> None:
    """The rate into the bench's database and, when that is PostgreSQL, into a new SQLite file."""
    from storage.migrate import upgrade

    now = datetime.now().astimezone()
    csv_path = workdir / "import.csv"
    write_responses_csv(csv_path, rows, now, recent=20)
    targets = [(database_url, database_url.split(":", 1)[0].split("+", 1)[0])]
    if not database_url.startswith("sqlite"):
        sqlite_url = f"sqlite:///{workdir / 'import.sqlite3'}"
        upgrade(sqlite_url)
        targets.append((sqlite_url, "sqlite"))
    label = f"{rows // 1000}k"
    for url, backend in targets:
        seconds, cpu, line = measure_import(url, policy_path, csv_path, now)
        rate = rows / seconds
        report.add(
            Figure(
                f"closeloop import, {label} rows, {backend}",
                rate,
                "rows/s",
                goal=f"≥ {GOAL:,} rows/s",
                met=rate >= GOAL,
                note="20 live cases, the rest history",
            )
        )
        report.notes.append(
            f"import into {backend}: {cpu / rows * 1e6:.0f} µs of CPU a row in the importing process; {line}"
        )
    csv_path.unlink()
