"""The outer loop: telling a customer what was done, and reminding the owner who promised to.

The policy's `outer_loop` section (templates per language, the reminder's delay, who is never
mailed, which departments go through a helpdesk's webhook instead of e-mail) and the pure rules
on it. Pure: no Slack, no SMTP, no database; `now` is never read here.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.deadline_policy import Duration
from bot.domain.records import CaseSnapshot, DeadlineSpec
from bot.domain.vocabulary import CaseStatus, DeadlineKind, FollowUp, Step

NOTE_MAX = 3000  # a plain_text_input's own limit in Slack
PLACEHOLDERS = frozenset({"name", "owner", "case", "remedy", "root_cause", "theme"})
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
DOMAIN = re.compile(r"^@?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
ADDRESS = re.compile(r"^[^@\s<>\"]+@[a-z0-9.-]+\.[a-z]{2,}$")
# Follow-up states whose owner still owes the customer a word (reminded until it is said).
OWING = (FollowUp.OWED, FollowUp.FAILED, FollowUp.UNCERTAIN)
ANONYMOUS = "customer"  # the greeting's name when the response has none


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise ValueError(
            f"{text!r:.60} has an unbalanced brace — write {{name}}, or {{{{ for a brace"
        ) from error


class MailTemplate(_Strict):
    """One language's follow-up: `{name}` is the customer's name, `{owner}` the owner's, `{case}`
    the case number, `{remedy}` / `{root_cause}` the close's. `note` prefills the modal."""

    subject: str = Field(default="About your feedback", min_length=1, max_length=200)
    greeting: str = Field(default="Hello {name},", max_length=500)
    note: str = Field(
        default="Thank you for telling us what went wrong. We looked into it, and here is what we did: ",
        max_length=NOTE_MAX,
    )
    signature: str = Field(default="Best regards,\n{owner}", max_length=1000)
    # "You said, we did" (`/loop shipped <theme>`): `{theme}` is the theme as the policy spells it.
    shipped_subject: str = Field(default="You said, we did: {theme}", min_length=1, max_length=200)
    shipped_note: str = Field(
        default="You told us about {theme}. We listened, and it is fixed now. Thank you for telling us.",
        max_length=NOTE_MAX,
    )

    @field_validator("subject", "greeting", "note", "signature", "shipped_subject", "shipped_note")
    @classmethod
    def _known(cls, value: str) -> str:
        unknown = _placeholders(value) - PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"{{{sorted(unknown)[0]}}} is not a placeholder — use "
                + ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
            )
        return value

    @field_validator("subject", "shipped_subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("a subject is one line — remove the line break")
        return value


class HelpdeskRoute(_Strict):
    """A department whose follow-ups go to its helpdesk or CRM as a signed webhook (Standard
    Webhooks), which sends them to the customer itself."""

    url: str
    secret_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,99}$")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        local = parts.hostname in {"localhost", "127.0.0.1", "::1"}
        if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
            raise ValueError(
                f"{value!r} is not an https URL — a follow-up carries the customer's address, so use "
                "https://… (plain http only for localhost)"
            )
        return value.strip()


class OuterLoop(_Strict):
    # A loop closed with "customer told: no" reminds its owner this long after the close, then
    # as often again, `reminders` times in all, until they tell the customer or mark it not needed.
    remind_after: Duration = timedelta(days=2)
    reminders: int = Field(default=3, ge=0, le=10)
    default_language: str = "en"
    templates: dict[str, MailTemplate] = Field(default_factory=lambda: {"en": MailTemplate()})
    # Reply-To when Slack has no e-mail address for the owner (users:read.email not granted).
    reply_to: str | None = None
    # Addresses and domains never mailed ("someone@example.com", "example.com").
    suppress: list[str] = Field(default_factory=list, max_length=10000)
    # Departments whose follow-ups go to a helpdesk webhook instead of e-mail.
    helpdesk: dict[str, HelpdeskRoute] = Field(default_factory=dict)
    # `/loop shipped`: mails (or helpdesk posts) a minute, all processes together.
    shipped_per_minute: int = Field(default=60, ge=1, le=600)

    @field_validator("templates")
    @classmethod
    def _languages(cls, value: dict[str, MailTemplate]) -> dict[str, MailTemplate]:
        for language in value:
            if not LANGUAGE.match(language):
                raise ValueError(
                    f"{language!r} is not a language tag — write e.g. en, de or pt-br, lower case"
                )
        return value

    @field_validator("suppress")
    @classmethod
    def _suppressed(cls, value: list[str]) -> list[str]:
        folded = [entry.strip().casefold() for entry in value]
        for entry in folded:
            if not (ADDRESS.match(entry) or DOMAIN.match(entry)):
                raise ValueError(
                    f"{entry!r} is neither an e-mail address nor a domain — write a@b.com or b.com"
                )
        return folded

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        if value is not None and not ADDRESS.match(value.strip().casefold()):
            raise ValueError(f"{value!r} is not an e-mail address — write e.g. support@example.com")
        return None if value is None else value.strip()

    @model_validator(mode="after")
    def _default_language(self) -> Self:
        if self.default_language not in self.templates:
            raise ValueError(
                f"default_language: {self.default_language!r} has no template — add "
                f"templates.{self.default_language}, or use one of: {', '.join(sorted(self.templates))}"
            )
        return self


