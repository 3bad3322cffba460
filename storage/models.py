"""SQLAlchemy 2.0 typed models.

Times are stored as naive UTC (SQLite has no time zones) and handed back as aware UTC by
`UTCDateTime`, so code above never sees a naive datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    or_,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The outbox's partial indexes on cases (migration 0005 writes the same text).
OWED_SQL = "slack_ts IS NULL OR message_version < version"
LEASED_SQL = "sync_lease_until IS NOT NULL"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Feedback(Base):
    """One survey response, upserted on (survey, external_id) because survey tools re-send updates."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("survey", "external_id", name="uq_feedback_survey_external_id"),
        # A case message shows the customer's earlier responses (storage.customer_history).
        Index("ix_feedback_customer_id", "customer_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200))
    survey: Mapped[str] = mapped_column(String(10))
    score: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[str | None] = mapped_column(String(200))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_account: Mapped[str | None] = mapped_column(String(200))
    customer_segment: Mapped[str | None] = mapped_column(String(100))
    customer_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    touchpoint: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(35))
    # customer.contact_ok at intake: False means never write to them (migration 0016).
    contact_ok: Mapped[bool | None] = mapped_column(Boolean)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)


class Case(Base):
    """The follow-up owed on one piece of feedback.

    `version` grows on every change; `message_version` is the version the Slack message shows, so
    a message is out of date exactly when `message_version < version`.

    Two partial indexes keep the outbox's reads proportional to its work, not to history:
    `ix_cases_owed` holds the cases whose message is owed (`CASE_MESSAGE_OWED`, which queries
    must repeat word for word for the planner to use it), `ix_cases_leased` those leased now.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index(
            "ix_cases_owed",
            "id",
            postgresql_where=text(OWED_SQL),
            sqlite_where=text(OWED_SQL),
        ),
        Index(
            "ix_cases_leased",
            "sync_lease_until",
            postgresql_where=text(LEASED_SQL),
            sqlite_where=text(LEASED_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id"), unique=True)
    department: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(50))
    outcome: Mapped[str | None] = mapped_column(String(30))
    contact_channel: Mapped[str | None] = mapped_column(String(20))
    root_cause: Mapped[str | None] = mapped_column(String(100))
    remedy: Mapped[str | None] = mapped_column(String(100))
    close_note: Mapped[str | None] = mapped_column(Text)
    customer_informed: Mapped[bool | None] = mapped_column(Boolean)
    # Where telling the customer stands (vocabulary.FollowUp; NULL: nothing owed), migration 0016.
    follow_up: Mapped[str | None] = mapped_column(String(20))
    # The score the case was opened with (a re-send can change the response's score): NULL on
    # cases opened before migration 0010, which are shown as unchanged.
    opening_score: Mapped[int | None] = mapped_column(Integer)
    # When each step is due (computed from the policy when the case opens or is re-triaged);
    # NULL when the policy sets no deadline for that step.
    claim_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How long each step took from the opening, in seconds of business time where the department
    # has business hours (wall-clock otherwise), stored when the step happens so `/loop stats`
    # takes percentiles in SQL (migration 0014); NULL while the step is not done.
    claim_seconds: Mapped[int | None] = mapped_column(Integer)
    contact_seconds: Mapped[int | None] = mapped_column(Integer)
    close_seconds: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    slack_channel: Mapped[str | None] = mapped_column(String(50))
    slack_ts: Mapped[str | None] = mapped_column(String(40))
    message_version: Mapped[int] = mapped_column(Integer, default=0)
    # Posts of the case message tried since it last moved; >0 with no ts means a send whose
    # outcome is unknown, so the channel is searched before posting again.
    post_attempts: Mapped[int] = mapped_column(Integer, default=0)
    sync_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_error: Mapped[str | None] = mapped_column(String(500))
    # After a failed sync: not before this time (backoff), and how many failures in a row.
    sync_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


CASE_MESSAGE_OWED = or_(Case.slack_ts.is_(None), Case.message_version < Case.version)


class CaseEvent(Base):
    """Append-only history: who did what to a case, and when. Rows are never updated."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(30))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Delivery(Base):
    """A message owed to Slack (thread reply, announcement, notice), written with the change that
    causes it so a crash between commit and send loses nothing."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # after a failure: not before then
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    slack_channel: Mapped[str | None] = mapped_column(String(50))
    slack_ts: Mapped[str | None] = mapped_column(String(40))
    recipient: Mapped[str | None] = mapped_column(String(50))  # the person a direct message goes to


class Deadline(Base):
    """A reminder or escalation owed at `due_at`, written in the same transaction as the case
    change that makes it due (or no longer due). The scheduler only sweeps these rows, so a
    restart loses nothing and several processes never send one twice.

    (kind, step, level, recipient) names what is owed; `level` is the escalation level, or the
    share of the close deadline (in %) for an owner reminder. `held` marks a snoozed row whose
    time a later re-plan must not move back.
    """

    __tablename__ = "deadlines"
    __table_args__ = (Index("ix_deadlines_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    step: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str | None] = mapped_column(String(50))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(50))


class SlackEvent(Base):
    """Events API deliveries already handled, by `event_id`: Slack retries an event it thinks
    was not acknowledged in time (X-Slack-Retry-Num), and a retry must not act twice."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AdminAlert(Base):
    """When admins were last told about a problem (e.g. 'not_in_channel:C0SUPPORT'), so a stuck
    channel produces one direct message a day, not one per retry; the inserter sends."""

    __tablename__ = "admin_alerts"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DigestRow(Base):
    """One weekly digest of one period: inserted with ON CONFLICT DO NOTHING on (digest, period),
    so of any number of processes exactly one sends it. `status` is sending until every part is
    in Slack; `lease_until` lets another process finish a send whose process died, resuming after
    `lead_ts` and `parts_done` (the thread replies, the chart among them, already posted)."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("digest", "period", name="uq_digests_digest_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(120))  # "all", or "department:<name>"
    period: Mapped[str] = mapped_column(String(10))  # the ISO week, e.g. 2026-W48
    channel: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    lead_ts: Mapped[str | None] = mapped_column(String(40))
    parts_done: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_by: Mapped[str] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)


class Kudos(Base):
    """One person's kudos for a closed loop: a row per (case, person), so a second press takes
    it back and two processes can never count one press twice."""

    __tablename__ = "kudos"
    __table_args__ = (UniqueConstraint("case_id", "user_id", name="uq_kudos_case_id_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    user_id: Mapped[str] = mapped_column(String(50))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Recognition(Base):
    """A leader's note on a closed loop, counted apart from kudos: it goes into the shout-out's
    thread and to the closer by direct message (deliveries about `event_id`)."""

    __tablename__ = "recognitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    leader_id: Mapped[str] = mapped_column(String(50))
    closer_id: Mapped[str] = mapped_column(String(50))
    note: Mapped[str] = mapped_column(Text)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TurnaroundRow(Base):
    """A detractor won back, credited to the owner of the earlier case: at most one per earlier
    case, so the celebration is owed once however many processes see the promoter score (the
    inserter queues it). `later_feedback_id` is the promoter response (a new one, or the same one
    updated); (owner_id, at) lets a leaderboard count won-back per person and period."""

    __tablename__ = "turnarounds"
    __table_args__ = (
        UniqueConstraint("earlier_case_id", name="uq_turnarounds_earlier_case_id"),
        Index("ix_turnarounds_owner_id_at", "owner_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    earlier_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    later_feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id"))
    owner_id: Mapped[str] = mapped_column(String(50))
    from_score: Mapped[int] = mapped_column(Integer)
    to_score: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class PromoterFollowUp(Base):
    """Who first did what about a promoter's notice (thanked, asked for a review, noted a
    reference candidate): one row per (response, action), so a second press by anyone is told
    who did it first, and two processes can never record one action twice."""

    __tablename__ = "promoter_follow_ups"
    __table_args__ = (
        UniqueConstraint("feedback_id", "action", name="uq_promoter_follow_ups_feedback_id_action"),
        Index("ix_promoter_follow_ups_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id"))
    action: Mapped[str] = mapped_column(String(30))
    user_id: Mapped[str] = mapped_column(String(50))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ThemeTag(Base):
    """A theme of a response: one row per (response, theme key, source), `tag` from the survey
    tool, `owner` picked when the loop was closed. The response's department, category and
    arrival are copied here (and kept in step when a re-send changes them), so counting the
    themes among a period's detractors reads this table's index alone (migration 0011)."""

    __tablename__ = "theme_tags"
    __table_args__ = (
        UniqueConstraint("feedback_id", "theme", "source", name="uq_theme_tags_feedback_id_theme_source"),
        # `/loop themes` and the spike check: a period's detractors, grouped by theme (and department).
        Index(
            "ix_theme_tags_category_received_at",
            "category",
            "received_at",
            "department",
            "theme",
            "feedback_id",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id"))
    theme: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(10))
    department: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ThemeAlertRow(Base):
    """The last spike alert of a theme in a department. Claimed with one conditional upsert
    (insert, or take over a row whose alert is older than the window), so of any number of
    processes checking at once exactly one queues the alert; `delivery_id` is that delivery,
    which renders from this row (`feedback_ids`: the detractor responses it names)."""

    __tablename__ = "theme_alerts"

    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    theme: Mapped[str] = mapped_column(String(100), primary_key=True)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer)
    average: Mapped[float | None] = mapped_column(Float)
    feedback_ids: Mapped[list[int]] = mapped_column(JSON)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))


class HomeTab(Base):
    """Someone who has opened the bot's App Home, and the refresh their Home is owed (migration
    0013). Owed while `due_at` is set; every change that owes one adds to `owed_seq`, so a publish
    that read the rows before a change (it remembers the `owed_seq` it leased at) leaves the
    refresh owed. One row per person: a burst of changes coalesces into one publish."""

    __tablename__ = "home_tabs"
    __table_args__ = (Index("ix_home_tabs_due_at", "due_at"),)

    user_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    owed_seq: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))


class HomeShown(Base):
    """A case someone's published Home shows: a change to it owes them a refresh (the old owner's
    after a hand-over, the queue's viewers after a claim)."""

    __tablename__ = "home_shown"
    __table_args__ = (Index("ix_home_shown_case_id", "case_id"),)

    user_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)


