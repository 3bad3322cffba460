"""`/loop shipped <theme>` ("You said, we did"): the modal that shows whom it reaches, and its
submission, which writes the announcement (the outbox's pool sends it, paced)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.app.shipped import ShippedActions
from bot.slack.actions import CallbackId
from bot.slack.modals import FormErrors
from bot.slack.shipped import confirmed_text, parse_theme, shipped_modal
from bot.slack.tell_customer import notice_view, parse_note
from handlers import payloads


def open_modal(
    shipped: ShippedActions | None, command: dict[str, Any], words: list[str], ack: Ack, client: WebClient,
    respond: Respond,
) -> None:  # fmt: skip
    """Called by the `/loop` listener: acked at once, then the modal (its trigger lasts 3 s)."""
    if shipped is None:
        ack(text="“You said, we did” is not available here.")
        return
    ack()
    preview = shipped.preview(str(command.get("user_id")), " ".join(words))
    if preview.refusal is not None:
        respond(response_type="ephemeral", text=preview.refusal)
        return
    view = shipped_modal(preview.theme, preview.label, preview.audience, preview.already_told, preview.note)
    client.views_open(trigger_id=str(command.get("trigger_id")), view=view)


def register(app: App, shipped: ShippedActions) -> None:
    @app.view(CallbackId.SHIPPED_MODAL)
    def submitted(ack: Ack, body: dict[str, Any]) -> None:
        """Acked after the rows are written: problems and the outcome show in the modal itself."""
        theme = parse_theme((body.get("view") or {}).get("private_metadata"))
        try:
            note = parse_note(payloads.view_values(body))
        except FormErrors as problems:
            ack(response_action="errors", errors=problems.errors)
            return
        done = shipped.confirm(payloads.user_id(body), theme, note)
        if done.refusal is not None:
            ack(response_action="update", view=notice_view("Not sent", done.refusal))
            return
        text = confirmed_text(shipped.label_of(theme), done.queued, done.already)
        ack(response_action="update", view=notice_view("On its way", text))
