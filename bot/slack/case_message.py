"""The case message: one per case, edited in place, so the channel always shows current state."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from bot.domain.scoring import category_label, score_label
from bot.policy import Policy
from bot.slack import kit
from bot.slack.actions import ActionId, CaseRef
from bot.slack.labels import CATEGORY_EMOJI, CONTACT_CHANNELS, OUTCOMES, PRIORITIES, STATUSES, label
from bot.slack.text import escape, escaped_excerpt, quoted_excerpt, slack_date
from storage.records import CaseSnapshot
from storage.vocabulary import CaseStatus, Category

COMMENT_LIMIT = 2500  # of a section's 3,000, leaving room for the quote marks and cut marker
NOTE_LIMIT = 1200
NAME_LIMIT = 150  # customer names and accounts, escaped; keeps every field far below 2,000
FIELD_LIMIT = 600  # tags, touchpoint, segment, email: escaped and cut
METADATA_EVENT = "closeloop_case"


@dataclass(frozen=True)
class Message:
    """What chat.postMessage / chat.update need: blocks plus the fallback text notifications show."""

    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None = None


class FeedbackLike(Protocol):
    """What both a case and a case-less response (a promoter's) offer for rendering."""

    @property
    def survey(self) -> str: ...
    @property
    def score(self) -> int: ...
    @property
    def category(self) -> str: ...
    @property
    def comment(self) -> str | None: ...
    @property
    def customer_name(self) -> str | None: ...
    @property
    def customer_account(self) -> str | None: ...


def customer_line(feedback: FeedbackLike) -> str:
    parts = [escaped_excerpt(feedback.customer_name, NAME_LIMIT) or "Anonymous customer"]
    if feedback.customer_account and feedback.customer_account != feedback.customer_name:
        parts.append(escaped_excerpt(feedback.customer_account, NAME_LIMIT))
    return " · ".join(parts)


def score_headline(feedback: FeedbackLike) -> str:
    category = Category(feedback.category)
    return (
        f"{CATEGORY_EMOJI[category]} {category_label(feedback.survey, category).capitalize()} · "
        f"{score_label(feedback.survey, feedback.score)}"
    )


def money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.0f}" if value == value.to_integral() else f"{value:,.2f}"


def headline(case: CaseSnapshot) -> str:
    return f"{score_headline(case)} · Case #{case.id}"


def _comment_block(case: CaseSnapshot) -> dict[str, Any]:
    if case.comment:
        return kit.section(quoted_excerpt(case.comment, COMMENT_LIMIT), block_id="comment")
    return kit.section("_No comment left — a call is the way to learn why._", block_id="comment")


def _detail_fields(case: CaseSnapshot, policy: Policy) -> list[str]:
    email = f"\n{escaped_excerpt(case.customer_email, FIELD_LIMIT)}" if case.customer_email else ""
    try:
        department = policy.department(case.department).display_name
    except KeyError:
        department = case.department
    received = slack_date(
        case.received_at.timestamp(),
        case.received_at.strftime("%Y-%m-%d %H:%M UTC"),
        tokens="{date_short_pretty} {time} ({ago})",
    )
    return [
        f"*Customer*\n{customer_line(case)}{email}",
        f"*Segment · value*\n{escaped_excerpt(case.customer_segment, FIELD_LIMIT) or '—'} · "
        f"{money(case.customer_value)}",
        f"*Tags*\n{escaped_excerpt(', '.join(case.tags), FIELD_LIMIT) or '—'}",
        f"*Touchpoint*\n{escaped_excerpt(case.touchpoint, FIELD_LIMIT) or '—'}",
        f"*Received*\n{received}",
        f"*Department · priority*\n{escape(department)} · {label(PRIORITIES, case.priority)}",
    ]


def _status_line(case: CaseSnapshot) -> str:
    status = label(STATUSES, case.status)
    owner = f" by <@{case.owner_id}>" if case.owner_id and case.status != CaseStatus.CLOSED else ""
    if case.status == CaseStatus.CONTACTED and case.contact_channel:
        owner += f" ({label(CONTACT_CHANNELS, case.contact_channel).lower()})"
    if case.status == CaseStatus.CLOSED and case.closed_by:
        owner = f" by <@{case.closed_by}>"
    return f"*Status:* {status}{owner}"


def _close_out(case: CaseSnapshot) -> dict[str, Any]:
    informed = {True: "yes", False: "no", None: "—"}[case.customer_informed]
    text = (
        f"*Outcome:* {label(OUTCOMES, case.outcome)}\n"
        f"*Root cause:* {escape(case.root_cause) or '—'} · *Remedy:* {escape(case.remedy) or '—'}\n"
        f"*Contacted by:* {label(CONTACT_CHANNELS, case.contact_channel)} · "
        f"*Customer told what was done:* {informed}"
    )
    if case.close_note:
        text += "\n" + quoted_excerpt(case.close_note, NOTE_LIMIT)
    return kit.section(text, block_id="close_out")


def _buttons(case: CaseSnapshot) -> dict[str, Any] | None:
    value = CaseRef(case_id=case.id, version=case.version).encode()
    if case.status == CaseStatus.CLOSED:
        return None
    if case.owner_id is None:
        return kit.actions(
            "case_actions",
            kit.button("Claim", ActionId.CLAIM, value, style="primary"),
            kit.button("Close loop", ActionId.CLOSE, value),
        )
    return kit.actions(
        "case_actions",
        kit.button("Log contact", ActionId.LOG_CONTACT, value),
        kit.button("Close loop", ActionId.CLOSE, value, style="primary"),
        kit.button("Release", ActionId.RELEASE, value),
    )


def case_message(case: CaseSnapshot, policy: Policy) -> Message:
    blocks = [
        kit.header(headline(case)),
        _comment_block(case),
        kit.fields_section(_detail_fields(case, policy)),
        kit.context(_status_line(case), f"Response `{escaped_excerpt(case.external_id, 120)}`"),
    ]
    if case.status == CaseStatus.CLOSED:
        blocks.append(_close_out(case))
    buttons = _buttons(case)
    if buttons:
        blocks.append(buttons)
    fallback = f"{headline(case)} — {customer_line(case)}"
    if case.comment:
        fallback += ": " + escaped_excerpt(case.comment, 300)
    return Message(
        text=fallback,
        blocks=blocks,
        metadata={"event_type": METADATA_EVENT, "event_payload": {"case_id": case.id}},
    )
