"""Zendesk CSAT through a trigger's webhook. Zendesk sends whatever JSON the trigger's body says;
the README gives the template this reads (ZENDESK_TEMPLATE, kept here so docs and code agree).
A good rating is CSAT 5, a bad one CSAT 1; the ticket id is the response id, so a customer who
changes their rating updates the same response."""

from __future__ import annotations

from typing import Any

from bot.app.sources.common import (
    Ignored,
    feedback,
    mapping,
    not_a_response,
    optional_mapping,
    reject,
    response_id,
    text,
    when,
)
from bot.domain.sources import Sources

EVENT = "satisfaction_rated"
MAX_TAGS = 30  # the intake's own limits
MAX_TAG_LENGTH = 50
ZENDESK_TEMPLATE = """{
  "event": "satisfaction_rated",
  "ticket_id": "{{ticket.id}}",
  "rating": "{{satisfaction.current_rating}}",
  "comment": "{{satisfaction.current_comment}}",
  "requester": {
    "id": "{{ticket.requester.id}}",
    "name": "{{ticket.requester.name}}",
    "email": "{{ticket.requester.email}}"
  },
  "organization": "{{ticket.organization.name}}",
  "tags": "{{ticket.tags}}",
  "updated_at": "{{ticket.updated_at_with_timestamp}}"
}"""
NOT_RATED = ("offered", "unoffered", "not offered", "")


def _score(rating: Any) -> int | None:
    """5 for good, 1 for bad, None when the survey was only offered; else a 422."""
    word = str(rating).strip().lower() if isinstance(rating, str | int) else None
    if word is None:
        raise reject("rating", 'missing — send "rating": "{{satisfaction.current_rating}}" (README, Zendesk)')
    if word.startswith("good"):
        return 5
    if word.startswith("bad"):
        return 1
    if word in NOT_RATED:
        return None
    raise reject(
        "rating", f"{word[:40]!r} is neither good nor bad — send {{{{satisfaction.current_rating}}}}"
    )


def _tags(value: Any) -> list[str]:
    words = value.split() if isinstance(value, str) else []
    return [word for word in words if len(word) <= MAX_TAG_LENGTH][:MAX_TAGS]


def from_zendesk(body: Any, sources: Sources) -> dict[str, Any]:
    body = mapping(body, "(body)")
    event = body.get("event", EVENT)
    if event != EVENT:
        raise not_a_response("event", event, (EVENT,))
    spec = sources.zendesk
    ticket = response_id(body.get("ticket_id"), "ticket_id")
    score = _score(body.get("rating"))
    if score is None:
        raise Ignored("the ticket's survey was offered but not rated yet")
    requester = optional_mapping(body.get("requester"))
    return feedback(
        "zendesk",
        EVENT,
        ticket,
        "csat",
        score,
        body,
        comment=text(body.get("comment")),
        customer={
            "id": text(requester.get("id")),
            "name": text(requester.get("name")),
            "email": text(requester.get("email")),
            "account": text(body.get("organization")),
        },
        touchpoint=spec.touchpoint,
        tags=_tags(body.get("tags")),
        submitted_at=when(body.get("updated_at")),
    )
