"""'You said, we did' in Slack: the modal that shows whom a theme's fix reaches and holds the
message, and the summary its departments' channels get once everyone is settled.

Names and themes are customer text: each is escaped and cut, so twenty of the longest, most
hostile names still fit a section's 3,000 characters and ping nobody."""

from __future__ import annotations

import json
from typing import Any

from bot.domain.outer_loop import NOTE_MAX
from bot.domain.shipped import Audience, Tally, shown_names, skipped_text
from bot.slack import kit
from bot.slack.actions import BadPayload, CallbackId
from bot.slack.case_message import Message
from bot.slack.text import escape, plain

NAME_SHOWN = 120  # characters of one customer's name in the modal, escaped: 20 fit a section
THEME_SHOWN = 100


def _theme(label: str) -> str:
    return escape(plain(" ".join(label.split()), THEME_SHOWN))


def _name(name: str) -> str:
    """Escaped and cut so the escaped text fits NAME_SHOWN (`&lt;` is four characters)."""
    raw = " ".join(name.split())
    shown = escape(raw)
    while len(shown) > NAME_SHOWN:
        raw = raw[: len(raw) * NAME_SHOWN // len(shown) - 1]
        shown = escape(raw) + "…"
    return shown


def shipped_modal(theme: str, label: str, who: Audience, already_told: int, note: str) -> dict[str, Any]:
    """The customers the fix reaches (count and first 20 names), who is skipped and why, and the
    message, prefilled from the policy's template."""
    names, more = shown_names([r.name for r in who.recipients])
    listed = "\n".join(f"• {_name(n)}" for n in names)
    if more:
        listed += f"\n…and {more:,} more"
    count = len(who.recipients)
    intro = (
        f"*{count:,} customer{'s' if count != 1 else ''}* reported *{_theme(label)}* and "
        f"{'have' if count != 1 else 'has'} not been told it is fixed."
    )
    notes = []
    skipped = skipped_text(who.skipped_by_reason())
    if skipped:
        notes.append(f"🚫 {skipped}.")
    if already_told:
        notes.append(f"✉️ {already_told:,} told before (or being told now): not written to again.")
    element = kit.text_input(multiline=True, max_length=NOTE_MAX)
    element["initial_value"] = note[:NOTE_MAX]
    blocks = [kit.section(intro), kit.section(listed)]
    if notes:
        blocks.append(kit.context(" ".join(notes)))
    blocks.append(
        kit.input_block(
            "note",
            "Your message to them",
            element,
            hint="Each customer gets it with the greeting and signature of their language, paced, once.",
        )
    )
    return {
        "type": "modal",
        "callback_id": CallbackId.SHIPPED_MODAL,
        "private_metadata": json.dumps({"theme": theme}, separators=(",", ":")),
        "title": kit.plain_text("You said, we did", 24),
        "submit": kit.plain_text(f"Tell {count:,}"[:24], 24),
        "close": kit.plain_text("Cancel", 24),
        "blocks": blocks,
    }


def parse_theme(private_metadata: Any) -> str:
    """The theme key the modal was opened for (a forged value is checked again by the use case)."""
    try:
        data = json.loads(private_metadata) if isinstance(private_metadata, str) else None
    except ValueError:
        data = None
    theme = data.get("theme") if isinstance(data, dict) else None
    if not isinstance(theme, str) or not theme.strip() or len(theme) > 200:
        raise BadPayload(f"not a shipped modal's metadata: {private_metadata!r:.80}")
    return theme


NOT_ALLOWED = (
    "“You said, we did” writes to many customers at once: it is for the departments' managers (to "
    "their departments' customers), the policy's `recognition.leaders` and its `admins`. Ask one of them."
)
NOT_SET_UP = (
    "E-mail to customers is not set up yet: an admin sets CLOSELOOP_SMTP_URL and CLOSELOOP_MAIL_FROM "
    "(README, “Telling the customer”)."
)


def no_theme_text(themes: list[str]) -> str:
    known = ", ".join(f"`{escape(t)}`" for t in themes[:20])
    hint = f" The policy's themes: {known}." if known else ""
    return f"Name the theme that is fixed, e.g. `/loop shipped export`.{hint}"


def no_response_text(label: str, everyone: bool) -> str:
    whose = "" if everyone else " of your departments"
    return (
        f"No detractor or passive response{whose} carries the theme *{_theme(label)}*. "
        "Check its spelling with `/loop themes year`."
    )


def nobody_left_text(label: str, told: int, skipped: int) -> str:
    return (
        f"Nobody is left to tell about *{_theme(label)}*: {told} already told or being told, "
        f"{skipped} who may not be written to."
    )


def confirmed_text(label: str, queued: int, already: int) -> str:
    text = (
        f"📨 Telling {queued:,} customer{'s' if queued != 1 else ''} that *{_theme(label)}* is fixed, "
        "paced; the department's channel gets a summary when they are all done."
    )
    if already:
        text += f" ({already:,} were queued meanwhile by someone else and are left to that.)"
    return text


def summary_message(label: str, author: str, tally: Tally) -> Message:
    """✅ 14 customers who reported *export* were told it is fixed, and what did not go."""
    told = tally.told
    text = (
        f"✅ {told:,} customer{'s' if told != 1 else ''} who reported *{_theme(label)}* "
        f"{'were' if told != 1 else 'was'} told it is fixed"
    )
    rest = []
    if tally.failed:
        rest.append(f"⚠️ {tally.failed:,} could not be sent")
    if tally.uncertain:
        rest.append(f"❓ {tally.uncertain:,} uncertain (the bot stopped mid-send; not sent again)")
    skipped = skipped_text(tally.skipped)
    if skipped:
        rest.append(f"🚫 {skipped}")
    context = f"“You said, we did”, sent by <@{escape(author)}>"
    if rest:
        context += " · " + " · ".join(rest)
    return Message(text=text, blocks=[kit.section(text), kit.context(context)])
