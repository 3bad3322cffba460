"""Kudos and recognition on closed-loop shout-outs, end to end against the simulated Slack: a
press is a signed click to the bot's endpoint, the shout-out's edit is the outbox's (coalesced,
paced), and a leader's note reaches the shout-out's thread and the closer's DMs."""

from __future__ import annotations

import pytest

from bot.domain.recognition import REFRESH_DELAY, REFRESH_SPACING
from bot.domain.records import CloseDetails
from bot.domain.vocabulary import DeliveryKind
from bot.policy_file import parse_policy
from storage.db import Database
from storage.outbox_store import OutboxStore
from storage.recognition_store import RecognitionStore
from storage.repository import Repository
from tests.factories import CLOSE_FORM, feedback_and_triage
from tests.support.race import race
from tests.support.steps import close_case, open_case

WINS = "C0WINS"
LEADER = "U0CAROL"  # recognition.leaders in this module's policy; not a manager of support
MANAGER = "U0MAYA"  # manages support, where the example cases go


@pytest.fixture
def policy(raw_policy, request):
    """The example policy with a recognition leader, and any changes a test asks for."""
    raw_policy["recognition"] = {"leaders": [LEADER]}
    for section, changes in getattr(request, "param", {}).items():
        raw_policy[section].update(changes)
    return parse_policy(raw_policy, "policy.yml")


HOSTILE = "<!channel> <@U0EVIL> <https://evil.example|Invoice> & done"


def sweep(stack) -> None:
    stack.runtime.outbox_queue.request_sweep()
    stack.settle()


def closed_loop(stack, clock, closer: str = "U0ALICE", **form):
    """A case closed by `closer` and its shout-out as posted."""
    case = open_case(stack)
    clock.advance(minutes=30)
    close_case(stack, case, closer, form={**CLOSE_FORM, **form} if form else None)
    (shout,) = stack.simulator.messages(WINS)
    return case, shout


def press(stack, user: str, shout, action_id: str = "announcement_kudos") -> None:
    stack.slack.click(user, WINS, shout.ts, action_id)
    stack.settle()


def refreshed(stack, clock, seconds: float = REFRESH_DELAY.total_seconds()) -> None:
    """Time passes until the owed edit is due, and the outbox sweeps."""
    clock.advance(seconds=seconds + 0.1)
    sweep(stack)


def edits_of(stack, ts: str) -> int:
    return sum(1 for call in stack.simulator.calls_to("chat.update") if call.params.get("ts") == ts)


def answers(stack, user: str) -> list[str]:
    return [e.text for e in stack.simulator.ephemerals(user)]


def applause(stack, shout) -> str:
    blocks = stack.simulator.message(WINS, shout.ts).blocks
    return " ".join(e.get("text", "") for b in blocks if b["type"] == "context" for e in b["elements"])


def test_a_kudos_press_shows_on_the_shout_out_after_one_edit_and_a_second_press_takes_it_back(stack, clock):
    case, shout = closed_loop(stack, clock)
    assert [e["action_id"] for b in shout.blocks if b["type"] == "actions" for e in b["elements"]] == [
        "announcement_kudos",
        "announcement_recognise",
    ]
    press(stack, "U0BOB", shout)
    assert answers(stack, "U0BOB") == ["👏 Kudos to <@U0ALICE> sent."]
    assert edits_of(stack, shout.ts) == 0  # not per press: the edit is owed a little later
    refreshed(stack, clock)
    assert "👏 1: <@U0BOB>" in applause(stack, shout)
    assert edits_of(stack, shout.ts) == 1
    press(stack, "U0CAROL", shout)
    press(stack, "U0BOB", shout)  # again: taken back
    assert answers(stack, "U0BOB")[-1] == "Kudos to <@U0ALICE> taken back."
    refreshed(stack, clock, REFRESH_SPACING.total_seconds())
    line = applause(stack, shout)
    assert "👏 1: <@U0CAROL>" in line and "U0BOB" not in line
    assert edits_of(stack, shout.ts) == 2
    assert RecognitionStore(stack.runtime.database).applause(case.id).kudos == ("U0CAROL",)


