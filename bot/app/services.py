"""The objects listeners need, handed to each handler module's `register` by the wiring module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.app.cases import CaseActions
from bot.app.escalations import EscalationActions
from bot.app.intake import IntakeService
from bot.domain.policy import Policy
from storage.deadline_store import DeadlineStore
from storage.repository import Repository


@dataclass(frozen=True)
class Services:
    policy: Policy
    repository: Repository
    intake: IntakeService
    cases: CaseActions
    escalations: EscalationActions
    deadlines: DeadlineStore
    clock: Callable[[], datetime]
    intake_token: str | None
