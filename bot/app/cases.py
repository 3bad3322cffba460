"""Case actions as staff take them: permission checks from the lifecycle table, atomic changes in
storage, and a nudge to the publisher once the change is committed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain import lifecycle
from bot.domain.lifecycle import Action, Code, OwnerCondition, Refusal
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot, ChangeResult, CloseDetails
from bot.domain.turnarounds import won_back_from
from bot.domain.vocabulary import Category, Outcome
from storage.repository import Repository


@dataclass(frozen=True)
class ActionResult:
    """`refusal` None: done, and `case` is the case as changed. Otherwise why not (the Slack layer
    words it), with the case as it stands when there is one."""

    case: CaseSnapshot | None
    refusal: Refusal | None = None

    @property
    def done(self) -> bool:
        return self.refusal is None


log = logging.getLogger(__name__)


class CaseActions:
    def __init__(
        self,
        repository: Repository,
        policy: Policy,
        clock: Callable[[], datetime],
        on_changed: Callable[[int], None],
    ) -> None:
        self.repository = repository
        self.policy = policy
        self.clock = clock
        self.on_changed = on_changed

    def check(self, case: CaseSnapshot, user: str, action: Action) -> Refusal | None:
        """The lifecycle table's answer; a refusal about who is asking is also recorded (audit
        trail), one about the case's state is not (someone was merely quicker)."""
        refusal = lifecycle.refusal(self.policy, case, user, action)
        if refusal is not None:
            self.record(case, user, refusal)
        return refusal

    def record(self, case: CaseSnapshot, user: str, refusal: Refusal) -> None:
        if refusal.about_who:
            log.info("case #%s: %s may not %s (%s)", case.id, user, refusal.action, refusal.code)
            self.repository.record_refusal(case.id, user, refusal, self.clock())

    def open_form(self, case_id: int, user: str, action: Action) -> ActionResult:
        """Before showing the form of `action` (Log contact, Close loop): may this person use it?"""
        case = self.repository.find_case(case_id)
        if case is None:
            return ActionResult(None, Refusal(Code.NOT_FOUND, action))
        return ActionResult(case, self.check(case, user, action))

    def finish(self, result: ChangeResult, user: str, action: Action) -> ActionResult:
        """After the guarded write: publish a change made, or explain one lost from the state it
        lost to (the table names the reason; a change it cannot name is a race lost)."""
        if result.applied and result.case is not None:
            self.on_changed(result.case.id)
            return ActionResult(result.case)
        case = result.case
        if case is None:
            return ActionResult(None, Refusal(Code.NOT_FOUND, action))
        refusal = self.check(case, user, action)
        return ActionResult(case, refusal or Refusal(Code.CHANGED_MEANWHILE, action, owner=case.owner_id))

    def _change(
        self, case_id: int, user: str, action: Action, write: Callable[[CaseSnapshot], ChangeResult]
    ) -> ActionResult:
        """Check against the case as read, then write guarded by the same table (the check may be
        stale by then; the guard is not)."""
        checked = self.open_form(case_id, user, action)
        if checked.refusal is not None or checked.case is None:
            return checked
        return self.finish(write(checked.case), user, action)

    def _guard_decides(self, action: Action) -> bool:
        """Whether the guarded UPDATE's condition is the whole permission check, so reading the
        case to check first would only cost a transaction: the actions only the owner may take
        (release, log a contact), and claiming when anyone may claim. A refused write is still
        explained, and recorded, by `finish` from the case as it then stands."""
        if action is Action.CLAIM:
            return self.policy.permissions.claim == "anyone"
        return lifecycle.guard(action).owner is OwnerCondition.ACTOR

    def _write_first(
        self, case_id: int, user: str, action: Action, write: Callable[[], ChangeResult]
    ) -> ActionResult:
        if self._guard_decides(action):
            return self.finish(write(), user, action)
        return self._change(case_id, user, action, lambda _: write())

    def claim(self, case_id: int, user: str) -> ActionResult:
        return self._write_first(
            case_id, user, Action.CLAIM, lambda: self.repository.claim(case_id, user, self.clock())
        )

    def release(self, case_id: int, user: str) -> ActionResult:
        return self._write_first(
            case_id, user, Action.RELEASE, lambda: self.repository.release(case_id, user, self.clock())
        )

    def log_contact(self, case_id: int, user: str, channel: str, note: str) -> ActionResult:
        return self._write_first(
            case_id,
            user,
            Action.LOG_CONTACT,
            lambda: self.repository.log_contact(case_id, user, channel, note, self.clock()),
        )

    def close(self, case_id: int, user: str, details: CloseDetails) -> ActionResult:
        return self._change(
            case_id,
            user,
            Action.CLOSE,
            lambda case: self.repository.close(
                case_id,
                user,
                details,
                self.clock(),
                expected_owner=case.owner_id,
                announce=self.policy.announces(details.outcome),  # only successes get a shout-out
            ),
        )

    def close_won_back(self, case_id: int, user: str) -> ActionResult:
        """Close as won back, one click for the owner of a case whose customer went from detractor
        to promoter meanwhile: resolved, announced as a success if the policy announces that."""

        checked = self.open_form(case_id, user, Action.WIN_BACK)
        if checked.refusal is not None or checked.case is None:
            return checked
        turned = checked.case.category == Category.PROMOTER
        from_score = won_back_from(self.repository.history(case_id)) if turned else None
        if from_score is None:
            return ActionResult(checked.case, Refusal(Code.NOT_WON_BACK, Action.WIN_BACK))
        announce = self.policy.announces(Outcome.RESOLVED)
        result = self.repository.close_won_back(case_id, user, from_score, self.clock(), announce=announce)
        return self.finish(result, user, Action.WIN_BACK)

    def reopen(self, case_id: int, user: str) -> ActionResult:
        return self._change(
            case_id,
            user,
            Action.REOPEN,
            lambda case: self.repository.reopen(case_id, user, self.clock(), expected_owner=case.owner_id),
        )

    def contact_details(self, case_id: int, user: str) -> ActionResult:
        """Unmasked contact details are the owner's (the channel sees them masked)."""
        return self.open_form(case_id, user, Action.SEE_CONTACT_DETAILS)

    def hand_over(self, case_id: int, user: str, new_owner: str, reason: str) -> ActionResult:
        """The owner, or a manager of the department, gives the case to someone who may claim it,
        saying why: the new owner is told by direct message, the thread and history keep it. A
        manager may assign a case nobody has claimed too (the guard then wants it still unowned,
        so of a claim and an assignment at once only one is written)."""
        checked = self.open_form(case_id, user, Action.HAND_OVER)
        if checked.refusal is not None or checked.case is None:
            return checked
        refusal = self._receiver_refusal(checked.case, user, new_owner)
        if refusal is not None:
            return ActionResult(checked.case, refusal)
        result = self.repository.reassign(
            case_id,
            user,
            new_owner,
            self.clock(),
            expected_owner=checked.case.owner_id,
            reason=reason,
            action=Action.HAND_OVER,
        )
        if not result.applied and result.case is not None:
            # Lost a race: the new owner may own it by now, which the table does not know of.
            refusal = self._receiver_refusal(result.case, user, new_owner)
            if refusal is not None:
                return ActionResult(result.case, refusal)
        return self.finish(result, user, Action.HAND_OVER)

    def _receiver_refusal(self, case: CaseSnapshot, user: str, new_owner: str) -> Refusal | None:
        """Whether the case may go to `new_owner` (one of those who may claim it, not its owner)."""
        refusal = lifecycle.reassign_refusal(self.policy, case, new_owner)
        if refusal is None:
            return None
        if refusal.code is Code.OWNED_BY_SOMEONE_ELSE and new_owner == user:
            return Refusal(Code.ALREADY_YOURS, Action.HAND_OVER, owner=user)
        return replace(refusal, action=Action.HAND_OVER)
