"""The outbox worker: brings Slack up to date with the database, after commit and off the request
path, and decides what happens when Slack says no.

The database is the truth; Slack is a view of it. A case's case message is (re)rendered whenever
it shows an older version, then the case's deliveries go, oldest first; case-less deliveries
(promoters' notices) go one by one. Everything is leased first, so a sweep and a request-time
delivery, or two processes, never send the same thing twice, and whatever fails is retried after
a backoff: nothing is lost when Slack is down.

Rendering is the registry's (`bot.outbox.renderers`), Slack calls the sender's, admin alerts the
alerter's. Each case, and the notices, is an independent unit of work: `sweep` hands them to
`run_units`, in turn by default, so a pool can run several at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot, CustomerHistory, DeliveryRecord
from bot.outbox.alerts import AdminAlerter
from bot.outbox.failures import (
    ADMIN_RETRY,
    Failure,
    Kind,
    SendError,
    backoff,
    classify,
    explain,
    message_gone,
)
from bot.outbox.leases import LEASE_SECONDS, LeaseKeeper, LeaseLost
from bot.outbox.pacing import MustWait
from bot.outbox.renderers import (
    RENDERERS,
    Draft,
    Moot,
    Renderer,
    Rendering,
    Undeliverable,
    case_message_rendering,
    left_behind,
)
from bot.outbox.sender import Edit, Mark, Post, SlackSender
from bot.slack.links import WorkspaceLinks
from storage.outbox_store import OutboxState, OutboxStore
from storage.repository import Repository

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger(__name__)

# A delivery failing for an unexpected reason this often is given up (and logged as an error)
# rather than retried forever; outages and problems an admin must fix do not count towards it.
MAX_ATTEMPTS = 8

Unit = Callable[[], None]


def in_turn(units: Sequence[Unit]) -> None:
    """The default `run_units`: one after another on the caller's thread, as the queue's one
    thread has always run them."""
    for unit in units:
        unit()


class OutboxWorker:
    def __init__(
        self,
        *,
        repository: Repository,
        store: OutboxStore,
        policy: Policy,
        sender: SlackSender,
        clock: Callable[[], datetime],
        lease_seconds: float = LEASE_SECONDS,
        links: WorkspaceLinks | None = None,
        alerter: AdminAlerter | None = None,
        renderers: Mapping[str, Renderer] = RENDERERS,
        run_units: Callable[[Sequence[Unit]], None] = in_turn,
        metrics: Metrics | None = None,
        history: Callable[[CaseSnapshot], CustomerHistory | None] | None = None,
    ) -> None:
        self.repository = repository
        self.store = store
        self.policy = policy
        self.sender = sender
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.links = links or WorkspaceLinks(sender.client)
        self.alerter = alerter or AdminAlerter(policy=policy, sender=sender, clock=clock)
        self.renderers = renderers
        self.run_units = run_units
        self.metrics = metrics
        # The customer's earlier responses, read once per render (None: the message shows none).
        self.history = history or (lambda _case: None)
        self.leases = LeaseKeeper(store.renew_case_lease, clock, lease_seconds=lease_seconds)
        # Told when pacing put work off (case id, or None for notices; seconds): the queue comes
        # back then instead of leaving it to the next sweep.
        self.on_deferred: Callable[[int | None, float], None] = lambda _case_id, _seconds: None
        # Told of each version of a case about to be shown in its message: every change of a case
        # comes through here (the App Home's refreshes hang on it). Must not raise.
        self.on_case_changed: Callable[[CaseSnapshot], None] = lambda _case: None

    # ---- one case: its case message, then what it owes ----------------------------------------

    def deliver_case(self, case_id: int, *, urgent: bool = False, state: OutboxState | None = None) -> bool:
        """Post or edit the case message, then send the case's deliveries. True when all is sent.

        `urgent`: a person's click caused this, so its edit may use the edits kept for clicks;
        `state`, when just read (by `lane_of`), saves reading it again."""
        paced = self._paced_before_lease(case_id, state)
        if paced is not None:  # its channel has no free slot: not even a lease is spent on it
            self.on_deferred(case_id, paced)
            return False
        now = self.clock()
        case = self.store.lease_case(case_id, now, self.lease_seconds)
        if case is None:
            return False  # another worker has it; it will see our change too
        with self.leases.holding(case_id, now + timedelta(seconds=self.lease_seconds)):
            try:
                return self._deliver_leased(case, urgent=urgent)
            except LeaseLost:
                log.warning("case #%s: lease lost mid-way; whoever has it now finishes", case_id)
                return False

    def _paced_before_lease(self, case_id: int, state: OutboxState | None) -> float | None:
        """Seconds until the case's channel has a slot for its first post, when that post is what
        the case needs next and the slot is not now (a slot is booked for it); else None."""
        state = state or self.store.outbox_state(case_id)
        if state is None or state.slack_ts is not None:
            return None
        if state.leased_until is not None and state.leased_until > self.clock():
            return None  # someone works on it; leasing finds that out at once
        channel = state.slack_channel or self.policy.department_of(state).channel
        wait = self.sender.pacer.ready(channel, f"case_id:{case_id}")
        return wait if wait > 0 else None

    def _deliver_leased(self, case: CaseSnapshot, *, urgent: bool) -> bool:
        case_id = case.id
        channel = case.slack_channel or self.policy.department_of(case).channel
        failure: Failure | None = None
        paced: list[float] = []  # seconds until each post that pacing put off may go
        try:
            try:
                case = self._case_message_up_to_date(case, urgent=urgent)
                owed = self.store.pending_deliveries(case_id=case_id, now=self.clock())
            except (*SendError, MustWait) as exc:
                # The channel may be broken (archived, bot removed) or busy: what does not need
                # it (direct messages) still goes.
                if isinstance(exc, MustWait):
                    paced.append(exc.seconds)
                else:
                    failure = classify(exc, channel)
                    self._count_failure("case_message", failure)
                pending = self.store.pending_deliveries(case_id=case_id, now=self.clock())
                owed = [d for d in pending if self._needs_no_case_message(d)]
            for delivery in owed:
                try:
                    self.leases.check(case_id)
                    self._deliver(delivery, case)
                except MustWait as wait:  # its channel is busy; later ones there book later slots
                    paced.append(wait.seconds)
        except SendError as exc:
            failure = failure or classify(exc, channel)
        finally:
            self._give_back(case_id, channel, failure, paced)
        come_back = paced + ([failure.retry_after] if failure and failure.retry_after is not None else [])
        if come_back:
            self.on_deferred(case_id, min(come_back))  # soon, rather than at the next sweep
        return failure is None and not paced

    def _give_back(self, case_id: int, channel: str, failure: Failure | None, paced: list[float]) -> None:
        """Release the case's lease, to be tried again after a backoff, or at its paced slot."""
        self.leases.check(case_id)  # lost: it is someone else's to give back
        retry_at = None
        if failure is not None:
            retry_at = self._retry_at(failure, channel, self.store.failures(case_id) + 1)
            log.warning(
                "case #%s: not all sent to Slack (%s); retrying at %s", case_id, failure.reason, retry_at
            )
        if paced:
            slot = self.clock() + timedelta(seconds=min(paced))
            retry_at = slot if retry_at is None else min(retry_at, slot)
        with self.leases.giving_back(case_id) as ours:
            if failure is None and retry_at is not None:
                self.store.defer_case(case_id, retry_at, ours=ours)  # only paced: not a failure
            else:
                self.store.release_case(
                    case_id, error=failure.reason if failure else None, retry_at=retry_at, ours=ours
                )

    def _case_message_up_to_date(self, case: CaseSnapshot, *, urgent: bool = False) -> CaseSnapshot:
        """Edits coalesce: whatever changed since, one edit shows the case as it is now."""
        while case.slack_ts is None or case.message_version < case.version:
            self.leases.check(case.id)
            self.on_case_changed(case)
            rendering = case_message_rendering(case, self.policy, self.clock(), self.history(case))
            if isinstance(rendering, Post):
                self._post_case_message(case, rendering)
            else:
                self._edit_case_message(case, rendering, urgent=urgent)
            case = self.repository.get_case(case.id)
        return case

    def _post_case_message(self, case: CaseSnapshot, post: Post) -> None:
        sent = self.sender.post_once(
            post,
            Mark.of_case(case),
            tried_before=case.post_attempts > 0,
            before_send=lambda: self.store.note_post_attempt(case.id),
        )
        # Found after a lost answer, it shows whatever the case was then: mark it stale, to edit.
        shows = 0 if sent.found else case.version
        if not self.store.mark_posted(case.id, case.department, post.to, sent.ts, shows):
            # The case was re-routed while we posted: this message points to its new home.
            self.sender.update(left_behind(case.id, post.to, sent.ts), paced=False)  # rare
        elif not sent.found:
            self._count_sent("case_message", case.created_at)

    def _edit_case_message(self, case: CaseSnapshot, edit: Edit, *, urgent: bool) -> None:
        try:
            self.sender.update(edit, urgent=urgent)
        except SlackApiError as exc:
            if not message_gone(exc):
                raise
            log.warning("case #%s: its message was deleted in Slack; posting it again", case.id)
            self.store.forget_message(case.id)
        else:
            self.store.mark_rendered(case.id, case.version)

    def _needs_no_case_message(self, delivery: DeliveryRecord) -> bool:
        renderer = self.renderers.get(delivery.kind)
        return renderer is not None and not renderer.after_case_message

    def _deliver(self, delivery: DeliveryRecord, case: CaseSnapshot) -> None:
        renderer = self.renderers.get(delivery.kind)
        if renderer is None or delivery.event_id is None:
            return  # a kind this version does not know (a newer one wrote it) stays owed for it
        if renderer.after_case_message and (case.slack_ts is None or case.slack_channel is None):
            return
        self._carry_out(delivery, renderer.render(self._draft(delivery, case)))

    # ---- one delivery, whatever its kind ------------------------------------------------------

    def _draft(self, delivery: DeliveryRecord, case: CaseSnapshot | None) -> Draft:
        return Draft(
            delivery,
            case=case,
            policy=self.policy,
            now=self.clock(),
            records=self.repository,
            links=self.links.case_link,
        )

    def _carry_out(self, delivery: DeliveryRecord, rendering: Rendering) -> None:
        """Send what the renderer asked for and record it; a failure is `_failed`'s to judge."""
        if isinstance(rendering, Moot):  # queued before the case moved on (e.g. during an outage)
            self.store.mark_skipped(delivery.id, rendering.reason)
            return
        if isinstance(rendering, Undeliverable):
            self.store.mark_attempt_failed(delivery.id, rendering.reason, permanent=True)
            return
        try:
            if isinstance(rendering, Edit):
                self.sender.update(
                    rendering, before_send=lambda: self.store.note_delivery_attempt(delivery.id)
                )
                channel, ts = rendering.channel, rendering.ts
            else:
                sent = self.sender.post_once(
                    rendering,
                    Mark.of_delivery(delivery),
                    tried_before=delivery.attempts > 0,
                    before_send=lambda: self.store.note_delivery_attempt(delivery.id),
                )
                channel, ts = sent.channel, sent.ts
        except SendError as exc:
            self._failed(delivery, exc, rendering.channel if isinstance(rendering, Edit) else rendering.to)
            return
        self.store.mark_delivered(delivery.id, channel, ts, self.clock())
        self._count_sent(delivery.kind, delivery.created_at)

    def _count_sent(self, kind: str, since: datetime | None) -> None:
        if self.metrics is not None:
            lag = None if since is None else (self.clock() - since).total_seconds()
            self.metrics.delivered(kind, lag)

    def _count_failure(self, kind: str, failure: Failure) -> None:
        if self.metrics is not None:
            self.metrics.delivery_failed(kind, failure.code)

    def deliver_notices(self) -> None:
        """Case-less deliveries (promoters' notices) belong to no case, so they are leased one by one."""
        try:
            for delivery in self.store.pending_deliveries(case_id=None, now=self.clock()):
                if not self.store.lease_delivery(delivery.id, self.clock(), self.lease_seconds):
                    continue
                renderer = self.renderers.get(delivery.kind)
                if renderer is None:
                    continue  # its lease runs out; a version that knows the kind sends it
                draft = self._draft(delivery, None)
                try:
                    self._carry_out(delivery, renderer.render(draft))
                except MustWait as wait:  # paced: its slot is booked; other channels may go now
                    self.store.defer_delivery(delivery.id, self.clock() + timedelta(seconds=wait.seconds))
                except SendError as exc:  # only a transient failure gets here (see `_failed`)
                    log.warning(
                        "notice for response %s not sent (%s); will retry",
                        draft.feedback.external_id,
                        explain(exc, None),
                    )
                    return  # Slack is slowing us down or away: the rest waits
        finally:
            now = self.clock()
            due = self.store.next_notice_at(now)  # the first paced or rate-limited one
            if due is not None:
                self.on_deferred(None, (due - now).total_seconds())

    # ---- everything owed ----------------------------------------------------------------------

    def sweep(self) -> int:
        """Catch up on everything owed (after a restart, a Slack outage, a lost race). One case's
        trouble never stops the others. The number of cases that were owed something."""
        pending = self.owed_work()
        units: list[Unit] = [partial(self._unit_of_case, case_id) for case_id in pending]
        self.run_units([*units, self._unit_of_notices])
        return len(pending)

    def owed_work(self) -> list[int]:
        """The cases owed something that may be tried now. Cases another process holds are come
        back for when their lease runs out: a crashed process's cases go on seconds later."""
        now = self.clock()
        for case_id, until in self.store.leased():
            if self.leases.current(case_id) is None:  # not ours: ours are being worked on
                self.on_deferred(case_id, max((until - now).total_seconds(), 0.0))
        return self.store.cases_owed(now)

    def lane_of(self, case_id: int) -> tuple[str, str | int, OutboxState | None]:
        """Which work must not overtake which: a case whose message is still to be posted queues
        behind the other first posts of its channel (their order in Slack is the cases'); any
        other case (edits, thread replies) only behind itself."""
        state = self.store.outbox_state(case_id)
        if state is None or state.slack_ts is not None:
            return "case", case_id, state
        return "post", state.slack_channel or self.policy.department_of(state).channel, state

    def _unit_of_case(self, case_id: int) -> None:
        try:
            self.deliver_case(case_id)
        except Exception:
            log.exception("case #%s could not be delivered; the next sweep retries", case_id)

    def _unit_of_notices(self) -> None:
        try:
            self.deliver_notices()
        except Exception:
            log.exception("notices could not be sent; the next sweep retries")

    # ---- when Slack says no -------------------------------------------------------------------

    def _retry_at(self, failure: Failure, channel: str | None, failures: int) -> datetime:
        """When to try again (a 429: when Slack said); a problem for an admin alerts them."""
        now = self.clock()
        if failure.retry_after is not None:
            return now + timedelta(seconds=failure.retry_after)
        if failure.kind == Kind.NEEDS_ADMIN:
            self.alerter.alert(failure, channel)
            return now + ADMIN_RETRY
        return now + backoff(failures)

    def _failed(self, delivery: DeliveryRecord, error: Exception, channel: str) -> None:
        """Rate limits and outages stop this round (retried after a backoff); a problem for an
        admin is retried slowly until fixed; anything else is given up after a few tries. The
        case's other deliveries still go out unless Slack itself is the trouble."""
        failure = classify(error, channel)
        self._count_failure(delivery.kind, failure)
        give_up = failure.kind == Kind.OTHER and delivery.attempts + 1 >= MAX_ATTEMPTS
        retry_at = None if give_up else self._retry_at(failure, channel, delivery.attempts + 1)
        self.store.mark_attempt_failed(delivery.id, failure.reason, permanent=give_up, retry_at=retry_at)
        if give_up:
            log.error(
                "gave up on %s %s after %s attempts: %s",
                delivery.kind,
                delivery.id,
                MAX_ATTEMPTS,
                failure.reason,
            )
            self.alerter.alert(failure, channel, given_up=True)
        if failure.kind == Kind.TRANSIENT:
            raise error
