"""Formbricks: `responseCreated`, `responseUpdated`, `responseFinished`, each with the whole
response so far; answers in `data.data` keyed by question id. Sent as an object or, as some
versions do, a list holding one."""

from __future__ import annotations

from typing import Any

from bot.app.sources.common import (
    feedback,
    mapping,
    not_a_response,
    optional_mapping,
    reject,
    response_id,
    text,
    unanswered,
    unmapped,
    when,
    whole_score,
)
from bot.domain.sources import Sources

EVENTS = ("responseCreated", "responseUpdated", "responseFinished")


def _name(attributes: dict[str, Any]) -> str | None:
    full = text(attributes.get("name"))
    if full:
        return full
    parts = [text(attributes.get(key)) for key in ("firstName", "lastName")]
    return " ".join(part for part in parts if part) or None


def from_formbricks(body: Any, sources: Sources) -> dict[str, Any]:
    if isinstance(body, list):
        if len(body) != 1:
            raise reject("(body)", f"a list of {len(body)} events — send one event per request")
        body = body[0]
    body = mapping(body, "(body)")
    event = body.get("event")
    if event not in EVENTS:
        raise not_a_response("event", event, EVENTS)
    spec = sources.formbricks
    if spec is None:
        raise unmapped("sources.formbricks.score_question")
    data = mapping(body.get("data"), "data")
    identifier = response_id(data.get("id"), "data.id")
    answers = optional_mapping(data.get("data"))
    if spec.score_question not in answers:
        raise unanswered("data.data", "sources.formbricks.score_question", spec.score_question, answers)
    score = whole_score(answers[spec.score_question], f"data.data.{spec.score_question}")
    said = answers.get(spec.comment_question) if spec.comment_question else None
    contact = optional_mapping(data.get("contact"))
    attributes = optional_mapping(data.get("contactAttributes"))
    language = text(data.get("language"))
    return feedback(
        "formbricks",
        str(event),
        identifier,
        spec.survey.value,
        score,
        body,
        comment=text(said) if isinstance(said, str) else None,  # an open question's answer is text
        customer={
            "id": text(attributes.get("userId")) or text(contact.get("userId")) or text(contact.get("id")),
            "email": text(attributes.get("email")),
            "name": _name(attributes),
        },
        touchpoint=spec.touchpoint,
        language=None if language == "default" else language,
        submitted_at=when(data.get("createdAt")),
    )
