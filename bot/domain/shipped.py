"""'You said, we did' (`/loop shipped <theme>`): who is told that a theme they reported is fixed.

Pure: the matching responses come in (newest first), the audience goes out. One customer is
their customer id, else their e-mail address (lower-cased), so several responses of one customer
count once (the newest speaks for them: its address, name, language and contact_ok). Customers
already told about the theme are left out; those who may not be written to are counted per
department and reason, so the modal and the summary can say why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.domain.outer_loop import (
    NOTE_MAX,
    Composed,
    Filled,
    OuterLoop,
    Via,
    compose_from,
    refusal_of,
    route_of,
    template_for,
)

SHOWN_NAMES = 20  # the modal names the first 20 customers and counts the rest
SKIP_REASONS = {  # why a customer is not written to, as the modal and the summary say it
    "opted_out": "asked not to be contacted",
    "suppressed": "on the suppression list",
    "no_address": "no e-mail address",
}


@dataclass(frozen=True)
class Candidate:
    """A detractor or passive response carrying the theme (a tag, or a theme picked at close)."""

    feedback_id: int
    case_id: int | None
    department: str
    customer_id: str | None
    customer_name: str | None
    customer_email: str | None
    contact_ok: bool | None
    language: str | None
    received_at: datetime


@dataclass(frozen=True)
class Recipient:
    customer: str  # the customer's key (`customer_key`), unique per theme
    feedback_id: int
    case_id: int | None
    department: str
    via: Via
    name: str | None
    to_address: str | None
    language: str | None


@dataclass(frozen=True)
class Audience:
    recipients: list[Recipient]
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)  # department -> reason -> count

    def skipped_by_reason(self) -> Counter[str]:
        return sum((Counter(reasons) for reasons in self.skipped.values()), Counter())


def customer_key(customer_id: str | None, email: str | None) -> str | None:
    """The customer's id, else their address lower-cased; None when the response has neither."""
    if customer_id and customer_id.strip():
        return f"id:{customer_id.strip()}"
    if email and email.strip():
        return f"email:{email.strip().casefold()}"
    return None


def audience(outer: OuterLoop, newest_first: Iterable[Candidate], told: set[str]) -> Audience:
    """Each customer once (their newest response), minus those `told` about this theme before
    and those who may not be written to (counted in `skipped`)."""
    seen: dict[str, int | None] = {}  # key -> index in `recipients` (None: skipped)
    recipients: list[Recipient] = []
    skipped: dict[str, Counter[str]] = {}
    for c in newest_first:
        key = customer_key(c.customer_id, c.customer_email)
        if key is not None and key in seen:
            at = seen[key]  # an older response: its case is the one to note it on if the newest has none
            if at is not None and recipients[at].case_id is None and c.case_id is not None:
                recipients[at] = replace(recipients[at], case_id=c.case_id)
            continue
        if key is not None and key in told:
            continue
        refusal = refusal_of(outer, c.department, c.contact_ok, c.customer_email)
        code = refusal.code if refusal is not None else ("no_address" if key is None else None)
        if code is not None:
            skipped.setdefault(c.department, Counter())[code] += 1
            if key is not None:
                seen[key] = None
            continue
        assert key is not None
        seen[key] = len(recipients)
        address = (c.customer_email or "").strip() or None
        via = route_of(outer, c.department)
        recipients.append(
            Recipient(key, c.feedback_id, c.case_id, c.department, via, c.customer_name, address, c.language)
        )
    return Audience(recipients, {d: dict(reasons) for d, reasons in skipped.items()})


def skipped_text(reasons: Mapping[str, int]) -> str:
    """'3 skipped: 2 asked not to be contacted, 1 no e-mail address' (empty when none)."""
    total = sum(reasons.values())
    if not total:
        return ""
    parts = [f"{n} {SKIP_REASONS.get(code, code)}" for code, n in sorted(reasons.items()) if n]
    return f"{total} skipped: " + ", ".join(parts)


def prefilled_note(outer: OuterLoop, label: str, author_name: str) -> str:
    _, template = template_for(outer, None)
    return template.shipped_note.format_map(Filled(theme=label, owner=author_name, name=""))[:NOTE_MAX]


def compose(outer: OuterLoop, recipient: Recipient, label: str, author_name: str, note: str) -> Composed:
    """The mail for one customer, in their language: the template's greeting and signature around
    the note the author wrote once for everyone."""
    language, template = template_for(outer, recipient.language)
    values = Filled(name=(recipient.name or "").strip() or "customer", owner=author_name, theme=label)
    return compose_from(language, template, template.shipped_subject, values, note)


@dataclass(frozen=True)
class Tally:
    """What became of one department's customers in one announcement."""

    told: int = 0
    failed: int = 0
    uncertain: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)


def shown_names(names: Sequence[str | None]) -> tuple[list[str], int]:
    """The first names to show and how many more there are."""
    shown = [(n or "").strip() or "(no name)" for n in names[:SHOWN_NAMES]]
    return shown, max(len(names) - SHOWN_NAMES, 0)
