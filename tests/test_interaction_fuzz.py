"""Hypothesis-made interactions, signed like Slack's and sent to the real /slack/events endpoint:
button clicks with any action id and any value (case references to live, stale, future and missing
cases, and garbage of every JSON type), clicks with fields broken or missing, modal submissions
with any mix of good and bad answers, and `/loop` with any text.

Each example checks the same things: the bot never answers 5xx nor misses Slack's 3-second ack;
the database changes only as a real click or submission by that person would change it (and
exactly so when the policy allows it); nothing is logged at ERROR; and the simulated Slack saw
nothing it would reject (the `stack` fixture fails the test on any Block Kit violation).

Ids that are well-formed strings but name nothing in the workspace are left out of the
structural fuzzing: answering them makes Slack calls fail for reasons outside the payload's shape.
A small world of three support cases is kept in a known state between examples: A new, B claimed
by Alice, C closed by Alice.
"""

from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.devkit.simulator import TEAM_ID, validate_view
from bot.domain.records import CloseDetails
from bot.slack.actions import CaseRef
from storage.models import CaseEvent
from tests.factories import payload
from tests.support.crash_helpers import case_rows
from tests.support.examples import examples

FUZZ = settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FORM = "application/x-www-form-urlencoded"
MEMBERS = ("U0ALICE", "U0BOB", "U0CAROL", "U0MAYA", "U0OMAR")  # U0MAYA manages support
SUPPORT_MANAGERS = ("U0MAYA",)
CASE_ACTIONS = ("case_claim", "case_release", "case_reopen", "case_close", "case_log_contact")
ESCALATION_ACTIONS = ("escalation_ack", "escalation_reassign", "escalation_snooze")
DONE = CloseDetails("resolved", "phone", "Product bug", "Workaround given", "Sorted.", True)


# ---- the world each example starts from --------------------------------------------------------


@dataclass(frozen=True)
class World:
    a: int  # new
    b: int  # claimed by Alice
    c: int  # closed by Alice

    def case(self, key: str) -> int:
        return {"a": self.a, "b": self.b, "c": self.c}[key]


def world(stack) -> World:
    """Built once per test (Hypothesis reuses the stack across examples), then put back in shape."""
    built: World | None = getattr(stack, "fuzz_world", None)
    cases = stack.runtime.services.cases
    if built is None:
        ids = [stack.post_feedback(payload(id=f"fuzz-{n}")).body["case_id"] for n in range(3)]
        built = World(*ids)
        stack.fuzz_world = built
        stack.settle()
    repository = stack.runtime.repository
    a, b, c = (repository.get_case(i) for i in (built.a, built.b, built.c))
    if a.status == "closed":
        cases.reopen(a.id, str(a.owner_id))
        a = repository.get_case(a.id)
    if a.owner_id is not None:
        cases.release(a.id, a.owner_id)
    if b.status == "closed":
        cases.reopen(b.id, "U0ALICE")
    if b.status != "closed" and b.owner_id is None:
        cases.claim(b.id, "U0ALICE")
    if c.status != "closed":
        cases.close(c.id, "U0ALICE", DONE)
    stack.settle()
    states = {row.id: (row.status, row.owner_id) for row in case_rows(stack.runtime.database)}
    assert states[built.a] == ("new", None) and states[built.b][1] == "U0ALICE"
    assert states[built.c] == ("closed", "U0ALICE")
    return built


@dataclass(frozen=True)
class Snapshot:
    counts: dict[str, int]
    cases: dict[int, tuple[str, str | None, int]]
    last_event: int


def snapshot(stack) -> Snapshot:
    database = stack.runtime.database
    with database.transaction() as session:
        last_event = session.scalar(select(func.max(CaseEvent.id))) or 0
    return Snapshot(
        stack.runtime.repository.counts(),
        {row.id: (row.status, row.owner_id, row.version) for row in case_rows(database)},
        last_event,
    )


