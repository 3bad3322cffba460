"""How a closed case's message shows where telling the customer stands, and its buttons for it.

Kept apart from bot.slack.tell_customer (the modal and the follow-up's messages, which use the
case message's own helpers) so the case message can import it without a cycle."""

from __future__ import annotations

from typing import Any

from bot.domain.outer_loop import ContactRefusal, contact_refusal
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.domain.vocabulary import CaseStatus, FollowUp
from bot.slack import kit
from bot.slack.actions import ActionId, CaseRef

# What the button reads when the customer must not be written to; a click says the whole reason.
REFUSAL_LABELS = {
    "opted_out": "🚫 Asked not to be contacted",
    "no_address": "🚫 No e-mail address",
    "suppressed": "🚫 Address suppressed",
}

LINES = {
    FollowUp.OWED: "📭 *Customer not told yet* — tell them what was done, or mark it not needed.",
    FollowUp.SENDING: "📤 *Follow-up on its way* to the customer…",
    FollowUp.TOLD: "📨 *Customer told* — the follow-up was sent (the thread says who, when and how).",
    FollowUp.FAILED: "⚠️ *Follow-up failed* — it could not be sent (the thread says why); try again.",
    FollowUp.UNCERTAIN: (
        "❓ *Follow-up uncertain* — the bot stopped while sending it. Send it again only if the "
        "customer did not get it."
    ),
    FollowUp.NOT_NEEDED: "🤐 Telling the customer was marked not needed.",
}


def refusal_of(case: CaseSnapshot, policy: Policy) -> ContactRefusal | None:
    return contact_refusal(policy.outer_loop, case)


def follow_up_line(case: CaseSnapshot, policy: Policy) -> str | None:
    if case.status != CaseStatus.CLOSED:
        return None
    refusal = refusal_of(case, policy)
    if refusal is not None and case.follow_up != FollowUp.TOLD:
        return f"🚫 *Not to be written to:* {refusal.reason}"
    return LINES.get(FollowUp(case.follow_up)) if case.follow_up else None


def follow_up_buttons(case: CaseSnapshot, policy: Policy) -> list[dict[str, Any]]:
    """Tell the customer (Send again when the last one is uncertain) and Not needed while a word
    is owed (or again after Not needed); the refusal's own label when the customer must not be
    written to. A loop closed with the customer told shows neither."""
    if case.status != CaseStatus.CLOSED or case.follow_up in (None, FollowUp.SENDING, FollowUp.TOLD):
        return []  # None: closed with "customer told: yes", nothing owed
    value = CaseRef(case_id=case.id, version=case.version).encode()
    refusal = refusal_of(case, policy)
    if refusal is not None:
        buttons = [kit.button(REFUSAL_LABELS[refusal.code], ActionId.TELL_CUSTOMER, value)]
    elif case.follow_up == FollowUp.UNCERTAIN:
        buttons = [kit.button("Send again", ActionId.SEND_AGAIN, value)]
    else:
        style = "primary" if case.follow_up in (FollowUp.OWED, FollowUp.FAILED) else None
        buttons = [kit.button("Tell the customer", ActionId.TELL_CUSTOMER, value, style=style)]
    if case.follow_up in (FollowUp.OWED, FollowUp.FAILED, FollowUp.UNCERTAIN):
        buttons.append(kit.button("Not needed", ActionId.FOLLOW_UP_NOT_NEEDED, value))
    return buttons
