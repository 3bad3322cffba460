"""The case message: one per case, edited in place, so the channel always shows current state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from bot.domain.deadlines import next_deadline
from bot.domain.policy import Policy
from bot.domain.privacy import contact_details, mask_email, mask_text
from bot.domain.records import CaseSnapshot, CustomerHistory
from bot.domain.scoring import SCALES, category_label, classify, score_label
from bot.domain.vocabulary import CaseStatus, Category, Survey
from bot.slack import kit
from bot.slack.actions import ActionId, CaseRef
from bot.slack.labels import CATEGORY_EMOJI, CONTACT_CHANNELS, OUTCOMES, PRIORITIES, STATUSES, STEPS, label
from bot.slack.tell_customer_state import follow_up_buttons, follow_up_line
from bot.slack.text import escape, escaped_excerpt, quote, quoted_excerpt, slack_date

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


def public_comment(comment: str | None, policy: Policy) -> str | None:
    """The comment as the whole channel may see it (contact details masked if the policy says so)."""
    return mask_text(comment) if policy.privacy.mask_contact_details else comment


def customer_line(feedback: FeedbackLike, policy: Policy | None = None) -> str:
    """Name · account. Given the policy, masked as the channel may see it (survey tools sometimes
    put an email address in the name); without it, in full (for the owner)."""
    name, account = feedback.customer_name, feedback.customer_account
    if policy is not None:
        name, account = public_comment(name, policy), public_comment(account, policy)
    parts = [escaped_excerpt(name, NAME_LIMIT) or "Anonymous customer"]
    if account and account != name:
        parts.append(escaped_excerpt(account, NAME_LIMIT))
    return " · ".join(parts)


def score_headline(feedback: FeedbackLike) -> str:
    category = Category(feedback.category)
    return (
        f"{CATEGORY_EMOJI[category]} {category_label(feedback.survey, category).capitalize()} · "
        f"{score_label(feedback.survey, feedback.score)}"
    )


def money(value: Decimal, currency: str | None = None) -> str:
    """12,000 EUR or €12,000: a code after the amount, a symbol before it (the policy's choice)."""
    amount = f"{value:,.0f}" if value == value.to_integral() else f"{value:,.2f}"
    if not currency:
        return amount
    return f"{amount} {currency}" if currency.isalpha() else f"{escape(currency)}{amount}"


def headline(case: CaseSnapshot) -> str:
    """The score, or both scores when a re-send moved the case to another category while it was
    open ("🔴→🟢 Promoter · NPS 3 → 10/10"): whoever works on it must see the customer changed
    their mind. Our own labels and numbers only, far below a header's 150 characters."""
    opened = case.opening_score
    if opened is None or opened == case.score or classify(case.survey, opened) == case.category:
        return f"{score_headline(case)} · Case #{case.id}"
    before, now = classify(case.survey, opened), Category(case.category)
    return (
        f"{CATEGORY_EMOJI[before]}→{CATEGORY_EMOJI[now]} "
        f"{category_label(case.survey, now).capitalize()} · "
        f"{score_label(case.survey, opened).split('/')[0]} → {case.score}/{SCALES[Survey(case.survey)].high}"
        f" · Case #{case.id}"
    )


def _comment_block(case: CaseSnapshot, policy: Policy) -> dict[str, Any]:
    comment = public_comment(case.comment, policy)
    if not comment:
        return kit.section("_No comment left — a call is the way to learn why._", block_id="comment")
    shown = quoted_excerpt(comment, COMMENT_LIMIT)
    block = kit.section(shown, block_id="comment")
    if shown != quote(escape(comment)):  # cut: the rest is one click away
        value = CaseRef(case_id=case.id, version=case.version).encode()
        block["accessory"] = kit.button("Full comment", ActionId.FULL_COMMENT, value)
    return block


def _detail_fields(case: CaseSnapshot, policy: Policy) -> list[str]:
    address = mask_email(case.customer_email) if policy.privacy.mask_contact_details else case.customer_email
    email = f"\n{escaped_excerpt(address, FIELD_LIMIT)}" if address else ""
    department = policy.department_of(case).display_name
    received = slack_date(
        case.received_at.timestamp(),
        case.received_at.strftime("%Y-%m-%d %H:%M UTC"),
        tokens="{date_short_pretty} {time} ({ago})",
    )
    # Rows with nothing to say are left out: at most 6 of a section's 10 fields.
    segment = escaped_excerpt(case.customer_segment, FIELD_LIMIT)
    value = None if case.customer_value is None else money(case.customer_value, policy.cases.currency)
    fields = [f"*Customer*\n{customer_line(case, policy)}{email}"]
    if segment and value:
        fields.append(f"*Segment · value*\n{segment} · {value}")
    elif segment or value:
        fields.append(f"*Segment*\n{segment}" if segment else f"*Value*\n{value}")
    if case.tags:
        fields.append(f"*Tags*\n{escaped_excerpt(', '.join(case.tags), FIELD_LIMIT)}")
    if case.touchpoint:
        fields.append(f"*Touchpoint*\n{escaped_excerpt(case.touchpoint, FIELD_LIMIT)}")
    fields.append(f"*Received*\n{received}")
    fields.append(f"*Department · priority*\n{escape(department)} · {label(PRIORITIES, case.priority)}")
    return fields


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number:,}{suffix}"