def events_since(stack, before: Snapshot) -> list[tuple[int, str, str]]:
    with stack.runtime.database.transaction() as session:
        rows = session.execute(
            select(CaseEvent.case_id, CaseEvent.kind, CaseEvent.actor)
            .where(CaseEvent.id > before.last_event)
            .order_by(CaseEvent.id)
        )
        return [(case_id, kind, actor) for case_id, kind, actor in rows]


def send(stack, body: Any) -> int:
    answer = stack.slack.send_raw(urlencode({"payload": json.dumps(body)}).encode(), FORM)
    assert not answer.timed_out, "the bot missed Slack's 3-second acknowledgement"
    assert answer.status < 500, (answer.status, answer.body)
    stack.settle()
    return answer.status


def errors_logged(caplog, *, known: tuple[str, ...] = ()) -> list[str]:
    """ERROR records, except those whose traceback passes through one of the `known` files (a bug
    pinned down by its own xfail test, so that fuzzing keeps looking for others)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and not (known and _raised_in(r, known))
    ]


def _raised_in(record: logging.LogRecord, files: tuple[str, ...]) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    frames = traceback.extract_tb(error.__traceback__) if error is not None else []
    return any(frame.filename.endswith(files) for frame in frames)


# ---- payloads as Slack shapes them -------------------------------------------------------------


def envelope(kind: str, user: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "team": {"id": TEAM_ID, "domain": "closeloop-sim"},
        "user": {"id": user, "username": str(user).lower(), "name": str(user).lower(), "team_id": TEAM_ID},
        "api_app_id": "A0SIM",
        "token": "sim-verification-token",
        "is_enterprise_install": False,
        "enterprise": None,
    }


def click_body(stack, user: Any, case_id: int, action_id: Any, value: Any) -> dict[str, Any]:
    case = stack.runtime.repository.get_case(case_id)
    trigger = stack.simulator.issue_trigger(user if isinstance(user, str) and user else "U0ALICE")
    return {
        **envelope("block_actions", user),
        "container": {
            "type": "message",
            "message_ts": case.slack_ts,
            "channel_id": case.slack_channel,
            "is_ephemeral": False,
        },
        "channel": {"id": case.slack_channel, "name": "support"},
        "trigger_id": trigger,
        "state": {"values": {}},
        "actions": [
            {
                "action_id": action_id,
                "block_id": "case_actions",
                "type": "button",
                "text": {"type": "plain_text", "text": "Claim"},
                "value": value,
                "action_ts": "1795424400.000100",
            }
        ],
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


def reads_as_reference(value: Any) -> bool:
    """Whether garbage happens to look like a case or escalation reference (then it is not garbage)."""
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return False
    return isinstance(parsed, dict) and "c" in parsed and ("v" in parsed or "s" in parsed)


garbage_values = st.one_of(
    st.text(max_size=40),
    json_values.map(json.dumps),
    json_values,
    st.sampled_from(['{"c": "one", "v": 1}', '{"c": 1}', '{"v": 1}', "[1, 1]", '"{}"', "null", "{"]),
).filter(lambda v: not reads_as_reference(v))

# ("ref", case key, which version), ("missing", id), ("raw", anything); references to our cases
# are drawn most often, as they are what can change something.
references = st.tuples(
    st.just("ref"), st.sampled_from("abc"), st.sampled_from(["current", "stale", "future", "zero"])
)
button_values = st.one_of(
    references,
    references,
    references,
    st.tuples(st.just("missing"), st.integers(min_value=10_000, max_value=2**31 - 1)),
    st.tuples(st.just("raw"), garbage_values),
)
versions = st.sampled_from(["current", "stale", "future", "zero"])
people = st.sampled_from(MEMBERS)


def picks(choices: list[tuple[str, str, tuple[str, ...]]]) -> st.SearchStrategy[tuple[str, str, tuple]]:
    """(person, action or form, reference to our case) drawn from (what, case, who may) choices:
    the combinations that can change something, with the person most likely to be allowed."""
    return st.sampled_from(choices).flatmap(
        lambda pick: st.tuples(
            st.one_of(st.sampled_from(pick[2]), people),
            st.just(pick[0]),
            st.tuples(st.just("ref"), st.just(pick[1]), versions),
        )
    )


meaningful_clicks = picks(
    [
        ("case_claim", "a", MEMBERS),
        ("case_release", "b", ("U0ALICE",)),
        ("case_reopen", "c", ("U0ALICE", "U0MAYA")),
        ("case_close", "a", MEMBERS),
        ("case_log_contact", "b", ("U0ALICE",)),
    ]
)
meaningful_forms = picks(
    [
        ("case_close_modal", "a", MEMBERS),
        ("case_close_modal", "b", ("U0ALICE", "U0MAYA")),
        ("case_contact_modal", "b", ("U0ALICE",)),
    ]
)
action_ids = st.one_of(
    st.sampled_from(CASE_ACTIONS),
    st.sampled_from(CASE_ACTIONS),
    st.sampled_from(CASE_ACTIONS),
    st.sampled_from(ESCALATION_ACTIONS),
    st.text(max_size=30),
)


def resolve(stack, here: World, spec: tuple) -> tuple[int | None, Any]:
    """(the existing case the value names, or None; the button value)."""
    if spec[0] == "missing":
        return None, CaseRef(case_id=spec[1], version=1).encode()
    if spec[0] == "raw":
        return None, spec[1]
    case = stack.runtime.repository.get_case(here.case(spec[1]))
    version = {"current": case.version, "stale": case.version - 1, "future": case.version + 5, "zero": 0}
    return case.id, CaseRef(case_id=case.id, version=version[spec[2]]).encode()


def expected_change(action: str, status: str, owner: str | None, user: str) -> tuple[str, str | None] | None:
    """(status, owner) a click by `user` must lead to under the example policy (anyone may claim;
    the owner releases; the owner or a support manager reopens), or None if it changes nothing.
    Stale and future versions in the button do not matter: the case's state decides."""
    if action == "case_claim" and status == "new" and owner is None:
        return "claimed", user
    if action == "case_release" and status in ("claimed", "contacted") and owner == user:
        return "new", None
    if action == "case_reopen" and status == "closed" and (owner == user or user in SUPPORT_MANAGERS):
        return "claimed", owner
    return None


