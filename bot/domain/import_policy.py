"""The policy's `import` section: which responses `closeloop import` brings in as live cases.

A history file holds months of responses; posting each one that needs a follow-up would bury the
department channels under cases nobody can still act on. Only responses answered recently become
live cases (posted, with deadlines); older ones are stored as closed history, in the figures only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, field_validator

from bot.domain.deadline_policy import Duration

DEFAULT_WINDOW = timedelta(days=14)
MAX_WINDOW = timedelta(days=365)


class ImportPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Responses answered at most this long before the import open live cases; `0s`: none do.
    open_cases_newer_than: Duration = DEFAULT_WINDOW

    @field_validator("open_cases_newer_than")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= MAX_WINDOW:
            raise ValueError(
                "must be between 0s (no imported response opens a live case) and 365d — 14d is a good default"
            )
        return value

    def opens_live_case(self, answered_at: datetime | None, now: datetime) -> bool:
        """A response with no answer time cannot be shown to be recent, so it is history: an
        import must never flood a channel by mistake."""
        if answered_at is None or not self.open_cases_newer_than:
            return False
        return now - answered_at <= self.open_cases_newer_than
