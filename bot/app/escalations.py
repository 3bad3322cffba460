"""Answers to an escalation, as managers give them from the escalation's direct message:
acknowledge it, hand the case to someone, or snooze it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.app.cases import NOT_FOUND, ActionResult, CaseActions
from bot.domain.deadlines import escalation_contacts
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.domain.rules import Unauthorised
from bot.domain.vocabulary import CaseStatus
from storage.deadline_store import DeadlineStore
from storage.repository import Repository

NOT_A_RESPONDER = "Only this department's managers (or the escalation contacts in the policy) can do that."


class EscalationActions:
    def __init__(
        self,
        repository: Repository,
        cases: CaseActions,
        deadlines: DeadlineStore,
        policy: Policy,
        clock: Callable[[], datetime],
        on_changed: Callable[[int], None],
    ) -> None:
        self.repository = repository
        self.cases = cases
        self.deadlines = deadlines
        self.policy = policy
        self.clock = clock
        self.on_changed = on_changed

    def _check(self, case_id: int, user: str, action: str) -> CaseSnapshot | ActionResult:
        """The case, if `user` may answer its escalations now; otherwise the refusal to show."""
        case = self.repository.find_case(case_id)
        if case is None:
            return ActionResult(None, NOT_FOUND)
        if user not in escalation_contacts(self.policy, case.department):
            return self.cases.refused(case, user, action, Unauthorised(NOT_A_RESPONDER))
        if case.status == CaseStatus.CLOSED:
            return ActionResult(case, "This loop is already closed — nothing to do.")
        return case

    def acknowledge(self, case_id: int, step: str, user: str) -> ActionResult:
        checked = self._check(case_id, user, "acknowledge an escalation")
        if isinstance(checked, ActionResult):
            return checked
        answer = self.deadlines.acknowledge(case_id, step, user, self.clock())
        if answer.refusal is None:
            self.on_changed(case_id)
        return ActionResult(answer.case, answer.refusal)

    def snooze(self, case_id: int, step: str, level: int, user: str, length: timedelta) -> ActionResult:
        checked = self._check(case_id, user, "snooze an escalation")
        if isinstance(checked, ActionResult):
            return checked
        choices = self.policy.sla.escalation.snooze_choices if self.policy.sla else []
        if length not in choices:
            return ActionResult(None, "That snooze time is not offered any more — pick one from the list.")
        now = self.clock()
        answer = self.deadlines.snooze(case_id, step, level, user, now + length, now)
        if answer.refusal is None:
            self.on_changed(case_id)
        return ActionResult(answer.case, answer.refusal)

    def reassign(self, case_id: int, step: str | None, user: str, new_owner: str) -> ActionResult:
        case = self._check(case_id, user, "reassign")
        if isinstance(case, ActionResult):
            return case
        claimers = self.policy.claimers(case.department)
        if claimers is not None and new_owner not in claimers:
            return ActionResult(
                case, f"<@{new_owner}> is not one of this department's members in the policy."
            )
        result = self.repository.reassign(case_id, user, new_owner, self.clock(), step=step)
        if result.applied and result.case is not None:
            self.on_changed(case_id)
            return ActionResult(result.case)
        case = result.case
        if case is None:
            return ActionResult(None, NOT_FOUND)
        if case.owner_id == new_owner:
            return ActionResult(case, f"<@{new_owner}> already owns this case.")
        return ActionResult(case, "This loop is already closed — nothing to do.")