# ---- clicks ------------------------------------------------------------------------------------


@FUZZ
@given(click=st.one_of(meaningful_clicks, st.tuples(people, action_ids, button_values)))
def test_fuzzed_clicks_do_exactly_what_that_person_clicking_would(stack, caplog, click):
    user, action, spec = click
    here = world(stack)
    target, value = resolve(stack, here, spec)
    before = snapshot(stack)
    caplog.clear()
    views_before = len(stack.simulator.open_views(user))

    send(stack, click_body(stack, user, here.a, action, value))

    after = snapshot(stack)
    events = events_since(stack, before)
    assert after.counts["feedback"] == before.counts["feedback"]
    assert after.counts["cases"] == before.counts["cases"]
    changed = {i for i in before.cases if before.cases[i] != after.cases[i]}
    if target is None or action not in CASE_ACTIONS:
        # Not one of our buttons, or not one of our cases: nothing at all happens.
        assert (after.counts, after.cases, events) == (before.counts, before.cases, []), spec
    else:
        status, owner, _ = before.cases[target]
        expected = expected_change(action, status, owner, user)
        if expected is None:
            assert changed == set(), (action, spec, before.cases[target], after.cases[target])
            assert {kind for _, kind, _ in events} <= {"refused"}, events
        else:
            assert changed == {target} and after.cases[target][:2] == expected, (action, spec, after.cases)
            assert [(case_id, actor) for case_id, _, actor in events] == [(target, user)], events
        opened = stack.simulator.open_views(user)[views_before:]
        for view in opened:  # Close / Log contact open a form for the case the button named
            assert action in ("case_close", "case_log_contact")
            assert CaseRef.decode(view["private_metadata"]).case_id == target
        if action == "case_log_contact" and status != "closed" and owner == user:
            assert len(opened) == 1, "the owner's Log contact did not open the form"
        event(f"{action}: {'changed' if changed else 'form opened' if opened else 'no change'}")
    assert errors_logged(caplog) == []


