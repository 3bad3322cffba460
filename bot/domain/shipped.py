"""'You said, we did' (`/loop shipped <theme>`): who is told that a theme they reported is fixed.

Pure: the matching responses come in (newest first), the audience goes out. One customer is
their customer id, else their e-mail address (lower-cased), and one mailbox is one customer too,
so several responses of one customer count once (the newest speaks for them: its address, name,
language; their newest word on contact_ok, on any response, decides if they may be). Customers
already told about the theme are left out; those who may not be written to are counted per
department and reason, so the modal and the summary can say why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
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
    told: int = 0  # customers left out: told about this theme before, or being told

    def skipped_by_reason(self) -> Counter[str]:
        return sum((Counter(reasons) for reasons in self.skipped.values()), Counter())


def customer_key(customer_id: str | None, email: str | None) -> str | None:
    """The customer's id, else their address lower-cased; None when the response has neither."""
    if customer_id and customer_id.strip():
        return f"id:{customer_id.strip()}"
    if email and email.strip():
        return f"email:{email.strip().casefold()}"
    return None


def _keys(c: Candidate) -> list[str]:
    """The customer's key, and their mailbox's when that differs: one mailbox is one customer."""
    key = customer_key(c.customer_id, c.customer_email)
    mailbox = customer_key(None, c.customer_email)
    return [k for k in dict.fromkeys((key, mailbox)) if k is not None]


def _customers(candidates: list[Candidate]) -> dict[str, str]:
    """Each key -> its customer's first key: responses sharing an id or a mailbox, even through
    a third one (c-42 at a@, c-42 at b@, b@ alone), are one customer."""
    parent: dict[str, str] = {}

    def root(k: str) -> str:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for c in candidates:
        keys = _keys(c)
        for k in keys:
            a, b = root(keys[0]), root(k)
            if a != b:
                parent[b] = a
    return {k: root(k) for k in list(parent)}


def audience(
    outer: OuterLoop,
    newest_first: Iterable[Candidate],
    told: set[str],
    departments: Collection[str] | None = None,
) -> Audience:
    """Each customer once (their newest response in `departments`, None: all), minus those
    `told` about this theme before (by any of their keys) and those who may not be written to
    (counted in `skipped`). Their newest word on contact_ok, on whichever response, is theirs
    (storage.consent keeps the stored responses agreeing; this holds even where they do not)."""
    candidates = list(newest_first)
    customer = _customers(candidates)
    word: dict[str, bool] = {}
    told_customers = {customer.get(k, k) for k in told}
    for c in candidates:
        keys = _keys(c)
        if keys and c.contact_ok is not None:
            word.setdefault(customer[keys[0]], c.contact_ok)
    seen: dict[str, int | None] = {}  # customer -> index in `recipients` (None: skipped or told)
    recipients: list[Recipient] = []
    skipped: dict[str, Counter[str]] = {}
    already = 0
    for c in candidates:
        if departments is not None and c.department not in departments:
            continue  # another department's customer: theirs to tell
        keys = _keys(c)
        who = customer[keys[0]] if keys else None
        if who is not None and who in seen:
            at = seen[who]  # an older response: its case is the one to note it on if the newest has none
            if at is not None and recipients[at].case_id is None and c.case_id is not None:
                recipients[at] = replace(recipients[at], case_id=c.case_id)
            continue
        if who is not None and who in told_customers:
            already += 1
            seen[who] = None
            continue
        refusal = refusal_of(outer, c.department, word.get(who) if who else None, c.customer_email)
        code = refusal.code if refusal is not None else ("no_address" if who is None else None)
        if code is not None:
            skipped.setdefault(c.department, Counter())[code] += 1
            if who is not None:
                seen[who] = None
            continue
        assert who is not None
        seen[who] = len(recipients)
        address = (c.customer_email or "").strip() or None
        via = route_of(outer, c.department)
        name, language = c.customer_name, c.language
        recipients.append(
            Recipient(keys[0], c.feedback_id, c.case_id, c.department, via, name, address, language)
        )
    return Audience(recipients, {d: dict(reasons) for d, reasons in skipped.items()}, already)


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
