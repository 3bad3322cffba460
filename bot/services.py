"""The objects listeners need, handed to each handler module's `register` by the wiring module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.cases import CaseActions
from bot.intake import IntakeService
from bot.policy import Policy
from storage.repository import Repository


@dataclass(frozen=True)
class Services:
    policy: Policy
    repository: Repository
    intake: IntakeService
    cases: CaseActions
    clock: Callable[[], datetime]
    intake_token: str | None
