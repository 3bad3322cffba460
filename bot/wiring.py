"""The one module that builds and connects everything: settings and policy in, a runnable
`Runtime` out. Nothing here runs at import time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, ServerErrorRetryHandler
from sqlalchemy import text

from bot.cases import CaseActions
from bot.clock import Clock, utc_now
from bot.executor import TrackingExecutor
from bot.intake import IntakeService
from bot.policy import Policy
from bot.services import Services
from bot.settings import Settings
from bot.slack.publisher import Publisher, PublishQueue
from bot.web import Router
from handlers import case_buttons, commands, errors, home, modal_submissions
from handlers.intake import IntakeEndpoint
from storage.db import Database
from storage.records import IntakeOutcome
from storage.repository import Repository
from storage.sync_store import SyncStore

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    policy: Policy
    database: Database
    services: Services
    publisher: Publisher
    queue: PublishQueue
    bolt_app: App
    wsgi: Router
    listeners: TrackingExecutor
    sweep_seconds: float
    scheduler: BackgroundScheduler | None = field(default=None)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until listeners and the publisher have finished what was asked of them so far."""
        for _ in range(10):  # a listener may queue publishing, which is then waited for in turn
            if not (self.listeners.wait_idle(timeout) and self.queue.wait_idle(timeout)):
                return False
            if self.listeners.wait_idle(0) and self.queue.wait_idle(0):
                return True
        return False

    def start_background(self) -> None:
        """Catch up once, then sweep on an interval (APScheduler's in-memory store: the sweep's
        state lives in the database, so nothing is shared between processes but rows)."""
        self.queue.request_sweep()
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(
            self.queue.request_sweep,
            "interval",
            seconds=self.sweep_seconds,
            id="publish-sweep",
            max_instances=1,
            coalesce=True,
        )
        scheduler.start()
        self.scheduler = scheduler

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        self.listeners.shutdown(wait=True)
        self.queue.shutdown()
        self.database.dispose()


def database_health(database: Database) -> dict[str, Any]:
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # health checks report, they do not raise
        return {"ok": False, "database": f"unreachable: {type(error).__name__}"}
    return {"ok": True, "database": "ok"}


def slack_client(settings: Settings, *, retries: bool) -> WebClient:
    """Server errors are retried inside the call only where nobody waits on it (the publisher's
    thread). A 429 is not slept through here: what was not sent stays owed and the next sweep
    sends it, so one busy channel does not hold up the others."""
    handlers: list[RetryHandler] = [ConnectionErrorRetryHandler(max_retry_count=2)]
    if retries:
        handlers.append(ServerErrorRetryHandler(max_retry_count=2))
    return WebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=15, retry_handlers=handlers
    )


def build_runtime(
    settings: Settings, policy: Policy, *, clock: Clock = utc_now, sweep_seconds: float = 15.0
) -> Runtime:
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    database = Database(settings.database_url)
    repository = Repository(database)
    publisher = Publisher(
        repository=repository,
        sync_store=SyncStore(database),
        policy=policy,
        client=slack_client(settings, retries=True),
        clock=clock,
    )
    queue = PublishQueue(publisher)

    def after_intake(outcome: IntakeOutcome) -> None:
        queue.request(outcome.case_id)

    services = Services(
        policy=policy,
        repository=repository,
        intake=IntakeService(repository, policy, clock, after_intake),
        cases=CaseActions(repository, policy, clock, queue.request),
        clock=clock,
        intake_token=settings.intake_token,
    )
    listeners = TrackingExecutor(max_workers=8, thread_name_prefix="closeloop-listener")
    bolt_app = App(
        client=slack_client(settings, retries=False),
        signing_secret=settings.slack_signing_secret,
        token_verification_enabled=False,
        listener_executor=listeners,
        logger=logging.getLogger("closeloop.bolt"),
    )
    for module in (case_buttons, modal_submissions, commands, home):
        module.register(bolt_app, services)
    errors.register(bolt_app)
    return Runtime(
        settings=settings,
        policy=policy,
        database=database,
        services=services,
        publisher=publisher,
        queue=queue,
        bolt_app=bolt_app,
        wsgi=Router(
            bolt_app,
            IntakeEndpoint(services.intake, settings.intake_token),
            lambda: database_health(database),
        ),
        listeners=listeners,
        sweep_seconds=sweep_seconds,
    )