# Structural damage to an otherwise valid claim: fields removed, or replaced by another JSON type.
BREAKABLE = (
    ("type",),
    ("user",),
    ("user", "id"),
    ("team",),
    ("channel",),
    ("channel", "id"),
    ("container",),
    ("container", "message_ts"),
    ("container", "channel_id"),
    ("trigger_id",),
    ("actions",),
    ("actions", 0),
    ("actions", 0, "action_id"),
    ("actions", 0, "value"),
    ("actions", 0, "block_id"),
    ("actions", 0, "type"),
    ("state",),
    ("api_app_id",),
)
not_a_string_id = st.one_of(
    st.none(), st.booleans(), st.integers(), st.just(""), st.lists(st.integers(), max_size=2)
)
damage = st.tuples(
    st.sampled_from(BREAKABLE),
    st.one_of(st.just("delete"), st.tuples(st.just("set"), json_values)),
)


def damaged(body: dict[str, Any], path: tuple, how: Any) -> dict[str, Any]:
    """`body` with the field at `path` deleted or replaced (if an earlier damage left it there)."""
    parent: Any = body
    for key in path[:-1]:
        try:
            parent = parent[key]
        except (KeyError, IndexError, TypeError):
            return body
    last = path[-1]
    present = (isinstance(parent, dict) and last in parent) or (
        isinstance(parent, list) and isinstance(last, int) and len(parent) > last
    )
    if present and how == "delete":
        del parent[last]
    elif present:
        parent[last] = how[1]
    return body


@FUZZ
@given(user=st.sampled_from(MEMBERS), damages=st.lists(damage, min_size=1, max_size=3))
def test_clicks_with_fields_missing_or_of_the_wrong_type_never_500_nor_do_harm(stack, caplog, user, damages):
    here = world(stack)
    body = click_body(stack, user, here.a, "case_claim", CaseRef(case_id=here.a, version=1).encode())
    for path, how in damages:
        if path[-1] == "id" and how != "delete":  # ids: another JSON type, never a string naming nobody
            how = ("set", how[1] if not isinstance(how[1], str) else None)
        body = damaged(body, path, how)
    before = snapshot(stack)
    caplog.clear()

    send(stack, body)

    after = snapshot(stack)
    events = events_since(stack, before)
    assert after.counts["feedback"] == before.counts["feedback"]
    assert after.counts["cases"] == before.counts["cases"]
    if events:  # the damage left a claim by a real member standing: exactly that claim happened
        ((case_id, kind, actor),) = events
        assert (case_id, kind) == (here.a, "claimed") and actor in MEMBERS
        assert after.cases[here.a][:2] == ("claimed", actor)
    else:
        assert after.cases == before.cases
    assert errors_logged(caplog) == []


# ---- modal submissions -------------------------------------------------------------------------

OUTCOMES = ["resolved", "partly_resolved", "not_resolved", "unreachable"]
CONTACT_CHANNELS = ["phone", "email", "chat", "meeting"]


def select_state(value: str | None) -> dict[str, Any]:
    option = None if value is None else {"text": {"type": "plain_text", "text": value}, "value": value}
    return {"type": "static_select", "selected_option": option}


