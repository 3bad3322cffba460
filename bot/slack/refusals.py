"""The words for a refusal from the case lifecycle, as the person who asked is told them privately.

The domain decides with codes; how they read (and the mentions in them) is Slack's business."""

from __future__ import annotations

from bot.domain.lifecycle import ESCALATION_ANSWERS, Action, Code, Refusal
from bot.domain.recognition import Refused

# What the owner alone may do, as the end of "Only the owner, <@U>, can …".
_DOING: dict[Action, str] = {
    Action.RELEASE: "release it",
    Action.LOG_CONTACT: "log a contact",
    Action.CLOSE: "close this case",
    Action.REOPEN: "reopen this case",
    Action.HAND_OVER: "hand it over",
}


def _doing(action: Action) -> str:
    return _DOING.get(action, str(action))


def words(refusal: Refusal) -> str:
    """The sentence to show; every code has one, whatever the action."""
    owner, person, action = refusal.owner, refusal.person, refusal.action
    match refusal.code:
        case Code.NOT_FOUND:
            return "This case no longer exists."
        case Code.CHANGED_MEANWHILE:
            return "Someone changed this case just now — please try again."
        case Code.ALREADY_CLOSED if action in ESCALATION_ANSWERS:
            return "This loop is already closed — nothing to do."
        case Code.ALREADY_CLOSED:
            return "This loop is already closed."
        case Code.STILL_OPEN:
            return "This case is still open."
        case Code.ALREADY_YOURS:
            return "You already own this case."
        case Code.OWNED_BY_SOMEONE_ELSE:
            return f"<@{owner}> already owns this case."
        case Code.NOT_CLAIMED:
            return f"Claim the case first to {_doing(action)}."
        case Code.ONLY_OWNER if action == Action.SEE_CONTACT_DETAILS:
            return "Only the case's owner can see these details."
        case Code.ONLY_OWNER:
            return f"Only the owner, <@{owner}>, can {_doing(action)}."
        case Code.ONLY_OWNER_OR_MANAGER:
            return f"Only the owner, <@{owner}>, or a manager of this department can {_doing(action)}."
        case Code.ONLY_MEMBERS:
            return "Only this department's members can claim its cases."
        case Code.ONLY_MEMBERS_OR_MANAGERS:
            return "Only this department's members or managers can close its cases."
        case Code.NOT_A_RESPONDER:
            return "Only this department's managers (or the escalation contacts in the policy) can do that."
        case Code.NOT_A_MEMBER:
            return f"<@{person}> is not one of this department's members in the policy."
        case Code.ALREADY_ACKNOWLEDGED:
            return f"<@{person}> already acknowledged this."
        case Code.NOTHING_TO_ACKNOWLEDGE:
            return "Nothing to acknowledge."
        case Code.NOTHING_TO_SNOOZE:
            return "Nothing to snooze."
        case Code.SNOOZE_NOT_OFFERED:
            return "That snooze time is not offered any more — pick one from the list."
        case Code.NOT_WON_BACK:
            return (
                "This customer has not turned from a detractor to a promoter on this case — "
                "close it with Close loop."
            )
        case Code.ONLY_MANAGERS:
            return (
                "Only a manager of this department can assign a case nobody has claimed — "
                "press Claim to take it yourself."
            )


def recognition_words(refused: Refused) -> str:
    """Why a kudos or a recognition was not taken, as the person who pressed is told."""
    match refused:
        case Refused.NOT_ANNOUNCED:
            return "This shout-out is not in Slack any more — nothing to applaud here."
        case Refused.OWN_LOOP:
            return "That is your own loop — kudos and recognition are for others to give you. 🙂"
        case Refused.NOT_A_LEADER:
            return (
                "Only this department's managers and the recognition leaders named in the policy "
                "can recognise a loop. Give kudos instead!"
            )
