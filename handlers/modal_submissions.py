"""Submitting the Close and Log-contact modals.

These ack *after* the database change (a few milliseconds) so problems are shown inside the modal
itself, which is where the person is looking.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.app.services import Services
from bot.slack import kit
from bot.slack.actions import CallbackId
from bot.slack.modals import FormErrors, parse_close, parse_contact
from bot.slack.refusals import words
from bot.slack.tell_customer import tell_modal
from handlers import payloads


def _refusal_view(title: str, text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": kit.plain_text(title, 24),
        "close": kit.plain_text("OK", 24),
        "blocks": [kit.section(text)],
    }


def register(app: App, services: Services) -> None:
    @app.view(CallbackId.CLOSE_MODAL)
    def close_submitted(ack: Ack, body: dict[str, Any]) -> None:
        ref = payloads.view_ref(body)
        try:
            details = parse_close(payloads.view_values(body), services.policy)
        except FormErrors as problems:
            ack(response_action="errors", errors=problems.errors)
            return
        result = services.cases.close(ref.case_id, payloads.user_id(body), details)
        if result.refusal is not None:
            ack(response_action="update", view=_refusal_view("Not closed", words(result.refusal)))
            return
        # Closed with "customer told: not yet": the follow-up form takes the close form's place.
        follow_up = None
        if services.tell_customer is not None and details.customer_informed is False:
            follow_up = services.tell_customer.after_close(ref.case_id, payloads.user_id(body))
        if follow_up is not None and follow_up.case is not None:
            ack(response_action="update", view=tell_modal(follow_up.case, follow_up.note, follow_up.via))
            return
        ack()

    @app.view(CallbackId.CONTACT_MODAL)
    def contact_submitted(ack: Ack, body: dict[str, Any]) -> None:
        ref = payloads.view_ref(body)
        try:
            details = parse_contact(payloads.view_values(body))
        except FormErrors as problems:
            ack(response_action="errors", errors=problems.errors)
            return
        result = services.cases.log_contact(
            ref.case_id, payloads.user_id(body), details.channel, details.note
        )
        if result.refusal is not None:
            ack(response_action="update", view=_refusal_view("Not logged", words(result.refusal)))
            return
        ack()
