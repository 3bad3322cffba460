"""The weekly digest: what is due, what one says, and sending each (digest, week) exactly once.

Once per period, across processes and restarts: `DigestStore.claim` inserts the week's row with
ON CONFLICT DO NOTHING and only the inserter sends. Its send is resumable: the lead's ts and
the number of parts posted are recorded as they go, so a process that takes over an abandoned
send (its lease ran out) posts only what is missing, after looking in Slack for the one part
whose outcome is unknown. Only the newest due week is ever sent: after downtime the week missed
goes out late, once; an older unfinished one is given up, never sent as a backlog.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot.app.digest_chart import chart_png
from bot.app.queries import CaseQueries
from bot.domain.digest import CHART_WEEKS, Digest, DigestTarget, Week, WeekPoint, targets
from bot.domain.digest_policy import DigestPolicy, latest_due_week, week_label
from bot.domain.digest_send import DigestSend, SendStatus
from bot.domain.leaderboard import MissedThankYou, ranked
from bot.domain.policy import Policy
from bot.domain.promoters import THANK_YOU_WITHIN
from bot.slack.digest_message import chart_comment, chart_title, lead_message, thread_parts
from bot.slack.digest_post import LEAD, DigestPoster
from storage.digests import DigestStore
from storage.leaderboard import LeaderboardStore

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a send takes seconds; a process silent this long is gone
CHECK_SECONDS = 60.0  # how often the scheduler asks what is due
MISSED_LISTED = 10
MISSED_SCANNED = 10_000  # a week's promoter notices, far above any real week
HINTS = {
    "not_in_channel": "invite the bot to channel {channel}: type /invite @closeloop there",
    "channel_not_found": "channel {channel} does not exist or is private — check digest.channel "
    "(or the department's channel) in the policy file",
    "is_archived": "channel {channel} is archived — unarchive it or point the policy at another channel",
    "missing_scope": "the app lacks a permission (files:write for the chart) — reinstall it from "
    "slack-manifest.yml",
}


@dataclass(frozen=True)
class Outcome:
    """What asking for one digest led to. `status`: sent (by this call), already_sent, sending
    (someone else is at it), failed (retried later), given_up."""

    status: str
    target: DigestTarget
    period: str
    send: DigestSend | None = None
    error: str | None = None


def _reason(error: Exception, channel: str) -> tuple[str, float | None]:
    """One line for the log and the admin, and the seconds Slack asked us to wait, if it did."""
    if not isinstance(error, SlackApiError):
        return f"Slack unreachable ({type(error).__name__}: {error})", None
    code = str(error.response.get("error", "unknown_error"))
    hint = HINTS.get(code)
    retry_after = None
    if error.response.status_code == 429:
        header = (error.response.headers or {}).get("Retry-After") or "1"
        retry_after = float(header) if str(header).isdigit() else 1.0
    return (f"{code}: {hint.format(channel=channel)}" if hint else code), retry_after


def _backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, at most an hour: an outage is not hammered, a fix is noticed soon."""
    return timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 3600))


