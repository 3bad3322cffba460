"""The one module that builds and connects everything: settings and policy in, a runnable
`Runtime` out. Nothing here runs at import time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from sqlalchemy import text

from bot.ack_first import AckFirst, AckFirstExecutor
from bot.app.cases import CaseActions
from bot.app.deadline_sweep import DeadlineSweeper
from bot.app.digest import CHECK_SECONDS, DigestService
from bot.app.escalations import EscalationActions
from bot.app.home import HomeTab
from bot.app.intake import IntakeService
from bot.app.leaderboard import LeaderboardQuery
from bot.app.promoters import PromoterActions
from bot.app.queries import CaseQueries
from bot.app.recognition import RecognitionActions
from bot.app.services import Services
from bot.app.shipped import ShippedActions
from bot.app.slack_events import SlackEventLog
from bot.app.sources import SourceIntake
from bot.app.tell_customer import TellCustomer
from bot.bot_identity import BotIdentity
from bot.clock import Clock, utc_now
from bot.domain.deadlines import SlaPlanner
from bot.domain.policy import Policy
from bot.domain.records import IntakeOutcome
from bot.executor import TrackingExecutor
from bot.metrics import Metrics, Owed
from bot.outbox.alerts import AdminAlerter
from bot.outbox.failures import Kind, classify
from bot.outbox.home_publisher import HomePublisher, PublishPace
from bot.outbox.mail_renderers import with_follow_ups
from bot.outbox.mail_worker import FollowUpSender, People
from bot.outbox.pacing import ChannelPacer
from bot.outbox.promoter_renderers import with_promoters
from bot.outbox.queue import OutboxQueue, Priority
from bot.outbox.recognition_renderers import with_recognition
from bot.outbox.renderers import RENDERERS
from bot.outbox.sender import SlackSender
from bot.outbox.shipped_renderer import with_shipped
from bot.outbox.shipped_sender import ShippedSender
from bot.outbox.theme_alert_check import CHECK_SECONDS as THEME_CHECK_SECONDS
from bot.outbox.theme_alert_check import ThemeSpikeCheck
from bot.outbox.theme_alert_renderer import with_theme_alerts
from bot.outbox.webhooks import CaseWebhookSender, ReceiverAlerts
from bot.outbox.worker import OutboxWorker
from bot.server import DEFAULT_THREADS
from bot.settings import Settings, SettingsError, case_webhook_secrets, helpdesk_secrets, mail_settings
from bot.slack.digest_post import DigestPoster
from bot.web import Router, WsgiApp
from handlers import (
    case_buttons,
    channel_events,
    commands,
    comment_button,
    errors,
    escalation_buttons,
    event_dedupe,
    home,
    modal_submissions,
    payload_shape,
    promoter_buttons,
    recognition_buttons,
    shipped,
    tell_customer,
)
from handlers.intake import IntakeEndpoint
from handlers.intake_sources import SourceEndpoint
from storage.admin_alerts import AdminAlerts
from storage.case_webhooks import CaseEventMirror, CaseWebhookStore
from storage.customer_history import CustomerHistories
from storage.customer_messages import CustomerMessages
from storage.db import Database, log_failure
from storage.deadline_store import DeadlineStore
from storage.digests import DigestStore
from storage.home_store import HomeStore
from storage.leaderboard import LeaderboardStore
from storage.outbox_store import OutboxStore
from storage.promoter_follow_ups import PromoterFollowUps
from storage.recognition_store import RecognitionStore
from storage.repository import Repository
from storage.shipped import ShippedStore
from storage.slack_events import SeenEvents
from storage.snapshots import snapshot
from storage.themes import ThemeStore

log = logging.getLogger(__name__)

# How often outbound case events due are looked for: a CRM's mirror lags a case by about this.
WEBHOOK_SECONDS = 5.0

# Bolt runs listeners on these threads after the ack: the work a click causes (the claim's
# transaction, a private answer), never the ack itself (see bot.ack_first).
LISTENER_THREADS = 8


@dataclass
class Runtime:
    settings: Settings
    policy: Policy
    database: Database
    services: Services
    repository: Repository  # for tests and the demo, which read what the bot stored
    deadlines: DeadlineStore
    identity: BotIdentity
    outbox_worker: OutboxWorker
    outbox_queue: OutboxQueue
    bolt_app: App
    wsgi: WsgiApp
    listeners: TrackingExecutor
    sweep_seconds: float
    sweeper: DeadlineSweeper
    metrics: Metrics
    digests: DigestService | None = field(default=None)  # with a digest section in the policy
    scheduler: BackgroundScheduler | None = field(default=None)
    theme_spikes: ThemeSpikeCheck | None = field(default=None)  # with alerts.theme_spike in the policy
    case_webhooks: CaseWebhookSender | None = field(default=None)  # with webhooks in the policy
    follow_ups: FollowUpSender | None = field(default=None)  # follow-ups to customers (outer_loop)
    shipped: ShippedSender | None = field(default=None)  # "You said, we did" (`/loop shipped`)
    home: HomeTab | None = field(default=None)
    home_publisher: HomePublisher | None = field(default=None)

    def housekeeping(self) -> None:
        """Forget handled Slack event ids after a day (Slack's retries stop within minutes)."""
        try:
            self.services.slack_events.forget_old()
            if self.home is not None:
                self.home.forget_idle()
        except Exception as error:
            log_failure(log, "housekeeping", error)

    def sweep_deadlines(self) -> int:
        """One deadline sweep; the scheduler calls this, and so can tests and the demo."""
        try:
            return self.sweeper.sweep()
        except Exception as error:
            log_failure(log, "deadline sweep", error)
            return 0

    def send_due_digests(self) -> None:
        """The weekly digests due now and not yet sent (by any process): the scheduler's job."""
        if self.digests is None:
            return
        try:
            self.digests.run_due()
        except Exception as error:
            log_failure(log, "weekly digest", error)

    def check_theme_spikes(self) -> int:
        """One theme spike check (the scheduler's job; tests and the demo call it too)."""
        if self.theme_spikes is None:
            return 0
        try:
            return self.theme_spikes.check()
        except Exception as error:
            log_failure(log, "theme spike check", error)
            return 0

    def send_case_webhooks(self) -> int:
        """Send the outbound case events due now (the scheduler's job; tests call it too)."""
        if self.case_webhooks is None:
            return 0
        try:
            return self.case_webhooks.run()
        except Exception as error:
            log_failure(log, "case webhooks", error)
            return 0

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until listeners and the outbox have finished what was asked of them so far."""
        for _ in range(10):  # a listener may ask the outbox for work, which is then waited for in turn
            if not (self.listeners.wait_idle(timeout) and self.outbox_queue.wait_idle(timeout)):
                return False
            if self.listeners.wait_idle(0) and self.outbox_queue.wait_idle(0):
                return True
        return False

    def start_background(self) -> None:
        """Catch up once, then sweep on an interval (APScheduler's in-memory store: the sweep's
        state lives in the database, so nothing is shared between processes but rows)."""
        self.outbox_queue.request_sweep()
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(
            self.outbox_queue.request_sweep,
            "interval",
            seconds=self.sweep_seconds,
            id="outbox-sweep",
            max_instances=1,
            coalesce=True,
        )
        if self.policy.sla is not None or self.policy.outer_loop.reminders:  # promises are deadlines too
            scheduler.add_job(
                self.sweep_deadlines,
                "interval",
                seconds=self.policy.sla.sweep_every.total_seconds() if self.policy.sla else 60.0,
                id="deadline-sweep",
                max_instances=1,
                coalesce=True,
            )
        if self.digests is not None:
            scheduler.add_job(
                self.send_due_digests,
                "interval",
                seconds=CHECK_SECONDS,
                id="weekly-digest",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),  # a week missed while down goes out at start
            )
        if self.theme_spikes is not None:
            scheduler.add_job(
                self.check_theme_spikes,
                "interval",
                seconds=THEME_CHECK_SECONDS,
                id="theme-spike-check",
                max_instances=1,
                coalesce=True,
            )
        if self.case_webhooks is not None:
            scheduler.add_job(
                self.send_case_webhooks,
                "interval",
                seconds=WEBHOOK_SECONDS,
                id="case-webhooks",
                max_instances=1,
                coalesce=True,
            )
        scheduler.add_job(self.housekeeping, "interval", hours=1, id="housekeeping", coalesce=True)
        scheduler.add_job(self.metrics.log_minute, "interval", minutes=1, id="summary", coalesce=True)
        scheduler.start()
        self.scheduler = scheduler

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        self.listeners.shutdown(wait=True)
        self.outbox_queue.shutdown()
        self.database.dispose()


def digest_service(
    settings: Settings,
    policy: Policy,
    database: Database,
    clock: Clock,
    *,
    slack: bool,
    alerter: AdminAlerter | None = None,
) -> DigestService:
    """The weekly digest's use case; without `slack` it can compose and preview, not send. With
    `alerter`, admins hear (once a day) of a digest Slack refuses for a reason only they can fix."""

    def refused(error: Exception, channel: str) -> None:
        failure = classify(error, channel)
        if alerter is not None and failure.kind is Kind.NEEDS_ADMIN:
            alerter.alert(failure, channel)

    repository = Repository(database, SlaPlanner(policy))
    queries = CaseQueries(repository, DeadlineStore(database, snapshot), policy, clock)
    return DigestService(
        policy=policy,
        queries=queries,
        leaderboard=LeaderboardStore(database),
        store=DigestStore(database),
        poster=DigestPoster(slack_client(settings, retry_connections=False)) if slack else None,
        clock=clock,
        refused=refused,
    )


def database_health(database: Database) -> dict[str, Any]:
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # health checks report, they do not raise
        return {"ok": False, "database": f"unreachable: {type(error).__name__}"}
    return {"ok": True, "database": "ok"}


def slack_client(settings: Settings, *, retry_connections: bool) -> WebClient:
    """The outbox's client retries nothing itself: a reset connection, a 5xx or a timeout may
    have posted anyway, so the outbox retries on the next sweep after looking for the post,
    and a 429 leaves the rest owed instead of sleeping through it. Listeners' calls (ephemeral
    answers, opening modals) are safe to repeat once when a connection drops."""
    handlers: list[RetryHandler] = (
        [ConnectionErrorRetryHandler(max_retry_count=1)] if retry_connections else []
    )
    return WebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=15, retry_handlers=handlers
    )


class _NotTheTokenNotice(logging.Filter):
    """Bolt warns that the token "will be ignored" whenever `authorize` is given with a client
    that has one; here the client's token is exactly what `authorize` hands back, so the warning
    would only alarm an admin reading the start-up log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be ignored" not in record.getMessage()


