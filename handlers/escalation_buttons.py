"""The controls on an escalation's direct message: Acknowledge, Reassign to…, Snooze…"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.app.cases import ActionResult
from bot.app.escalations import answer_details
from bot.app.services import Services
from bot.domain.policy import Policy
from bot.domain.vocabulary import EventKind
from bot.slack.actions import ActionId, BadPayload
from bot.slack.deadline_text import answer_outcome, escalation_answered
from bot.slack.refusals import words
from handlers import payloads
from handlers.answers import tell

SECONDS = re.compile(r"[0-9]{1,9}")  # ASCII digits only; the choices offered are at most days


def _answer(
    client: WebClient,
    respond: Respond,
    body: dict[str, Any],
    result: ActionResult,
    step: str,
    outcome: str,
    policy: Policy,
) -> None:
    """A refusal is told privately; a done answer replaces the controls, so nobody clicks twice."""
    if result.refusal is not None:
        tell(client, respond, body, words(result.refusal))
    elif result.case is not None:
        message = escalation_answered(result.case, step, outcome, policy)
        client.chat_update(
            channel=payloads.channel_id(body),
            ts=payloads.message_ts(body),
            text=message.text,
            blocks=message.blocks,
        )


def _shown_in(body: dict[str, Any]) -> tuple[str, str]:
    """The DM answered from: the listener edits it at once, the outbox edits the others."""
    return payloads.channel_id(body), payloads.message_ts(body)


def register(app: App, services: Services) -> None:
    escalations = services.escalations

    @app.action(ActionId.ESCALATION_ACK)
    def acknowledge(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        ref, user = payloads.escalation_ref(body), payloads.user_id(body)
        result = escalations.acknowledge(ref.case_id, ref.step, user, where=_shown_in(body))
        outcome = answer_outcome(user, answer_details(EventKind.ACKNOWLEDGED))
        _answer(client, respond, body, result, ref.step, outcome, services.policy)

    @app.action(ActionId.ESCALATION_REASSIGN)
    def reassign(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        ref, user = payloads.escalation_ref(body), payloads.user_id(body)
        new_owner = payloads.selected_user(body)
        result = escalations.reassign(ref.case_id, ref.step, user, new_owner, where=_shown_in(body))
        outcome = answer_outcome(user, answer_details(EventKind.REASSIGNED, to=new_owner))
        _answer(client, respond, body, result, ref.step, outcome, services.policy)

    @app.action(ActionId.ESCALATION_SNOOZE)
    def snooze(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        ref, user = payloads.escalation_ref(body), payloads.user_id(body)
        text = payloads.selected_value(body)
        if not SECONDS.fullmatch(text):
            raise BadPayload(f"snooze value is not a number of seconds: {text[:40]!r}")
        length = timedelta(seconds=int(text))
        result = escalations.snooze(ref.case_id, ref.step, ref.level, user, length, where=_shown_in(body))
        outcome = answer_outcome(user, answer_details(EventKind.SNOOZED, until=services.clock() + length))
        _answer(client, respond, body, result, ref.step, outcome, services.policy)
