"""Kudos and recognition in Slack: the shout-out's applause line and buttons, the Recognise
modal, and the note as it appears in the shout-out's thread and in the closer's DMs.

A note is staff text, but it is still escaped: a leader pasting `<!channel>` must not ping it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.recognition import NOTE_MAX, Applause
from bot.domain.records import EventRecord
from bot.slack import kit
from bot.slack.actions import ActionId, CallbackId, CaseRef
from bot.slack.case_message import Message
from bot.slack.modals import FormErrors
from bot.slack.text import escaped_excerpt, quoted_excerpt

NAMES_SHOWN = 12  # who gave kudos, before "and N more": the line stays short in a busy channel
QUOTE_MAX = 2500  # the escaped note (a "&" takes five) within a section's 3,000 characters


def applause_line(applause: Applause) -> str | None:
    """'👏 4: <@U1>, <@U2>, …' and the recognitions count; None before anyone applauded."""
    parts = []
    if applause.kudos:
        names = ", ".join(f"<@{user}>" for user in applause.kudos[:NAMES_SHOWN])
        more = len(applause.kudos) - NAMES_SHOWN
        parts.append(f"👏 {len(applause.kudos)}: {names}" + (f" and {more} more" if more > 0 else ""))
    if applause.recognitions:
        plural = "s" if applause.recognitions != 1 else ""
        parts.append(f"🏅 {applause.recognitions} recognition{plural}")
    return " · ".join(parts) or None


def applause_blocks(case_id: int, version: int, applause: Applause) -> list[dict[str, Any]]:
    """The applause line (if any) and the Give kudos and Recognise buttons of a shout-out."""
    value = CaseRef(case_id=case_id, version=version).encode()
    blocks: list[dict[str, Any]] = []
    line = applause_line(applause)
    if line is not None:
        blocks.append(kit.context(line))
    blocks.append(
        kit.actions(
            f"applause:{case_id}",
            kit.button("👏 Give kudos", ActionId.GIVE_KUDOS, value),
            kit.button("🏅 Recognise", ActionId.RECOGNISE, value),
        )
    )
    return blocks


def recognise_modal(case_id: int, closer: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.RECOGNISE_MODAL,
        "private_metadata": CaseRef(case_id=case_id, version=0).encode(),
        "title": kit.plain_text("Recognise", 24),
        "submit": kit.plain_text("Send", 24),
        "close": kit.plain_text("Cancel", 24),
        "blocks": [
            kit.section(f"A note for <@{closer}>: it goes into the shout-out's thread and to them by DM."),
            kit.input_block(
                "note",
                "Your note",
                kit.text_input(
                    multiline=True, max_length=NOTE_MAX, placeholder="What made this follow-up stand out"
                ),
            ),
        ],
    }


@dataclass(frozen=True)
class RecognitionNote:
    text: str


def parse_recognition(values: dict[str, Any]) -> RecognitionNote:
    """The note, checked again here: a submission is outside input whatever Slack enforced."""
    block = values.get("note")
    state = next(iter(block.values()), None) if isinstance(block, dict) else None
    raw = state.get("value") if isinstance(state, dict) else None
    note = raw.strip() if isinstance(raw, str) else ""
    if not note:
        raise FormErrors({"note": "Please write a sentence or two."})
    if len(note) > NOTE_MAX:
        raise FormErrors({"note": f"Please keep it under {NOTE_MAX} characters."})
    return RecognitionNote(note)


def recognition_reply(event: EventRecord) -> Message:
    """The note in the shout-out's thread."""
    closer = event.details.get("closer")
    note = quoted_excerpt(str(event.details["note"]), QUOTE_MAX)
    text = f"🏅 <@{event.actor}> recognised <@{closer}>:\n{note}"
    return Message(text=f"<@{event.actor}> recognised <@{closer}>", blocks=[kit.section(text)])


def recognition_dm(event: EventRecord, case_link: str | None) -> Message:
    """The same note, to the person who closed the loop."""
    where = f" for <{case_link}|case #{event.case_id}>" if case_link else f" for case #{event.case_id}"
    text = (
        f"🏅 <@{event.actor}> recognised your follow-up{where}:\n"
        f"{quoted_excerpt(str(event.details['note']), QUOTE_MAX)}"
    )
    excerpt = escaped_excerpt(str(event.details["note"]), 200)
    fallback = f"<@{event.actor}> recognised your follow-up: {excerpt}"
    return Message(text=fallback, blocks=[kit.section(text)])