def bolt_logger() -> logging.Logger:
    logger = logging.getLogger("closeloop.bolt")
    if not any(isinstance(f, _NotTheTokenNotice) for f in logger.filters):
        logger.addFilter(_NotTheTokenNotice())
    return logger


HOME_UNIT = "home"


def build_home(
    database: Database,
    policy: Policy,
    clock: Clock,
    worker: OutboxWorker,
    queue: OutboxQueue,
    sender: SlackSender,
    metrics: Metrics,
    *,
    come_back_later: bool,
) -> tuple[HomeTab, HomePublisher]:
    """The App Home: the use case the listener calls, and its publisher, run by the outbox pool
    as a unit of its own and told by the worker of every case change."""
    store = HomeStore(database)

    def publish_soon() -> None:  # someone opened their Home: publish it, and refresh it from now on
        publisher.opened()
        queue.request_unit(HOME_UNIT, Priority.CLICK)

    tab = HomeTab(store, policy, clock, publish_soon, link=worker.links.case_link)
    publisher = HomePublisher(
        store=store,
        client=sender.client,
        render=tab.page,
        clock=clock,
        pace=PublishPace(clock=sender.pacer.clock),
        rate_limited=metrics.slack_rate_limited,
    )
    queue.add_unit(HOME_UNIT, publisher.run)
    worker.on_case_changed = publisher.case_changed
    if come_back_later:
        publisher.on_deferred = lambda seconds: queue.come_back_unit(HOME_UNIT, seconds)
    return tab, publisher


