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


class DeliveryKind(StrEnum):
    """Messages owed to Slack besides the case message itself (which is kept in sync by version)."""

    THREAD_REPLY = "thread_reply"
    ANNOUNCEMENT = "announcement"
    NOTICE = "notice"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
