"""Tell the customer, Send again and Not needed (on a closed case's message and in its owner's
direct messages), and the follow-up modal's submission."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.ack_first import ack_now
from bot.app.tell_customer import TellCustomer
from bot.slack.actions import ActionId, CallbackId
from bot.slack.modals import FormErrors
from bot.slack.tell_customer import notice_view, parse_note, tell_modal
from handlers import payloads
from handlers.answers import tell


def _in_dm(body: dict[str, Any]) -> bool:
    return str((body.get("channel") or {}).get("id", "")).startswith("D")


def register(app: App, tell_customer: TellCustomer) -> None:
    first = [ack_now]  # answer Slack before the work: see bot.ack_first

    def opener(*, again: bool) -> Any:
        def listener(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
            ack()
            form = tell_customer.open_form(
                payloads.action_ref(body).case_id, payloads.user_id(body), again=again
            )
            if form.refusal is not None or form.case is None:
                tell(client, respond, body, form.refusal or "This case no longer exists.")
                return
            view = tell_modal(form.case, form.note, form.via, again=form.again)
            client.views_open(trigger_id=payloads.trigger_id(body), view=view)

        return listener

    app.action(ActionId.TELL_CUSTOMER, middleware=first)(opener(again=False))
    app.action(ActionId.SEND_AGAIN, middleware=first)(opener(again=True))

    @app.action(ActionId.FOLLOW_UP_NOT_NEEDED, middleware=first)
    def not_needed(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        form = tell_customer.not_needed(payloads.action_ref(body).case_id, payloads.user_id(body))
        if form.refusal is not None:
            tell(client, respond, body, form.refusal)
        elif _in_dm(body) and payloads.response_url(body) is not None:  # the reminder has done its job
            case_id = form.case.id if form.case else "?"
            respond(
                replace_original=True, text=f"🤐 Case #{case_id}: telling the customer marked not needed."
            )

    @app.view(CallbackId.TELL_CUSTOMER_MODAL)
    def submitted(ack: Ack, body: dict[str, Any]) -> None:
        """Acked after the row is written (milliseconds): problems show in the modal itself."""
        ref = payloads.view_ref(body)
        try:
            note = parse_note(payloads.view_values(body))
        except FormErrors as problems:
            ack(response_action="errors", errors=problems.errors)
            return
        form = tell_customer.send(ref.case_id, payloads.user_id(body), note)
        if form.refusal is not None:
            ack(response_action="update", view=notice_view("Not sent", form.refusal))
            return
        ack()