@dataclass(frozen=True)
class Composed:
    """A follow-up's parts, placeholders filled in (customer text still raw: each renderer
    escapes it for its medium)."""

    language: str
    subject: str
    greeting: str
    note: str
    signature: str


class Filled(dict[str, str]):
    def __missing__(self, key: str) -> str:  # validated away; never raise on a stored template
        return ""


def template_for(outer: OuterLoop, language: str | None) -> tuple[str, MailTemplate]:
    """The response's language ("de-AT" → de-at, else de), else the default language's."""
    tag = (language or "").strip().casefold().replace("_", "-")
    for candidate in (tag, tag.split("-")[0]):
        if candidate and candidate in outer.templates:
            return candidate, outer.templates[candidate]
    return outer.default_language, outer.templates[outer.default_language]


def _values(case: CaseSnapshot, owner_name: str) -> Filled:
    return Filled(
        name=(case.customer_name or "").strip() or ANONYMOUS,
        owner=owner_name,
        case=str(case.id),
        remedy=case.remedy or "",
        root_cause=case.root_cause or "",
    )


def prefilled_note(outer: OuterLoop, case: CaseSnapshot, owner_name: str) -> str:
    _, template = template_for(outer, case.language)
    return template.note.format_map(_values(case, owner_name))[:NOTE_MAX]


def compose(outer: OuterLoop, case: CaseSnapshot, owner_name: str, note: str) -> Composed:
    language, template = template_for(outer, case.language)
    return compose_from(language, template, template.subject, _values(case, owner_name), note)


def compose_from(
    language: str, template: MailTemplate, subject_template: str, values: Filled, note: str
) -> Composed:
    """The template's greeting and signature around `note`, under `subject_template`."""
    subject = " ".join(subject_template.format_map(values).split())  # a name's newline stays out
    return Composed(
        language,
        subject[:200],
        template.greeting.format_map(values),
        note,
        template.signature.format_map(values),
    )


def note_problem(note: str | None) -> str | None:
    """Why a follow-up's text cannot be sent as written; None when it can."""
    if note is None or not note.strip():
        return "Write what you want to tell the customer."
    if len(note) > NOTE_MAX:
        return f"At most {NOTE_MAX:,} characters, please (this one has {len(note):,})."
    return None


def suppressed(outer: OuterLoop, address: str) -> bool:
    folded = address.strip().casefold()
    domain = folded.rpartition("@")[2]
    entries = set(outer.suppress)
    return folded in entries or domain in entries or f"@{domain}" in entries


Via = Literal["email", "webhook"]


def route_of(outer: OuterLoop, department: str) -> Via:
    return "webhook" if department in outer.helpdesk else "email"


@dataclass(frozen=True)
class ContactRefusal:
    """Why a customer is not written to: `code` names it for buttons, `reason` says it."""

    code: Literal["opted_out", "no_address", "suppressed"]
    reason: str


def contact_refusal(outer: OuterLoop, case: CaseSnapshot) -> ContactRefusal | None:
    """Why this customer must not (or cannot) be written to; None when they may. Checked when
    the button is drawn, when the form is sent and again just before the message goes."""
    return refusal_of(outer, case.department, case.contact_ok, case.customer_email)


def refusal_of(
    outer: OuterLoop, department: str, contact_ok: bool | None, email: str | None
) -> ContactRefusal | None:
    """`contact_refusal` for a response's own fields (the "You said, we did" audience has no case)."""
    if contact_ok is False:
        return ContactRefusal(
            "opted_out", "The customer asked not to be contacted (contact_ok: false on a response of theirs)."
        )
    if route_of(outer, department) == "webhook":
        return None  # the helpdesk knows the customer by id and address, and its own opt-outs
    if not email or not ADDRESS.match(email.strip().casefold()):
        return ContactRefusal("no_address", "The response has no e-mail address to write to.")
    if suppressed(outer, email):
        return ContactRefusal(
            "suppressed", "The customer's address is on the policy's suppression list (outer_loop.suppress)."
        )
    return None


def reminder_recipient(case: CaseSnapshot) -> str | None:
    return case.owner_id or case.closed_by


def promise_reminders(outer: OuterLoop, case: CaseSnapshot) -> list[DeadlineSpec]:
    """A closed case whose customer is still owed a word: its owner is reminded `remind_after`
    after the close, then as often again, `reminders` times in all. Telling the customer or
    marking it not needed takes the rest away (the plan no longer calls for them)."""
    owner = reminder_recipient(case)
    if case.status != CaseStatus.CLOSED or case.follow_up not in OWING or owner is None:
        return []
    if case.closed_at is None or outer.remind_after <= timedelta(0):
        return []
    return [
        DeadlineSpec(
            DeadlineKind.PROMISE_REMINDER, Step.CLOSE, n, owner, case.closed_at + outer.remind_after * n
        )
        for n in range(1, outer.reminders + 1)
    ]


def department_problems(outer: OuterLoop, names: list[str]) -> list[str]:
    known = ", ".join(names)
    return [
        f"outer_loop.helpdesk.{name}: {name!r} is not a department — use one of: {known}"
        for name in outer.helpdesk
        if name not in names
    ]