def test_the_closer_cannot_give_themselves_kudos(stack, clock):
    case, shout = closed_loop(stack, clock)
    press(stack, "U0ALICE", shout)
    assert answers(stack, "U0ALICE") == [
        "That is your own loop — kudos and recognition are for others to give you. 🙂"
    ]
    refreshed(stack, clock)
    assert edits_of(stack, shout.ts) == 0 and "👏" not in applause(stack, shout)
    assert RecognitionStore(stack.runtime.database).applause(case.id).kudos == ()


def test_thirty_kudos_in_a_burst_become_one_edit_and_a_minute_of_presses_at_most_two(stack, clock):
    _, shout = closed_loop(stack, clock)
    fans = [f"U0FAN{i:02d}" for i in range(30)]
    for fan in fans:
        stack.simulator.add_user(fan, fan.lower(), f"Fan {fan}")
    for fan in fans:
        press(stack, fan, shout)
        clock.advance(seconds=0.1)
    refreshed(stack, clock)
    assert edits_of(stack, shout.ts) == 1
    line = applause(stack, shout)
    assert "👏 30: <@U0FAN00>, <@U0FAN01>," in line and line.endswith("and 18 more")
    for second in range(60):  # a press every second for a minute, sweeping as production would
        press(stack, fans[second % 30], shout)
        clock.advance(seconds=1)
        if second % 15 == 0:
            sweep(stack)
    refreshed(stack, clock, REFRESH_SPACING.total_seconds())
    assert edits_of(stack, shout.ts) == 2  # the burst's, then one for the whole minute after it
    assert "👏 30" in applause(stack, shout)  # every fan pressed twice more: given back


def test_a_department_manager_recognises_the_closer_in_the_thread_and_by_direct_message(stack, clock):
    _, shout = closed_loop(stack, clock)
    press(stack, MANAGER, shout, "announcement_recognise")
    (view,) = stack.simulator.open_views(MANAGER)
    result = stack.slack.submit_view(MANAGER, view["id"], {"note": "Great save — " + HOSTILE})
    assert result.ok
    stack.settle()
    (_, reply) = stack.simulator.thread(WINS, shout.ts)
    assert reply.text == "<@U0MAYA> recognised <@U0ALICE>"
    body = reply.blocks[0]["text"]["text"]
    assert "&lt;!channel&gt; &lt;@U0EVIL&gt; &lt;https://evil.example|Invoice&gt; &amp; done" in body
    dm = stack.simulator.messages(stack.simulator.dm_channel("U0ALICE").id)[-1]
    assert dm.text.startswith("<@U0MAYA> recognised your follow-up: Great save")
    assert "&lt;!channel&gt;" in dm.blocks[0]["text"]["text"] and "<!channel>" not in str(dm.blocks)
    refreshed(stack, clock)
    assert "🏅 1 recognition" in applause(stack, shout) and "👏" not in applause(stack, shout)


def test_a_recognition_leader_from_the_policy_may_recognise_and_others_are_told_why_not(stack, clock):
    case, shout = closed_loop(stack, clock)
    for someone in ("U0BOB", "U0OMAR"):  # a colleague, and a manager of another department
        press(stack, someone, shout, "announcement_recognise")
        assert stack.simulator.open_views(someone) == []
        assert answers(stack, someone) == [
            "Only this department's managers and the recognition leaders named in the policy "
            "can recognise a loop. Give kudos instead!"
        ]
    press(stack, LEADER, shout, "announcement_recognise")
    (view,) = stack.simulator.open_views(LEADER)
    assert stack.slack.submit_view(LEADER, view["id"], {"note": "   "}).json == {
        "response_action": "errors",
        "errors": {"note": "Please write a sentence or two."},
    }
    stack.slack.submit_view(LEADER, view["id"], {"note": "Thank you!"})
    stack.settle()
    assert [m.text for m in stack.simulator.thread(WINS, shout.ts)[1:]] == [
        "<@U0CAROL> recognised <@U0ALICE>"
    ]
    assert RecognitionStore(stack.runtime.database).applause(case.id).recognitions == 1