class HomeQueue(Base):
    """A department whose unclaimed queue someone's Home lists: a new unclaimed case there owes
    them a refresh."""

    __tablename__ = "home_queues"
    __table_args__ = (Index("ix_home_queues_department", "department"),)

    user_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)


# `/loop leaderboard` reads a period's closed loops, kudos, recognitions and notices by time:
# these indexes let each of its GROUP BY queries read only that period's rows (migration 0009).
Index("ix_cases_closed_at", Case.closed_at, Case.closed_by, Case.created_at)
Index("ix_kudos_given_at", Kudos.given_at)
Index("ix_recognitions_given_at", Recognition.given_at)
Index("ix_deliveries_kind_sent_at", Delivery.kind, Delivery.sent_at)

# `/loop stats` reads a period by time (migration 0014), from the indexes alone on PostgreSQL:
# responses by arrival (covering its sums), the cases opened with what their figures need, the
# closes with their root causes, turnarounds by time.
STATS_CASE_COLUMNS = (
    "status",
    "claimed_at",
    "claim_due_at",
    "claim_seconds",
    "contacted_at",
    "contact_due_at",
    "contact_seconds",
    "closed_at",
    "close_due_at",
    "close_seconds",
)
# The customer's word (storage.consent) is found by their id or their address, lower-cased.
Index("ix_feedback_customer_email_lower", func.lower(Feedback.customer_email))
Index("ix_feedback_received_at", Feedback.received_at, Feedback.department, Feedback.survey, Feedback.score)
Index("ix_cases_created_at", Case.created_at, Case.department, postgresql_include=list(STATS_CASE_COLUMNS))
Index(
    "ix_cases_closed_at_root_cause",
    Case.closed_at,
    Case.department,
    postgresql_include=["closed_by", "root_cause"],
)
Index("ix_turnarounds_at", TurnaroundRow.at)


