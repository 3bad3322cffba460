"""Wootric (InMoment): `response{id, email, external_id, score, text, end_user_properties}`,
`event_name` and `survey_mode` (NPS, CSAT, CES), as JSON or form-encoded (`response[score]=7`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

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
    whole_score,
)
from bot.domain.sources import Sources
from bot.domain.vocabulary import Survey

EVENTS = ("created", "updated")
MAX_FIELDS = 500  # a response has a dozen fields and a few end-user properties
MAX_DEPTH = 4  # response[end_user_properties][plan] is three deep


def _key_path(key: str) -> list[str]:
    """'response[end_user_properties][plan]' -> ['response', 'end_user_properties', 'plan']."""
    head, _, rest = key.partition("[")
    parts = [head]
    while rest:
        part, _, rest = rest.partition("]")
        parts.append(part)
        rest = rest.removeprefix("[")
    return parts


def parse_form(body: bytes) -> dict[str, Any]:
    """Rack-style nested form fields as nested objects; a field that is both a value and an object
    (`a=1&a[b]=2`) or nests too deep is refused by name."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise reject("(body)", f"is not a form-encoded body ({str(error)[:80]})") from None
    parsed: dict[str, Any] = {}
    for key, value in pairs:
        path = _key_path(key)
        if len(path) > MAX_DEPTH or not all(path):
            raise reject(key[:80], "is not a field Wootric sends (too deep, or an empty [] part)")
        node = parsed
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise reject(key[:80], "is both a value and an object")
        if isinstance(node.get(path[-1]), dict):
            raise reject(key[:80], "is both a value and an object")
        node[path[-1]] = value
    return parsed


def _survey(mode: Any) -> str:
    if mode is None:
        return Survey.NPS.value  # Wootric began as NPS only; older accounts leave it out
    survey = str(mode).strip().lower()
    if survey not in {kind.value for kind in Survey}:
        raise reject("survey_mode", f"{str(mode)[:20]!r} is not NPS, CSAT or CES")
    return survey


def from_wootric(body: Any, sources: Sources) -> dict[str, Any]:
    body = mapping(body, "(body)")
    if "response" not in body:
        kind = next((key for key in ("decline", "end_user") if key in body), None)
        if kind is not None:
            raise Ignored(f"a {kind} event carries no score")
    event = body.get("event_name")
    if event is not None and event not in EVENTS:
        raise not_a_response("event_name", event, EVENTS)
    spec = sources.wootric
    response = mapping(body.get("response"), "response")
    identifier = response_id(response.get("id"), "response.id")
    survey = _survey(body.get("survey_mode"))
    score = whole_score(response.get("score"), "response.score")
    properties = optional_mapping(response.get("end_user_properties"))
    segment = text(properties.get(spec.segment_property)) if spec.segment_property else None
    return feedback(
        "wootric",
        str(event or "created"),
        identifier,
        survey,
        score,
        body,
        comment=text(response.get("text")),
        customer={
            "id": text(response.get("external_id")),
            "email": text(response.get("email")),
            "segment": segment,
        },
        touchpoint=spec.touchpoint,
        submitted_at=when(response.get("created_at")),
    )