FOLLOW_UPS_UNIT = "follow_ups"


def build_follow_ups(
    database: Database,
    policy: Policy,
    clock: Clock,
    queue: OutboxQueue,
    sender: SlackSender,
    mail: Any,
    helpdesks: dict[str, str],
    *,
    come_back_later: bool,
) -> tuple[FollowUpSender, TellCustomer]:
    """Telling the customer: the sender, run by the outbox pool as a unit of its own (at each
    sweep, when a follow-up is queued, when a backoff ends), and the use case the listeners call."""
    store = CustomerMessages(database, SlaPlanner(policy))
    people = People(sender.client)
    after_change = partial(queue.request, priority=Priority.CLICK)
    follow_ups = FollowUpSender(
        store=store,
        policy=policy,
        clock=clock,
        mail=mail,
        people=people,
        on_changed=after_change,
        helpdesk_secrets=helpdesks,
    )
    queue.add_unit(FOLLOW_UPS_UNIT, follow_ups.run)
    if come_back_later:
        follow_ups.on_deferred = lambda seconds: queue.come_back_unit(FOLLOW_UPS_UNIT, seconds)
    telling = TellCustomer(
        store=store,
        repository=Repository(database, SlaPlanner(policy)),
        policy=policy,
        clock=clock,
        mail_configured=mail is not None,
        name_of=lambda user: people(user).name,
        on_queued=partial(queue.request_unit, FOLLOW_UPS_UNIT, Priority.CLICK),
        on_changed=after_change,
    )
    return follow_ups, telling