def history_line(history: CustomerHistory | None, received_at: datetime) -> str | None:
    """ "3rd response · was 9 in March · 1 earlier case (resolved)": whether this customer has been
    here before, and how it went. Our own words and numbers only: nothing to escape."""
    if history is None or not history.earlier:
        return None
    last = history.earlier[0]
    month = last.received_at.strftime("%B" if last.received_at.year == received_at.year else "%B %Y")
    parts = [f"{ordinal(history.ordinal)} response", f"was {last.score} in {month}"]
    counts: dict[str, int] = {}
    for earlier in history.earlier:
        if earlier.case_status is not None:
            closed = earlier.case_status == CaseStatus.CLOSED
            what = label(OUTCOMES, earlier.case_outcome).lower() if closed else "open"
            counts[what] = counts.get(what, 0) + 1
    cases = sum(counts.values())
    if cases:
        more = "+" if len(history.earlier) < history.earlier_count else ""
        ordered = sorted(counts.items(), key=lambda item: item[0] == "open")  # how they ended, then open
        how = ", ".join(what if cases == 1 else f"{n} {what}" for what, n in ordered)
        parts.append(f"{cases}{more} earlier case{'s' if cases > 1 or more else ''} ({how})")
    return "🗂️ " + " · ".join(parts)


def _status_line(case: CaseSnapshot) -> str:
    status = label(STATUSES, case.status)
    owner = f" by <@{case.owner_id}>" if case.owner_id and case.status != CaseStatus.CLOSED else ""
    if case.status == CaseStatus.CONTACTED and case.contact_channel:
        owner += f" ({label(CONTACT_CHANNELS, case.contact_channel).lower()})"
    if case.status == CaseStatus.CLOSED and case.closed_by:
        owner = f" by <@{case.closed_by}>"
    return f"*Status:* {status}{owner}"


def _close_out(case: CaseSnapshot, policy: Policy) -> dict[str, Any]:
    informed = {True: "yes", False: "no", None: "—"}[case.customer_informed]
    text = (
        f"*Outcome:* {label(OUTCOMES, case.outcome)}\n"
        f"*Root cause:* {escape(case.root_cause) or '—'} · *Remedy:* {escape(case.remedy) or '—'}\n"
        f"*Contacted by:* {label(CONTACT_CHANNELS, case.contact_channel)} · "
        f"*Customer told what was done:* {informed}"
    )
    note = public_comment(case.close_note, policy)
    if note:
        text += "\n" + quoted_excerpt(note, NOTE_LIMIT)
    return kit.section(text, block_id="close_out")


