"""Who may do what to a case, decided from its state alone (pure: no I/O, no clock).

Each check returns None when the action is allowed, or the sentence to show the person privately.
"""

from __future__ import annotations

from collections.abc import Collection

from storage.vocabulary import CaseStatus


def claim_refusal(status: str, owner: str | None, user: str) -> str | None:
    if status == CaseStatus.CLOSED:
        return "This loop is already closed."
    if owner == user:
        return "You already own this case."
    if owner is not None:
        return f"<@{owner}> already owns this case."
    return None


def owner_refusal(status: str, owner: str | None, user: str, action: str) -> str | None:
    """Release and log contact are the owner's."""
    if status == CaseStatus.CLOSED:
        return "This loop is already closed."
    if owner is None:
        return f"Claim the case first to {action}."
    if owner != user:
        return f"Only the owner, <@{owner}>, can {action}."
    return None


def close_refusal(status: str, owner: str | None, user: str, managers: Collection[str]) -> str | None:
    """The owner or a manager of the department closes a claimed case; an unclaimed one may be
    closed by anyone, who then becomes its owner (a quick fix should not need two clicks)."""
    if status == CaseStatus.CLOSED:
        return "This loop is already closed."
    if owner is None or owner == user or user in managers:
        return None
    return f"Only the owner, <@{owner}>, or a manager of this department can close this case."
