"""What every tool's mapping shares: reading a vendor body defensively, and the response it becomes.

A mapping turns a tool's webhook body into closeloop's own `/feedback` JSON, so the one intake
use case validates, routes and upserts it. Keys the tool did not send are left out, not set to
null: a tool that sends the score first and the comment later must not erase either.
Every problem is an `IntakeRejected` naming the body's field (or the policy key) and the fix.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.app.intake import EARLIEST, LATEST, IntakeRejected

_WHOLE = re.compile(r"-?[0-9]{1,3}")  # scores are 0–10; three digits is already out of range


class Ignored(Exception):
    """An event the tool sends that carries no response to store (a decline, a form edit...):
    answered 200 so the tool does not retry it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def not_a_response(field: str, value: Any, wanted: tuple[str, ...]) -> Ignored:
    """The Ignored for an event type closeloop does not store, saying which ones it does."""
    kinds = ", ".join(wanted)
    if value is None:
        return Ignored(f"no {field}: closeloop stores {kinds}")
    return Ignored(f"{field} {str(value)[:40]!r} is not stored: closeloop stores {kinds}")


def reject(field: str, problem: str) -> IntakeRejected:
    return IntakeRejected({field: problem})


def unmapped(key: str) -> IntakeRejected:
    """The policy does not map the score question (start-up refuses this; kept for direct callers)."""
    return reject(key, "not set in the policy — add the score question's id (README, 'Survey tools')")


def unanswered(field: str, key: str, question: str, answered: Any) -> IntakeRejected:
    """No answer to the question the policy names: say which the response does answer, since a
    wrong id in the policy looks exactly like this."""
    return reject(
        field,
        f"no answer to the score question {question!r} ({key}); the response answers {listed(answered)} "
        f"— if {question!r} is not the score question's id, set {key} to it",
    )


def mapping(value: Any, field: str) -> dict[str, Any]:
    """`value` as a JSON object, or a 422 naming `field`."""
    if not isinstance(value, dict):
        what = "missing" if value is None else f"a {type(value).__name__}, not an object"
        raise reject(field, f"{what} — the tool's webhook sends it as an object")
    return value


def optional_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str | None:
    """A string worth keeping: non-empty after trimming; numbers (ids) become their text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def response_id(value: Any, field: str) -> str:
    found = text(value)
    if found is None:
        raise reject(field, "missing — closeloop stores each response once by this id")
    return found


def whole_score(value: Any, field: str) -> int:
    """A score as the tool sends it: a whole number, or its text ("7", as AskNicely sends it)."""
    if isinstance(value, bool):
        raise reject(field, "must be a whole number, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        return int(value.strip())
    if value is None or value == "":
        raise reject(field, "missing — the response has no score yet")
    return_type = type(value).__name__
    raise reject(field, f"must be a whole number, got {return_type} {str(value)[:20]!r}")


def when(value: Any) -> str | None:
    """An ISO 8601 time from what tools send: ISO text, '2016-08-04 13:57:26 -0700' (Wootric's
    form encoding) or Unix seconds (AskNicely). Anything else, or a time outside the years the
    intake takes, is left out rather than refused: the time of arrival is a fine stand-in."""
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 11:
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return moment.isoformat() if EARLIEST <= moment < LATEST else None
    if not isinstance(value, str) or len(value) > 40:
        return None
    for parse in (datetime.fromisoformat, lambda v: datetime.strptime(v, "%Y-%m-%d %H:%M:%S %z")):
        try:
            parsed = parse(value.strip().replace("Z", "+00:00"))
        except ValueError:
            continue
        return parsed.isoformat() if EARLIEST.year <= parsed.year < LATEST.year else None
    return None


def feedback(
    tool: str,
    event: str,
    external_id: str,
    survey: str,
    score: int,
    body: Any,
    *,
    comment: str | None = None,
    customer: dict[str, str | None] | None = None,
    touchpoint: str | None = None,
    tags: list[str] | None = None,
    language: str | None = None,
    submitted_at: str | None = None,
) -> dict[str, Any]:
    """closeloop's `/feedback` JSON for one tool response. The id carries the tool's name, so two
    tools numbering their responses alike never overwrite each other; the tool's body is kept
    under `source` so no answer it carried is lost."""
    payload: dict[str, Any] = {"id": f"{tool}:{external_id}", "survey": survey, "score": score}
    optional = {
        "comment": comment,
        "touchpoint": touchpoint,
        "tags": tags or None,
        "language": language,
        "submitted_at": submitted_at,
    }
    payload.update({key: value for key, value in optional.items() if value is not None})
    people = {key: value for key, value in (customer or {}).items() if value is not None}
    if people:
        payload["customer"] = people
    payload["source"] = {"tool": tool, "event": event, "body": body}
    return payload


def listed(keys: Any) -> str:
    names = [str(key)[:60] for key in keys][:20]
    return ", ".join(names) if names else "none"
