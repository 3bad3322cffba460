"""Intake: validate a survey response, classify and route it, store it.

Validation is a pydantic model so every bad field is named in one answer; the rules that need
the survey type (score ranges) live next to the scales they come from.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.domain.deadlines import CaseFacts, raised_priority
from bot.domain.policy import Policy
from bot.domain.records import FEEDBACK_FIELDS, FeedbackData, IntakeOutcome, Triage
from bot.domain.routing import RoutingInput, route
from bot.domain.scoring import SCALES, classify
from bot.domain.vocabulary import Category, Survey
from storage.db import unreachable
from storage.repository import Repository

MAX_COMMENT = 10_000

Short = Annotated[StrictStr, StringConstraints(strip_whitespace=True, max_length=200)]
NumericId = Annotated[StrictInt, Field(ge=-(10**18), le=10**18)]
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_SPACE = re.compile(r"\s")  # str.isspace's characters: both are Py_UNICODE_ISSPACE
Tag = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Short | NumericId | None = None
    name: Short | None = None
    email: Annotated[StrictStr, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    account: Short | None = None
    segment: Annotated[StrictStr, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    value: Annotated[Decimal, Field(ge=0, le=10**12, max_digits=14, decimal_places=2)] | None = None
    # false: the customer asked not to be contacted, so closeloop never writes to them.
    contact_ok: StrictBool | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | None):
            raise ValueError("must be a number")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value and ("@" not in value or _SPACE.search(value)):
            raise ValueError("is not an email address")
        return value or None


class FeedbackIn(BaseModel):
    """The intake's JSON contract. Unknown keys are kept in the raw payload, not rejected, so a
    survey tool adding a field does not break intake."""

    model_config = ConfigDict(extra="allow")

    id: (
        Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | NumericId
    )
    survey: Survey
    score: StrictInt
    comment: Annotated[StrictStr, StringConstraints(max_length=MAX_COMMENT)] | None = None
    customer: CustomerIn | None = None
    tags: Annotated[list[Tag], Field(max_length=30)] = Field(default_factory=list)
    touchpoint: Annotated[StrictStr, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    language: Annotated[StrictStr, StringConstraints(strip_whitespace=True, max_length=35)] | None = None
    submitted_at: datetime | None = None

    @field_validator("submitted_at")
    @classmethod
    def _plausible_time(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # survey tools that omit the zone mean UTC
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is not a plausible time") from None
        if not EARLIEST <= value < LATEST:
            raise ValueError("must be between 2000 and 2100")
        return value

    @field_validator("score")
    @classmethod
    def _score_in_range(cls, score: int, info: ValidationInfo) -> int:
        """A field validator, not a model one: pydantic runs model validators only once every
        field is valid, so a bad email would hide a bad score and cost integrators a round trip.
        `survey` is declared before `score`, so it is already in `info.data` when valid."""
        survey = info.data.get("survey")
        if survey is None:
            return score  # the survey's own error is reported; its scale is unknown
        scale = SCALES[survey]
        if not scale.low <= score <= scale.high:
            raise ValueError(f"must be from {scale.low} to {scale.high} for {survey.value}")
        return score


class IntakeRejected(Exception):
    """The payload is not acceptable; `fields` maps each bad field to what is wrong with it."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def _is_type_tag(part: object) -> bool:
    """pydantic names union branches in error locations ('id.constrained-str'); people don't."""
    text = str(part)
    return text.startswith(("function", "str", "int", "list[", "constrained-", "decimal", "float"))


