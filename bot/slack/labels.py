"""Words people read for stored values."""

from __future__ import annotations

from bot.domain.vocabulary import CaseStatus, Category, ContactChannel, Outcome, Priority, Step

CATEGORY_EMOJI = {Category.DETRACTOR: "🔴", Category.PASSIVE: "🟡", Category.PROMOTER: "🟢"}

OUTCOMES = {
    Outcome.RESOLVED: "Resolved",
    Outcome.PARTLY_RESOLVED: "Partly resolved",
    Outcome.NOT_RESOLVED: "Not resolved",
    Outcome.UNREACHABLE: "Could not reach the customer",
}

CONTACT_CHANNELS = {
    ContactChannel.PHONE: "Phone",
    ContactChannel.EMAIL: "Email",
    ContactChannel.CHAT: "Chat",
    ContactChannel.MEETING: "Meeting",
}

STATUSES = {
    CaseStatus.NEW: "🆕 New — unclaimed",
    CaseStatus.CLAIMED: "👤 Claimed",
    CaseStatus.CONTACTED: "📞 Customer contacted",
    CaseStatus.CLOSED: "✅ Loop closed",
}

PRIORITIES = {
    Priority.LOW: "Low",
    Priority.NORMAL: "Normal",
    Priority.HIGH: "High",
    Priority.URGENT: "Urgent",
}


STEPS = {
    Step.CLAIM: "claim",
    Step.FIRST_CONTACT: "first contact",
    Step.CLOSE: "close the loop",
}


def label(mapping: dict[str, str], value: str | None) -> str:
    if value is None:
        return "—"
    return mapping.get(value, value)  # type: ignore[call-overload]
