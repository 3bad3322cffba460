"""Hand over…: the owner (or a department manager) gives a claimed case to a colleague, with a
reason. The button opens the form; its submission acks *after* the change so that problems
(nobody chosen, no reason, someone who may not take the case) are shown in the form itself."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.ack_first import ack_now
from bot.app.services import Services
from bot.domain.lifecycle import Action, Code
from bot.slack import kit
from bot.slack.actions import ActionId, CallbackId
from bot.slack.modals import FormErrors, hand_over_modal, parse_hand_over
from bot.slack.refusals import words
from handlers import payloads
from handlers.answers import tell

# Refusals about the person chosen: shown on that field, so another can be picked.
ABOUT_THE_PERSON = frozenset({Code.NOT_A_MEMBER, Code.ALREADY_YOURS, Code.OWNED_BY_SOMEONE_ELSE})


def _refusal_view(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": kit.plain_text("Not handed over", 24),
        "close": kit.plain_text("OK", 24),
        "blocks": [kit.section(text)],
    }


def register(app: App, services: Services) -> None:
    cases = services.cases

    @app.action(ActionId.HAND_OVER, middleware=[ack_now])
    def hand_over_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        user = payloads.user_id(body)
        result = cases.open_form(payloads.action_ref(body).case_id, user, Action.HAND_OVER)
        if result.refusal is not None:
            tell(client, respond, body, words(result.refusal))
        elif result.case is not None:
            client.views_open(trigger_id=payloads.trigger_id(body), view=hand_over_modal(result.case))

    @app.view(CallbackId.HAND_OVER_MODAL)
    def hand_over_submitted(ack: Ack, body: dict[str, Any]) -> None:
        ref = payloads.view_ref(body)
        try:
            details = parse_hand_over(payloads.view_values(body))
        except FormErrors as problems:
            ack(response_action="errors", errors=problems.errors)
            return
        result = cases.hand_over(ref.case_id, payloads.user_id(body), details.person, details.reason)
        if result.refusal is None:
            ack()
        elif result.refusal.code in ABOUT_THE_PERSON:
            ack(response_action="errors", errors={"person": words(result.refusal)})
        else:
            ack(response_action="update", view=_refusal_view(words(result.refusal)))
