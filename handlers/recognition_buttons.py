"""The buttons on a closed-loop shout-out (Give kudos, Recognise) and the Recognise form.

Thin: the use cases decide and owe the shout-out's edit to the outbox; the clicker is answered
privately, and the form's problems are shown in the form."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.ack_first import ack_now
from bot.app.services import Services
from bot.slack import kit
from bot.slack.actions import ActionId, CallbackId
from bot.slack.modals import FormErrors
from bot.slack.recognition import parse_recognition, recognise_modal
from bot.slack.refusals import recognition_words
from handlers import payloads
from handlers.answers import tell


def _refusal_view(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": kit.plain_text("Not sent", 24),
        "close": kit.plain_text("OK", 24),
        "blocks": [kit.section(text)],
    }


def register(app: App, services: Services) -> None:
    recognition = services.recognition
    first = [ack_now]  # answer Slack before the work: see bot.ack_first

    @app.action(ActionId.GIVE_KUDOS, middleware=first)
    def give_kudos(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        result = recognition.toggle_kudos(payloads.action_ref(body).case_id, payloads.user_id(body))
        if result.refused is not None:
            tell(client, respond, body, recognition_words(result.refused))
        elif result.shoutout is not None:
            closer = f"<@{result.shoutout.closer}>"
            said = f"👏 Kudos to {closer} sent." if result.given else f"Kudos to {closer} taken back."
            tell(client, respond, body, said)

    @app.action(ActionId.RECOGNISE, middleware=first)
    def open_recognition(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        result = recognition.may_recognise(payloads.action_ref(body).case_id, payloads.user_id(body))
        if result.refused is not None:
            tell(client, respond, body, recognition_words(result.refused))
        elif result.shoutout is not None:
            view = recognise_modal(result.shoutout.case_id, result.shoutout.closer)
            client.views_open(trigger_id=payloads.trigger_id(body), view=view)

    @app.view(CallbackId.RECOGNISE_MODAL)
    def recognition_submitted(ack: Ack, body: dict[str, Any]) -> None:
        try:
            note = parse_recognition(payloads.view_values(body))
        except FormErrors as problems:
            ack(response_action="errors", errors=problems.errors)
            return
        result = recognition.recognise(payloads.view_ref(body).case_id, payloads.user_id(body), note.text)
        if result.refused is not None:
            ack(response_action="update", view=_refusal_view(recognition_words(result.refused)))
            return
        ack()
