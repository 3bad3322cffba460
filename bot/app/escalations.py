"""Answers to an escalation, as managers give them from the escalation's direct message:
acknowledge it, hand the case to someone, or snooze it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.app.cases import ActionResult, CaseActions
from bot.domain import lifecycle
from bot.domain.lifecycle import Action, Code, Refusal
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from storage.deadline_store import DeadlineStore, EscalationAnswer
from storage.repository import Repository


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

    def _check(self, case_id: int, user: str, action: Action) -> CaseSnapshot | ActionResult:
        """The case, if `user` may give this answer now; otherwise the refusal."""
        checked = self.cases.open_form(case_id, user, action)
        if checked.refusal is not None or checked.case is None:
            return checked
        return checked.case

    def _answered(self, case_id: int, answer: EscalationAnswer) -> ActionResult:
        if answer.refusal is None:
            self.on_changed(case_id)
        return ActionResult(answer.case, answer.refusal)

    def acknowledge(self, case_id: int, step: str, user: str) -> ActionResult:
        checked = self._check(case_id, user, Action.ACKNOWLEDGE)
        if isinstance(checked, ActionResult):
            return checked
        return self._answered(case_id, self.deadlines.acknowledge(case_id, step, user, self.clock()))

    def snooze(self, case_id: int, step: str, level: int, user: str, length: timedelta) -> ActionResult:
        checked = self._check(case_id, user, Action.SNOOZE)
        if isinstance(checked, ActionResult):
            return checked
        choices = self.policy.sla.escalation.snooze_choices if self.policy.sla else []
        if length not in choices:
            return ActionResult(
                checked, Refusal(Code.SNOOZE_NOT_OFFERED, Action.SNOOZE, owner=checked.owner_id)
            )
        now = self.clock()
        return self._answered(case_id, self.deadlines.snooze(case_id, step, level, user, now + length, now))

    def reassign(self, case_id: int, step: str | None, user: str, new_owner: str) -> ActionResult:
        case = self._check(case_id, user, Action.REASSIGN)
        if isinstance(case, ActionResult):
            return case
        refusal = lifecycle.reassign_refusal(self.policy, case, new_owner)
        if refusal is not None:
            return ActionResult(case, refusal)
        result = self.repository.reassign(
            case_id, user, new_owner, self.clock(), expected_owner=case.owner_id, step=step
        )
        if not result.applied and result.case is not None:
            # Lost a race: the target may own it by now, which the table does not know of.
            refusal = lifecycle.reassign_refusal(self.policy, result.case, new_owner)
            if refusal is not None:
                return ActionResult(result.case, refusal)
        return self.cases.finish(result, user, Action.REASSIGN)
