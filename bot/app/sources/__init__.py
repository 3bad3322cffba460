"""Survey tools' own webhooks, mapped onto closeloop's response and stored by the one intake use
case: a tool's response is validated, routed and upserted exactly as a `POST /feedback` is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.app.intake import IntakeService
from bot.app.sources.asknicely import from_asknicely
from bot.app.sources.common import Ignored
from bot.app.sources.formbricks import from_formbricks
from bot.app.sources.typeform import from_typeform
from bot.app.sources.wootric import from_wootric, parse_form
from bot.app.sources.zendesk import ZENDESK_TEMPLATE, from_zendesk
from bot.domain.records import IntakeOutcome
from bot.domain.sources import Sources

__all__ = ["MAPPINGS", "ZENDESK_TEMPLATE", "Ignored", "SourceIntake", "parse_form"]

Mapping = Callable[[Any, Sources], dict[str, Any]]
MAPPINGS: dict[str, Mapping] = {
    "typeform": from_typeform,
    "formbricks": from_formbricks,
    "wootric": from_wootric,
    "asknicely": from_asknicely,
    "zendesk": from_zendesk,
}


class SourceIntake:
    def __init__(self, intake: IntakeService) -> None:
        self.intake = intake

    def accept(self, tool: str, body: Any) -> IntakeOutcome:
        """Raises IntakeRejected (a field or policy key and its fix) and DatabaseUnavailable, as
        `IntakeService.accept` does, and `Ignored` for an event with no response in it."""
        return self.intake.accept(MAPPINGS[tool](body, self.intake.policy.sources))
