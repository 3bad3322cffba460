"""'You said, we did': who may announce that a theme is fixed, whom it reaches, and confirming it.

The audience is computed when the modal opens (to show it) and again when it is confirmed (what
is written is what holds then: someone may have opted out, or another confirmation may have told
some of them meanwhile). The sender (bot.outbox.shipped_sender) mails them after commit, paced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.outer_loop import note_problem
from bot.domain.policy import Policy
from bot.domain.shipped import Audience, audience, prefilled_note
from bot.domain.themes import labels, theme_key
from bot.slack.shipped import NOT_ALLOWED, NOT_SET_UP, no_response_text, no_theme_text, nobody_left_text
from storage.shipped import ShippedStore


@dataclass(frozen=True)
class Preview:
    """What the modal shows (or why it does not open: `refusal`)."""

    theme: str = ""
    label: str = ""
    audience: Audience = field(default_factory=lambda: Audience([]))
    already_told: int = 0
    note: str = ""
    refusal: str | None = None


@dataclass(frozen=True)
class Confirmed:
    queued: int = 0
    already: int = 0
    refusal: str | None = None


class ShippedActions:
    def __init__(
        self,
        *,
        store: ShippedStore,
        policy: Policy,
        clock: Callable[[], datetime],
        mail_configured: bool,
        name_of: Callable[[str], str],
        on_confirmed: Callable[[], None],
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.mail_configured = mail_configured
        self.name_of = name_of  # the author's name for the template's {owner} (Slack's users.info)
        self.on_confirmed = on_confirmed  # the sender starts now

    def preview(self, user: str, theme_words: str, *, look_up: bool = True) -> Preview:
        departments = self.policy.shipped_departments(user)  # None: everyone's customers
        if departments is not None and not departments:
            return Preview(refusal=NOT_ALLOWED)
        key = theme_key(theme_words)
        if not key:
            return Preview(refusal=no_theme_text(list(self.policy.themes)))
        label = self.label_of(key)
        found, told = self.store.candidates(key)
        if not any(departments is None or c.department in departments for c in found):
            return Preview(key, label, refusal=no_response_text(label, departments is None))
        who = audience(self.policy.outer_loop, found, told, departments)
        if not who.recipients:
            skipped = sum(who.skipped_by_reason().values())
            return Preview(key, label, who, who.told, refusal=nobody_left_text(label, who.told, skipped))
        if self._needs_mail(who) and not self.mail_configured:
            return Preview(key, label, who, who.told, refusal=NOT_SET_UP)
        author = self.name_of(user) if look_up else ""
        note = prefilled_note(self.policy.outer_loop, label, author)
        return Preview(key, label, who, who.told, note)

    def confirm(self, user: str, theme: str, note: str | None) -> Confirmed:
        """Write the announcement and its recipients (`theme` from the modal's metadata, which
        anyone could forge: the caller's rights and the audience are checked again here)."""
        problem = note_problem(note)
        if problem is not None:
            return Confirmed(refusal=problem)
        assert note is not None
        preview = self.preview(user, theme, look_up=False)
        if preview.refusal is not None:
            return Confirmed(refusal=preview.refusal)
        announced = self.store.announce(
            theme=preview.theme,
            label=preview.label,
            note=note.strip(),
            author=user,
            audience=preview.audience,
            now=self.clock(),
        )
        if announced.id is None:
            return Confirmed(0, announced.already, "Someone else has just told all of them about it.")
        self.on_confirmed()
        return Confirmed(announced.queued, announced.already)

    def label_of(self, theme: str) -> str:
        """The theme as the policy spells it, else its key."""
        key = theme_key(theme)
        return labels(self.policy.themes).get(key, key)

    def _needs_mail(self, who: Audience) -> bool:
        return any(r.via == "email" for r in who.recipients)

