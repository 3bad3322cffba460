"""Answers to an escalation, as managers give them from the escalation's direct message:
acknowledge it, hand the case to someone, or snooze it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.app.cases import ActionResult, CaseActions
from bot.domain import lifecycle
from bot.domain.lifecycle import Action, Code, Refusal
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.domain.vocabulary import EventKind
from storage.deadline_store import DeadlineStore, EscalationAnswer
from storage.escalation_answers import EscalationAnswers
from storage.repository import Repository

Where = tuple[str, str] | None  # (channel, ts) of the DM the answer was given from


def answer_details(how: EventKind, *, to: str | None = None, until: datetime | None = None) -> dict[str, Any]:
    """How an escalation was answered, as its DMs word it (`bot.slack.deadline_text.answer_outcome`)."""
    details: dict[str, Any] = {"answer": str(how)}
    if to is not None:
        details["to"] = to
    if until is not None:
        details["until"] = until.isoformat()
    return details


class EscalationActions:
    def __init__(
        self,
        repository: Repository,
        cases: CaseActions,
        deadlines: DeadlineStore,
        policy: Policy,
        clock: Callable[[], datetime],
        on_changed: Callable[[int], None],
        answers: EscalationAnswers | None = None,
    ) -> None:
        self.repository = repository
        self.cases = cases
        self.deadlines = deadlines
        self.policy = policy
        self.clock = clock
        self.on_changed = on_changed
        self.answers = answers or EscalationAnswers(repository.database)

    def _check(self, case_id: int, user: str, action: Action) -> CaseSnapshot | ActionResult:
        """The case, if `user` may give this answer now; otherwise the refusal."""
        checked = self.cases.open_form(case_id, user, action)
        if checked.refusal is not None or checked.case is None:
            return checked
        return checked.case

    def _share(self, case_id: int, step: str, user: str, details: dict[str, Any], where: Where) -> None:
        """The others asked are told who answered: their DMs' buttons are owed an edit. A separate
        transaction after the answer's (a crash between the two leaves live buttons, whose click
        is then told who answered first)."""
        self.answers.share(case_id, step, user, details, self.clock(), answered_in=where)

    def _answered(
        self,
        case_id: int,
        answer: EscalationAnswer,
        step: str,
        user: str,
        details: dict[str, Any],
        where: Where,
    ) -> ActionResult:
        if answer.refusal is None:
            self._share(case_id, step, user, details, where)
            self.on_changed(case_id)
        return ActionResult(answer.case, answer.refusal)

    def acknowledge(self, case_id: int, step: str, user: str, *, where: Where = None) -> ActionResult:
        checked = self._check(case_id, user, Action.ACKNOWLEDGE)
        if isinstance(checked, ActionResult):
            return checked
        answer = self.deadlines.acknowledge(case_id, step, user, self.clock())
        return self._answered(case_id, answer, step, user, answer_details(EventKind.ACKNOWLEDGED), where)

    def snooze(
        self, case_id: int, step: str, level: int, user: str, length: timedelta, *, where: Where = None
    ) -> ActionResult:
        checked = self._check(case_id, user, Action.SNOOZE)
        if isinstance(checked, ActionResult):
            return checked
        choices = self.policy.sla.escalation.snooze_choices if self.policy.sla else []
        if length not in choices:
            return ActionResult(
                checked, Refusal(Code.SNOOZE_NOT_OFFERED, Action.SNOOZE, owner=checked.owner_id)
            )
        now = self.clock()
        answer = self.deadlines.snooze(case_id, step, level, user, now + length, now)
        details = answer_details(EventKind.SNOOZED, until=now + length)
        return self._answered(case_id, answer, step, user, details, where)

    def reassign(
        self, case_id: int, step: str | None, user: str, new_owner: str, *, where: Where = None
    ) -> ActionResult:
        case = self._check(case_id, user, Action.REASSIGN)
        if isinstance(case, ActionResult):
            return case
        refusal = lifecycle.reassign_refusal(self.policy, case, new_owner)
        if refusal is not None:
            return ActionResult(case, refusal)
        result = self.repository.reassign(
            case_id, user, new_owner, self.clock(), expected_owner=case.owner_id, step=step
        )
        if result.applied and step is not None:
            self._share(case_id, step, user, answer_details(EventKind.REASSIGNED, to=new_owner), where)
        if not result.applied and result.case is not None:
            # Lost a race: the target may own it by now, which the table does not know of.
            refusal = lifecycle.reassign_refusal(self.policy, result.case, new_owner)
            if refusal is not None:
                return ActionResult(result.case, refusal)
        return self.cases.finish(result, user, Action.REASSIGN)
