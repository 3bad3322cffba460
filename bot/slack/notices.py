"""Thread replies (the case's history, as it happens), shout-outs, and promoter notices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.policy import Policy
from bot.domain.promoters import FollowUp
from bot.domain.recognition import Applause
from bot.domain.records import CaseSnapshot, EventRecord
from bot.domain.scoring import category_label, score_label
from bot.domain.vocabulary import Category, EventKind
from bot.slack import kit
from bot.slack.case_message import FeedbackLike, Message, customer_line, public_comment, score_headline
from bot.slack.deadline_text import reminder_reply
from bot.slack.labels import CONTACT_CHANNELS, OUTCOMES, label
from bot.slack.promoters import follow_up_blocks
from bot.slack.recognition import applause_blocks
from bot.slack.text import duration, escape, escaped_excerpt, quoted_excerpt

THEMES_SHOWN = 600  # characters of the picked themes in the close's thread reply, escaped

REPLY_NOTE_LIMIT = 2000  # leaves room in the 3,000 of a section for the line above it

_FIELD_NAMES = {
    "score": "score",
    "comment": "comment",
    "tags": "tags",
    "touchpoint": "touchpoint",
    "language": "language",
    "submitted_at": "submission time",
}


def _updated(event: EventRecord, case: CaseSnapshot, policy: Policy) -> str:
    fields = [
        _FIELD_NAMES.get(f, f.replace("customer_", "customer ")) for f in event.details.get("fields", [])
    ]
    text = f"✏️ The survey tool sent an update ({', '.join(fields) or 'details'})."
    if "category" in event.details:
        before, after = event.details["category"]
        text += (
            f" Now {category_label(case.survey, after)} ({score_label(case.survey, case.score)}), "
            f"was {category_label(case.survey, before)}."
        )
    comment = public_comment(case.comment, policy)
    if "comment" in event.details.get("fields", []) and comment:
        text += "\n" + quoted_excerpt(comment, REPLY_NOTE_LIMIT)
    return text


def _note(details: dict[str, Any], policy: Policy) -> str:
    """A staff note, as the channel may see it: staff often paste the customer's number in."""
    return quoted_excerpt(public_comment(str(details["note"]), policy) or "", REPLY_NOTE_LIMIT)


def thread_reply(event: EventRecord, case: CaseSnapshot, policy: Policy) -> Message:
    who = f"<@{event.actor}>"
    details: dict[str, Any] = event.details
    deadline_text = reminder_reply(event, case, policy)
    if deadline_text is not None:
        text = deadline_text
    elif event.kind == EventKind.CLAIMED:
        text = f"👤 {who} claimed this case."
    elif event.kind == EventKind.RELEASED:
        text = f"↩️ {who} released this case — it is unclaimed again."
    elif event.kind == EventKind.REOPENED:
        text = f"🔁 {who} reopened this case: the loop is not closed after all."
    elif event.kind == EventKind.CONTACT_LOGGED:
        channel = label(CONTACT_CHANNELS, details.get("channel")).lower()
        text = f"📞 {who} contacted the customer by {channel}."
        if details.get("note"):
            text += "\n" + _note(details, policy)
    elif event.kind == EventKind.CLOSED:
        informed = "yes" if details.get("customer_informed") else "no"
        text = (
            f"✅ {who} closed the loop — *{label(OUTCOMES, details.get('outcome'))}*.\n"
            f"Root cause: {escape(details.get('root_cause'))} · Remedy: {escape(details.get('remedy'))} · "
            f"Customer told what was done: {informed}"
        )
        if details.get("themes"):  # the owner's picks: policy text, escaped all the same
            text += "\nThemes: " + escaped_excerpt(", ".join(map(str, details["themes"])), THEMES_SHOWN)
        if details.get("note"):
            text += "\n" + _note(details, policy)
    elif event.kind == EventKind.REROUTED:
        text = f"➡️ Moved here from {escape(str(details.get('from')))}: the updated response belongs here."
    elif event.kind == EventKind.FEEDBACK_UPDATED:
        text = _updated(event, case, policy)
    else:
        text = f"{escape(event.kind)} by {who}"
    return Message(text=text, blocks=[kit.section(text)])


def announcement(
    event: EventRecord, case: CaseSnapshot, policy: Policy, applause: Applause | None = None
) -> Message:
    """A shout-out naming the person who closed the loop; quotes the customer only if allowed.
    Edited in place as kudos and recognitions come in (`applause`), with the buttons to give them."""
    who = f"<@{event.actor}>"
    took = duration((event.at - case.created_at).total_seconds())
    outcome = label(OUTCOMES, event.details.get("outcome"))
    category = category_label(case.survey, Category(case.category))
    text = (
        f"🎉 *Loop closed!* {who} followed up with *{customer_line(case, policy)}* "
        f"({category}, {score_label(case.survey, case.score)}) in *{took}* — {outcome}."
    )
    blocks = [kit.section(text)]
    settings = policy.announcements
    comment = public_comment(case.comment, policy)
    if settings.quote_feedback and comment:
        blocks.append(kit.section(quoted_excerpt(comment, settings.quote_max_chars)))
    channel_link = f"<#{case.slack_channel}>" if case.slack_channel else escape(case.department)
    blocks.append(
        kit.context(
            f"Root cause: {escape(event.details.get('root_cause'))} · "
            f"Remedy: {escape(event.details.get('remedy'))} · Case #{case.id} in {channel_link}"
        )
    )
    blocks.extend(applause_blocks(case.id, case.version, applause or Applause()))
    return Message(text=f"Loop closed by {who} in {took} — {outcome}", blocks=blocks)


def moved_notice(case_id: int, channel: str | None) -> Message:
    """What the old message of a re-routed case becomes: a pointer, with no buttons left."""
    where = f"<#{channel}>" if channel else "another department's channel"
    text = f"➡️ Case #{case_id} moved to {where}: the customer's updated response belongs there."
    return Message(text=text, blocks=[kit.section(text)])


def promoter_notice(
    feedback: FeedbackLike,
    policy: Policy,
    follow_ups: Sequence[FollowUp] = (),
    *,
    feedback_id: int | None = None,
) -> Message:
    """The lighter path for responses that open no case: a short note, nothing to own; with the
    response's id, buttons to record a thank-you, a review request or a reference candidate, and
    who did them (`follow_ups`)."""
    text = f"{score_headline(feedback)} — *{customer_line(feedback, policy)}*"
    blocks = [kit.section(text)]
    comment = public_comment(feedback.comment, policy)
    if comment:
        blocks.append(kit.section(quoted_excerpt(comment, 1500)))
    blocks.append(kit.context("No case was opened. A thank-you, or a review request, goes a long way."))
    if feedback_id is not None:
        blocks.extend(follow_up_blocks(feedback_id, follow_ups))
    return Message(text=f"{text}", blocks=blocks)
