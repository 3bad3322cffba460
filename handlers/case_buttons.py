"""The buttons on a case message: Claim, Release, Log contact, Close loop."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.ack_first import ack_now
from bot.app.cases import ActionResult
from bot.app.services import Services
from bot.domain.lifecycle import Action
from bot.domain.records import CaseSnapshot
from bot.slack.actions import ActionId
from bot.slack.case_message import contact_card
from bot.slack.modals import close_modal, contact_modal
from bot.slack.refusals import words
from handlers import payloads

Listener = Callable[[Ack, dict[str, Any], WebClient, Respond], None]

log = logging.getLogger(__name__)


def tell(client: WebClient, respond: Respond, body: dict[str, Any], text: str) -> None:
    """A private answer to the person who clicked; nobody else sees it.

    Sent through the click's response_url: unlike chat.postEphemeral it needs no channel
    membership, so someone who reads a channel without having joined it is answered too (one use
    of the five Slack allows). A click without one falls back to an ephemeral message."""
    if payloads.response_url(body) is None:
        client.chat_postEphemeral(channel=payloads.channel_id(body), user=payloads.user_id(body), text=text)
        return
    answer = respond(text=text, response_type="ephemeral", replace_original=False)
    if answer.status_code != 200:
        log.warning("a private answer was refused: %s %s", answer.status_code, answer.body[:200])


def change_listener(change: Callable[[int, str], ActionResult]) -> Listener:
    """A button that changes the case at once (Claim, Release); a refusal is told privately."""

    def listener(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        result = change(payloads.action_ref(body).case_id, payloads.user_id(body))
        if result.refusal is not None:
            tell(client, respond, body, words(result.refusal))

    return listener


def modal_listener(
    services: Services, action: Action, view: Callable[[CaseSnapshot], dict[str, Any]]
) -> Listener:
    """A button that opens a form (Log contact, Close loop) if the clicker may use it."""

    def listener(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        result = services.cases.open_form(payloads.action_ref(body).case_id, payloads.user_id(body), action)
        if result.refusal is not None:
            tell(client, respond, body, words(result.refusal))
        elif result.case is not None:
            client.views_open(trigger_id=payloads.trigger_id(body), view=view(result.case))

    return listener


def register(app: App, services: Services) -> None:
    cases = services.cases
    first = [ack_now]  # answer Slack before the work: see bot.ack_first

    @app.action(ActionId.CONTACT_DETAILS, middleware=first)
    def show_contact_details(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        result = cases.contact_details(payloads.action_ref(body).case_id, payloads.user_id(body))
        if result.refusal is not None:
            tell(client, respond, body, words(result.refusal))
        elif result.case is not None:
            tell(client, respond, body, contact_card(result.case))

    app.action(ActionId.CLAIM, middleware=first)(change_listener(cases.claim))
    app.action(ActionId.RELEASE, middleware=first)(change_listener(cases.release))
    app.action(ActionId.REOPEN, middleware=first)(change_listener(cases.reopen))
    app.action(ActionId.LOG_CONTACT, middleware=first)(
        modal_listener(services, Action.LOG_CONTACT, contact_modal)
    )
    app.action(ActionId.CLOSE, middleware=first)(
        modal_listener(services, Action.CLOSE, lambda case: close_modal(case, services.policy))
    )