class DigestService:
    def __init__(
        self,
        *,
        policy: Policy,
        queries: CaseQueries,
        leaderboard: LeaderboardStore,
        store: DigestStore,
        poster: DigestPoster | None,
        clock: Callable[[], datetime],
        refused: Callable[[Exception, str], None] = lambda _error, _channel: None,
    ) -> None:
        """`refused(error, channel)` is told of each failed send, so admins hear of what only they
        can fix (the bot not invited, the channel archived)."""
        self.refused = refused
        self.policy = policy
        self.queries = queries
        self.leaderboard = leaderboard
        self.store = store
        self.poster = poster
        self.clock = clock

    @property
    def spec(self) -> DigestPolicy:
        if self.policy.digest is None:
            raise LookupError("the policy has no digest section")
        return self.policy.digest

    # --- what it says ------------------------------------------------------------------------

    def compose(self, target: DigestTarget, monday: date) -> Digest:
        """The digest of the week starting `monday`: its figures against the week before, twelve
        weeks for the chart, and the thread's lists (overdue cases as they are now)."""
        spec = self.spec
        week = Week.of(spec, monday)
        department = target.department
        this_week = self.queries.stats(department, week.since, week.until)
        last_week = this_week.previous or self.queries.stats(
            department, week.since - timedelta(days=7), week.since
        )
        history = []
        for back in range(CHART_WEEKS - 1, 0, -1):
            earlier = Week.of(spec, monday - timedelta(days=7 * back))
            history.append(
                WeekPoint.of(earlier, self.queries.stats(department, earlier.since, earlier.until))
            )
        history.append(WeekPoint.of(week, this_week))
        themes = self.queries.themes(week.since, week.until, department).themes
        themes = sorted(themes, key=lambda t: (-t.current, -t.rise, t.theme))
        standings = ranked(self.leaderboard.standings(week.since, week.until - timedelta(microseconds=1)))
        missed_total, missed = self._missed(week, department)
        if department is not None:
            # A department's digest thanks its own people, when the policy lists them.
            own = self.policy.department(department)
            people = set(own.members) | set(own.managers)
            standings = [s for s in standings if s.user_id in people] if people else standings
        overdue = self.queries.overdue(department).overdue
        return Digest(
            target=target,
            week=week,
            timezone=spec.timezone,
            this_week=this_week,
            last_week=last_week,
            history=history,
            themes=[t for t in themes if t.current > 0],
            thanks=standings,
            overdue_total=overdue.total,
            overdue=overdue.cases,
            missed_total=missed_total,
            missed=missed,
            now=self.clock(),
        )

    def _missed(self, week: Week, department: str | None) -> tuple[int, list[MissedThankYou]]:
        """Promoters noticed whose week to be thanked ran out during `week` with nobody pressing a
        button: all of them, or those noticed in the department's channel."""
        sent_from, sent_before = week.since - THANK_YOU_WITHIN, week.until - THANK_YOU_WITHIN
        if department is None:
            return self.leaderboard.missed_thank_yous(sent_from, sent_before, THANK_YOU_WITHIN, MISSED_LISTED)
        channel = self.policy.department(department).channel
        _, every = self.leaderboard.missed_thank_yous(
            sent_from, sent_before, THANK_YOU_WITHIN, MISSED_SCANNED
        )
        own = [m for m in every if m.channel == channel]
        return len(own), own[:MISSED_LISTED]

    def chart(self, digest: Digest) -> bytes:
        return chart_png(digest.history, chart_title(digest))

    # --- when -------------------------------------------------------------------------------

    def due(self, now: datetime) -> list[tuple[DigestTarget, date]]:
        """Each digest with the newest week due at `now` (none without a digest section)."""
        if self.policy.digest is None:
            return []
        monday = latest_due_week(self.policy.digest, now)
        return [(target, monday) for target in targets(self.policy)]

    def run_due(self) -> list[Outcome]:
        """The scheduler's job: send what is due and not yet sent; give up older unfinished weeks."""
        now = self.clock()
        due = self.due(now)
        latest = {target.key: week_label(monday) for target, monday in due}
        for send in self.store.unfinished(now):
            if send.digest in latest and send.period < latest[send.digest]:
                self.store.given_up(send.id, f"not sent before {latest[send.digest]} was due")
                log.warning("digest %s %s given up: the next week is due", send.digest, send.period)
        return [self.send(target, monday, by="scheduler") for target, monday in due]

    # --- sending ----------------------------------------------------------------------------

    def send(self, target: DigestTarget, monday: date, *, by: str) -> Outcome:
        """Send this week's digest unless it was sent (or is being sent) already: the inserter of
        its row sends, or whoever takes over a send abandoned by a process that died."""
        if self.poster is None:
            raise RuntimeError("this DigestService cannot send (no Slack client)")
        period = week_label(monday)
        now = self.clock()
        claim = self.store.claim(target.key, period, target.channel, now=now, lease=LEASE, by=by)
        send = claim.send
        if not claim.mine:
            status = {SendStatus.SENT: "already_sent", SendStatus.GIVEN_UP: "given_up"}.get(
                send.status, "sending"
            )
            return Outcome(status, target, period, send)
        try:
            self._deliver(send, target, monday)
        except (SlackApiError, OSError) as error:
            reason, retry_after = _reason(error, send.channel)
            wait = timedelta(seconds=retry_after) if retry_after is not None else _backoff(send.attempts)
            self.store.failed(send.id, reason, self.clock() + wait)
            log.error("digest %s %s not sent (%s); tried again in %s", target.key, period, reason, wait)
            self.refused(error, send.channel)
            return Outcome("failed", target, period, self.store.find(target.key, period), reason)
        except Exception as error:  # a bug or the database: the row waits, the other digests go on
            self.store.failed(
                send.id, f"{type(error).__name__}: {error}", self.clock() + _backoff(send.attempts)
            )
            log.exception("digest %s %s failed; tried again later", target.key, period)
            return Outcome("failed", target, period, self.store.find(target.key, period), str(error))
        self.store.sent(send.id, self.clock())
        log.info("digest %s %s sent to %s", target.key, period, send.channel)
        return Outcome("sent", target, period, self.store.find(target.key, period))

    def _deliver(self, send: DigestSend, target: DigestTarget, monday: date) -> None:
        assert self.poster is not None
        poster, channel = self.poster, send.channel
        resumed = send.attempts > 1  # an earlier attempt may have posted the next part unrecorded
        digest = self.compose(target, monday)
        lead_ts = send.lead_ts
        if lead_ts is None:
            if resumed:
                lead_ts = poster.find(channel, send_id=send.id, part=LEAD, since=send.created_at)
            if lead_ts is None:
                lead_ts = poster.post(channel, lead_message(digest), send_id=send.id, part=LEAD)
            self.store.lead_posted(send.id, lead_ts)
        parts = thread_parts(digest, self.policy)
        for index in range(send.parts_done, len(parts)):
            ts = None
            if resumed and index == send.parts_done:
                ts = poster.find(
                    channel, send_id=send.id, part=str(index), since=send.created_at, thread_ts=lead_ts
                )
            if ts is None:
                poster.post(channel, parts[index], send_id=send.id, part=str(index), thread_ts=lead_ts)
            self.store.part_posted(send.id, index + 1)
            self.store.extend(send.id, self.clock() + LEASE)
        if send.parts_done <= len(parts):
            uploaded = (
                resumed
                and send.parts_done == len(parts)
                and poster.find_upload(
                    channel, lead_ts, filename=digest.chart_filename, since=send.created_at
                )
            )
            if not uploaded:
                poster.upload(
                    channel,
                    lead_ts,
                    self.chart(digest),
                    filename=digest.chart_filename,
                    title=chart_title(digest),
                    comment=chart_comment(digest),
                )
            self.store.part_posted(send.id, len(parts) + 1)
