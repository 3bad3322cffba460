"""Action and callback ids, and the typed values carried by buttons and modals.

The enum is shared by the block builders and the listeners, so a renamed button cannot silently
stop working; values are small JSON models parsed once, so listeners get typed objects.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.domain.vocabulary import Step


class ActionId(StrEnum):
    CLAIM = "case_claim"
    RELEASE = "case_release"
    LOG_CONTACT = "case_log_contact"
    CLOSE = "case_close"
    REOPEN = "case_reopen"
    CONTACT_DETAILS = "case_contact_details"
    HAND_OVER = "case_hand_over"
    ESCALATION_ACK = "escalation_ack"
    ESCALATION_REASSIGN = "escalation_reassign"
    ESCALATION_SNOOZE = "escalation_snooze"
    GIVE_KUDOS = "announcement_kudos"
    RECOGNISE = "announcement_recognise"
    PROMOTER_THANKED = "promoter_thanked"
    PROMOTER_REVIEW = "promoter_review"
    PROMOTER_REFERENCE = "promoter_reference"
    CLOSE_WON_BACK = "case_close_won_back"
    FULL_COMMENT = "case_full_comment"
    TELL_CUSTOMER = "case_tell_customer"  # on a closed case, and in the owner's reminder
    SEND_AGAIN = "case_follow_up_send_again"  # a follow-up whose fate is uncertain: a person decides
    FOLLOW_UP_NOT_NEEDED = "case_follow_up_not_needed"


class CallbackId(StrEnum):
    CLOSE_MODAL = "case_close_modal"
    CONTACT_MODAL = "case_contact_modal"
    HAND_OVER_MODAL = "case_hand_over_modal"
    RECOGNISE_MODAL = "announcement_recognise_modal"
    TELL_CUSTOMER_MODAL = "case_tell_customer_modal"
    SHIPPED_MODAL = "shipped_modal"  # "You said, we did": the customers, and the message to send


class BadPayload(ValueError):
    """A button value or private_metadata we did not write (or from an older, incompatible build)."""


class CaseRef(BaseModel):
    """Which case (and which version of it) a button or modal was rendered for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: int
    version: int

    def encode(self) -> str:
        return json.dumps({"c": self.case_id, "v": self.version}, separators=(",", ":"))

    @classmethod
    def decode(cls, text: Any) -> CaseRef:
        data = _json_object(text, "case reference")
        try:
            return cls(case_id=data.get("c"), version=data.get("v"))
        except ValidationError as error:
            raise BadPayload(f"not a case reference: {text!r:.80}") from error


class EscalationRef(BaseModel):
    """Which case and which missed step an escalation message is about. Carried in the block_id
    too, because a select menu's action has no value of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: int
    step: Step
    level: int = 1

    PREFIX: ClassVar[str] = "escalation:"

    def encode(self) -> str:
        data = {"c": self.case_id, "s": self.step.value, "l": self.level}
        return json.dumps(data, separators=(",", ":"))

    def block_id(self) -> str:
        return self.PREFIX + self.encode()

    @classmethod
    def decode(cls, text: Any) -> EscalationRef:
        if isinstance(text, str):
            text = text.removeprefix(cls.PREFIX)
        data = _json_object(text, "escalation reference")
        try:
            return cls(case_id=data.get("c"), step=data.get("s"), level=data.get("l", 1))
        except ValidationError as error:
            raise BadPayload(f"not an escalation reference: {text!r:.80}") from error


def _json_object(text: Any, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError as error:
        raise BadPayload(f"not a {what}: {text!r:.80}") from error
    if not isinstance(data, dict):
        raise BadPayload(f"not a {what}: {text!r:.80}")
    return data


class NoticeRef(BaseModel):
    """Which response a promoter's notice (and so its buttons) is about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feedback_id: int

    def encode(self) -> str:
        return json.dumps({"f": self.feedback_id}, separators=(",", ":"))

    @classmethod
    def decode(cls, text: Any) -> NoticeRef:
        data = _json_object(text, "notice reference")
        try:
            return cls(feedback_id=data.get("f"))
        except ValidationError as error:
            raise BadPayload(f"not a notice reference: {text!r:.80}") from error
