"""Telling the customer in Slack: the modal the owner writes the follow-up in, the thread replies
that record what became of it, and the direct messages to its owner (the reminder that the
customer was not told yet; a follow-up that failed or whose fate is uncertain)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.outer_loop import NOTE_MAX, Via, note_problem
from bot.domain.records import CaseSnapshot, EventRecord
from bot.domain.vocabulary import EventKind
from bot.slack import kit
from bot.slack.actions import ActionId, CallbackId, CaseRef
from bot.slack.case_message import Message, customer_line, headline, when
from bot.slack.modals import FormErrors
from bot.slack.text import escape, escaped_excerpt, quoted_excerpt

VIA = {"email": "by e-mail", "webhook": "through the helpdesk"}
ERROR_SHOWN = 300


def tell_modal(case: CaseSnapshot, note: str, via: Via, *, again: bool = False) -> dict[str, Any]:
    """The follow-up to write, prefilled (the policy's template, or the note sent before)."""
    to = escaped_excerpt(case.customer_email, 320) if via == "email" else "the customer, through the helpdesk"
    intro = f"*To:* {customer_line(case)} · {to}"
    if again:
        intro += (
            "\n❓ The last try may have reached the customer: send again only if you know it did not "
            "(ask them, or the mail server's log)."
        )
    element = kit.text_input(multiline=True, max_length=NOTE_MAX)
    element["initial_value"] = note[:NOTE_MAX]
    return {
        "type": "modal",
        "callback_id": CallbackId.TELL_CUSTOMER_MODAL,
        "private_metadata": CaseRef(case_id=case.id, version=case.version).encode(),
        "title": kit.plain_text("Tell the customer", 24),
        "submit": kit.plain_text("Send again" if again else "Send", 24),
        "close": kit.plain_text("Cancel", 24),
        "blocks": [
            kit.context(headline(case)),
            kit.section(intro),
            kit.input_block(
                "note",
                "What was done",
                element,
                hint="The greeting and your signature are added around it, in the customer's language.",
            ),
        ],
    }


def parse_note(values: dict[str, Any]) -> str:
    """The note as written, or the problem with it for the modal's `errors`."""
    raw = (values.get("note") or {}).get("value", {})
    note = raw.get("value") if isinstance(raw, dict) else None
    if note is not None and not isinstance(note, str):
        note = None
    problem = note_problem(note)
    if problem is not None:
        raise FormErrors({"note": problem})
    assert note is not None
    return note.strip()


def notice_view(title: str, text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": kit.plain_text(title, 24),
        "close": kit.plain_text("OK", 24),
        "blocks": [kit.section(text)],
    }


def _error(event: EventRecord) -> str:
    return escaped_excerpt(str(event.details.get("error") or "no reason given"), ERROR_SHOWN)


def follow_up_reply(event: EventRecord, case: CaseSnapshot) -> Message:
    """The thread's record of a follow-up: who, when, over what, and what became of it."""
    details = event.details
    by = f"<@{details.get('by') or event.actor}>"
    via = VIA.get(str(details.get("via")), "")
    at = when(event.at)
    if event.kind == EventKind.CUSTOMER_TOLD:
        text = f"📨 {by} told the customer what was done, {via}, {at}."
        if details.get("message_id"):
            shown = str(details["message_id"]).strip("<>")  # to look it up in the mail server's log
            text += f"\nMessage-ID `{escaped_excerpt(shown, 250)}`"
    elif event.kind == EventKind.FOLLOW_UP_FAILED:
        text = f"⚠️ The follow-up {by} wrote could not be sent {via}: {_error(event)}."
    elif event.kind == EventKind.FOLLOW_UP_UNCERTAIN:
        text = (
            f"❓ The follow-up {by} wrote may or may not have reached the customer: {_error(event)}. "
            f"It is not sent again unless {by} chooses to."
        )
    elif event.kind == EventKind.FOLLOW_UP_NOT_NEEDED:
        text = f"🤐 <@{event.actor}> marked telling the customer as not needed, {at}."
    else:
        text = f"{escape(event.kind)} by <@{event.actor}>"
    return Message(text=text, blocks=[kit.section(text)])


def _buttons(case: CaseSnapshot, *, again: bool) -> dict[str, Any]:
    value = CaseRef(case_id=case.id, version=case.version).encode()
    first = (
        kit.button("Send again", ActionId.SEND_AGAIN, value)
        if again
        else kit.button("Tell the customer", ActionId.TELL_CUSTOMER, value, style="primary")
    )
    return kit.actions(
        "follow_up_actions", first, kit.button("Not needed", ActionId.FOLLOW_UP_NOT_NEEDED, value)
    )


def _link(case: CaseSnapshot, permalink: str | None) -> str:
    if permalink:
        return f"<{permalink}|Open case #{case.id}>"
    return f"Case #{case.id} in <#{case.slack_channel}>" if case.slack_channel else f"Case #{case.id}"


def promise_dm(case: CaseSnapshot, permalink: str | None, closed_at: datetime | None) -> Message:
    """The owner's reminder: the loop was closed with "customer told: no"."""
    closed = when(closed_at) if closed_at else "earlier"
    text = f"⏰ You closed case #{case.id} {closed}, but the customer has not been told what was done."
    body = f"{text}\n*{headline(case)}* — {customer_line(case)}"
    if case.close_note:
        body += "\n" + quoted_excerpt(case.close_note, 600)
    blocks = [kit.section(body), kit.context(_link(case, permalink)), _buttons(case, again=False)]
    return Message(text=text, blocks=blocks)


def follow_up_dm(event: EventRecord, case: CaseSnapshot, permalink: str | None) -> Message:
    """To the author of a follow-up that failed, or whose fate a crash left unknown."""
    uncertain = event.kind == EventKind.FOLLOW_UP_UNCERTAIN
    if uncertain:
        text = f"❓ Your follow-up on case #{case.id} may or may not have reached the customer."
        more = (
            f"{_error(event)}. closeloop does not send it again by itself: check with the customer (or "
            "the mail server's log), then *Send again* only if it did not arrive."
        )
    else:
        text = f"⚠️ Your follow-up on case #{case.id} could not be sent."
        more = f"{_error(event)}. Fix what is named, then *Tell the customer* again."
    body = f"{text}\n*{headline(case)}* — {customer_line(case)}\n{more}"
    blocks = [kit.section(body), kit.context(_link(case, permalink)), _buttons(case, again=uncertain)]
    return Message(text=text, blocks=blocks)
