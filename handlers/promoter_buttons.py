"""The buttons on a promoter's notice (Thanked, Ask for a review, Reference candidate).

Thin: the use case records the press and owes the notice's edit to the outbox; the clicker is
answered privately (the review request is a text only they need)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.ack_first import ack_now
from bot.app.services import Services
from bot.domain.vocabulary import PromoterAction
from bot.slack.actions import NoticeRef
from bot.slack.promoters import ACTION_OF_BUTTON, already_done, pressed_answer, review_request
from handlers import payloads
from handlers.answers import tell


def register(app: App, services: Services) -> None:
    promoters = services.promoters
    first = [ack_now]  # answer Slack before the work: see bot.ack_first

    def pressed(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        action = payloads.first_action(body)
        ref = NoticeRef.decode(action.get("value"))
        which = ACTION_OF_BUTTON[action["action_id"]]
        result = promoters.press(ref.feedback_id, which, payloads.user_id(body))
        if result is None:
            tell(client, respond, body, "This response is no longer known to closeloop.")
            return
        if result.first.action == PromoterAction.REVIEW_ASKED:
            department = services.policy.department_of(result.notice)
            name, url = result.notice.customer_name, department.review_url
            answer = review_request(name, url, department.display_name)
            if not result.new:
                answer = f"{already_done(result)}\n{answer}"
            tell(client, respond, body, answer)
            return
        tell(client, respond, body, pressed_answer(result) if result.new else already_done(result))

    for action_id in ACTION_OF_BUTTON:
        app.action(action_id, middleware=first)(pressed)
