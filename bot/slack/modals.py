"""The Close and Log-contact modals, and turning their submissions into validated values.

Slack enforces `optional: false` in its own client, but a submission is still outside input:
everything is checked again here and reported per block with `response_action: errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot, CloseDetails
from bot.domain.vocabulary import ContactChannel, Outcome
from bot.slack import kit
from bot.slack.actions import CallbackId, CaseRef
from bot.slack.case_message import customer_line, headline, public_comment
from bot.slack.labels import CONTACT_CHANNELS, OUTCOMES
from bot.slack.text import escaped_pieces

CLOSE_NOTE_MAX = 2000
CONTACT_NOTE_MAX = 500
THEMES_HINT_MAX = 2000  # Slack's limit for an input's hint


@dataclass(frozen=True)
class ContactDetails:
    channel: str
    note: str


class FormErrors(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(str(errors))
        self.errors = errors


def _options(labels: dict[Any, str]) -> list[dict[str, Any]]:
    return [kit.option(text, str(value)) for value, text in labels.items()]


def _case_context(case: CaseSnapshot) -> dict[str, Any]:
    # headline() is built from our own labels and numbers only, so it needs no escaping.
    return kit.context(headline(case))


def close_modal(case: CaseSnapshot, policy: Policy) -> dict[str, Any]:
    yes_no = [kit.option("Yes", "yes"), kit.option("Not yet", "no")]
    return {
        "type": "modal",
        "callback_id": CallbackId.CLOSE_MODAL,
        "private_metadata": CaseRef(case_id=case.id, version=case.version).encode(),
        "title": kit.plain_text("Close the loop", 24),
        "submit": kit.plain_text("Close loop", 24),
        "close": kit.plain_text("Cancel", 24),
        "blocks": [
            _case_context(case),
            kit.input_block("outcome", "Outcome", kit.static_select("How did it end?", _options(OUTCOMES))),
            kit.input_block(
                "contact_channel",
                "How was the customer contacted?",
                kit.radio_buttons(_options(CONTACT_CHANNELS), initial=case.contact_channel),
            ),
            kit.input_block(
                "root_cause",
                "Root cause",
                kit.static_select("Pick the main reason", [kit.option(c, c) for c in policy.root_causes]),
            ),
            kit.input_block(
                "remedy",
                "Remedy given",
                kit.static_select("Pick what was offered", [kit.option(r, r) for r in policy.remedies]),
            ),
            *_themes_input(case, policy),
            kit.input_block(
                "note",
                "What happened?",
                kit.text_input(
                    multiline=True,
                    max_length=CLOSE_NOTE_MAX,
                    placeholder="What the customer said and what was done",
                ),
            ),
            kit.input_block(
                "customer_informed", "Was the customer told what was done?", kit.radio_buttons(yes_no)
            ),
        ],
    }


def _themes_input(case: CaseSnapshot, policy: Policy) -> list[dict[str, Any]]:
    """An optional multi-select of the policy's themes, none when the policy lists none. The
    survey's tags already count as themes; the hint says which (plain text: nothing to escape)."""
    if not policy.themes:
        return []
    element = {
        "type": "multi_static_select",
        "action_id": "value",
        "placeholder": kit.plain_text("What was it about?", 150),
        "options": [kit.option(t, t) for t in policy.themes[:100]],
    }
    tags = ", ".join(case.tags)
    hint = f"The survey's tags count already: {tags}"[:THEMES_HINT_MAX] if tags else None
    return [kit.input_block("themes", "Themes", element, optional=True, hint=hint)]


def contact_modal(case: CaseSnapshot) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.CONTACT_MODAL,
        "private_metadata": CaseRef(case_id=case.id, version=case.version).encode(),
        "title": kit.plain_text("Log contact", 24),
        "submit": kit.plain_text("Log contact", 24),
        "close": kit.plain_text("Cancel", 24),
        "blocks": [
            _case_context(case),
            kit.input_block(
                "channel", "How did you reach the customer?", kit.radio_buttons(_options(CONTACT_CHANNELS))
            ),
            kit.input_block(
                "note",
                "Short note",
                kit.text_input(multiline=True, max_length=CONTACT_NOTE_MAX),
                optional=True,
            ),
        ],
    }


def _selected(values: dict[str, Any], block_id: str) -> str | None:
    """The answer in one input block, or None when it is missing or not shaped like Slack's
    (a forged or broken payload is then simply an unanswered question)."""
    block = values.get(block_id)
    state = block.get("value") if isinstance(block, dict) else None
    if not isinstance(state, dict):
        return None
    if "selected_option" in state:
        chosen = state.get("selected_option")
        value = chosen.get("value") if isinstance(chosen, dict) else None
        return value if isinstance(value, str) else None
    text = state.get("value")
    return text.strip() if isinstance(text, str) and text.strip() else None


def _choice(
    values: dict[str, Any], block_id: str, allowed: list[str], errors: dict[str, str], what: str
) -> str:
    chosen = _selected(values, block_id)
    if chosen is None:
        errors[block_id] = f"Please choose {what}."
    elif chosen not in allowed:
        errors[block_id] = f"“{chosen[:40]}” is no longer an option — please choose again."
    return chosen or ""


