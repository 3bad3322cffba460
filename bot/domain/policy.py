"""The policy: who gets which feedback, what becomes a case, how a loop is closed.

A validated, frozen model the domain reasons about; reading the file and wording its errors for
the admin is `bot.policy_file`'s job."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Literal, Protocol, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from bot.domain.deadline_policy import BusinessHoursSpec, PriorityRule, Sla, user_ids
from bot.domain.digest_policy import DigestPolicy
from bot.domain.import_policy import ImportPolicy
from bot.domain.outer_loop import OuterLoop, department_problems
from bot.domain.sources import Sources
from bot.domain.themes import Alerts, theme_key
from bot.domain.vocabulary import Category, Outcome, Priority, Survey
from bot.domain.webhooks import CaseWebhook, webhook_problems


class HasDepartment(Protocol):
    """A case, a response or anything else that names its department."""

    @property
    def department(self) -> str: ...


CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
USER_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
REVIEW_URL = re.compile(r"https://[^\s/<>|&*`]+(/[^\s<>|`]*)?")
REVIEW_URL_MAX = 3000  # a button url's limit in Slack
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
# At least one character that is not a letter or digit ("€", "US$"), and none mrkdwn would act on.
CURRENCY_SYMBOL = re.compile(r"(?=.*[^\w\s])[^\s<>&*_~`]+")
# Slack option text is capped at 75 characters; root causes and remedies appear as options.
OptionLabel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=75)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _channel(value: str) -> str:
    if not CHANNEL_ID.match(value):
        raise ValueError(
            f"{value!r} is not a Slack channel id — open the channel in Slack, "
            f"'View channel details', and copy the id at the bottom (it starts with C)"
        )
    return value


class Department(_Strict):
    name: Name
    title: str | None = None
    channel: str
    managers: list[str] = Field(default_factory=list)
    # Who a nudge about an unclaimed case mentions: the user group if set, else the members.
    user_group: str | None = None
    members: list[str] = Field(default_factory=list)
    business_hours: BusinessHoursSpec | None = None
    # Where a promoter is asked to leave a review (a G2 or Trustpilot page): Ask for a review uses it.
    review_url: str | None = None

    _check_channel = field_validator("channel")(_channel)
    _check_users = field_validator("managers", "members")(user_ids)

    @field_validator("review_url")
    @classmethod
    def _review_url(cls, value: str | None) -> str | None:
        """It goes into a text people send to customers: an https address with nothing mrkdwn acts on."""
        if value is None:
            return None
        value = value.strip()
        if len(value) > REVIEW_URL_MAX:
            raise ValueError(f"is {len(value)} characters long — use an address of at most {REVIEW_URL_MAX}")
        if not REVIEW_URL.fullmatch(value):
            raise ValueError(
                f"{value[:80]!r} is not an https address — write the review page's full address, "
                "e.g. https://www.trustpilot.com/review/example.com"
            )
        return value

    @field_validator("user_group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None and not USER_GROUP_ID.match(value):
            raise ValueError(
                f"{value!r} is not a user group id — in Slack open People > User groups, pick the group, "
                "'⋮' > 'Copy group ID' (it starts with S)"
            )
        return value

    @property
    def display_name(self) -> str:
        return self.title or self.name


class ScoreRange(_Strict):
    min: int = Field(ge=0, le=10)
    max: int = Field(ge=0, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max}) — swap them")
        return self


class RoutingRule(_Strict):
    name: str | None = None
    department: Name
    survey: list[Survey] = Field(default_factory=list)
    category: list[Category] = Field(default_factory=list)
    score: ScoreRange | None = None
    tags: list[str] = Field(default_factory=list)
    touchpoint: list[str] = Field(default_factory=list)
    segment: list[str] = Field(default_factory=list)
    comment_words: list[str] = Field(default_factory=list)

    @cached_property
    def folded(self) -> FoldedRule:
        """The listed values case-folded once, for routing every response (an import: millions)."""
        return FoldedRule(
            tags=frozenset(t.casefold() for t in self.tags),
            touchpoint=frozenset(t.casefold() for t in self.touchpoint),
            segment=frozenset(s.casefold() for s in self.segment),
            words=frozenset(w.casefold() for w in self.comment_words if " " not in w),
            phrases=tuple(w.casefold() for w in self.comment_words if " " in w),
        )


@dataclass(frozen=True)
class FoldedRule:
    tags: frozenset[str]
    touchpoint: frozenset[str]
    segment: frozenset[str]
    words: frozenset[str]  # single words match whole words of the comment
    phrases: tuple[str, ...]  # phrases ("double charged") match as substrings


class Routing(_Strict):
    default_department: Name
    rules: list[RoutingRule] = Field(default_factory=list)


def _default_priorities() -> dict[Category, Priority]:
    return {
        Category.DETRACTOR: Priority.HIGH,
        Category.PASSIVE: Priority.NORMAL,
        Category.PROMOTER: Priority.LOW,
    }


class LighterPath(_Strict):
    """Feedback that does not become a case (usually promoters): a short notice, no buttons."""

    notify: bool = True


class CasesPolicy(_Strict):
    open_for: list[Category] = Field(default_factory=lambda: [Category.DETRACTOR, Category.PASSIVE])
    priority: dict[Category, Priority] = Field(default_factory=_default_priorities)
    raise_priority: list[PriorityRule] = Field(default_factory=list)
    others: LighterPath = Field(default_factory=LighterPath)
    # How customer values are labelled on case messages: an ISO 4217 code ("EUR") or a symbol ("€").
    currency: str | None = None

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, value: str | None) -> str | None:
        """A label next to a number, not a sentence: a code, or a short symbol with no mrkdwn in it."""
        if value is None:
            return None
        value = value.strip()
        if CURRENCY_CODE.fullmatch(value) or (len(value) <= 3 and CURRENCY_SYMBOL.fullmatch(value)):
            return value
        raise ValueError(
            f"{value!r} is not a currency — use an ISO 4217 code of three capital letters (EUR, USD) "
            "or a symbol of at most 3 characters (€, $, US$)"
        )


class Announcements(_Strict):
    channel: str
    quote_feedback: bool = False
    quote_max_chars: int = Field(default=200, ge=20, le=1000)
    # Which outcomes get a shout-out; the others close quietly (case thread and figures only), so
    # the channel celebrates successes rather than listing every loop that could not be closed.
    outcomes: list[Outcome] = Field(default_factory=lambda: [Outcome.RESOLVED, Outcome.PARTLY_RESOLVED])

    _check_channel = field_validator("channel")(_channel)


class Recognition(_Strict):
    """Who may recognise a closed loop with a note, besides the case's department managers."""

    leaders: list[str] = Field(default_factory=list)

    _check_leaders = field_validator("leaders")(user_ids)


