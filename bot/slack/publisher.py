"""Bringing Slack up to date with the database, after commit and off the request path.

The database is the truth; Slack is a view of it. A case message is (re)rendered from the case's
current row whenever it shows an older version, and pending deliveries (thread replies,
shout-outs, notices) are sent oldest first. Everything is leased, so a sweep and a request-time
sync, or two processes, never send the same thing twice, and whatever fails is retried by the
next sweep: nothing is lost when Slack is down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.policy import Policy
from bot.slack.case_message import Message, case_message
from bot.slack.notices import announcement, promoter_notice, thread_reply
from storage.records import CaseSnapshot, DeliveryRecord
from storage.repository import Repository
from storage.sync_store import SyncStore
from storage.vocabulary import DeliveryKind

log = logging.getLogger(__name__)

HINTS = {
    "not_in_channel": "invite the bot to the channel: type `/invite @closeloop` in <#{channel}>",
    "channel_not_found": "channel {channel} does not exist or is private — check its id in the policy file",
    "is_archived": "channel {channel} is archived — unarchive it or point the policy at another channel",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid — reinstall the app and copy the new token",
    "ratelimited": "Slack asked us to slow down; the next sweep retries",
}


def explain(error: SlackApiError, channel: str | None) -> str:
    code = str(error.response.get("error", "unknown_error"))
    hint = HINTS.get(code, "")
    return f"{code}: {hint.format(channel=channel)}" if hint else code


class Publisher:
    def __init__(
        self,
        *,
        repository: Repository,
        sync_store: SyncStore,
        policy: Policy,
        client: WebClient,
        clock: Callable[[], datetime],
        lease_seconds: float = 120.0,
    ) -> None:
        self.repository = repository
        self.store = sync_store
        self.policy = policy
        self.client = client
        self.clock = clock
        self.lease_seconds = lease_seconds

    def _post(self, channel: str, message: Message, *, thread_ts: str | None = None) -> str:
        response = self.client.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            thread_ts=thread_ts,
            metadata=message.metadata,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["ts"])

    def sync_case(self, case_id: int) -> bool:
        """Post or update the case message, then send what the case owes. True when all is sent."""
        case = self.store.lease_case(case_id, self.clock(), self.lease_seconds)
        if case is None:
            return False  # another worker has it; it will see our change too
        error: str | None = None
        try:
            case = self._sync_message(case)
            for delivery in self.store.pending_deliveries(case_id=case_id):
                self._deliver(delivery, case)
        except SlackApiError as exc:
            error = explain(exc, case.slack_channel or self._channel_of(case))
            log.warning(
                "case #%s: Slack refused an update (%s); will retry on the next sweep", case_id, error
            )
        finally:
            self.store.release_case(case_id, error=error)
        return error is None

    def _channel_of(self, case: CaseSnapshot) -> str:
        return self.policy.department(case.department).channel

    def _sync_message(self, case: CaseSnapshot) -> CaseSnapshot:
        # Re-read after leasing: the snapshot taken with the lease is the newest committed state.
        while case.slack_ts is None or case.message_version < case.version:
            message = case_message(case, self.policy)
            if case.slack_ts is None:
                channel = self._channel_of(case)
                ts = self._post(channel, message)
                self.store.mark_posted(case.id, channel, ts, case.version)
            else:
                self.client.chat_update(
                    channel=str(case.slack_channel),
                    ts=case.slack_ts,
                    text=message.text,
                    blocks=message.blocks,
                )
                self.store.mark_rendered(case.id, case.version)
            case = self.repository.get_case(case.id)
        return case

    def _deliver(self, delivery: DeliveryRecord, case: CaseSnapshot) -> None:
        if delivery.event_id is None or case.slack_ts is None or case.slack_channel is None:
            return
        event = self.repository.event(delivery.event_id)
        try:
            if delivery.kind == DeliveryKind.THREAD_REPLY:
                channel = case.slack_channel
                ts = self._post(channel, thread_reply(event, case), thread_ts=case.slack_ts)
            elif delivery.kind == DeliveryKind.ANNOUNCEMENT:
                channel = self.policy.announcements.channel
                ts = self._post(channel, announcement(event, case, self.policy))
            else:
                return
        except SlackApiError as exc:
            self.store.mark_attempt_failed(delivery.id, explain(exc, case.slack_channel), permanent=False)
            raise
        self.store.mark_delivered(delivery.id, channel, ts, self.clock())

    def deliver_notices(self) -> None:
        """Promoter notices belong to no case, so they are leased one by one."""
        for delivery in self.store.pending_deliveries(case_id=None):
            if not self.store.lease_delivery(delivery.id, self.clock(), self.lease_seconds):
                continue
            feedback = self.repository.feedback(delivery.feedback_id)
            channel = self.policy.department(feedback.department).channel
            try:
                ts = self._post(channel, promoter_notice(feedback))
            except SlackApiError as exc:
                reason = explain(exc, channel)
                log.warning("notice for response %s not sent (%s); will retry", feedback.external_id, reason)
                self.store.mark_attempt_failed(delivery.id, reason, permanent=False)
                continue
            self.store.mark_delivered(delivery.id, channel, ts, self.clock())

    def sweep(self) -> int:
        """Catch up on everything owed (after a restart, a Slack outage, a lost race)."""
        pending = self.store.cases_needing_sync(self.clock())
        for case_id in pending:
            self.sync_case(case_id)
        self.deliver_notices()
        return len(pending)


class PublishQueue:
    """Runs publisher work on one background thread so acks and intake never wait on Slack.

    `wait_idle` lets tests and the demo wait for the work they caused, without sleeping.
    """

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="closeloop-publish")
        self._idle = threading.Condition()
        self._in_flight = 0
        self._queued_cases: set[int | None] = set()

    def request(self, case_id: int | None) -> None:
        """Sync one case soon; None means the case-less notices."""
        with self._idle:
            if case_id in self._queued_cases:
                return
            self._queued_cases.add(case_id)
            self._in_flight += 1
        self._executor.submit(self._run, case_id)

    def request_sweep(self) -> None:
        with self._idle:
            self._in_flight += 1
        self._executor.submit(self._run_sweep)

    def _run(self, case_id: int | None) -> None:
        with self._idle:
            self._queued_cases.discard(case_id)
        try:
            if case_id is None:
                self.publisher.deliver_notices()
            else:
                self.publisher.sync_case(case_id)
        except Exception:
            log.exception("publishing case %s failed; the next sweep retries", case_id)
        finally:
            self._done()

    def _run_sweep(self) -> None:
        try:
            self.publisher.sweep()
        except Exception:
            log.exception("sweep failed; it runs again at the next interval")
        finally:
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