def parse_close(values: dict[str, Any], policy: Policy) -> CloseDetails:
    errors: dict[str, str] = {}
    outcome = _choice(values, "outcome", list(Outcome), errors, "an outcome")
    channel = _choice(values, "contact_channel", list(ContactChannel), errors, "how you contacted them")
    root_cause = _choice(values, "root_cause", policy.root_causes, errors, "a root cause")
    remedy = _choice(values, "remedy", policy.remedies, errors, "a remedy (or “None needed”)")
    informed = _choice(values, "customer_informed", ["yes", "no"], errors, "yes or not yet")
    themes = _themes(values, policy, errors)
    note = _selected(values, "note") or ""
    if not note:
        errors["note"] = "Please say in a sentence what happened."
    elif len(note) > CLOSE_NOTE_MAX:
        errors["note"] = f"Please keep it under {CLOSE_NOTE_MAX} characters."
    if errors:
        raise FormErrors(errors)
    return CloseDetails(outcome, channel, root_cause, remedy, note, informed == "yes", themes)


def _themes(values: dict[str, Any], policy: Policy, errors: dict[str, str]) -> tuple[str, ...] | None:
    """The picked themes, each once; None when the policy has none (the form had no picker). A
    picked theme the policy no longer lists is asked again, as a removed root cause is."""
    if not policy.themes:
        return None
    block = values.get("themes")
    state = block.get("value") if isinstance(block, dict) else None
    chosen = state.get("selected_options") if isinstance(state, dict) else None
    if not isinstance(chosen, list):
        return ()
    picked = [o.get("value") for o in chosen if isinstance(o, dict)]
    unknown = [p for p in picked if not isinstance(p, str) or p not in policy.themes]
    if unknown:
        said = str(unknown[0])[:40]
        errors["themes"] = f"“{said}” is no longer a theme — please choose again."
    return tuple(dict.fromkeys(p for p in picked if isinstance(p, str) and p in policy.themes))


def parse_contact(values: dict[str, Any]) -> ContactDetails:
    errors: dict[str, str] = {}
    channel = _choice(values, "channel", list(ContactChannel), errors, "how you reached them")
    note = _selected(values, "note") or ""
    if len(note) > CONTACT_NOTE_MAX:
        errors["note"] = f"Please keep it under {CONTACT_NOTE_MAX} characters."
    if errors:
        raise FormErrors(errors)
    return ContactDetails(channel, note)


# A view may hold 100 blocks and 250 KB: a 10,000-character comment escapes to at most 50,000
# characters (17 sections); the caps only matter for text longer than the intake takes.
SECTION_TEXT_MAX = 3000
COMMENT_SECTIONS_MAX = 90
COMMENT_BYTES_MAX = 200_000


def full_comment_modal(case: CaseSnapshot, policy: Policy) -> dict[str, Any]:
    """The whole comment, for anyone who sees the case message: escaped and masked as it is there."""
    pieces = escaped_pieces(public_comment(case.comment, policy), SECTION_TEXT_MAX)
    blocks = [kit.context(f"{headline(case)} · {customer_line(case, policy)}")]
    size = 0
    for piece in pieces:
        size += len(piece.encode())
        if len(blocks) > COMMENT_SECTIONS_MAX or size > COMMENT_BYTES_MAX:
            blocks.append(kit.context("_The rest of this comment is too long to show in Slack._"))
            break
        blocks.append(kit.section(piece))
    if not pieces:
        blocks.append(kit.section("_No comment left._"))
    return {
        "type": "modal",
        "title": kit.plain_text("Full comment", 24),
        "close": kit.plain_text("Close", 24),
        "blocks": blocks,
    }


HAND_OVER_REASON_MAX = 500


@dataclass(frozen=True)
class HandOverDetails:
    person: str
    reason: str


def hand_over_modal(case: CaseSnapshot) -> dict[str, Any]:
    """Who takes the case over, and why: both required, the reason goes to them by DM. A case
    nobody has claimed is not handed over but assigned (by a manager), and the form says so."""
    verb, question = (
        ("Assign", "Who should take it?")
        if case.owner_id is None
        else ("Hand over", "Who should take it over?")
    )
    return {
        "type": "modal",
        "callback_id": CallbackId.HAND_OVER_MODAL,
        "private_metadata": CaseRef(case_id=case.id, version=case.version).encode(),
        "title": kit.plain_text(verb, 24),
        "submit": kit.plain_text(verb, 24),
        "close": kit.plain_text("Cancel", 24),
        "blocks": [
            _case_context(case),
            kit.input_block("person", question, kit.users_select("Choose a colleague", "value")),
            kit.input_block(
                "reason",
                "Why? They will read this",
                kit.text_input(multiline=True, max_length=HAND_OVER_REASON_MAX),
            ),
        ],
    }


def _person(values: dict[str, Any], block_id: str) -> str | None:
    block = values.get(block_id)
    state = block.get("value") if isinstance(block, dict) else None
    user = state.get("selected_user") if isinstance(state, dict) else None
    return user if isinstance(user, str) and user else None


def parse_hand_over(values: dict[str, Any]) -> HandOverDetails:
    errors: dict[str, str] = {}
    person = _person(values, "person")
    if person is None:
        errors["person"] = "Please choose who should take it over."
    reason = _selected(values, "reason") or ""
    if not reason:
        errors["reason"] = "Please say why, in a sentence: they will read it."
    elif len(reason) > HAND_OVER_REASON_MAX:
        errors["reason"] = f"Please keep it under {HAND_OVER_REASON_MAX} characters."
    if errors:
        raise FormErrors(errors)
    return HandOverDetails(person or "", reason)