class Permissions(_Strict):
    """Who may do what, beyond the fixed rules (only the owner releases or logs a contact; the
    owner or a manager closes and reopens; managers answer escalations)."""

    # anyone: any workspace member may claim; department: the department's members and managers.
    claim: Literal["anyone", "department"] = "anyone"
    # anyone, or managers: who may run reports (/loop overdue): managers of any department and
    # the second-level escalation contacts.
    reports: Literal["anyone", "managers"] = "anyone"


class Privacy(_Strict):
    # Mask customers' email addresses and phone numbers in channel posts (d•••@acme.example,
    # •••67); the case's owner sees them in full with the Contact details button and in DMs.
    mask_contact_details: bool = False


class Policy(_Strict):
    version: int = Field(default=1, ge=1, le=1)
    departments: list[Department] = Field(min_length=1)
    routing: Routing
    cases: CasesPolicy = Field(default_factory=CasesPolicy)
    root_causes: list[OptionLabel] = Field(min_length=1, max_length=100)
    remedies: list[OptionLabel] = Field(min_length=1, max_length=100)
    # Themes an owner may pick when closing (a multi-select); survey tags count as themes too.
    themes: list[OptionLabel] = Field(default_factory=list, max_length=100)
    announcements: Announcements
    sla: Sla | None = None
    permissions: Permissions = Field(default_factory=Permissions)
    privacy: Privacy = Field(default_factory=Privacy)
    # Told by direct message when the bot cannot post somewhere (not invited, channel archived).
    admins: list[str] = Field(default_factory=list)
    recognition: Recognition = Field(default_factory=Recognition)
    # The weekly digest with its chart (bot/domain/digest_policy.py); left out, none is sent.
    digest: DigestPolicy | None = None
    # `closeloop import`: which imported responses open live cases (`import` is a Python keyword).
    import_: ImportPolicy = Field(default_factory=ImportPolicy, alias="import")
    # alerts.theme_spike: tell a department's channel when one theme suddenly has many detractors.
    alerts: Alerts = Field(default_factory=Alerts)
    # How each survey tool's webhook questions map onto a response (POST /feedback/<tool>).
    sources: Sources = Field(default_factory=Sources)
    # Outbound case events: signed webhooks a CRM mirrors cases from (bot/domain/webhooks.py).
    webhooks: list[CaseWebhook] = Field(default_factory=list, max_length=20)
    # Telling the customer what was done, and reminding who promised to (bot/domain/outer_loop.py).
    outer_loop: OuterLoop = Field(default_factory=OuterLoop)

    _check_admins = field_validator("admins")(user_ids)

    @model_validator(mode="after")
    def _references(self) -> Self:
        names = [d.name for d in self.departments]
        problems = []
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            problems.append(f"departments: {', '.join(duplicates)} defined twice — give each a unique name")
        known = ", ".join(names)
        if self.routing.default_department not in names:
            problems.append(
                f"routing.default_department: {self.routing.default_department!r} is not a department "
                f"— use one of: {known}"
            )
        for index, rule in enumerate(self.routing.rules):
            if rule.department not in names:
                problems.append(
                    f"routing.rules[{index}].department: {rule.department!r} is not a department "
                    f"— use one of: {known}"
                )
        for index, deadline in enumerate(self.sla.deadlines if self.sla else []):
            for name in deadline.department:
                if name not in names:
                    problems.append(
                        f"sla.deadlines[{index}].department: {name!r} is not a department "
                        f"— use one of: {known}"
                    )
        if self.sla is not None:
            # A missed deadline is escalated to the case's department's managers first; with none
            # the escalation reaches nobody (the sweep only logs it), so a deadline could pass unseen.
            for index, department in enumerate(self.departments):
                if not department.managers:
                    problems.append(
                        f"departments[{index}].managers: empty, but missed deadlines (the sla section) "
                        "are escalated to the department's managers — list at least one member id "
                        "(U…) who hears of missed deadlines, e.g. managers: [U0123ABCD]"
                    )
        if self.permissions.claim == "department":
            for index, department in enumerate(self.departments):
                if not department.members:
                    problems.append(
                        f"departments[{index}].members: empty, but permissions.claim is 'department' "
                        "— list who may claim this department's cases, or set permissions.claim: anyone"
                    )
        for field in ("root_causes", "remedies"):
            values = [v.casefold() for v in getattr(self, field)]
            if len(set(values)) != len(values):
                problems.append(f"{field}: an entry is listed twice — remove the repeat")
        keys = [theme_key(t) for t in self.themes]
        repeated = sorted({t for t, key in zip(self.themes, keys, strict=True) if keys.count(key) > 1})
        if repeated:
            listed = ", ".join(repr(t) for t in repeated)
            problems.append(f"themes: {listed} listed twice (case and spaces aside) — remove the repeat")
        problems.extend(webhook_problems(self.webhooks, names))
        problems.extend(department_problems(self.outer_loop, names))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def department(self, name: str) -> Department:
        """The department of that name; KeyError if the policy has none (see `department_of`)."""
        for department in self.departments:
            if department.name == name:
                return department
        raise KeyError(name)

    def department_of(self, item: HasDepartment) -> Department:
        """The department that answers for a case (or response): its own, or the default one when
        its department was removed from the policy after it arrived. Its channel, managers,
        members and business hours then all come from the default department, so closing,
        escalations and nudges agree on who is responsible."""
        for department in self.departments:
            if department.name == item.department:
                return department
        return self.department(self.routing.default_department)

    def claimers(self, item: HasDepartment) -> frozenset[str] | None:
        """Who may claim the case (and be handed it); None when anyone may."""
        if self.permissions.claim == "anyone":
            return None
        spec = self.department_of(item)
        return frozenset(spec.members) | frozenset(spec.managers)

    def may_see_reports(self, user: str) -> bool:
        if self.permissions.reports == "anyone":
            return True
        managers = {m for d in self.departments for m in d.managers}
        second = self.sla.escalation.second_level if self.sla else None
        return user in managers or (second is not None and user in second.notify)

    def announces(self, outcome: str) -> bool:
        """Whether a loop closed with `outcome` gets a shout-out (`announcements.outcomes`)."""
        return outcome in self.announcements.outcomes

    def may_recognise(self, item: HasDepartment, user: str) -> bool:
        """A manager of the case's department, or one of `recognition.leaders`."""
        return user in self.department_of(item).managers or user in self.recognition.leaders

    def shipped_departments(self, user: str) -> frozenset[str] | None:
        """Whose customers `user` may tell a theme is fixed ("You said, we did" writes to many at
        once): None for all (one of `recognition.leaders`, or an admin), else the departments
        they manage (empty: they may not)."""
        if user in self.recognition.leaders or user in self.admins:
            return None
        return frozenset(d.name for d in self.departments if user in d.managers)

    def opens_case(self, category: Category) -> bool:
        return category in self.cases.open_for

    def priority_for(self, category: Category) -> Priority:
        return self.cases.priority.get(category, Priority.NORMAL)
