"""Case actions as staff take them: permission checks from the domain, atomic changes in storage,
and a nudge to the publisher once the change is committed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain import rules
from bot.policy import Policy
from storage.records import CaseSnapshot, ChangeResult, CloseDetails
from storage.repository import Repository


@dataclass(frozen=True)
class ActionResult:
    """`refusal` is None when the change was made; otherwise the private explanation to show."""

    case: CaseSnapshot | None
    refusal: str | None = None

    @property
    def done(self) -> bool:
        return self.refusal is None


NOT_FOUND = "This case no longer exists."


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

    def _managers(self, case: CaseSnapshot) -> list[str]:
        try:
            return self.policy.department(case.department).managers
        except KeyError:
            return []

    def _finish(self, result: ChangeResult, refusal: Callable[[CaseSnapshot], str | None]) -> ActionResult:
        if result.applied and result.case is not None:
            self.on_changed(result.case.id)
            return ActionResult(result.case)
        # Lost a race or not allowed: explain from the state we lost to.
        case = result.case
        reason = refusal(case) if case else NOT_FOUND
        return ActionResult(case, reason or "Someone changed this case just now — please try again.")

    def get(self, case_id: int) -> CaseSnapshot | None:
        return self.repository.find_case(case_id)

    def claim(self, case_id: int, user: str) -> ActionResult:
        result = self.repository.claim(case_id, user, self.clock())
        return self._finish(result, lambda c: rules.claim_refusal(c.status, c.owner_id, user))

    def release(self, case_id: int, user: str) -> ActionResult:
        result = self.repository.release(case_id, user, self.clock())
        return self._finish(result, lambda c: rules.owner_refusal(c.status, c.owner_id, user, "release it"))

    def check_owner(self, case: CaseSnapshot, user: str, action: str) -> str | None:
        return rules.owner_refusal(case.status, case.owner_id, user, action)

    def check_close(self, case: CaseSnapshot, user: str) -> str | None:
        return rules.close_refusal(case.status, case.owner_id, user, self._managers(case))

    def log_contact(self, case_id: int, user: str, channel: str, note: str) -> ActionResult:
        result = self.repository.log_contact(case_id, user, channel, note, self.clock())
        return self._finish(
            result, lambda c: rules.owner_refusal(c.status, c.owner_id, user, "log a contact")
        )

    def close(self, case_id: int, user: str, details: CloseDetails) -> ActionResult:
        case = self.repository.find_case(case_id)
        if case is None:
            return ActionResult(None, NOT_FOUND)
        refusal = self.check_close(case, user)
        if refusal:
            return ActionResult(case, refusal)
        result = self.repository.close(case_id, user, details, self.clock(), expected_owner=case.owner_id)
        return self._finish(result, lambda c: self.check_close(c, user))