def text_state(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


Answer = tuple[bool, str | None]  # (valid?, what was chosen or typed)


def choice(allowed: list[str], *, valid: bool) -> st.SearchStrategy[Answer]:
    """An offered option; or nothing chosen, or something that is not offered."""
    if valid:
        return st.sampled_from(allowed).map(lambda v: (True, v))
    offered = st.text(max_size=30).filter(lambda v: v not in allowed)
    return st.one_of(st.just(None), offered).map(lambda v: (False, v))


def note(max_length: int, *, required: bool, valid: bool) -> st.SearchStrategy[Answer]:
    blank = st.sampled_from([None, "", "   "])
    if valid:
        written = st.text(min_size=1, max_size=60).filter(str.strip)
        return (written if required else st.one_of(written, blank)).map(lambda v: (True, v))
    too_long = st.just("x" * (max_length + 1))
    return (st.one_of(too_long, blank) if required else too_long).map(lambda v: (False, v))


def form(
    data: st.DataObject, choices: dict[str, list[str]], note_max: int, *, note_required: bool
) -> dict[str, Answer]:
    """A whole form: half the time every answer is good, else one to three are not."""
    fields = [*choices, "note"]
    broken = data.draw(
        st.one_of(st.just(set()), st.sets(st.sampled_from(fields), min_size=1, max_size=3)), label="broken"
    )
    answers = {
        name: data.draw(choice(allowed, valid=name not in broken), label=name)
        for name, allowed in choices.items()
    }
    answers["note"] = data.draw(
        note(note_max, required=note_required, valid="note" not in broken), label="note"
    )
    return answers


def close_form(data: st.DataObject, policy) -> dict[str, Answer]:
    choices = {
        "outcome": OUTCOMES,
        "contact_channel": CONTACT_CHANNELS,
        "root_cause": list(policy.root_causes),
        "remedy": list(policy.remedies),
        "customer_informed": ["yes", "no"],
    }
    return form(data, choices, 2000, note_required=True)


def contact_form(data: st.DataObject) -> dict[str, Answer]:
    return form(data, {"channel": CONTACT_CHANNELS}, 500, note_required=False)


def submission_body(
    user: str, callback_id: str, metadata: Any, form: dict[str, tuple[bool, str | None]]
) -> dict:
    values = {
        block: {"value": text_state(chosen) if block == "note" else select_state(chosen)}
        for block, (_, chosen) in form.items()
    }
    view = {
        "id": "V0FUZZ",
        "team_id": TEAM_ID,
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": metadata,
        "blocks": [],
        "state": {"values": values},
        "hash": "fuzz",
        "title": {"type": "plain_text", "text": "Close the loop"},
        "app_id": "A0SIM",
    }
    return {**envelope("view_submission", user), "trigger_id": "1.2.fuzz", "view": view, "response_urls": []}


@FUZZ
@given(
    submission=st.one_of(
        meaningful_forms,
        st.tuples(people, st.sampled_from(["case_close_modal", "case_contact_modal"]), button_values),
    ),
    data=st.data(),
)
def test_fuzzed_form_submissions_change_a_case_only_when_a_real_one_would(
    stack, caplog, policy, submission, data
):
    user, which, spec = submission
    here = world(stack)
    target, metadata = resolve(stack, here, spec)
    form = close_form(data, policy) if which == "case_close_modal" else contact_form(data)
    before = snapshot(stack)
    caplog.clear()

    body = submission_body(user, which, metadata, form)
    result = stack.slack.send_raw(urlencode({"payload": json.dumps(body)}).encode(), FORM)
    assert not result.timed_out and result.status < 500, (result.status, result.body)
    stack.settle()

    after = snapshot(stack)
    changed = {i for i in before.cases if before.cases[i] != after.cases[i]}
    form_ok = all(ok for ok, _ in form.values())
    reply = result.json if isinstance(result.json, dict) else {}
    if reply.get("response_action") == "errors":
        assert not form_ok, reply  # a complete, valid form is never sent back
        assert set(reply["errors"]) <= set(form), reply  # errors shown under the inputs only
    if reply.get("response_action") == "update":
        assert validate_view(reply.get("view")) == []
    event(f"{which}: {'changed' if changed else reply.get('response_action') or 'no change'}")
    if target is None:
        assert (after.counts, after.cases) == (before.counts, before.cases), spec
    else:
        status, owner, _ = before.cases[target]
        if which == "case_close_modal":
            allowed = status != "closed" and (owner is None or owner == user or user in SUPPORT_MANAGERS)
            expected = ("closed", owner or user) if allowed and form_ok else None
        else:
            allowed = status != "closed" and owner == user
            expected = ("contacted", owner) if allowed and form_ok else None
        if expected is None:
            assert changed == set(), (which, form, before.cases[target], after.cases[target])
            assert {kind for _, kind, _ in events_since(stack, before)} <= {"refused"}
        else:
            assert changed == {target} and after.cases[target][:2] == expected, (which, form)
            assert reply.get("response_action") is None, reply
    assert after.counts["feedback"] == before.counts["feedback"]
    assert errors_logged(caplog) == []


state_values = st.dictionaries(
    st.one_of(
        st.sampled_from(["outcome", "contact_channel", "root_cause", "remedy", "note", "channel"]), st.text()
    ),
    st.one_of(json_values, st.dictionaries(st.just("value"), json_values, max_size=1)),
    max_size=6,
)


@FUZZ
@given(user=people, which=st.sampled_from(["case_close_modal", "case_contact_modal"]), values=state_values)
def test_submissions_with_any_state_values_never_500_nor_change_anything(stack, caplog, user, which, values):
    """Anything in `view.state.values`: no form Slack could send, so nothing may change."""
    here = world(stack)
    body = submission_body(user, which, CaseRef(case_id=here.b, version=1).encode(), {})
    body["view"]["state"]["values"] = values
    before = snapshot(stack)
    caplog.clear()
    send(stack, body)
    after = snapshot(stack)
    assert (after.counts, after.cases) == (before.counts, before.cases)
    assert errors_logged(caplog) == []


# ---- slash commands ----------------------------------------------------------------------------


@FUZZ
@given(
    user=st.sampled_from(MEMBERS),
    channel=st.sampled_from(["C0SUPPORT", "C0BILLING", "C0PRODUCT"]),
    command=st.one_of(st.just("/loop"), st.text(min_size=1, max_size=12).map(lambda t: "/" + t)),
    text=st.one_of(
        st.text(max_size=200),
        st.sampled_from(["help", "overdue", "OVERDUE support", "overdue nowhere", "overdue <!channel>"]),
        st.text(max_size=40).map(lambda t: "overdue " + t),
    ),
)
def test_any_slash_command_text_is_answered_calmly_and_changes_nothing(
    stack, caplog, user, channel, command, text
):
    world(stack)
    before, public = snapshot(stack), public_messages(stack)
    caplog.clear()
    result = stack.slack.slash_command(user, channel, command, text)
    assert not result.timed_out and result.status < 500, (result.status, result.body)
    stack.settle()
    after = snapshot(stack)
    assert (after.counts, after.cases) == (before.counts, before.cases)
    assert public_messages(stack) == public, "a command answer was posted publicly"
    assert errors_logged(caplog) == []


def public_messages(stack) -> int:
    return sum(
        len(stack.simulator.messages(c, include_replies=True))
        for c in ("C0SUPPORT", "C0BILLING", "C0PRODUCT", "C0WINS")
    )


# ---- bugs the fuzzing found (fixed), kept as regression tests ----------------------------------


@pytest.mark.parametrize("broken", ["action_id missing", "action is a list"])
def test_a_click_whose_action_has_no_action_id_is_refused_without_an_error(stack, caplog, broken):
    here = world(stack)
    body = click_body(stack, "U0ALICE", here.a, "case_claim", CaseRef(case_id=here.a, version=1).encode())
    if broken == "action_id missing":
        del body["actions"][0]["action_id"]
    else:
        body["actions"][0] = []
    before = snapshot(stack)
    caplog.clear()
    send(stack, body)
    assert snapshot(stack) == before
    assert errors_logged(caplog) == []


@pytest.mark.parametrize(
    ("which", "values"),
    [
        ("case_close_modal", {"outcome": "resolved"}),
        ("case_contact_modal", {"channel": ["phone"]}),
        (
            "case_close_modal",
            {"outcome": {"value": select_state("resolved") | {"selected_option": {"value": 5}}}},
        ),
        (
            "case_contact_modal",
            {"channel": {"value": {"type": "radio_buttons", "selected_option": {"value": {}}}}},
        ),
    ],
    ids=["entry is a string", "entry is a list", "option value is a number", "option value is an object"],
)
def test_form_answers_of_the_wrong_shape_are_refused_without_an_error(stack, caplog, which, values):
    here = world(stack)
    body = submission_body("U0ALICE", which, CaseRef(case_id=here.b, version=1).encode(), {})
    body["view"]["state"]["values"] = values
    before = snapshot(stack)
    caplog.clear()
    send(stack, body)
    assert snapshot(stack) == before
    assert errors_logged(caplog) == []
