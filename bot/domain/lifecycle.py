"""The case lifecycle as one table: which action each role may take from each status.

Use cases ask it before a change (`refusal`), storage turns it into the condition of its one
atomic UPDATE (`guard`), and the Slack layer words the codes it returns; so the rules are written
once. Nothing here speaks Slack or SQL.

The table has a cell per (action, status): an ordered list of (role, outcome) pairs, and the
first role the person has decides (`None`: allowed, else the refusal code). Every cell ends with
`Role.ANYONE`, so every person gets an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Protocol

from bot.domain.deadlines import escalation_contacts
from bot.domain.policy import Policy
from bot.domain.vocabulary import CaseStatus


class Action(StrEnum):
    """What people do to a case. The value is what the history records of a refused attempt."""

    CLAIM = "claim"
    RELEASE = "release"
    LOG_CONTACT = "log a contact"
    CLOSE = "close"
    REOPEN = "reopen"
    REASSIGN = "reassign"
    ACKNOWLEDGE = "acknowledge an escalation"
    SNOOZE = "snooze an escalation"
    SEE_CONTACT_DETAILS = "see contact details"
    HAND_OVER = "hand over"  # the owner, or a department manager, gives the case to a colleague
    WIN_BACK = "close as won back"  # the owner closes a case whose customer turned promoter


ESCALATION_ANSWERS = frozenset({Action.REASSIGN, Action.ACKNOWLEDGE, Action.SNOOZE})


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"  # a manager of the case's department (Policy.department_of)
    CLAIMER = "claimer"  # may claim its cases: anyone, or with permissions.claim: department its people
    RESPONDER = "responder"  # hears of its escalations: the department's managers or the second level
    ANYONE = "anyone"


class Code(StrEnum):
    NOT_FOUND = "not_found"
    CHANGED_MEANWHILE = "changed_meanwhile"  # lost a race the re-check cannot name
    ALREADY_CLOSED = "already_closed"
    STILL_OPEN = "still_open"
    ALREADY_YOURS = "already_yours"
    OWNED_BY_SOMEONE_ELSE = "owned_by_someone_else"
    NOT_CLAIMED = "not_claimed"
    ONLY_OWNER = "only_owner"
    ONLY_OWNER_OR_MANAGER = "only_owner_or_manager"
    ONLY_MEMBERS = "only_members"
    ONLY_MEMBERS_OR_MANAGERS = "only_members_or_managers"
    NOT_A_RESPONDER = "not_a_responder"
    NOT_A_MEMBER = "not_a_member"  # the person a case is reassigned to
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    NOTHING_TO_ACKNOWLEDGE = "nothing_to_acknowledge"
    NOTHING_TO_SNOOZE = "nothing_to_snooze"
    SNOOZE_NOT_OFFERED = "snooze_not_offered"
    NOT_WON_BACK = "not_won_back"  # Close as won back on a case whose customer did not turn promoter
    ONLY_MANAGERS = "only_managers"  # assigning a case nobody has claimed is a manager's call


# Refusals because of who is asking, not of the case's state: recorded in the case's history.
ABOUT_WHO = frozenset(
    {
        Code.ONLY_OWNER,
        Code.ONLY_OWNER_OR_MANAGER,
        Code.ONLY_MEMBERS,
        Code.ONLY_MEMBERS_OR_MANAGERS,
        Code.NOT_A_RESPONDER,
        Code.ONLY_MANAGERS,
    }
)


@dataclass(frozen=True)
class Refusal:
    """Why an action was not taken, with the facts its words need."""

    code: Code
    action: Action
    owner: str | None = None  # the case's owner, for refusals that name them
    person: str | None = None  # someone else they name: who acknowledged first, the new owner

    @property
    def about_who(self) -> bool:
        return self.code in ABOUT_WHO


Cell = tuple[tuple[Role, Code | None], ...]


def only(*roles: Role, otherwise: Code) -> Cell:
    return (*((role, None) for role in roles), (Role.ANYONE, otherwise))


def refuse(code: Code) -> Cell:
    return ((Role.ANYONE, code),)


NEW, CLAIMED, CONTACTED, CLOSED = CaseStatus.NEW, CaseStatus.CLAIMED, CaseStatus.CONTACTED, CaseStatus.CLOSED
_closed = refuse(Code.ALREADY_CLOSED)
_taken = ((Role.OWNER, Code.ALREADY_YOURS), (Role.ANYONE, Code.OWNED_BY_SOMEONE_ELSE))
_owners = only(Role.OWNER, otherwise=Code.ONLY_OWNER)
_owners_while_open = {NEW: refuse(Code.NOT_CLAIMED), CLAIMED: _owners, CONTACTED: _owners, CLOSED: _closed}
_owner_or_manager = only(Role.OWNER, Role.MANAGER, otherwise=Code.ONLY_OWNER_OR_MANAGER)
_responders = only(Role.RESPONDER, otherwise=Code.NOT_A_RESPONDER)
# Escalation answers are for responders only: others are not even told the loop is closed.
_responders_closed = ((Role.RESPONDER, Code.ALREADY_CLOSED), (Role.ANYONE, Code.NOT_A_RESPONDER))

# NEW cases are unowned; claimed, contacted and closed ones have an owner (closing an unowned case
# makes the closer its owner: a quick fix should not need two clicks).
TABLE: Mapping[Action, Mapping[CaseStatus, Cell]] = {
    Action.CLAIM: {
        NEW: only(Role.CLAIMER, otherwise=Code.ONLY_MEMBERS),
        CLAIMED: _taken,
        CONTACTED: _taken,
        CLOSED: _closed,
    },
    Action.RELEASE: _owners_while_open,
    Action.LOG_CONTACT: _owners_while_open,
    Action.CLOSE: {
        NEW: only(Role.CLAIMER, Role.MANAGER, otherwise=Code.ONLY_MEMBERS_OR_MANAGERS),
        CLAIMED: _owner_or_manager,
        CONTACTED: _owner_or_manager,
        CLOSED: _closed,
    },
    Action.REOPEN: {
        NEW: refuse(Code.STILL_OPEN),
        CLAIMED: refuse(Code.STILL_OPEN),
        CONTACTED: refuse(Code.STILL_OPEN),
        CLOSED: _owner_or_manager,
    },
    **{
        action: {NEW: _responders, CLAIMED: _responders, CONTACTED: _responders, CLOSED: _responders_closed}
        for action in (Action.REASSIGN, Action.ACKNOWLEDGE, Action.SNOOZE)
    },
    # The channel sees contact details masked; the owner sees them in full.
    Action.SEE_CONTACT_DETAILS: {status: _owners for status in CaseStatus},
    # A claimed case can be handed on by its owner, or by a manager of its department at any time;
    # a manager may also assign one nobody has claimed yet (it becomes claimed by the new owner).
    Action.HAND_OVER: {
        NEW: only(Role.MANAGER, otherwise=Code.ONLY_MANAGERS),
        CLAIMED: _owner_or_manager,
        CONTACTED: _owner_or_manager,
        CLOSED: _closed,
    },
    # Credited as won back to whoever closes it, so only the owner may, in one click.
    Action.WIN_BACK: _owners_while_open,
}


def decide(action: Action, status: str, roles: frozenset[Role]) -> Code | None:
    """The outcome for someone with `roles` (ANYONE is implied): None when allowed."""
    for role, outcome in TABLE[action][CaseStatus(status)]:
        if role in roles or role is Role.ANYONE:
            return outcome
    raise AssertionError(f"the cell of {action} from {status} does not end with ANYONE")


class CaseState(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def owner_id(self) -> str | None: ...

    @property
    def department(self) -> str: ...


def roles_of(policy: Policy, case: CaseState, user: str) -> frozenset[Role]:
    """The roles `user` has for this case (its department as `Policy.department_of` answers)."""
    claimers = policy.claimers(case)
    found = {Role.ANYONE}
    if case.owner_id == user:
        found.add(Role.OWNER)
    if user in policy.department_of(case).managers:
        found.add(Role.MANAGER)
    if claimers is None or user in claimers:
        found.add(Role.CLAIMER)
    if user in escalation_contacts(policy, case):
        found.add(Role.RESPONDER)
    return frozenset(found)


def refusal(policy: Policy, case: CaseState, user: str, action: Action) -> Refusal | None:
    """Whether `user` may take `action` on the case as it stands: None, or why not."""
    code = decide(action, case.status, roles_of(policy, case, user))
    return None if code is None else Refusal(code, action, owner=case.owner_id)


def reassign_refusal(policy: Policy, case: CaseState, new_owner: str) -> Refusal | None:
    """Whether the case can go to `new_owner`: one of the people who may claim it, not its owner."""
    claimers = policy.claimers(case)
    if claimers is not None and new_owner not in claimers:
        return Refusal(Code.NOT_A_MEMBER, Action.REASSIGN, owner=case.owner_id, person=new_owner)
    if case.owner_id == new_owner:
        return Refusal(Code.OWNED_BY_SOMEONE_ELSE, Action.REASSIGN, owner=new_owner)
    return None


class OwnerCondition(Enum):
    ACTOR = "actor"  # the person acting must (still) own the case
    AS_CHECKED = "as_checked"  # the owner must still be the one the permission was checked against


@dataclass(frozen=True)
class Guard:
    """What must still hold when a change is written: storage makes it the UPDATE's condition."""

    statuses: frozenset[CaseStatus]
    owner: OwnerCondition


def guard(action: Action) -> Guard:
    """Read off the table: the statuses someone may take `action` from, and whether the owner must
    be the actor (only the owner may, wherever allowed) or merely unchanged since the check."""
    cells = TABLE[action]
    statuses = frozenset(s for s, cell in cells.items() if any(outcome is None for _, outcome in cell))
    permitted = {role for s in statuses for role, outcome in cells[s] if outcome is None}
    owner = OwnerCondition.ACTOR if permitted == {Role.OWNER} else OwnerCondition.AS_CHECKED
    return Guard(statuses, owner)
