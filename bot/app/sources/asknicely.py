"""AskNicely: `person{id, name, email, segment}` and `question{id, score, comment, responded}`,
the score as text ("10"); a webhook fires again, with the same question id, when the contact
changes the score or adds a comment."""

from __future__ import annotations

from typing import Any

from bot.app.sources.common import (
    feedback,
    mapping,
    optional_mapping,
    response_id,
    text,
    when,
    whole_score,
)
from bot.domain.sources import Sources


def from_asknicely(body: Any, sources: Sources) -> dict[str, Any]:
    body = mapping(body, "(body)")
    spec = sources.asknicely
    question = mapping(body.get("question"), "question")
    identifier = response_id(question.get("id"), "question.id")
    score = whole_score(question.get("score"), "question.score")
    person = optional_mapping(body.get("person"))
    return feedback(
        "asknicely",
        "response",
        identifier,
        spec.survey.value,
        score,
        body,
        comment=text(question.get("comment")),
        customer={
            "id": text(person.get("id")),
            "name": text(person.get("name")),
            "email": text(person.get("email")),
            "segment": text(person.get("segment")) or text(question.get("segment")),
        },
        touchpoint=spec.touchpoint,
        submitted_at=when(question.get("responded")),
    )
