"""The order the bench runs in, its sizes, and what it prints.

Every phase starts from an empty database except the click phases, which grow one history
(100k, then 1M cases). The exit code is 0 whatever the figures, 1 when something broke (a lost or
doubled post, an error the bot logged, a refused request), 2 when the database is not empty.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.devkit.bench import inprocess, live
from bot.devkit.bench.database import BenchDatabase, DatabaseNotEmpty
from bot.devkit.bench.export_run import export_figures
from bot.devkit.bench.import_run import import_figures
from bot.devkit.bench.policy import bench_policy, write_policy
from bot.devkit.bench.prefill import prefill
from bot.devkit.bench.report import Figure, Report
from bot.devkit.bench.stats_query import stats_query

OPEN_SHARE = 0.05  # of a big history, the cases still open; the rest are closed


@dataclass(frozen=True)
class Sizes:
    intake_seconds: float
    burst: int
    sustained_seconds: float
    sustained_rate: float
    sweeps: tuple[tuple[int, int], ...]  # (open cases, due cases)
    histories: tuple[int, ...]  # cases in the database for the click phases, growing
    import_rows: int = 100_000  # rows of the CSV `closeloop import` loads (bench/import_run.py)

    @classmethod
    def full(cls) -> Sizes:
        return cls(15, 1000, 45, 10, ((10_000, 1000), (100_000, 100), (100_000, 1000)), (100_000, 1_000_000))

    @classmethod
    def quick(cls) -> Sizes:
        return cls(4, 200, 12, 10, ((10_000, 1000), (10_000, 100)), (10_000,), import_rows=20_000)


def _label(cases: int) -> str:
    return f"{cases // 1_000_000}M" if cases >= 1_000_000 and cases % 1_000_000 == 0 else f"{cases // 1000}k"


def _say(text: str) -> None:
    print(text, flush=True)


def _phases(bench: live.Bench, sizes: Sizes) -> None:
    store, report = bench.store, bench.report
    policy = bench_policy(bench.workdir)
    _say(f"intake: 16 clients for {sizes.intake_seconds:g} s")
    live.intake(bench, sizes.intake_seconds)
    store.empty()
    _say(f"burst: {sizes.burst:,} detractors over 5 channels")
    live.burst(bench, sizes.burst)
    store.empty()
    _say(f"posting while intake continues: {sizes.sustained_rate:g}/s for {sizes.sustained_seconds:g} s")
    live.sustained(bench, sizes.sustained_seconds, sizes.sustained_rate)
    for open_cases, due in sizes.sweeps:
        store.empty()
        _say(f"sweep: {open_cases:,} open, {due:,} due")
        inprocess.sweep(store.db, policy, report, open_cases=open_cases, due=due)
    store.empty()
    _say(f"closeloop import: {sizes.import_rows:,} rows of history from a CSV file")
    import_figures(store.url, bench.workdir, bench.policy_path, report, sizes.import_rows)
    store.empty()
    stored = 0
    for cases in sizes.histories:
        _say(f"pre-filling to {cases:,} cases")
        filled = prefill(
            store.db,
            cases=cases - stored,
            open_cases=int((cases - stored) * OPEN_SHARE),
            due=0,
            now=datetime.now(UTC),
        )
        stored = cases
        report.notes.append(f"pre-filled {filled.total:,} cases in {filled.seconds:.1f} s")
        _say(
            f"clicks, /loop overdue, leaderboard, causes at {cases:,} cases ({filled.seconds:.1f} s to fill)"
        )
        inprocess.overdue_query(store.db, policy, report, _label(cases))
        inprocess.leaderboard_query(store.db, report, _label(cases))
        inprocess.causes_query(store.db, policy, report, _label(cases))
        inprocess.themes_query(store.db, policy, report, _label(cases))
        inprocess.shipped_audience(store.db, policy, report, _label(cases))
        export_figures(store.url, bench.workdir, report, _label(cases))
        live.clicks(bench, _label(cases))
        _say(f"/loop stats, a month and a year, at {cases:,} cases")
        stats_query(store.db, policy, report, _label(cases))  # last: it vacuums the tables first
        stored += 20
    report.add(Figure("peak RSS of the bot (VmHWM)", bench.peak_rss_kib / 1024, "MiB"))


def run_bench(*, quick: bool, database_url: str | None, json_path: str | None) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="closeloop-bench-") as folder:
        workdir = Path(folder)
        if database_url is None:
            database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
            _say(
                "note: a temporary SQLite file; the goals are for PostgreSQL "
                "(e.g. --database postgresql://postgres@127.0.0.1:5432/closeloop_bench)"
            )
        store = BenchDatabase(database_url)
        try:
            store.prepare()
        except DatabaseNotEmpty as error:
            print(f"closeloop bench: {error}", file=sys.stderr)
            return 2
        report = Report()
        report.context = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": make_url(database_url).render_as_string(hide_password=True),
            "quick": quick,
            "machine": f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}",
        }
        bench = live.Bench(store, write_policy(workdir), workdir, report)
        try:
            _phases(bench, Sizes.quick() if quick else Sizes.full())
        except Exception as error:  # a broken phase is reported with the figures gathered so far
            traceback.print_exc()
            report.problems.append(f"the bench broke: {type(error).__name__}: {error}")
        finally:
            store.finish()
        report.context["seconds"] = round(time.monotonic() - started, 1)
    _say("")
    context = report.context
    _say(f"closeloop bench ({'quick' if quick else 'full'}), {context['database']}, {context['machine']}")
    _say(report.table())
    for note in report.notes:
        _say(f"note: {note}")
    for problem in report.problems:
        _say(f"PROBLEM: {problem}")
    _say(f"done in {report.context['seconds']:.0f} s")
    if json_path:
        report.write_json(Path(json_path))
    return 1 if report.problems else 0


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
