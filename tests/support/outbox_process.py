"""A bot process reduced to its outbox worker: sweeps the outbox of a shared database into a
(simulated) Slack until nothing is owed. Started twice at once by the outbox replica test."""

from __future__ import annotations

from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

from bot.clock import utc_now
from bot.outbox.pacing import ChannelPacer
from bot.outbox.sender import SlackSender
from bot.outbox.worker import OutboxWorker
from bot.policy_file import load_policy
from storage.db import Database
from storage.outbox_store import OutboxStore
from storage.repository import Repository


def run_outbox_worker(
    url: str, policy_path: str, api_url: str, start: Barrier, results: Any, name: str
) -> None:
    database = Database(url)
    store = OutboxStore(database)
    worker = OutboxWorker(
        repository=Repository(database),
        store=store,
        policy=load_policy(Path(policy_path)),
        sender=SlackSender(
            WebClient(token="xoxb-replicas", base_url=api_url, timeout=15),
            ChannelPacer(per_second=1000, burst=1000),  # the simulator's limit is off here
        ),
        clock=utc_now,
    )
    start.wait()
    delivered = sweeps = 0
    while sweeps < 500:
        sweeps += 1
        delivered += worker.sweep()
        if not store.cases_owed(utc_now()):
            break
    database.dispose()
    results[name] = {"delivered": delivered, "sweeps": sweeps}