SHIPPED_UNIT = "shipped"


def build_shipped(
    database: Database,
    policy: Policy,
    clock: Clock,
    queue: OutboxQueue,
    follow_ups: FollowUpSender,
    *,
    come_back_later: bool,
) -> tuple[ShippedSender, ShippedActions]:
    """"You said, we did": its sender, a unit of the outbox pool (paced by the database, so it
    comes back when the next slot is due), and the use case `/loop shipped` calls."""
    store = ShippedStore(database)
    sender = ShippedSender(
        store=store,
        policy=policy,
        clock=clock,
        mail=follow_ups.mail,
        people=follow_ups.people,
        on_settled=queue.request_sweep,
        helpdesk_secrets=follow_ups.helpdesk_secrets,
        mailer=follow_ups.mailer,
    )
    queue.add_unit(SHIPPED_UNIT, sender.run)
    if come_back_later:
        sender.on_deferred = lambda seconds: queue.come_back_unit(SHIPPED_UNIT, seconds)
    actions = ShippedActions(
        store=store,
        policy=policy,
        clock=clock,
        mail_configured=follow_ups.mail is not None,
        name_of=lambda user: follow_ups.people(user).name,
        on_confirmed=partial(queue.request_unit, SHIPPED_UNIT, Priority.CLICK),
    )
    return sender, actions