def _field_errors(error: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        location = ".".join(str(part) for part in item["loc"] if not _is_type_tag(part))
        if not location and ":" in message:
            location, message = (part.strip() for part in message.split(":", 1))
        fields.setdefault(location or "(body)", message)
    return fields


def storable(value: Any) -> Any:
    """Strings as every database can hold them: no NUL (PostgreSQL refuses it) and no lone
    surrogates (JSON allows `\\ud800`, UTF-8 does not)."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        if value.isascii():
            return value  # most text, checked in C; an encode would copy it
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, list):
        return [
            item if type(item) is str and item.isascii() and "\x00" not in item else storable(item)
            for item in value
        ]
    if isinstance(value, dict):
        # Keys and values that are ASCII text with no NUL (most of a payload) are kept inline: a
        # call a cell costs more than the check.
        return {
            (key if type(key) is str and key.isascii() and "\x00" not in key else storable(key)): (
                item if type(item) is str and item.isascii() and "\x00" not in item else storable(item)
            )
            for key, item in value.items()
        }
    return value


def parse_feedback(payload: Any) -> FeedbackData:
    if not isinstance(payload, dict):
        raise IntakeRejected({"(body)": "must be a JSON object"})
    payload = storable(payload)
    try:
        model = FeedbackIn.model_validate(payload)
    except ValidationError as error:
        raise IntakeRejected(_field_errors(error)) from None
    customer = model.customer or CustomerIn()
    provided = set(model.model_fields_set) & set(FEEDBACK_FIELDS)
    if model.customer is not None:
        provided |= {f"customer_{name}" for name in model.customer.model_fields_set}
        if "contact_ok" in model.customer.model_fields_set:
            provided.add("contact_ok")
    submitted = model.submitted_at
    return FeedbackData(
        external_id=str(model.id),
        survey=model.survey.value,
        score=model.score,
        comment=model.comment if model.comment and model.comment.strip() else None,
        customer_id=None if customer.id is None else str(customer.id),
        customer_name=customer.name or None,
        customer_email=customer.email,
        customer_account=customer.account or None,
        customer_segment=customer.segment or None,
        customer_value=customer.value,
        tags=tuple(dict.fromkeys(model.tags)),
        touchpoint=model.touchpoint or None,
        language=model.language or None,
        submitted_at=submitted,
        contact_ok=customer.contact_ok,
        raw=payload,
        provided=frozenset(provided | {"score"}),
    )


def triage(policy: Policy, data: FeedbackData) -> Triage:
    category = classify(data.survey, data.score)
    department = route(
        policy,
        RoutingInput(
            survey=data.survey,
            score=data.score,
            category=category,
            comment=data.comment,
            tags=data.tags,
            touchpoint=data.touchpoint,
            segment=data.customer_segment,
        ),
    )
    facts = CaseFacts(
        category=category.value,
        priority=policy.priority_for(category).value,
        department=department,
        segment=data.customer_segment,
        tags=data.tags,
        value=data.customer_value,
    )
    return Triage(
        category=category.value,
        department=department,
        priority=raised_priority(facts.priority, policy.cases.raise_priority, facts),
        open_case=policy.opens_case(category),
        notify=policy.cases.others.notify,
    )


class DatabaseUnavailable(Exception):
    """The database could not be reached, so nothing was stored: the sender should retry later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IntakeService:
    def __init__(
        self,
        repository: Repository,
        policy: Policy,
        clock: Callable[[], datetime],
        on_stored: Callable[[IntakeOutcome], None],
        on_turnaround: Callable[[int], None] | None = None,
    ) -> None:
        self.repository = repository
        self.policy = policy
        self.clock = clock
        self.on_stored = on_stored
        self.on_turnaround = on_turnaround

    def accept(self, payload: Any) -> IntakeOutcome:
        """Raises IntakeRejected for bad fields, DatabaseUnavailable when nothing could be stored."""
        data = parse_feedback(payload)
        try:
            outcome = self.repository.record_feedback(
                data, lambda merged: triage(self.policy, merged), self.clock()
            )
        except Exception as error:
            reason = unreachable(error)
            if reason is None:
                raise
            raise DatabaseUnavailable(reason) from error
        if outcome.changed:
            self.on_stored(outcome)
            if outcome.category == Category.PROMOTER and self.on_turnaround is not None:
                self._nudge_turnarounds(outcome, self.on_turnaround)
        return outcome

    def _nudge_turnarounds(self, outcome: IntakeOutcome, nudge: Callable[[int], None]) -> None:
        """A promoter may have turned an earlier case around: its celebration is owed on that
        case, which the outbox is told about now (its sweep would find it later anyway)."""
        try:
            earlier = self.repository.turnaround_cases(outcome.feedback_id)
        except Exception as error:
            if unreachable(error) is None:
                raise
            return  # stored already; the outbox's sweep sends it
        for case_id in earlier:
            if case_id != outcome.case_id:
                nudge(case_id)
