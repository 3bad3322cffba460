"""The buttons on a case message: Claim, Release, Log contact, Close loop."""

from __future__ import annotations

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
from bot.slack.links import WorkspaceLinks
from bot.slack.modals import close_modal, contact_modal
from bot.slack.refusals import words
from handlers import hand_over, payloads
from handlers.answers import tell
from handlers.commands import mine_answer_for

Listener = Callable[[Ack, dict[str, Any], WebClient, Respond], None]
Done = Callable[[dict[str, Any], Respond], None]


def change_listener(change: Callable[[int, str], ActionResult], done: Done | None = None) -> Listener:
    """A button that changes the case at once (Claim, Release); a refusal is told privately,
    a change made is `done`'s to show where the click came from (the case message shows it)."""

    def listener(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        result = change(payloads.action_ref(body).case_id, payloads.user_id(body))
        if result.refusal is not None:
            tell(client, respond, body, words(result.refusal))
        elif done is not None:
            done(body, respond)

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
    links = WorkspaceLinks(app.client)

    def answer_again(body: dict[str, Any], respond: Respond) -> None:
        """A change made from `/loop mine`'s private answer: the answer now shows the cases as
        they are, so its buttons are the ones that work (a Home view is refreshed by the outbox)."""
        if payloads.from_ephemeral(body) and payloads.response_url(body) is not None:
            answer = mine_answer_for(services, payloads.user_id(body), links)
            respond(replace_original=True, response_type="ephemeral", **answer)

    @app.action(ActionId.CONTACT_DETAILS, middleware=first)
    def show_contact_details(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        result = cases.contact_details(payloads.action_ref(body).case_id, payloads.user_id(body))
        if result.refusal is not None:
            tell(client, respond, body, words(result.refusal))
        elif result.case is not None:
            tell(client, respond, body, contact_card(result.case))

    app.action(ActionId.CLAIM, middleware=first)(change_listener(cases.claim, answer_again))
    app.action(ActionId.RELEASE, middleware=first)(change_listener(cases.release, answer_again))
    app.action(ActionId.REOPEN, middleware=first)(change_listener(cases.reopen, answer_again))
    app.action(ActionId.CLOSE_WON_BACK, middleware=first)(change_listener(cases.close_won_back, answer_again))
    app.action(ActionId.LOG_CONTACT, middleware=first)(
        modal_listener(services, Action.LOG_CONTACT, contact_modal)
    )
    app.action(ActionId.CLOSE, middleware=first)(
        modal_listener(services, Action.CLOSE, lambda case: close_modal(case, services.policy))
    )
    hand_over.register(app, services)  # Hand over…, a case button with a form of its own
