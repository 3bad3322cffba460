"""Sending "You said, we did": a unit of work on the outbox's pool, like the follow-ups'.

Run when an announcement is confirmed, at every outbox sweep, and when its pace or a backoff
says the next one is due. Each customer is leased at the pace `outer_loop.shipped_per_minute`
allows (the slots are taken in the database, so several processes share one pace), re-checked
(an opt-out may have come in meanwhile), marked `sending`, and only then sent, over the same
channel a follow-up takes (SMTP, or the department's helpdesk webhook). When every customer of
an announcement is settled, its summary is owed to the departments' channels.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.domain.outer_loop import refusal_of
from bot.domain.policy import Policy
from bot.domain.shipped import Recipient, compose
from bot.outbox.failures import backoff
from bot.outbox.mail import Addresses, Outcome, SmtpMailer, build_message, new_message_id
from bot.outbox.mail_worker import (
    MAX_ATTEMPTS,
    NOT_SET_UP,
    RUN_SECONDS,
    Person,
    post_to_helpdesk,
    send_lease_seconds,
)
from bot.outbox.webhooks import Post, post_json
from bot.settings import MailSettings
from storage.shipped import Lease, ShippedStore

log = logging.getLogger(__name__)

BATCH = 100  # at most this many sends per run, and at most RUN_SECONDS (see mail_worker)


class ShippedSender:
    def __init__(
        self,
        *,
        store: ShippedStore,
        policy: Policy,
        clock: Callable[[], datetime],
        mail: MailSettings | None,
        people: Callable[[str], Person],
        on_settled: Callable[[], None],
        helpdesk_secrets: Mapping[str, str] | None = None,
        mailer: SmtpMailer | None = None,
        post: Post = post_json,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.mail = mail
        self.mailer = mailer or (SmtpMailer(mail) if mail is not None else None)
        self.people = people
        self.on_settled = on_settled  # summaries are owed: the outbox should sweep
        self.helpdesk_secrets = dict(helpdesk_secrets or {})
        self.post = post
        self.on_deferred: Callable[[float], None] = lambda _seconds: None
        self.lease = timedelta(seconds=send_lease_seconds(mail))  # as a follow-up's

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=1) / self.policy.outer_loop.shipped_per_minute

    def run(self) -> int:
        """Send what the pace allows now; returns how many went out. A run ends after
        RUN_SECONDS (it comes back at once for the rest), or at the first mail server that could
        not be reached (the rest would wait out the same timeout; the backoff brings it back)."""
        start = self.clock()
        uncertain = self.store.find_interrupted(start)
        if uncertain:
            log.error(
                "%d 'you said, we did' mails were being sent when the bot stopped: uncertain", uncertain
            )
        sent = 0
        wait: float | None = None
        for _ in range(BATCH):
            now = self.clock()
            if (now - start).total_seconds() >= RUN_SECONDS:
                wait = 0.0
                break
            leased = self.store.lease_next(now, self.lease, self.interval)
            if leased is None:
                break
            if isinstance(leased, float):
                if leased > 0:
                    wait = leased
                    break
                continue  # another process took that slot: ask for the next one
            try:
                outcome = self._send(leased)
            except Exception:  # one customer's trouble never stops the others; its lease runs out
                log.exception("'you said, we did' mail %s could not be sent", leased.id)
                continue
            sent += outcome is not None and outcome.sent
            if outcome is not None and outcome.unreachable:
                break
        else:
            wait = 0.0  # a whole batch went (a fast pace): come back at once for the rest
        after = self.clock()
        if self.store.settle(after):
            self.on_settled()
        due = self.store.next_retry_at(after)
        if due is not None:
            retry = (due - after).total_seconds()
            wait = retry if wait is None else min(wait, retry)
        if wait is not None:
            self.on_deferred(wait)
        return sent

    def _send(self, lease: Lease) -> Outcome | None:
        """The outcome of sending it, or None when nothing was tried."""
        outer = self.policy.outer_loop
        refusal = refusal_of(outer, lease.department, lease.contact_ok, lease.to_address)
        if refusal is not None:  # re-checked at sending: an opt-out, or the suppression list grew
            self.store.mark_skipped(lease.id, refusal.code, f"not sent: {refusal.reason}")
            return None
        author = self.people(lease.author)
        recipient = Recipient(
            lease.customer, lease.feedback_id, lease.case_id, lease.department,
            "webhook" if lease.via == "webhook" else "email", lease.name, lease.to_address, lease.language,
        )  # fmt: skip
        composed = compose(outer, recipient, lease.label, author.name, lease.note)
        if lease.via == "webhook":
            outcome = self._webhook(lease, composed.subject, author)
            if outcome is None:
                return None
        else:
            if self.mailer is None or self.mail is None:
                self.store.mark_failed(lease.id, NOT_SET_UP)
                return None
            message_id = new_message_id(self.mail.sender)
            if not self.store.mark_sending(lease.id, lease.lease_until, self.clock(), message_id):
                return None  # our lease ran out and someone else has it
            reply_to = author.email or outer.reply_to
            addresses = Addresses(self.mail.sender, lease.name, lease.to_address or "", reply_to)
            outcome = self.mailer.send(build_message(composed, addresses, self.clock(), message_id))
        self._record(lease, outcome)
        return outcome

    def _webhook(self, lease: Lease, subject: str, author: Person) -> Outcome | None:
        """The helpdesk writes to the customer: a signed POST whose id is the same on every try."""
        route = self.policy.outer_loop.helpdesk[lease.department]
        event_id = f"msg_shipped_{lease.id}"
        if not self.store.mark_sending(lease.id, lease.lease_until, self.clock(), event_id):
            return None
        now = self.clock()
        body = json.dumps(
            {
                "type": "customer.you_said_we_did",
                "timestamp": now.isoformat(),
                "data": {
                    "theme": lease.label,
                    "case_id": lease.case_id,
                    "response_id": lease.external_id,
                    "survey": lease.survey,
                    "customer": {"id": lease.customer_id, "name": lease.name, "email": lease.to_address},
                    "language": lease.language,
                    "subject": subject,
                    "note": lease.note,
                    "author": {"slack_id": lease.author, "name": author.name, "email": author.email},
                },
            },
            separators=(",", ":"),
        )
        secret = self.helpdesk_secrets[lease.department]
        return post_to_helpdesk(self.post, route.url, secret, event_id, now, body)

    def _record(self, lease: Lease, outcome: Outcome) -> None:
        now = self.clock()
        if outcome.sent:
            self.store.mark_sent(lease.id, now)
            return
        attempts = lease.attempts + 1
        if outcome.uncertain:
            log.error("'you said, we did' mail %s may or may not have gone: %s", lease.id, outcome.reason)
            self.store.mark_failed(lease.id, outcome.reason, uncertain=True)
        elif outcome.retry and attempts < MAX_ATTEMPTS:
            log.warning("'you said, we did' mail %s not sent (%s); again later", lease.id, outcome.reason)
            self.store.retry_later(lease.id, outcome.reason, now + backoff(attempts))
        else:
            log.error("'you said, we did' mail %s given up: %s", lease.id, outcome.reason)
            self.store.mark_failed(lease.id, outcome.reason)
