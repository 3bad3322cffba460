"""The buttons on a case message: Claim, Release, Log contact, Close loop."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.services import Services
from bot.slack.actions import ActionId
from bot.slack.modals import close_modal, contact_modal
from handlers import payloads


def _tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    """A private answer to the person who clicked; nobody else sees it."""
    client.chat_postEphemeral(channel=payloads.channel_id(body), user=payloads.user_id(body), text=text)


def register(app: App, services: Services) -> None:
    cases = services.cases

    @app.action(ActionId.CLAIM)
    def claim(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        result = cases.claim(payloads.action_ref(body).case_id, payloads.user_id(body))
        if result.refusal:
            _tell(client, body, result.refusal)

    @app.action(ActionId.RELEASE)
    def release(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        result = cases.release(payloads.action_ref(body).case_id, payloads.user_id(body))
        if result.refusal:
            _tell(client, body, result.refusal)

    @app.action(ActionId.LOG_CONTACT)
    def log_contact(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user, case = payloads.user_id(body), cases.get(payloads.action_ref(body).case_id)
        refusal = (
            "This case no longer exists." if case is None else cases.check_owner(case, user, "log a contact")
        )
        if refusal or case is None:
            _tell(client, body, refusal or "")
            return
        client.views_open(trigger_id=payloads.trigger_id(body), view=contact_modal(case))

    @app.action(ActionId.CLOSE)
    def close(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user, case = payloads.user_id(body), cases.get(payloads.action_ref(body).case_id)
        refusal = "This case no longer exists." if case is None else cases.check_close(case, user)
        if refusal or case is None:
            _tell(client, body, refusal or "")
            return
        client.views_open(trigger_id=payloads.trigger_id(body), view=close_modal(case, services.policy))
