"""A bot process reduced to its deadline sweep: a real APScheduler BackgroundScheduler running
DeadlineSweeper.sweep on an interval against a shared database. Started by the multi-process test."""

from __future__ import annotations

import threading
from datetime import datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.app.deadline_sweep import DeadlineSweeper
from bot.policy_file import load_policy
from storage.db import Database
from storage.deadline_store import DeadlineStore
from storage.snapshots import snapshot

IDLE_RUNS_BEFORE_EXIT = 5
# Small batches, so the two processes' batches interleave and meet on the same cases many times
# (with the default, one process would take all 60 cases in its first batch).
BATCH_ROWS = 7


def run_sweeper(url: str, policy_path: str, now_iso: str, start: Barrier, results: Any, name: str) -> None:
    now = datetime.fromisoformat(now_iso)
    database = Database(url)
    store = DeadlineStore(database, snapshot)
    policy = load_policy(Path(policy_path))
    sweeper = DeadlineSweeper(store, policy, lambda: now, lambda case_id: None, batch_rows=BATCH_ROWS)
    fired = 0
    runs = 0
    idle = 0
    finished = threading.Event()

    def job() -> None:
        nonlocal fired, runs, idle
        count = sweeper.sweep()
        fired += count
        runs += 1
        idle = 0 if store.due_case_ids(now) else idle + 1
        if idle >= IDLE_RUNS_BEFORE_EXIT:
            finished.set()

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(job, "interval", seconds=0.02, max_instances=1, coalesce=True)
    start.wait()  # both processes begin sweeping together
    scheduler.start()
    finished.wait(timeout=120)
    scheduler.shutdown(wait=True)
    database.dispose()
    results[name] = {"fired": fired, "runs": runs, "finished": finished.is_set()}
