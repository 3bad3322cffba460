"""The persisted vocabulary: values stored in the database, shared by the domain and storage.

Kept free of SQLAlchemy so the pure domain can use it; the strings are what the database holds,
so renaming a member needs a migration.
"""

from enum import StrEnum


class Survey(StrEnum):
    NPS = "nps"
    CSAT = "csat"
    CES = "ces"


class Category(StrEnum):
    """Every survey type is mapped onto the NPS vocabulary so one policy covers all of them."""

    DETRACTOR = "detractor"
    PASSIVE = "passive"
    PROMOTER = "promoter"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class CaseStatus(StrEnum):
    NEW = "new"
    CLAIMED = "claimed"
    CONTACTED = "contacted"
    CLOSED = "closed"


OPEN_STATUSES: tuple[CaseStatus, ...] = (CaseStatus.NEW, CaseStatus.CLAIMED, CaseStatus.CONTACTED)


class Outcome(StrEnum):
    RESOLVED = "resolved"
    PARTLY_RESOLVED = "partly_resolved"
    NOT_RESOLVED = "not_resolved"
    UNREACHABLE = "unreachable"


class ContactChannel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    MEETING = "meeting"


class EventKind(StrEnum):
    CREATED = "created"
    FEEDBACK_UPDATED = "feedback_updated"
    CLAIMED = "claimed"
    RELEASED = "released"
    CONTACT_LOGGED = "contact_logged"
    CLOSED = "closed"
    REROUTED = "rerouted"
    REASSIGNED = "reassigned"
    ANSWER_SHARED = "answer_shared"  # an escalation's answer shown on its other recipients' DMs
    REOPENED = "reopened"
    REFUSED = "refused"  # someone tried what the policy does not allow them (an audit trail)
    CLAIM_NUDGE = "claim_nudge"  # unclaimed at the claim deadline: the department is mentioned
    OWNER_REMINDED = "owner_reminded"
    ESCALATED = "escalated"  # a deadline was missed: managers (or the second level) were told
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RECOGNISED = "recognised"  # a leader recognised a closed loop with a note
    TURNED_AROUND = "turned_around"  # on an earlier case: its detractor came back as a promoter
    # Telling the customer what was done (bot/domain/outer_loop.py): a follow-up queued, sent,
    # given up, left uncertain by a crash mid-send, or marked not needed; the owner reminded.
    FOLLOW_UP_QUEUED = "follow_up_queued"
    CUSTOMER_TOLD = "customer_told"
    FOLLOW_UP_FAILED = "follow_up_failed"
    FOLLOW_UP_UNCERTAIN = "follow_up_uncertain"
    FOLLOW_UP_NOT_NEEDED = "follow_up_not_needed"
    PROMISE_REMINDED = "promise_reminded"
    SHIPPED_TOLD = "shipped_told"  # "You said, we did": the customer was told a theme was fixed


class DeliveryKind(StrEnum):
    """Messages owed to Slack besides the case message itself (which is kept in sync by version)."""

    THREAD_REPLY = "thread_reply"
    ANNOUNCEMENT = "announcement"
    NOTICE = "notice"
    MOVED = "moved"  # the old message of a case that was re-routed: edited to point to the new one
    ESCALATION_DM = "escalation_dm"  # to each manager (or second-level person) of an escalation
    ANSWERED_DM = "answered_dm"  # an escalation DM edited to say who answered it (no buttons left)
    REMINDER_DM = "reminder_dm"  # to the owner, before the close deadline
    ASSIGNED_DM = "assigned_dm"  # to the new owner of a reassigned case
    ANNOUNCEMENT_REFRESH = "announcement_refresh"  # the shout-out edited to show its kudos (coalesced)
    RECOGNITION_REPLY = "recognition_reply"  # a leader's note, in the shout-out's thread
    RECOGNITION_DM = "recognition_dm"  # the same note, to the person who closed the loop
    NOTICE_REFRESH = "notice_refresh"  # a promoter's notice edited to show who followed up (coalesced)
    TURNAROUND = "turnaround"  # a detractor won back, celebrated in the announcements channel
    CLOSED_ITSELF = "closed_itself"  # thread reply: an unclaimed case its customer's new score made moot
    THEME_ALERT = "theme_alert"  # one theme's detractors spiked: the department's channel, naming the cases
    FOLLOW_UP_REPLY = "follow_up_reply"  # thread reply: the customer was told, or could not be
    PROMISE_DM = "promise_dm"  # to the owner: the customer was not told yet (outer_loop.remind_after)
    FOLLOW_UP_DM = "follow_up_dm"  # to the author: a mail's fate is uncertain after a crash, or it failed
    SHIPPED_SUMMARY = "shipped_summary"  # "You said, we did": told / skipped / failed, per department


DM_KINDS = (DeliveryKind.ESCALATION_DM, DeliveryKind.REMINDER_DM, DeliveryKind.ASSIGNED_DM)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # a reminder that was moot by the time it could be sent (case closed)


class Step(StrEnum):
    """The steps of a closed loop that have deadlines, in the order they are due."""

    CLAIM = "claim"
    FIRST_CONTACT = "first_contact"
    CLOSE = "close"


class DeadlineKind(StrEnum):
    CLAIM_NUDGE = "claim_nudge"  # a thread reply mentioning the department
    OWNER_REMINDER = "owner_reminder"  # a DM to the owner before the close deadline
    ESCALATION = "escalation"  # level 1: the department's managers; level 2: the second level
    PROMISE_REMINDER = "promise_reminder"  # a closed case whose customer was not told yet (its owner)


class FollowUp(StrEnum):
    """Where telling the customer stands on a closed case (cases.customer_follow_up)."""

    OWED = "owed"  # closed with "customer told: no"
    SENDING = "sending"  # a message is queued or being sent (retried with backoff)
    TOLD = "told"
    FAILED = "failed"  # given up: shown on the case, the owner may try again
    UNCERTAIN = "uncertain"  # a crash mid-send: a person decides whether to send again
    NOT_NEEDED = "not_needed"


class MessageStatus(StrEnum):
    """One follow-up message (customer_messages.status)."""

    PENDING = "pending"
    SENDING = "sending"  # written before the SMTP send: found so after a crash, it is uncertain
    SENT = "sent"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    CANCELLED = "cancelled"  # still pending when its case was reopened: never sent


class DeadlineStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    CANCELLED = "cancelled"  # the step was done (or the case closed) before it was due
    ACKNOWLEDGED = "acknowledged"  # a manager took the escalation: the rest of its chain stops
    SUPERSEDED = "superseded"  # due together with a later one for the same people: only that one went
    RETIRED = "retired"  # history of a chain that starts over (case moved department, loop reopened)


class ThemeSource(StrEnum):
    """Where a response's theme came from (theme_tags.source)."""

    TAG = "tag"  # the survey tool's tags
    OWNER = "owner"  # picked from the policy's themes when the loop was closed


class PromoterAction(StrEnum):
    """The buttons on a promoter's notice; each is recorded once per response (the first press)."""

    THANKED = "thanked"
    REVIEW_ASKED = "review_asked"
    REFERENCE = "reference_candidate"
