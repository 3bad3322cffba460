"""Case actions as staff take them: permission checks from the domain, atomic changes in storage,
and a nudge to the publisher once the change is committed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain import rules
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot, ChangeResult, CloseDetails
from bot.domain.rules import Unauthorised
from storage.repository import Repository


@dataclass(frozen=True)
class ActionResult:
    """`refusal` is None when the change was made; otherwise the private explanation to show."""

    case: CaseSnapshot | None
    refusal: str | None = None

    @property
    def done(self) -> bool:
        return self.refusal is None


log = logging.getLogger(__name__)

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

    def _claimers(self, case: CaseSnapshot) -> frozenset[str] | None:
        return self.policy.claimers(case.department)

    def refused(self, case: CaseSnapshot, user: str, action: str, reason: str) -> ActionResult:
        """Tell the person why; when it is about who they are, also record it (audit trail)."""
        if isinstance(reason, Unauthorised):
            log.info("case #%s: %s may not %s (%s)", case.id, user, action, reason)
            self.repository.record_refusal(case.id, user, action, reason, self.clock())
        return ActionResult(case, reason)

    def _finish(
        self, result: ChangeResult, user: str, action: str, refusal: Callable[[CaseSnapshot], str | None]
    ) -> ActionResult:
        if result.applied and result.case is not None:
            self.on_changed(result.case.id)
            return ActionResult(result.case)
        # Lost a race or not allowed: explain from the state we lost to.
        case = result.case
        if case is None:
            return ActionResult(None, NOT_FOUND)
        reason = refusal(case) or "Someone changed this case just now — please try again."
        return self.refused(case, user, action, reason)

    def get(self, case_id: int) -> CaseSnapshot | None:
        return self.repository.find_case(case_id)

    def _claim_refusal(self, case: CaseSnapshot, user: str) -> str | None:
        return rules.claim_refusal(case.status, case.owner_id, user, self._claimers(case))

    def claim(self, case_id: int, user: str) -> ActionResult:
        case = self.repository.find_case(case_id)
        if case is None:
            return ActionResult(None, NOT_FOUND)
        refusal = self._claim_refusal(case, user)
        if isinstance(refusal, Unauthorised):  # state refusals are re-checked atomically below
            return self.refused(case, user, "claim", refusal)
        result = self.repository.claim(case_id, user, self.clock())
        return self._finish(result, user, "claim", lambda c: self._claim_refusal(c, user))

    def release(self, case_id: int, user: str) -> ActionResult:
        result = self.repository.release(case_id, user, self.clock())
        return self._finish(
            result, user, "release", lambda c: rules.owner_refusal(c.status, c.owner_id, user, "release it")
        )

    def check_owner(self, case: CaseSnapshot, user: str, action: str) -> str | None:
        """For opening the owner's forms; a refusal about who is asking is recorded."""
        refusal = rules.owner_refusal(case.status, case.owner_id, user, action)
        if refusal:
            self.refused(case, user, action, refusal)
        return refusal

    def check_close(self, case: CaseSnapshot, user: str) -> str | None:
        refusal = rules.close_refusal(
            case.status, case.owner_id, user, self._managers(case), self._claimers(case)
        )
        if refusal:
            self.refused(case, user, "close", refusal)
        return refusal

    def log_contact(self, case_id: int, user: str, channel: str, note: str) -> ActionResult:
        result = self.repository.log_contact(case_id, user, channel, note, self.clock())
        return self._finish(
            result,
            user,
            "log a contact",
            lambda c: rules.owner_refusal(c.status, c.owner_id, user, "log a contact"),
        )

    def contact_details(self, case_id: int, user: str) -> ActionResult:
        """Unmasked contact details are the owner's (the channel sees them masked)."""
        case = self.repository.find_case(case_id)
        if case is None:
            return ActionResult(None, NOT_FOUND)
        if case.owner_id != user:
            return self.refused(
                case,
                user,
                "see contact details",
                Unauthorised("Only the case's owner can see these details."),
            )
        return ActionResult(case)

    def _reopen_refusal(self, case: CaseSnapshot, user: str) -> str | None:
        return rules.reopen_refusal(case.status, case.owner_id, user, self._managers(case))

    def reopen(self, case_id: int, user: str) -> ActionResult:
        case = self.repository.find_case(case_id)
        if case is None:
            return ActionResult(None, NOT_FOUND)
        refusal = self._reopen_refusal(case, user)
        if refusal:
            return self.refused(case, user, "reopen", refusal)
        result = self.repository.reopen(case_id, user, self.clock())
        return self._finish(result, user, "reopen", lambda c: self._reopen_refusal(c, user))

    def close(self, case_id: int, user: str, details: CloseDetails) -> ActionResult:
        case = self.repository.find_case(case_id)
        if case is None:
            return ActionResult(None, NOT_FOUND)
        refusal = self.check_close(case, user)
        if refusal:
            return ActionResult(case, refusal)
        result = self.repository.close(case_id, user, details, self.clock(), expected_owner=case.owner_id)
        return self._finish(
            result,
            user,
            "close",
            lambda c: rules.close_refusal(c.status, c.owner_id, user, self._managers(c), self._claimers(c)),
        )
