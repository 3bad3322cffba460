"""Bringing Slack up to date with the database, after commit and off the request path.

The database is the truth; Slack is a view of it. A case message is (re)rendered from the case's
current row whenever it shows an older version, and pending deliveries (thread replies,
shout-outs, notices) are sent oldest first. Everything is leased, so a sweep and a request-time
sync, or two processes, never send the same thing twice, and whatever fails is retried by the
next sweep: nothing is lost when Slack is down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain.deadlines import open_steps
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot, DeliveryRecord, EventRecord
from bot.domain.vocabulary import DM_KINDS, CaseStatus, DeliveryKind
from bot.outbox.failures import ADMIN_RETRY, Failure, Kind, SendError, backoff, classify, explain
from bot.outbox.pacing import ChannelPacer, MustWait
from bot.slack.case_message import METADATA_EVENT, Message, case_message
from bot.slack.deadline_text import assigned_dm, escalation_dm, reminder_dm
from bot.slack.links import WorkspaceLinks
from bot.slack.notices import announcement, moved_notice, promoter_notice, thread_reply
from storage.admin_alerts import AdminAlerts
from storage.outbox_store import OutboxStore
from storage.repository import Repository

log = logging.getLogger(__name__)

# A delivery failing for an unexpected reason this often is given up (and logged as an error)
# rather than retried forever; outages and problems an admin must fix do not count towards it.
MAX_ATTEMPTS = 8
DELIVERY_EVENT = "closeloop_delivery"
LOOKUP_PAGES = 10  # of 200 messages: a channel busier than that since the post is not searched further
ALERT_EVERY = timedelta(days=1)


class Publisher:
    def __init__(
        self,
        *,
        repository: Repository,
        sync_store: OutboxStore,
        policy: Policy,
        client: WebClient,
        clock: Callable[[], datetime],
        lease_seconds: float = 120.0,
        pacer: ChannelPacer | None = None,
        links: WorkspaceLinks | None = None,
        alerts: AdminAlerts | None = None,
    ) -> None:
        self.repository = repository
        self.store = sync_store
        self.policy = policy
        self.client = client
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.pacer = pacer or ChannelPacer()
        self.links = links or WorkspaceLinks(client)
        self.alerts = alerts
        # Told when pacing put work off (case id, or None for notices; seconds): the queue comes
        # back then instead of leaving it to the next sweep.
        self.on_deferred: Callable[[int | None, float], None] = lambda _case_id, _seconds: None

    # ---- when Slack says no -------------------------------------------------------------------

    def _retry_at(self, failure: Failure, channel: str | None, failures: int) -> datetime:
        """When to try again (a 429: when Slack said); a problem for an admin alerts them."""
        now = self.clock()
        if failure.retry_after is not None:
            return now + timedelta(seconds=failure.retry_after)
        if failure.kind == Kind.NEEDS_ADMIN:
            self._alert_admins(failure, channel)
            return now + ADMIN_RETRY
        return now + backoff(failures)

    def _alert_admins(self, failure: Failure, channel: str | None, *, given_up: bool = False) -> None:
        """An error in the log and a DM to the policy's admins, at most once a day per problem and
        channel (across processes); every other time a warning."""
        where = f" to {channel}" if channel else ""
        if self.alerts is not None and not self.alerts.due(
            f"{failure.code}:{channel}", self.clock(), ALERT_EVERY
        ):
            log.warning("Slack still refuses to post%s: %s", where, failure.reason)
            return
        log.error("Slack refused to post%s: %s", where, failure.reason)
        admins = self.policy.admins
        if not admins or failure.code in ("invalid_auth", "token_revoked"):
            return  # with a dead token no DM could be sent either; the log and `closeloop check` say it
        place = f" in <#{channel}>" if channel and channel.startswith(("C", "G")) else ""
        if given_up:
            after = "It was given up after several tries; `closeloop check` lists what was not sent."
        else:
            after = "Nothing is lost: it retries every 15 minutes, and at once when the bot is invited."
        text = f"⚠️ closeloop cannot post{place}: {failure.reason}. {after}"
        for admin in admins:
            try:
                self.client.chat_postMessage(channel=admin, text=text)
            except SendError as exc:
                log.warning("could not alert admin %s: %s", admin, explain(exc, None))

    # ---- sending, and finding what an uncertain send may already have posted ------------------

    def _post(
        self, channel: str, message: Message, *, key: str, thread_ts: str | None = None
    ) -> tuple[str, str]:
        """(channel, ts) of the new message; for a direct message the channel is the DM's id.
        Callers pace first (`self.pacer.before_post(channel, key)`, which may defer the work),
        before recording an attempt."""
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                thread_ts=thread_ts,
                metadata=message.metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            retry_after = classify(exc, channel).retry_after
            if retry_after is not None:  # Slack limits posts per channel: hold this one, not others
                self.pacer.hold(channel, retry_after, first=key)
            raise
        self.pacer.posted(channel)
        return str(response["channel"]), str(response["ts"])

    def _find_posted(
        self,
        channel: str,
        event_type: str,
        key: str,
        value: int,
        *,
        thread_ts: str | None,
        since: datetime | None = None,
    ) -> str | None:
        """The ts of our earlier message carrying `key: value` in its metadata, if one exists.

        Asked only after a send whose outcome is unknown (a timeout, a 5xx, a crash after
        sending), so a retry never posts the same thing twice. Reads back to `since` (the
        message cannot be older than what caused it), page by page, so a busy channel does not
        hide it."""
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            arguments: dict[str, Any] = {"channel": channel, "limit": 200, "include_all_metadata": True}
            if cursor:
                arguments["cursor"] = cursor
            if since is not None:
                arguments["oldest"] = f"{since.timestamp() - 60:.6f}"  # a minute of clock skew
            if thread_ts is None:
                response = self.client.conversations_history(**arguments)
            else:
                response = self.client.conversations_replies(ts=thread_ts, **arguments)
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                if (
                    metadata.get("event_type") == event_type
                    and (metadata.get("event_payload") or {}).get(key) == value
                ):
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                return None
        log.warning("gave up looking for %s %s after %s pages of %s", key, value, LOOKUP_PAGES, channel)
        return None

    # ---- the case message ---------------------------------------------------------------------

    def _channel_of(self, department: str) -> str:
        """A department removed from the policy still has cases: they go to the default one."""
        try:
            return self.policy.department(department).channel
        except KeyError:
            fallback = self.policy.routing.default_department
            log.warning(
                "department %r is not in the policy any more; using %r's channel", department, fallback
            )
            return self.policy.department(fallback).channel

    def sync_case(self, case_id: int) -> bool:
        """Post or update the case message, then send what the case owes. True when all is sent."""
        case = self.store.lease_case(case_id, self.clock(), self.lease_seconds)
        if case is None:
            return False  # another worker has it; it will see our change too
        channel = case.slack_channel or self._channel_of(case.department)
        failure: Failure | None = None
        paced: list[float] = []  # seconds until each post that pacing put off may go
        try:
            try:
                case = self._sync_message(case)
                owed = self.store.pending_deliveries(case_id=case_id, now=self.clock())
            except (*SendError, MustWait) as exc:
                # The channel may be broken (archived, bot removed) or busy: direct messages do
                # not need it, and an escalation matters most exactly then.
                if isinstance(exc, MustWait):
                    paced.append(exc.seconds)
                else:
                    failure = classify(exc, channel)
                owed = [
                    d
                    for d in self.store.pending_deliveries(case_id=case_id, now=self.clock())
                    if d.kind in DM_KINDS
                ]
            for delivery in owed:
                try:
                    self._deliver(delivery, case)
                except MustWait as wait:  # its channel is busy; later ones there book later slots
                    paced.append(wait.seconds)
        except SendError as exc:
            failure = failure or classify(exc, channel)
        finally:
            retry_at = None
            if failure is not None:
                retry_at = self._retry_at(failure, channel, self.store.failures(case_id) + 1)
                log.warning(
                    "case #%s: not all sent to Slack (%s); retrying at %s", case_id, failure.reason, retry_at
                )
            if paced:
                slot = self.clock() + timedelta(seconds=min(paced))
                retry_at = slot if retry_at is None else min(retry_at, slot)
            if failure is None and retry_at is not None:
                self.store.defer_case(case_id, retry_at)  # only paced: not a failure, nothing to log
            else:
                self.store.release_case(case_id, error=failure.reason if failure else None, retry_at=retry_at)
        come_back = paced + ([failure.retry_after] if failure and failure.retry_after is not None else [])
        if come_back:
            self.on_deferred(case_id, min(come_back))  # soon, rather than at the next sweep
        return failure is None and not paced

    def _sync_message(self, case: CaseSnapshot) -> CaseSnapshot:
        while case.slack_ts is None or case.message_version < case.version:
            message = case_message(case, self.policy, self.clock())
            if case.slack_ts is None:
                self._post_case(case, message)
            else:
                try:
                    self.client.chat_update(
                        channel=str(case.slack_channel),
                        ts=case.slack_ts,
                        text=message.text,
                        blocks=message.blocks,
                    )
                except SlackApiError as exc:
                    if exc.response.get("error") not in ("message_not_found", "cant_update_message"):
                        raise
                    log.warning("case #%s: its message was deleted in Slack; posting it again", case.id)
                    self.store.forget_message(case.id)
                else:
                    self.store.mark_rendered(case.id, case.version)
            case = self.repository.get_case(case.id)
        return case

    def _post_case(self, case: CaseSnapshot, message: Message) -> None:
        channel = self._channel_of(case.department)
        ts = None
        shows = case.version  # the version the message in Slack was rendered from
        if case.post_attempts > 0:
            ts = self._find_posted(
                channel, METADATA_EVENT, "case_id", case.id, thread_ts=None, since=case.created_at
            )
            shows = 0  # posted by an earlier attempt, from whatever the case was then: edit it
        if ts is None:
            key = f"case:{case.id}"
            self.pacer.before_post(channel, key)  # may defer: then nothing was sent yet
            self.store.note_post_attempt(case.id)
            _, ts = self._post(channel, message, key=key)
            shows = case.version
        if not self.store.mark_posted(case.id, case.department, channel, ts, shows):
            # The case was re-routed while we posted: this message points to its new home.
            self.client.chat_update(channel=channel, ts=ts, **_as_kwargs(moved_notice(case.id, None)))

    # ---- deliveries ---------------------------------------------------------------------------

    def _deliver(self, delivery: DeliveryRecord, case: CaseSnapshot) -> None:
        if delivery.event_id is None:
            return
        if delivery.kind in DM_KINDS:
            self._send_direct(delivery, self.repository.event(delivery.event_id), case)
            return
        if case.slack_ts is None or case.slack_channel is None:
            return  # thread replies and the rest wait for the case message
        event = self.repository.event(delivery.event_id)
        if delivery.kind == DeliveryKind.THREAD_REPLY:
            channel, thread_ts = case.slack_channel, case.slack_ts
            message = thread_reply(event, case, self.policy)
        elif delivery.kind == DeliveryKind.ANNOUNCEMENT:
            channel, thread_ts = self.policy.announcements.channel, None
            message = announcement(event, case, self.policy)
        elif delivery.kind == DeliveryKind.MOVED:
            self._edit_moved(delivery, event, case)
            return
        else:
            return
        self._send_delivery(delivery, channel, message, thread_ts=thread_ts)

    def _send_delivery(
        self, delivery: DeliveryRecord, channel: str, message: Message, *, thread_ts: str | None
    ) -> None:
        marked = replace(
            message, metadata={"event_type": DELIVERY_EVENT, "event_payload": {"delivery_id": delivery.id}}
        )
        target = channel  # a DM goes to the user id: one pace per person, whatever the DM's id
        try:
            ts = None
            if delivery.attempts > 0:
                if delivery.recipient is not None:  # history is read by conversation id, not user id
                    opened = self.client.conversations_open(users=delivery.recipient)
                    channel = str(opened["channel"]["id"])
                ts = self._find_posted(
                    channel,
                    DELIVERY_EVENT,
                    "delivery_id",
                    delivery.id,
                    thread_ts=thread_ts,
                    since=delivery.created_at,
                )
            if ts is None:
                key = f"delivery:{delivery.id}"
                self.pacer.before_post(target, key)
                self.store.note_delivery_attempt(delivery.id)
                channel, ts = self._post(target, marked, key=key, thread_ts=thread_ts)
        except SendError as exc:
            self._failed(delivery, exc, channel)
            return
        self.store.mark_delivered(delivery.id, channel, ts, self.clock())

    def _send_direct(self, delivery: DeliveryRecord, event: EventRecord, case: CaseSnapshot) -> None:
        """Reminders, escalations and hand-overs go to one person each, in their DM with the bot."""
        if delivery.recipient is None:
            self.store.mark_attempt_failed(delivery.id, "direct message without a recipient", permanent=True)
            return
        moot = moot_reason(delivery, event, case)
        if moot is not None:  # queued before the case moved on (e.g. during a Slack outage)
            self.store.mark_skipped(delivery.id, moot)
            return
        link = self.links.case_link(case)  # the workspace's address is asked of Slack once
        if delivery.kind == DeliveryKind.ESCALATION_DM:
            message = escalation_dm(event, case, self.policy, link)
        elif delivery.kind == DeliveryKind.REMINDER_DM:
            message = reminder_dm(event, case, link, self.policy)
        else:
            message = assigned_dm(event, case, link, self.clock(), self.policy)
        self._send_delivery(delivery, delivery.recipient, message, thread_ts=None)

    def _edit_moved(self, delivery: DeliveryRecord, event: EventRecord, case: CaseSnapshot) -> None:
        channel, ts = event.details.get("old_channel"), event.details.get("old_ts")
        if not channel or not ts:
            self.store.mark_attempt_failed(delivery.id, "no old message to edit", permanent=True)
            return
        try:
            self.store.note_delivery_attempt(delivery.id)
            self.client.chat_update(
                channel=channel, ts=ts, **_as_kwargs(moved_notice(case.id, case.slack_channel))
            )
        except SendError as exc:
            self._failed(delivery, exc, channel)
            return
        self.store.mark_delivered(delivery.id, channel, ts, self.clock())

    def _failed(self, delivery: DeliveryRecord, error: Exception, channel: str) -> None:
        """Rate limits and outages stop this round (retried after a backoff); a problem for an
        admin is retried slowly until fixed; anything else is given up after a few tries. The
        case's other deliveries still go out unless Slack itself is the trouble."""
        failure = classify(error, channel)
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
            self._alert_admins(failure, channel, given_up=True)
        if failure.kind == Kind.TRANSIENT:
            raise error

    def deliver_notices(self) -> None:
        """Promoter notices belong to no case, so they are leased one by one."""
        try:
            for delivery in self.store.pending_deliveries(case_id=None, now=self.clock()):
                if not self.store.lease_delivery(delivery.id, self.clock(), self.lease_seconds):
                    continue
                feedback = self.repository.feedback(delivery.feedback_id)
                channel = self._channel_of(feedback.department)
                try:
                    self._send_delivery(
                        delivery, channel, promoter_notice(feedback, self.policy), thread_ts=None
                    )
                except MustWait as wait:  # paced: its slot is booked; other channels may go now
                    self.store.defer_delivery(delivery.id, self.clock() + timedelta(seconds=wait.seconds))
                except SendError as exc:
                    log.warning(
                        "notice for response %s not sent (%s); will retry",
                        feedback.external_id,
                        explain(exc, channel),
                    )
                    return  # Slack is slowing us down or away: the rest waits
        finally:
            now = self.clock()
            due = self.store.next_notice_at(now)  # the first paced or rate-limited one
            if due is not None:
                self.on_deferred(None, (due - now).total_seconds())

    def sweep(self) -> int:
        """Catch up on everything owed (after a restart, a Slack outage, a lost race). One case's
        trouble never stops the others."""
        pending = self.store.cases_needing_sync(self.clock())
        for case_id in pending:
            try:
                self.sync_case(case_id)
            except Exception:
                log.exception("case #%s could not be synced; the next sweep retries", case_id)
        try:
            self.deliver_notices()
        except Exception:
            log.exception("notices could not be sent; the next sweep retries")
        return len(pending)


def moot_reason(delivery: DeliveryRecord, event: EventRecord, case: CaseSnapshot) -> str | None:
    """Why a direct message no longer makes sense, re-checked at the moment of sending."""
    if case.status == CaseStatus.CLOSED:
        return "the case was closed before this could be sent"
    if delivery.kind == DeliveryKind.ESCALATION_DM and event.details.get("step") not in open_steps(case):
        return "the step was done before this could be sent"
    if (
        delivery.kind in (DeliveryKind.REMINDER_DM, DeliveryKind.ASSIGNED_DM)
        and case.owner_id != delivery.recipient
    ):
        return "the case has another owner now"
    return None


def _as_kwargs(message: Message) -> dict[str, Any]:
    return {"text": message.text, "blocks": message.blocks}
