"""Who may do what to a case, decided from its state and the policy's permissions alone (pure:
no I/O, no clock).

Each check returns None when the action is allowed, or the sentence to show the person privately.
A refusal because of *who* is asking is an `Unauthorised` (and is recorded in the case's history);
one because of the case's state (already closed, someone else was quicker) is a plain string.
"""

from __future__ import annotations

from collections.abc import Collection

from bot.domain.vocabulary import CaseStatus


class Unauthorised(str):
    """A refusal text that marks the person as not allowed, rather than the case as not ready."""

    __slots__ = ()


def claim_refusal(
    status: str, owner: str | None, user: str, claimers: Collection[str] | None = None
) -> str | None:
    """`claimers` None: anyone may claim; otherwise only those listed (the department's people)."""
    if status == CaseStatus.CLOSED:
        return "This loop is already closed."
    if owner == user:
        return "You already own this case."
    if owner is not None:
        return f"<@{owner}> already owns this case."
    if claimers is not None and user not in claimers:
        return Unauthorised("Only this department's members can claim its cases.")
    return None


def owner_refusal(status: str, owner: str | None, user: str, action: str) -> str | None:
    """Release and log contact are the owner's."""
    if status == CaseStatus.CLOSED:
        return "This loop is already closed."
    if owner is None:
        return f"Claim the case first to {action}."
    if owner != user:
        return Unauthorised(f"Only the owner, <@{owner}>, can {action}.")
    return None


def close_refusal(
    status: str,
    owner: str | None,
    user: str,
    managers: Collection[str],
    claimers: Collection[str] | None = None,
) -> str | None:
    """The owner or a manager of the department closes a claimed case; an unclaimed one may be
    closed by anyone allowed to claim it, who then becomes its owner (a quick fix should not
    need two clicks)."""
    if status == CaseStatus.CLOSED:
        return "This loop is already closed."
    if owner == user or user in managers:
        return None
    if owner is None:
        if claimers is not None and user not in claimers:
            return Unauthorised("Only this department's members or managers can close its cases.")
        return None
    return Unauthorised(f"Only the owner, <@{owner}>, or a manager of this department can close this case.")


def reopen_refusal(status: str, owner: str | None, user: str, managers: Collection[str]) -> str | None:
    """A closed loop is reopened by its owner or a manager, e.g. when the customer writes back."""
    if status != CaseStatus.CLOSED:
        return "This case is still open."
    if owner == user or user in managers:
        return None
    return Unauthorised(f"Only the owner, <@{owner}>, or a manager of this department can reopen this case.")
