"""Typeform: `form_response` (and `form_response_partial`, when the form sends partial responses)
with `answers[]`, each naming its question by `field.ref`; the customer in `hidden` fields."""

from __future__ import annotations

from typing import Any

from bot.app.sources.common import (
    feedback,
    listed,
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
from bot.domain.sources import Sources, TypeformSource

EVENTS = ("form_response", "form_response_partial")


def _answers(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    answers = response.get("answers")
    found: dict[str, dict[str, Any]] = {}
    for answer in answers if isinstance(answers, list) else []:
        ref = text(optional_mapping(optional_mapping(answer).get("field")).get("ref"))
        if ref is not None:
            found.setdefault(ref, answer)
    return found


def _defined_refs(response: dict[str, Any]) -> list[str]:
    fields = optional_mapping(response.get("definition")).get("fields")
    refs = [text(optional_mapping(field).get("ref")) for field in fields] if isinstance(fields, list) else []
    return [ref for ref in refs if ref is not None]


def _check_policy_refs(spec: TypeformSource, response: dict[str, Any]) -> None:
    """A ref the form does not have is a policy mistake: say which refs the form has."""
    defined = _defined_refs(response)
    if not defined:
        return  # the definition is optional in the payload; nothing to compare with
    for key in ("score_ref", "comment_ref"):
        ref = getattr(spec, key)
        if ref is not None and ref not in defined:
            raise reject(
                f"sources.typeform.{key}",
                f"{ref!r} is not a question of form {text(response.get('form_id')) or '?'}: its questions' "
                f"refs are {listed(defined)} — set sources.typeform.{key} in the policy to one of them",
            )


def from_typeform(body: Any, sources: Sources) -> dict[str, Any]:
    body = mapping(body, "(body)")
    event = body.get("event_type")
    if event not in EVENTS:
        raise not_a_response("event_type", event, EVENTS)
    spec = sources.typeform
    if spec is None:
        raise unmapped("sources.typeform.score_ref")
    response = mapping(body.get("form_response"), "form_response")
    token = response_id(response.get("token"), "form_response.token")
    _check_policy_refs(spec, response)
    answers = _answers(response)
    answer = answers.get(spec.score_ref)
    if answer is None:
        raise unanswered("form_response.answers", "sources.typeform.score_ref", spec.score_ref, answers)
    score = whole_score(answer.get("number"), f"form_response.answers[ref={spec.score_ref}].number")
    comment = None
    if spec.comment_ref is not None:
        comment = text(optional_mapping(answers.get(spec.comment_ref)).get("text"))
    hidden = optional_mapping(response.get("hidden"))
    return feedback(
        "typeform",
        str(event),
        token,
        spec.survey.value,
        score,
        body,
        comment=comment,
        customer={
            "id": text(hidden.get(spec.customer_id_field)),
            "email": text(hidden.get(spec.email_field)),
            "name": text(hidden.get(spec.name_field)),
            "segment": text(hidden.get(spec.segment_field)),
        },
        touchpoint=spec.touchpoint,
        submitted_at=when(response.get("submitted_at")),
    )