def _buttons(case: CaseSnapshot, *, masked: bool) -> dict[str, Any] | None:
    value = CaseRef(case_id=case.id, version=case.version).encode()
    if case.status == CaseStatus.CLOSED:
        return kit.actions("case_actions", kit.button("Reopen", ActionId.REOPEN, value))
    if case.owner_id is None:
        return kit.actions(
            "case_actions",
            kit.button("Claim", ActionId.CLAIM, value, style="primary"),
            kit.button("Close loop", ActionId.CLOSE, value),
            kit.button("Assign…", ActionId.HAND_OVER, value),  # a manager's (the use case checks)
        )
    buttons = [
        kit.button("Log contact", ActionId.LOG_CONTACT, value),
        kit.button("Close loop", ActionId.CLOSE, value, style="primary"),
        kit.button("Release", ActionId.RELEASE, value),
        kit.button("Hand over…", ActionId.HAND_OVER, value),
    ]
    if case.category == Category.PROMOTER:  # turned promoter meanwhile (the use case checks it)
        buttons.insert(2, kit.button("Close as won back", ActionId.CLOSE_WON_BACK, value))
    if masked:
        buttons.append(kit.button("Contact details", ActionId.CONTACT_DETAILS, value))
    return kit.actions("case_actions", *buttons)


def contact_card(case: CaseSnapshot) -> str:
    """For the owner only: how to reach the customer, unmasked, and the comment in full."""
    details = contact_details(case.customer_email, case.comment)
    lines = [f"📇 *Contact details for case #{case.id}* (only you see this)"]
    # At most 8 items of 120 characters and a 1,200-character quote: one section holds 3,000.
    lines += [f"• {escaped_excerpt(item, 120)}" for item in details[:8]] or ["• none given"]
    if len(details) > 8:
        lines.append(f"• …and {len(details) - 8} more in the comment")
    if case.comment:
        lines.append(quoted_excerpt(case.comment, 1200))
    return "\n".join(lines)


def when(moment: datetime) -> str:
    """A time each reader sees in their own time zone (UTC where Slack cannot convert it)."""
    return slack_date(moment.timestamp(), moment.strftime("%Y-%m-%d %H:%M UTC"))


def deadline_line(case: CaseSnapshot, now: datetime) -> str | None:
    upcoming = next_deadline(case, now)
    if upcoming is None:
        return None
    if upcoming.overdue:
        return f"🔴 *Overdue:* {label(STEPS, upcoming.step)} was due {when(upcoming.due_at)}"
    return f"⏰ *Next deadline:* {label(STEPS, upcoming.step)} by {when(upcoming.due_at)}"


def case_message(
    case: CaseSnapshot, policy: Policy, now: datetime, history: CustomerHistory | None = None
) -> Message:
    """`now` decides whether the deadline shown is still ahead or already missed; the sweep
    re-renders the message when a deadline passes. `history`: the customer's earlier responses."""
    blocks = [
        kit.header(headline(case)),
        _comment_block(case, policy),
        kit.fields_section(_detail_fields(case, policy)),
        kit.context(
            _status_line(case), f"Response `{escaped_excerpt(public_comment(case.external_id, policy), 120)}`"
        ),
    ]
    past = history_line(history, case.received_at)
    if past:
        blocks.append(kit.context(past))
    line = deadline_line(case, now) if policy.sla is not None else None  # no sweep runs without sla
    if line:
        blocks.append(kit.context(line))
    if case.status == CaseStatus.CLOSED:
        blocks.append(_close_out(case, policy))
        told = follow_up_line(case, policy)  # telling the customer (bot/slack/tell_customer_state.py)
        if told:
            blocks.append(kit.context(told))
    buttons = _buttons(case, masked=policy.privacy.mask_contact_details)
    if buttons and case.status == CaseStatus.CLOSED:
        buttons["elements"].extend(follow_up_buttons(case, policy))
    if buttons:
        blocks.append(buttons)
    fallback = f"{headline(case)} — {customer_line(case, policy)}"
    comment = public_comment(case.comment, policy)
    if comment:
        fallback += ": " + escaped_excerpt(comment, 300)
    return Message(
        text=fallback,
        blocks=blocks,
        metadata={"event_type": METADATA_EVENT, "event_payload": {"case_id": case.id}},
    )
