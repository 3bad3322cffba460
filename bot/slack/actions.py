"""Action and callback ids, and the typed values carried by buttons and modals.

The enum is shared by the block builders and the listeners, so a renamed button cannot silently
stop working; values are small JSON models parsed once, so listeners get typed objects.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class ActionId(StrEnum):
    CLAIM = "case_claim"
    RELEASE = "case_release"
    LOG_CONTACT = "case_log_contact"
    CLOSE = "case_close"


class CallbackId(StrEnum):
    CLOSE_MODAL = "case_close_modal"
    CONTACT_MODAL = "case_contact_modal"


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
        try:
            data = json.loads(text) if isinstance(text, str) else None
            if not isinstance(data, dict):
                raise BadPayload(f"not a case reference: {text!r:.80}")
            return cls(case_id=data.get("c"), version=data.get("v"))
        except (json.JSONDecodeError, ValidationError) as error:
            raise BadPayload(f"not a case reference: {text!r:.80}") from error
