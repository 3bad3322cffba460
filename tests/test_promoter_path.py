"""The promoter path, end to end against the simulated Slack: a promoter's notice has Thanked,
Ask for a review and Reference candidate; each press is a signed click, recorded once per
response and action, and shown on the notice by one coalesced edit from the outbox."""

from __future__ import annotations

import pytest

from bot.domain.recognition import REFRESH_DELAY, REFRESH_SPACING
from bot.domain.vocabulary import DeliveryKind, PromoterAction
from bot.policy_file import PolicyError, parse_policy
from bot.slack.actions import NoticeRef
from storage.promoter_follow_ups import PromoterFollowUps
from tests.factories import payload

SUPPORT = "C0SUPPORT"
HOSTILE = "<!channel> <@U0EVIL> <https://evil.example|Click me> & done"  # no billing words: routed to support
REVIEW = "https://www.trustpilot.com/review/example.com?utm=closeloop&x=1"


@pytest.fixture
def policy(raw_policy, request):
    """The example policy; `review_url` for support when a test asks for it."""
    url = getattr(request, "param", None)
    if url is not None:
        raw_policy["departments"][0]["review_url"] = url
    return parse_policy(raw_policy, "policy.yml")


def promoter(stack, **overrides):
    """A promoter's response, and its notice as posted."""
    answer = stack.post_feedback(payload(score=10, **overrides))
    assert answer.status == 202, answer.body
    stack.settle()
    (notice,) = stack.simulator.messages(SUPPORT)
    return notice


def press(stack, user: str, notice, action_id: str) -> None:
    stack.slack.click(user, SUPPORT, notice.ts, action_id)
    stack.settle()


def refreshed(stack, clock, seconds: float = REFRESH_DELAY.total_seconds()) -> None:
    clock.advance(seconds=seconds + 0.1)
    stack.runtime.outbox_queue.request_sweep()
    stack.settle()


def edits_of(stack, ts: str) -> int:
    return sum(1 for call in stack.simulator.calls_to("chat.update") if call.params.get("ts") == ts)


def answers(stack, user: str) -> list[str]:
    return [e.text for e in stack.simulator.ephemerals(user)]


def status_line(stack, notice) -> str:
    blocks = stack.simulator.message(SUPPORT, notice.ts).blocks
    texts = [e.get("text", "") for b in blocks if b["type"] == "context" for e in b["elements"]]
    return " ".join(t for t in texts if "by <@" in t)


def follow_ups(stack, notice) -> list[tuple[str, str]]:
    """The rows, for the response the notice's buttons name."""
    (value,) = {e["value"] for b in notice.blocks if b["type"] == "actions" for e in b["elements"]}
    store = PromoterFollowUps(stack.runtime.database)
    return [(f.action.value, f.user_id) for f in store.follow_ups(NoticeRef.decode(value).feedback_id)]