# Outbound case events (migration 0015): the owed webhook calls of pending rows, one lane per
# case and receiver, read oldest first.
WEBHOOK_PENDING_SQL = "status = 'pending'"


class CaseWebhookEvent(Base):
    """One case event owed to one receiver of the policy's `webhooks`, written in the same
    transaction as the case change. `event_id` is the Standard Webhooks message id: the same on
    every try, so a receiver de-duplicates a resend after a crash. `payload` is the body as sent
    (the case as it stood right after the event), fixed once written so every try signs the same."""

    __tablename__ = "case_webhook_events"
    __table_args__ = (
        UniqueConstraint("event_id", "receiver", name="uq_case_webhook_events_event_id_receiver"),
        Index(
            "ix_case_webhook_events_pending",
            "case_id",
            "receiver",
            "id",
            postgresql_where=text(WEBHOOK_PENDING_SQL),
            sqlite_where=text(WEBHOOK_PENDING_SQL),
        ),
        Index("ix_case_webhook_events_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    case_event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))
    receiver: Mapped[str] = mapped_column(String(60))
    event_type: Mapped[str] = mapped_column(String(30))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # after a failure: not before then
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerMessage(Base):
    """One follow-up to a customer (e-mail, or a helpdesk's webhook), migration 0016. Written
    pending with the Tell-the-customer form; `sending` is committed before the SMTP send, so a
    row found `sending` with its lease gone was being sent when its process died: it becomes
    `uncertain` and is never resent unless a person chooses to (SMTP has no idempotency key)."""

    __tablename__ = "customer_messages"
    __table_args__ = (Index("ix_customer_messages_status_retry_at", "status", "retry_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    via: Mapped[str] = mapped_column(String(10))  # email | webhook
    status: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(50))
    to_address: Mapped[str | None] = mapped_column(String(320))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    note: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    message_id: Mapped[str | None] = mapped_column(String(250))  # the Message-ID header, or the webhook id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))


# `/loop shipped <theme>`: one theme's detractor and passive responses, whenever they came
# (migration 0017); the index above leads with the category and the time, for counting periods.
Index("ix_theme_tags_theme_category", ThemeTag.theme, ThemeTag.category, ThemeTag.feedback_id)


class ShippedAnnouncement(Base):
    """"You said, we did" (`/loop shipped <theme>`, migration 0017): one confirmation, its message
    and author, and the pace its mails go at. `next_at` is the next free send slot, taken with a
    conditional update, so every process together keeps `outer_loop.shipped_per_minute`.
    `status` is `sending` until each recipient is settled, then `done` (the summary is owed then,
    once: the transaction that flips it writes the summary's deliveries)."""

    __tablename__ = "shipped_announcements"
    __table_args__ = (Index("ix_shipped_announcements_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    theme: Mapped[str] = mapped_column(String(100))  # the theme key (bot.domain.themes.theme_key)
    label: Mapped[str] = mapped_column(String(100))  # as shown: the policy's spelling, or the key
    note: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(50))
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    skipped: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {department: {reason: n}}
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


RECIPIENT_LIVE = "status NOT IN ('failed', 'skipped')"  # a recipient told, or still to be


class ShippedRecipient(Base):
    """One customer told (or to be told) about one theme. UNIQUE (theme, customer) and, for
    e-mail, UNIQUE (theme, lower(address)) among rows not failed or skipped: whatever confirms,
    twice or in two processes at once, a customer (and a mailbox) is written to once per theme
    (the insert does nothing on conflict). `sending` is committed before the SMTP send, as for a
    follow-up: found so with its lease gone, the mail is uncertain and never resent by itself."""

    __tablename__ = "shipped_recipients"
    __table_args__ = (
        # Told or being told: a row that failed (known unsent) or was skipped at sending stays
        # with its announcement's summary, and a later confirmation adds a new row (0018).
        Index(
            "uq_shipped_recipients_theme_customer",
            "theme",
            "customer",
            unique=True,
            sqlite_where=text(RECIPIENT_LIVE),
            postgresql_where=text(RECIPIENT_LIVE),
        ),
        Index(
            "uq_shipped_recipients_theme_address",
            "theme",
            text("lower(to_address)"),
            unique=True,
            sqlite_where=text(f"via = 'email' AND {RECIPIENT_LIVE}"),
            postgresql_where=text(f"via = 'email' AND {RECIPIENT_LIVE}"),
        ),
        Index("ix_shipped_recipients_announcement_id_status", "announcement_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("shipped_announcements.id"))
    theme: Mapped[str] = mapped_column(String(100))
    customer: Mapped[str] = mapped_column(String(330))  # "id:<customer id>" or "email:<address>"
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id"))  # the latest matching response
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    department: Mapped[str] = mapped_column(String(100))
    via: Mapped[str] = mapped_column(String(10))  # email | webhook
    name: Mapped[str | None] = mapped_column(String(200))
    to_address: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str | None] = mapped_column(String(35))
    status: Mapped[str] = mapped_column(String(20))  # pending | sending | sent | failed | uncertain
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(250))
    last_error: Mapped[str | None] = mapped_column(String(500))


class ShippedSummary(Base):
    """The summary owed to one department's channel when an announcement is done: which
    delivery posts it (the renderer reads the counts through it)."""

    __tablename__ = "shipped_summaries"

    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("shipped_announcements.id"))
    department: Mapped[str] = mapped_column(String(100))
