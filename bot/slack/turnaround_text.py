"""What the turnaround path says in Slack: the won-back celebration in the announcements channel,
and the thread reply of a case that closed itself on its customer's new score."""

from __future__ import annotations

from datetime import datetime

from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot, EventRecord
from bot.domain.scoring import score_label
from bot.slack import kit
from bot.slack.case_message import NAME_LIMIT, Message, public_comment
from bot.slack.text import escaped_excerpt


def turnaround_announcement(
    event: EventRecord, case: CaseSnapshot, policy: Policy, link: str | None, now: datetime
) -> Message:
    """ "Dana Scully went from 2 to 9 after @Alice's follow-up in November": a detractor won back,
    credited to the owner of the earlier `case`. The name is escaped and masked as the channel
    may see it; both cases are named, the earlier one linked when its message is posted."""
    details = event.details
    name = escaped_excerpt(public_comment(case.customer_name, policy), NAME_LIMIT) or "A customer"
    owner = f"<@{details['owner']}>"
    moment = datetime.fromisoformat(str(details["followed_up_at"]))
    month = moment.strftime("%B" if moment.year == now.year else "%B %Y")
    scores = f"{int(details['from_score'])} to {int(details['to_score'])}"
    text = f"🔄 *Won back!* {name} went from {scores} after {owner}'s follow-up in {month}."
    earlier = f"<{link}|case #{case.id}>" if link else f"case #{case.id}"
    where = f" in <#{case.slack_channel}>" if case.slack_channel else ""
    later_case = details.get("later_case_id")
    now_part = f" · their new response is case #{int(later_case)}" if later_case else ""
    context = f"Earlier {earlier}{where}{now_part} · counted as won back for {owner}"
    return Message(
        text=f"{name} went from {scores} after {owner}'s follow-up in {month}",
        blocks=[kit.section(text), kit.context(context)],
    )


def closed_itself_reply(case: CaseSnapshot) -> Message:
    """In the thread of an unclaimed case its customer's new score made moot: why it closed."""
    text = (
        f"🔕 This case closed itself: the customer's new score is {score_label(case.survey, case.score)} "
        "and no longer calls for a follow-up. Nobody had claimed it, so nobody is credited."
    )
    return Message(text=text, blocks=[kit.section(text)])