def build_runtime(
    settings: Settings,
    policy: Policy,
    *,
    clock: Clock = utc_now,
    sweep_seconds: float = 15.0,
    pacer: ChannelPacer | None = None,
    come_back_later: bool = True,
    http_threads: int = DEFAULT_THREADS,
) -> Runtime:
    """`pacer` defaults to real time. A simulated workspace passes one on its own clock and
    `come_back_later=False`: paced work then waits for a sweep, not for real seconds.
    `http_threads` (the server's) sizes the connection pool: a connection for each thread that
    serves requests, and the overflow for the outbox and the scheduler's jobs."""
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    unmapped = policy.sources.unmapped(list(settings.source_secrets))
    if unmapped:  # a survey tool's route is on, but the policy does not say where its score is
        raise SettingsError(unmapped[0])
    webhook_secrets = case_webhook_secrets(settings, policy.webhooks)  # one line if one is missing
    mail = mail_settings(settings)  # None: e-mail to customers is off (one line if malformed)
    helpdesks = helpdesk_secrets(settings, {d: r.secret_env for d, r in policy.outer_loop.helpdesk.items()})
    database = Database(settings.database_url, pool_size=http_threads + LISTENER_THREADS)
    mirror = CaseEventMirror(policy.webhooks) if policy.webhooks else None
    repository = Repository(database, SlaPlanner(policy), mirror)
    deadlines = DeadlineStore(database, snapshot, mirror)
    metrics = Metrics()
    sender = SlackSender(
        slack_client(settings, retry_connections=False), pacer, rate_limited=metrics.slack_rate_limited
    )
    outbox_worker = OutboxWorker(
        repository=repository,
        store=OutboxStore(database),
        policy=policy,
        sender=sender,
        clock=clock,
        alerter=AdminAlerter(policy=policy, sender=sender, clock=clock, seen=AdminAlerts(database)),
        renderers=with_shipped(
            with_follow_ups(
                with_theme_alerts(
                    with_promoters(
                        with_recognition(RENDERERS, RecognitionStore(database)), PromoterFollowUps(database)
                    ),
                    ThemeStore(database),
                )
            ),
            ShippedStore(database),
        ),
        metrics=metrics,
        history=CustomerHistories(database).of,
    )
    outbox_queue = OutboxQueue(outbox_worker, come_back_later=come_back_later)
    after_click = partial(outbox_queue.request, priority=Priority.CLICK)  # a click's edit goes first
    home_tab, home_publisher = build_home(
        database, policy, clock, outbox_worker, outbox_queue, sender, metrics, come_back_later=come_back_later
    )
    metrics.watch_outbox(
        lambda: {kind: Owed(*owed) for kind, owed in outbox_worker.store.owed_by_kind().items()}, clock
    )

    def after_intake(outcome: IntakeOutcome) -> None:
        outbox_queue.request(outcome.case_id)

    cases = CaseActions(repository, policy, clock, after_click)
    follow_ups, telling = build_follow_ups(
        database, policy, clock, outbox_queue, sender, mail, helpdesks, come_back_later=come_back_later
    )
    shipped_sender, shipped_actions = build_shipped(
        database, policy, clock, outbox_queue, follow_ups, come_back_later=come_back_later
    )
    services = Services(
        policy=policy,
        intake=IntakeService(repository, policy, clock, after_intake, outbox_queue.request),
        cases=cases,
        escalations=EscalationActions(repository, cases, deadlines, policy, clock, after_click),
        queries=CaseQueries(repository, deadlines, policy, clock),
        slack_events=SlackEventLog(SeenEvents(database), clock),
        recognition=RecognitionActions(
            RecognitionStore(database),
            policy,
            clock,
            after_click,
            outbox_queue.come_back_later if come_back_later else lambda _case_id, _seconds: None,
        ),
        promoters=PromoterActions(
            PromoterFollowUps(database),
            clock,
            outbox_queue.come_back_later if come_back_later else lambda _key, _seconds: None,
        ),
        leaderboard=LeaderboardQuery(LeaderboardStore(database), clock),
        clock=clock,
        tell_customer=telling,
        shipped=shipped_actions,
    )
    acks_first = AckFirst()
    listeners = AckFirstExecutor(acks_first, LISTENER_THREADS, thread_name_prefix="closeloop-listener")
    identity = BotIdentity(settings.slack_bot_token)
    digests = (
        digest_service(settings, policy, database, clock, slack=True, alerter=outbox_worker.alerter)
        if policy.digest
        else None
    )

    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
        # A plain function: Bolt passes arguments by the names it finds, and would fill `self` too.
        return identity.authorize(enterprise_id, team_id, user_id)

    bolt_app = App(
        client=slack_client(settings, retry_connections=True),
        signing_secret=settings.slack_signing_secret,
        authorize=authorize,
        listener_executor=listeners,
        logger=bolt_logger(),
    )
    payload_shape.register(bolt_app)  # before any listener is matched
    for module in (case_buttons, escalation_buttons, modal_submissions, commands, comment_button):
        module.register(bolt_app, services)
    home.register(bolt_app, home_tab)
    recognition_buttons.register(bolt_app, services)
    promoter_buttons.register(bolt_app, services)
    tell_customer.register(bolt_app, telling)
    shipped.register(bolt_app, shipped_actions)

    def bot_joined(channel: str) -> None:
        outbox_worker.store.retry_now()
        outbox_queue.request_sweep()

    channel_events.register(bolt_app, bot_joined)
    event_dedupe.register(bolt_app, services)
    errors.register(bolt_app)
    return Runtime(
        settings=settings,
        policy=policy,
        database=database,
        services=services,
        repository=repository,
        deadlines=deadlines,
        identity=identity,
        outbox_worker=outbox_worker,
        outbox_queue=outbox_queue,
        bolt_app=bolt_app,
        wsgi=acks_first.wsgi(
            Router(
                bolt_app,
                IntakeEndpoint(
                    services.intake,
                    settings.intake_token,
                    signing_secret=settings.intake_signing_secret,
                    answered=metrics.intake_answered,
                    webhook_secret=settings.intake_webhook_secret,
                ),
                lambda: database_health(database),
                metrics,
                SourceEndpoint(
                    SourceIntake(services.intake), settings.source_secrets, answered=metrics.intake_answered
                ),
            )
        ),
        listeners=listeners,
        digests=digests,
        sweep_seconds=sweep_seconds,
        sweeper=DeadlineSweeper(deadlines, policy, clock, outbox_queue.request, metrics),
        metrics=metrics,
        theme_spikes=(
            ThemeSpikeCheck(ThemeStore(database), policy, clock, lambda: outbox_queue.request(None))
            if policy.alerts.theme_spike is not None
            else None
        ),
        case_webhooks=(
            CaseWebhookSender(
                store=CaseWebhookStore(database),
                webhooks=policy.webhooks,
                secrets=webhook_secrets,
                clock=clock,
                alerts=ReceiverAlerts(
                    admins=policy.admins, sender=sender, seen=AdminAlerts(database), clock=clock
                ),
            )
            if policy.webhooks
            else None
        ),
        home=home_tab,
        home_publisher=home_publisher,
        follow_ups=follow_ups,
        shipped=shipped_sender,
    )