@pytest.mark.backends("sqlite", "postgresql")  # a unique-key conflict and a row lock
def test_each_button_is_recorded_once_and_shown_on_the_notice_edited_in_place(stack, clock):
    notice = promoter(stack)
    buttons = [e["action_id"] for b in notice.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["promoter_thanked", "promoter_review", "promoter_reference"]
    press(stack, "U0BOB", notice, "promoter_thanked")
    assert answers(stack, "U0BOB") == ["🙏 Noted: you thanked this customer. It shows on the notice shortly."]
    assert edits_of(stack, notice.ts) == 0  # not per press: owed a little later
    refreshed(stack, clock)
    assert edits_of(stack, notice.ts) == 1
    assert status_line(stack, notice) == "✅ Thanked by <@U0BOB>"
    press(stack, "U0CAROL", notice, "promoter_thanked")  # someone was first: nothing changes
    assert "✅ Thanked by <@U0BOB> already" in answers(stack, "U0CAROL")[-1]
    press(stack, "U0CAROL", notice, "promoter_review")
    press(stack, "U0ALICE", notice, "promoter_reference")
    refreshed(stack, clock, REFRESH_SPACING.total_seconds())
    assert edits_of(stack, notice.ts) == 2
    assert status_line(stack, notice) == (
        "✅ Thanked by <@U0BOB> · ⭐ review asked by <@U0CAROL> · 🤝 reference candidate, noted by <@U0ALICE>"
    )
    assert follow_ups(stack, notice) == [
        (PromoterAction.THANKED, "U0BOB"),
        (PromoterAction.REVIEW_ASKED, "U0CAROL"),
        (PromoterAction.REFERENCE, "U0ALICE"),
    ]
    # The buttons stay: a review request can be read again; the edited notice still works.
    edited = stack.simulator.message(SUPPORT, notice.ts)
    assert [e["action_id"] for b in edited.blocks if b["type"] == "actions" for e in b["elements"]] == buttons


def test_many_presses_in_a_burst_become_one_edit(stack, clock):
    notice = promoter(stack)
    people = [f"U0FAN{i:02d}" for i in range(12)]
    for person in people:
        stack.simulator.add_user(person, person.lower(), f"Fan {person}")
    for i, person in enumerate(people):
        press(stack, person, notice, ("promoter_thanked", "promoter_review", "promoter_reference")[i % 3])
        clock.advance(seconds=0.2)
    refreshed(stack, clock)
    assert edits_of(stack, notice.ts) == 1
    line = status_line(stack, notice)
    assert line.startswith("✅ Thanked by <@U0FAN00> · ⭐ review asked by <@U0FAN01>")
    refreshed(stack, clock, REFRESH_SPACING.total_seconds())
    assert edits_of(stack, notice.ts) == 1  # later presses were second presses: nothing owed
    deliveries = stack.runtime.outbox_worker.store.owed_by_kind()
    assert DeliveryKind.NOTICE_REFRESH not in deliveries


@pytest.mark.parametrize("policy", [REVIEW], indirect=True)
def test_ask_for_a_review_shows_the_clicker_a_ready_to_send_text_with_the_departments_link(stack, clock):
    notice = promoter(stack, customer={"id": "cus-1", "name": f"Dana {HOSTILE}"})
    press(stack, "U0BOB", notice, "promoter_review")
    (answer,) = answers(stack, "U0BOB")
    assert "Here is a text ready to send" in answer
    assert "https://www.trustpilot.com/review/example.com?utm=closeloop&amp;x=1" in answer
    assert (
        "Hi Dana &lt;!channel&gt; &lt;@U0EVIL&gt; &lt;https://evil.example|Click me&gt; &amp; done," in answer
    )
    assert "<!channel>" not in answer and "<@U0EVIL>" not in answer
    assert stack.simulator.ephemerals("U0CAROL") == []  # privately: nobody else sees it
    press(stack, "U0CAROL", notice, "promoter_review")  # a second person gets the text too, told who asked
    second = answers(stack, "U0CAROL")[-1]
    assert second.startswith("⭐ review asked by <@U0BOB> already") and REVIEW.replace("&", "&amp;") in second


def test_ask_for_a_review_without_a_review_url_says_how_to_set_one(stack, clock):
    notice = promoter(stack)
    press(stack, "U0BOB", notice, "promoter_review")
    (answer,) = answers(stack, "U0BOB")
    assert answer.startswith("⭐ Noted: review asked. No review link is set for *Customer Support*")
    assert "`review_url: https://" in answer  # it says what to write, and where


def test_hostile_customer_text_stays_inert_on_the_notice_and_its_edit(stack, clock):
    notice = promoter(stack, comment=HOSTILE, customer={"id": "cus-1", "name": HOSTILE})
    press(stack, "U0BOB", notice, "promoter_thanked")
    refreshed(stack, clock)
    edited = stack.simulator.message(SUPPORT, notice.ts)
    assert edits_of(stack, notice.ts) == 1
    for text in (str(edited.blocks), edited.text or ""):
        assert "<!channel>" not in text and "<@U0EVIL>" not in text and "<https://evil" not in text


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://example.com/review", "is not an https address"),
        ("https://example.com/<!channel>", "is not an https address"),
        ("https://example.com/" + "a" * 3000, "at most 3000"),
    ],
)
def test_a_bad_review_url_is_refused_naming_the_file_the_field_and_the_fix(raw_policy, url, says):
    raw_policy["departments"][0]["review_url"] = url
    with pytest.raises(PolicyError) as refused:
        parse_policy(raw_policy, "policy.yml")
    assert "policy.yml" in str(refused.value) and "departments[0].review_url" in str(refused.value)
    assert says in str(refused.value)
