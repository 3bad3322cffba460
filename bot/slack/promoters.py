"""The promoter's notice in Slack: its follow-up line and buttons, and the private answers to a
press (who was first, the ready-to-send review request).

People are shown as mentions; the customer's name, in the review text, is escaped like all
customer text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.promoters import FollowUp, Pressed
from bot.domain.vocabulary import PromoterAction
from bot.slack import kit
from bot.slack.actions import ActionId, NoticeRef
from bot.slack.text import escape, fit

BUTTONS = (
    (PromoterAction.THANKED, "🙏 Thanked", ActionId.PROMOTER_THANKED),
    (PromoterAction.REVIEW_ASKED, "⭐ Ask for a review", ActionId.PROMOTER_REVIEW),
    (PromoterAction.REFERENCE, "🤝 Reference candidate", ActionId.PROMOTER_REFERENCE),
)
ACTION_OF_BUTTON = {action_id: action for action, _label, action_id in BUTTONS}
DONE = {
    PromoterAction.THANKED: "✅ Thanked by",
    PromoterAction.REVIEW_ASKED: "⭐ review asked by",
    PromoterAction.REFERENCE: "🤝 reference candidate, noted by",
}
NAME_MAX = 100  # of the customer's name in the review text


def follow_up_line(follow_ups: Sequence[FollowUp]) -> str | None:
    """'✅ Thanked by @Bob · ⭐ review asked by @Carol'; None before anyone pressed."""
    return " · ".join(f"{DONE[f.action]} <@{f.user_id}>" for f in follow_ups) or None


def follow_up_blocks(feedback_id: int, follow_ups: Sequence[FollowUp]) -> list[dict[str, Any]]:
    value = NoticeRef(feedback_id=feedback_id).encode()
    blocks: list[dict[str, Any]] = []
    line = follow_up_line(follow_ups)
    if line is not None:
        blocks.append(kit.context(line))
    buttons = [kit.button(label, action_id, value) for _action, label, action_id in BUTTONS]
    blocks.append(kit.actions(f"promoter:{feedback_id}", *buttons))
    return blocks


def already_done(pressed: Pressed) -> str:
    """A press of an action someone already did: who, and nothing changes."""
    when = int(pressed.first.at.timestamp())
    at = f"<!date^{when}^{{date_short_pretty}} {{time}}|{pressed.first.at:%Y-%m-%d %H:%M} UTC>"
    return f"{DONE[pressed.first.action]} <@{pressed.first.user_id}> already ({at}) — nothing to add."


def pressed_answer(pressed: Pressed) -> str:
    if pressed.first.action == PromoterAction.THANKED:
        return "🙏 Noted: you thanked this customer. It shows on the notice shortly."
    return "🤝 Noted as a reference candidate. It shows on the notice shortly."


def review_request(customer_name: str | None, review_url: str | None, department: str) -> str:
    """The ready-to-send review request, or how to set a review link when there is none."""
    if review_url is None:
        return (
            f"⭐ Noted: review asked. No review link is set for *{escape(department)}*, so there is no "
            "text to send yet: add one to that department in the policy file, e.g. "
            "`review_url: https://www.trustpilot.com/review/example.com` (your G2 or Trustpilot page)."
        )
    greeting = f"Hi {fit(customer_name, NAME_MAX)}," if customer_name else "Hi,"
    return (
        "⭐ Noted: review asked. Here is a text ready to send:\n"
        f"```{greeting}\nThank you so much for your kind words! Would you share them in a short review? "
        f"It takes two minutes and helps others find us: {escape(review_url)}\nThank you!```"
    )
