"""The policy's `sources:` section: how each survey tool's questions map onto a response.

A tool's webhook body names questions by the tool's own ids (a Typeform field `ref`, a Formbricks
question id), which only the admin knows; everything else (the response id, the customer) sits
where the tool documents it. A tool that needs no mapping (Wootric, AskNicely, Zendesk) works
without an entry here; Typeform and Formbricks need theirs before their route is switched on.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from bot.domain.vocabulary import Survey

# A tool's own question key: Typeform refs and Formbricks ids are short ASCII identifiers.
QuestionKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Touchpoint = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

TOOLS: tuple[str, ...] = ("typeform", "formbricks", "wootric", "asknicely", "zendesk")
# Tools whose route stays off until the policy says which question holds the score.
NEEDS_MAPPING: dict[str, str] = {"typeform": "score_ref", "formbricks": "score_question"}


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Set on every response from this tool, so routing rules can match it (routing.rules[].touchpoint).
    touchpoint: Touchpoint | None = None


class TypeformSource(_Source):
    survey: Survey = Survey.NPS
    score_ref: QuestionKey  # the `ref` of the NPS (or CSAT/CES) question, from the form's Logic > Refs
    comment_ref: QuestionKey | None = None  # the open question asking why
    # Hidden fields (form_response.hidden) that carry the customer, as named in the form's URL.
    customer_id_field: QuestionKey = "customer_id"
    email_field: QuestionKey = "email"
    name_field: QuestionKey = "name"
    segment_field: QuestionKey = "segment"


class FormbricksSource(_Source):
    survey: Survey = Survey.NPS
    score_question: QuestionKey  # the id of the NPS / rating question (the key in data.data)
    comment_question: QuestionKey | None = None


class WootricSource(_Source):
    # The survey comes with each response (survey_mode NPS, CSAT or CES); end_user_properties
    # may carry the customer's segment under a property the account chose.
    segment_property: QuestionKey | None = None


class AskNicelySource(_Source):
    survey: Survey = Survey.NPS


class ZendeskSource(_Source):
    """Zendesk's good/bad satisfaction rating is a CSAT of 5 or 1; nothing to map."""


class Sources(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    typeform: TypeformSource | None = None
    formbricks: FormbricksSource | None = None
    wootric: WootricSource = WootricSource()
    asknicely: AskNicelySource = AskNicelySource()
    zendesk: ZendeskSource = ZendeskSource()

    def unmapped(self, enabled: list[str]) -> list[str]:
        """One line per enabled tool whose questions the policy does not map, naming the fix."""
        problems = []
        for tool in enabled:
            key = NEEDS_MAPPING.get(tool)
            if key is not None and getattr(self, tool) is None:
                problems.append(
                    f"CLOSELOOP_{tool.upper()}_SECRET is set, but the policy has no sources.{tool}.{key} — "
                    f"add 'sources: {{{tool}: {{{key}: <the score question's id>}}}}' to the policy "
                    f"(README, 'Survey tools'), or unset CLOSELOOP_{tool.upper()}_SECRET"
                )
        return problems