def test_hostile_names_are_never_live_on_the_shout_out(stack, clock):
    _, shout = closed_loop(stack, clock)
    stack.simulator.add_user("U0HOSTILE", "<!channel>", "<!channel> <@U0EVIL> & co")
    press(stack, "U0HOSTILE", shout)
    refreshed(stack, clock)
    shown = str(stack.simulator.message(WINS, shout.ts).blocks)
    assert "👏 1: <@U0HOSTILE>" in shown and "<!channel>" not in shown and "U0EVIL" not in shown


@pytest.mark.parametrize("outcome", ["not_resolved", "unreachable"])
def test_a_loop_that_did_not_succeed_closes_quietly(stack, clock, outcome):
    case = open_case(stack)
    close_case(stack, case, form={**CLOSE_FORM, "outcome": outcome})
    closed = stack.runtime.repository.get_case(case.id)
    assert closed.status == "closed" and closed.outcome == outcome
    assert stack.simulator.messages(WINS) == []
    thread = stack.simulator.thread(case.slack_channel, case.slack_ts)
    assert thread[-1].text.startswith("✅ <@U0ALICE> closed the loop")


@pytest.mark.parametrize(
    "policy", [{"announcements": {"outcomes": ["resolved", "not_resolved"]}}], indirect=True
)
def test_announcements_outcomes_choose_what_is_celebrated(stack, clock):
    quiet = open_case(stack)
    close_case(stack, quiet, form={**CLOSE_FORM, "outcome": "partly_resolved"})
    assert stack.simulator.messages(WINS) == []
    loud = open_case(stack, id="resp-2")
    close_case(stack, loud, form={**CLOSE_FORM, "outcome": "not_resolved"})
    assert len(stack.simulator.messages(WINS)) == 1


CONTENDERS = 12


@pytest.mark.backends("postgresql", "sqlite")
def test_kudos_pressed_at_once_in_many_processes_count_once_each(database_url, policy, clock):
    """Separate engines, like separate bot processes: each person counts once, a double press by
    one person counts once, and the shout-out's edit is owed once."""
    setup = Database(database_url)
    repository = Repository(setup)
    case_id = repository.record_feedback(*feedback_and_triage(policy), clock()).case_id
    details = CloseDetails("resolved", "phone", "Product bug", "Workaround given", "Fixed.", True)
    repository.close(case_id, "U0ALICE", details, clock(), expected_owner=None)
    outbox = OutboxStore(setup)
    (shout,) = [d for d in outbox.pending_deliveries(case_id=case_id) if d.kind == DeliveryKind.ANNOUNCEMENT]
    outbox.mark_delivered(shout.id, WINS, "1700000000.000100", clock())
    shoutout = RecognitionStore(setup).shoutout(case_id)
    assert shoutout is not None and shoutout.closer == "U0ALICE"
    pressers = [f"U0FAN{i:02d}" for i in range(CONTENDERS - 2)] + ["U0TWICE", "U0TWICE"]
    databases = [Database(database_url) for _ in range(CONTENDERS)]
    try:
        given = race(
            CONTENDERS,
            lambda i: RecognitionStore(databases[i]).toggle_kudos(
                shoutout, pressers[i], clock(), lambda _last: clock()
            ),
        )
    finally:
        for db in databases:
            db.dispose()
    assert given[: CONTENDERS - 2] == [True] * (CONTENDERS - 2)
    assert sorted(given[CONTENDERS - 2 :]) == [False, True]  # the second press took the first back
    kudos = RecognitionStore(setup).applause(case_id).kudos
    assert sorted(kudos) == sorted(pressers[: CONTENDERS - 2])
    owed = [
        d for d in outbox.pending_deliveries(case_id=case_id) if d.kind == DeliveryKind.ANNOUNCEMENT_REFRESH
    ]
    assert len(owed) == 1
    setup.dispose()
