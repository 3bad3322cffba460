"""A bot process reduced to its weekly digest job: a real APScheduler BackgroundScheduler asking
DigestService.run_due on an interval against a shared database and a shared simulated Slack.
Started by the multi-process test, twice at once."""

from __future__ import annotations

import threading
from datetime import datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.policy_file import load_policy
from bot.settings import Settings
from bot.wiring import digest_service
from storage.db import Database

RUNS = 25


def run_digests(
    url: str, policy_path: str, api_url: str, now_iso: str, start: Barrier, results: Any, name: str
) -> None:
    now = datetime.fromisoformat(now_iso)
    settings = Settings(
        slack_bot_token="xoxb-digest",
        slack_signing_secret=None,
        slack_app_token=None,
        slack_api_url=api_url,
        database_url=url,
        policy_path=policy_path,
        intake_token=None,
        port=0,
        source="the digest process test",
    )
    database = Database(url)
    service = digest_service(settings, load_policy(Path(policy_path)), database, lambda: now, slack=True)
    statuses: list[str] = []
    done = threading.Event()

    def job() -> None:
        statuses.extend(f"{o.target.key}:{o.period}:{o.status}" for o in service.run_due())
        if len(statuses) >= RUNS:
            done.set()

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(job, "interval", seconds=0.01, max_instances=1, coalesce=True)
    start.wait()  # both processes begin asking together
    scheduler.start()
    done.wait(timeout=120)
    scheduler.shutdown(wait=True)
    database.dispose()
    results[name] = {"statuses": statuses, "finished": done.is_set()}
