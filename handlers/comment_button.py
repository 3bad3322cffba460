"""The Full comment button on a case message whose comment was cut: the whole text in a modal."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.ack_first import ack_now
from bot.app.services import Services
from bot.slack.actions import ActionId
from bot.slack.modals import full_comment_modal
from handlers import payloads

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.action(ActionId.FULL_COMMENT, middleware=[ack_now])
    def show_full_comment(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Anyone who sees the message may read the comment: no permission to check. The case is
        read afresh, so the modal shows the comment as it is now (a re-sent response may change it)."""
        ack()
        case_id = payloads.action_ref(body).case_id
        case = services.queries.case(case_id)
        if case is None:  # cases are never deleted: a button we did not render
            log.warning("Full comment pressed for case #%s, which does not exist", case_id)
            return
        view = full_comment_modal(case, services.policy)
        client.views_open(trigger_id=payloads.trigger_id(body), view=view)
