"""The simulated Slack workspace, exercised the way the bot uses it: slack_sdk over real HTTP."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot.devkit.simulator import (
    BlockKitError,
    DriverError,
    ManualClock,
    SlackSimulator,
    Tier,
    render_channel,
    render_ephemerals,
    validate_blocks,
    validate_view,
)

SECRET = "test-signing-secret"
TOKEN = "xoxb-test"


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(label: str, action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def input_block(block_id: str, element: dict[str, Any], *, optional: bool = False) -> dict[str, Any]:
    label = plain(block_id.title())
    return {"type": "input", "block_id": block_id, "label": label, "element": element, "optional": optional}


class FakeBot:
    """A tiny HTTP endpoint standing in for the bot: records requests, answers from a queue."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[tuple[int, bytes]] = []
        self.stall_seconds = 0.0
        bot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                bot.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(bot.stall_seconds)
                status, answer = bot.answers.pop(0) if bot.answers else (200, b"")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def payload(self, index: int = -1) -> dict[str, Any]:
        return json.loads(parse_qs(self.requests[index][1].decode())["payload"][0])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[SlackSimulator]:
    with SlackSimulator(bot_token=TOKEN, signing_secret=SECRET, clock=clock) as simulator:
        simulator.add_user("U1", "anna", "Anna Schmidt")
        simulator.add_user("U2", "ben", "Ben Ode")
        simulator.add_channel("C1", "support", members={"U1", "U2"})
        simulator.add_channel("C2", "sales", bot_is_member=False, members={"U1"})
        yield simulator


@pytest.fixture
def client(sim: SlackSimulator) -> WebClient:
    return WebClient(token=TOKEN, base_url=sim.api_url)


@pytest.fixture
def bot() -> Iterator[FakeBot]:
    fake = FakeBot()
    yield fake
    fake.close()


def test_post_update_and_history_round_trip(sim: SlackSimulator, client: WebClient) -> None:
    posted = client.chat_postMessage(
        channel="C1",
        text="Case 1 opened",
        blocks=[section("*Case 1* opened")],
        metadata={"event_type": "case_posted", "event_payload": {"case_id": "1"}},
    )
    ts = posted["ts"]
    assert posted["channel"] == "C1"
    assert posted["message"]["blocks"][0]["block_id"]  # Slack assigns block ids
    client.chat_postMessage(channel="C1", text="on it", thread_ts=ts)
    client.chat_update(
        channel="C1", ts=ts, text="Case 1 claimed", blocks=[section("*Case 1* claimed by Anna")]
    )

    history = client.conversations_history(channel="C1", include_all_metadata=True)
    (message,) = history["messages"]
    assert message["text"] == "Case 1 claimed"
    assert message["blocks"][0]["text"]["text"] == "*Case 1* claimed by Anna"
    assert message["metadata"]["event_payload"] == {"case_id": "1"}
    assert message["reply_count"] == 1 and "edited" in message
    assert [r["text"] for r in client.conversations_replies(channel="C1", ts=ts)["messages"]] == [
        "Case 1 claimed",
        "on it",
    ]
    assert [r.text for r in sim.message("C1", ts).history] == ["Case 1 opened"]
    assert [m.text for m in sim.thread("C1", ts)] == ["Case 1 claimed", "on it"]
    assert "metadata" not in client.conversations_history(channel="C1")["messages"][0]
    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel="C1", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"
    assert [c.method for c in sim.calls][:2] == ["chat.postMessage", "chat.postMessage"]


def test_timestamps_look_like_slack_and_increase(sim: SlackSimulator, client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel="U1", text=str(i))["ts"] for i in range(3)]
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 3
    assert client.conversations_open(users="U1")["channel"]["id"] == sim.dm_channel("U1").id


def test_form_encoded_calls_decode_json_fields(sim: SlackSimulator, client: WebClient) -> None:
    response = client.api_call(
        "chat.postMessage", params={"channel": "C1", "text": "hi", "blocks": json.dumps([section("hi")])}
    )
    assert sim.message("C1", response["ts"]).blocks[0]["type"] == "section"


def test_oversized_section_is_rejected_and_recorded(sim: SlackSimulator, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as rejected:
        client.chat_postMessage(channel="C1", text="x", blocks=[section("x" * 3001)])
    assert rejected.value.response["error"] == "invalid_blocks"
    assert sim.messages("C1") == []
    (violation,) = sim.take_violations()
    assert "3001 characters, limit is 3000" in violation and violation.startswith("chat.postMessage")


def test_long_header_and_too_many_blocks_are_rejected(sim: SlackSimulator, client: WebClient) -> None:
    header = {"type": "header", "text": plain("h" * 151)}
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="C1", text="x", blocks=[header])
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="C1", text="x", blocks=[{"type": "divider"}] * 51)
    client.chat_postMessage(channel="C1", text="x", blocks=[{"type": "divider"}] * 50)
    violations = sim.take_violations()
    assert any("151 characters, limit is 150" in v for v in violations)
    assert any("51 blocks, limit for a message is 50" in v for v in violations)


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_missing_fallback_text_is_accepted_but_recorded(sim: SlackSimulator, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", blocks=[section("no fallback")])
    client.chat_postMessage(channel="C1", text="x" * 40_001)
    assert [len(m.text) for m in sim.messages("C1")] == [0, 40_000]  # Slack truncates
    violations = sim.take_violations()
    assert any("missing fallback text" in v for v in violations)
    assert any("Slack truncates above 40000" in v for v in violations)


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_strict_simulator_fails_on_leftover_violations() -> None:
    with pytest.raises(BlockKitError, match="missing fallback text"), SlackSimulator() as sim:
        sim.add_channel("C1", "support")
        WebClient(token="xoxb-sim", base_url=sim.api_url).chat_postMessage(
            channel="C1", blocks=[section("x")]
        )


def test_channel_membership_and_auth_errors(sim: SlackSimulator, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as not_member:
        client.chat_postMessage(channel="C2", text="hello")
    assert not_member.value.response["error"] == "not_in_channel"
    with pytest.raises(SlackApiError) as unknown:
        client.chat_postMessage(channel="C404", text="hello")
    assert unknown.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as bad_token:
        WebClient(token="xoxb-wrong", base_url=sim.api_url).auth_test()
    assert bad_token.value.response["error"] == "invalid_auth"
    request = urllib.request.Request(f"{sim.api_url}auth.test", data=b"", method="POST")
    with urllib.request.urlopen(request) as answer:
        assert json.loads(answer.read())["error"] == "not_authed"
    assert client.auth_test()["user_id"] == sim.bot_user_id
    assert sim.calls_to("auth.test")[0].response["error"] == "invalid_auth"


def test_unknown_method_is_answered_and_recorded(sim: SlackSimulator, client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="unknown_method"):
        client.api_call("chat.teleport", json={"channel": "C1"})
    (call,) = sim.calls_to("chat.teleport")
    assert call.http_status == 200 and call.params == {"channel": "C1"}


def test_post_rate_limit_answers_429_and_recovers(
    sim: SlackSimulator, client: WebClient, clock: ManualClock
) -> None:
    for i in range(5):
        client.chat_postMessage(channel="C1", text=f"burst {i}")
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="C1", text="one too many")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"
    assert sim.calls_to("chat.postMessage")[-1].http_status == 429
    client.chat_postMessage(channel="U1", text="other channels have their own budget")
    clock.advance(1.0)
    client.chat_postMessage(channel="C1", text="after waiting")
    assert len(sim.messages("C1")) == 6


def test_chat_update_is_limited_per_workspace_across_channels_and_recovers(clock: ManualClock) -> None:
    """Tier 3: about 50 edits a minute for the whole workspace, whichever channel they are in."""
    with SlackSimulator(bot_token=TOKEN, clock=clock, tier3=Tier(50, burst=3)) as sim:
        sim.add_channel("C1", "support")
        sim.add_channel("C3", "billing")
        client = WebClient(token=TOKEN, base_url=sim.api_url)
        posted = [client.chat_postMessage(channel=c, text="v1") for c in ("C1", "C3", "C1", "C3")]
        for message in posted[:3]:
            client.chat_update(channel=message["channel"], ts=message["ts"], text="v2")
        with pytest.raises(SlackApiError) as limited:  # another channel: the same budget
            client.chat_update(channel="C3", ts=posted[3]["ts"], text="v2")
        assert limited.value.response.status_code == 429
        assert limited.value.response.headers["Retry-After"] == "2"  # 60 s / 50, rounded up
        assert sim.message("C3", posted[3]["ts"]).text == "v1"  # a refused edit is not applied
        clock.advance(1.2)  # one edit's worth of time
        client.chat_update(channel="C3", ts=posted[3]["ts"], text="v2")
        assert sim.message("C3", posted[3]["ts"]).text == "v2"


def test_tier_4_methods_have_their_own_buckets_and_tiers_can_be_turned_off(clock: ManualClock) -> None:
    with SlackSimulator(bot_token=TOKEN, clock=clock, tier3=Tier(None), tier4=Tier(100, burst=2)) as sim:
        sim.add_user("U1", "anna", "Anna Schmidt")
        sim.add_channel("C1", "support", members={"U1"})
        client = WebClient(token=TOKEN, base_url=sim.api_url)
        for _ in range(2):
            client.chat_postEphemeral(channel="C1", user="U1", text="only you")
        with pytest.raises(SlackApiError) as limited:
            client.chat_postEphemeral(channel="C1", user="U1", text="only you")
        assert limited.value.response.status_code == 429
        client.users_info(user="U1")  # each method is counted on its own
        client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
        message = client.chat_postMessage(channel="C1", text="v1")
        for n in range(60):  # Tier 3 off: chat.update is unlimited
            client.chat_update(channel="C1", ts=message["ts"], text=f"v{n}")
        assert [c.http_status for c in sim.calls_to("chat.update")] == [200] * 60


def test_slacks_tier_limits_are_on_by_default(sim: SlackSimulator, client: WebClient) -> None:
    message = client.chat_postMessage(channel="C1", text="v1")
    for n in range(50):  # a minute's allowance at once
        client.chat_update(channel="C1", ts=message["ts"], text=f"v{n}")
    with pytest.raises(SlackApiError) as limited:
        client.chat_update(channel="C1", ts=message["ts"], text="one too many")
    assert limited.value.response.status_code == 429
    for _ in range(100):
        client.users_info(user="U1")
    with pytest.raises(SlackApiError):
        client.users_info(user="U1")


def test_injected_faults(sim: SlackSimulator, client: WebClient) -> None:
    sim.inject_fault("chat.postMessage", status=500)
    sim.inject_fault("chat.postMessage", error="fatal_error", applied=True)
    with pytest.raises(SlackApiError) as server_error:
        client.chat_postMessage(channel="C1", text="lost")
    assert server_error.value.response.status_code == 500
    with pytest.raises(SlackApiError, match="fatal_error"):
        client.chat_postMessage(channel="C1", text="posted, but the reply says otherwise")
    client.chat_postMessage(channel="C1", text="healthy again")
    assert [m.text for m in sim.messages("C1")] == ["posted, but the reply says otherwise", "healthy again"]


def test_views_open_needs_a_fresh_unused_trigger(
    sim: SlackSimulator, client: WebClient, clock: ManualClock
) -> None:
    modal = {"type": "modal", "title": plain("Close case"), "blocks": [section("Sure?")]}
    stale = sim.issue_trigger("U1")
    clock.advance(4)
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        client.views_open(trigger_id=stale, view=modal)
    with pytest.raises(SlackApiError, match="invalid_trigger_id"):
        client.views_open(trigger_id="made.up", view=modal)
    fresh = sim.issue_trigger("U1")
    view = client.views_open(trigger_id=fresh, view=modal)["view"]
    assert view["id"].startswith("V") and [v["id"] for v in sim.open_views("U1")] == [view["id"]]
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        client.views_open(trigger_id=fresh, view=modal)
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_open(trigger_id=sim.issue_trigger("U1"), view={**modal, "title": plain("t" * 25)})
    assert any("25 characters, limit is 24" in v for v in sim.take_violations())


def test_click_reaches_the_bot_signed_like_slack(
    sim: SlackSimulator, client: WebClient, bot: FakeBot
) -> None:
    blocks = [section("Case 7"), {"type": "actions", "elements": [button("Claim", "claim", "case-7")]}]
    ts = client.chat_postMessage(channel="C1", text="Case 7", blocks=blocks)["ts"]

    result = sim.driver(bot.url).click("U1", "C1", ts, "claim")

    assert result.status == 200
    headers, body = bot.requests[0]
    timestamp, signature = headers["x-slack-request-timestamp"], headers["x-slack-signature"]
    assert SignatureVerifier(SECRET).is_valid(body, timestamp, signature)
    assert not SignatureVerifier("another-secret").is_valid(body, timestamp, signature)
    payload = bot.payload()
    (action,) = payload["actions"]
    assert (action["action_id"], action["value"], action["type"]) == ("claim", "case-7", "button")
    assert action["block_id"] == sim.message("C1", ts).blocks[1]["block_id"]
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert payload["user"]["id"] == "U1" and payload["message"]["ts"] == ts
    modal = {"type": "modal", "title": plain("Claim"), "blocks": [section("ok")]}
    client.views_open(trigger_id=payload["trigger_id"], view=modal)
    assert len(sim.open_views("U1")) == 1

    answer = {"replace_original": True, "text": "Claimed by Anna"}
    urllib.request.urlopen(  # what Bolt's respond() does
        urllib.request.Request(
            payload["response_url"], json.dumps(answer).encode(), {"Content-Type": "application/json"}
        )
    ).close()
    assert sim.message("C1", ts).text == "Claimed by Anna" and sim.message("C1", ts).blocks == []
    assert sim.responses[0].payload == answer

    with pytest.raises(DriverError, match="no element with action_id 'close'"):
        sim.driver(bot.url).click("U1", "C1", ts, "close")


def test_forged_and_stale_requests_can_be_sent(sim: SlackSimulator, bot: FakeBot, clock: ManualClock) -> None:
    driver = sim.driver(bot.url)
    driver.send_raw(b"payload=%7B%7D", "application/x-www-form-urlencoded", signature="v0=forged")
    driver.send_raw(b"payload=%7B%7D", "application/x-www-form-urlencoded", timestamp=int(clock()) - 600)
    verifier = SignatureVerifier(SECRET)
    for headers, body in bot.requests:
        assert not verifier.is_valid(body, headers["x-slack-request-timestamp"], headers["x-slack-signature"])
    driver.event({"type": "app_mention", "user": "U1", "text": "hi"}, event_id="Ev1", retry_num=1)
    headers, body = bot.requests[-1]
    assert headers["x-slack-retry-num"] == "1" and headers["x-slack-retry-reason"] == "http_timeout"
    assert json.loads(body)["event_id"] == "Ev1"


def test_a_slow_bot_misses_the_ack_deadline(sim: SlackSimulator, bot: FakeBot) -> None:
    bot.stall_seconds = 0.3
    result = sim.driver(bot.url, ack_timeout=0.1).slash_command("U1", "C1", "/closeloop", "list")
    assert result.timed_out and result.status == 0 and not result.ok
    assert parse_qs(bot.requests[0][1].decode())["command"] == ["/closeloop"]


def test_submit_view_builds_slack_state_shapes(sim: SlackSimulator, client: WebClient, bot: FakeBot) -> None:
    options = [{"text": plain(label), "value": label.lower()} for label in ("Fixed", "Refunded", "Lost")]
    modal = {
        "type": "modal",
        "callback_id": "close_case",
        "private_metadata": "case-7",
        "title": plain("Close case"),
        "submit": plain("Close"),
        "blocks": [
            input_block("note", {"type": "plain_text_input", "action_id": "text"}),
            input_block("outcome", {"type": "static_select", "action_id": "pick", "options": options}),
            input_block("tags", {"type": "checkboxes", "action_id": "tags", "options": options}),
            input_block("owner", {"type": "users_select", "action_id": "user"}),
            input_block("due", {"type": "datepicker", "action_id": "date"}, optional=True),
        ],
    }
    view_id = client.views_open(trigger_id=sim.issue_trigger("U1"), view=modal)["view"]["id"]
    driver = sim.driver(bot.url)
    values = {"note": "called back", "outcome.pick": "refunded", "tags": ["fixed", "lost"], "owner": "U2"}

    with pytest.raises(DriverError, match="not an option"):
        driver.submit_view("U1", view_id, {**values, "outcome.pick": "teleported"})
    with pytest.raises(DriverError, match="'owner' is required"):
        driver.submit_view(
            "U1", view_id, {"note": "x", "outcome": "lost", "tags": "lost"}, enforce_required=True
        )
    with pytest.raises(DriverError, match="no input blocks for \\['notes'\\]"):
        driver.submit_view("U1", view_id, {**values, "notes": "typo"})
    bot.answers.append(
        (200, json.dumps({"response_action": "errors", "errors": {"note": "Too short"}}).encode())
    )
    rejected = driver.submit_view("U1", view_id, values)
    assert rejected.json["response_action"] == "errors" and sim.open_views("U1")

    driver.submit_view("U1", view_id, values)
    state = bot.payload()["view"]["state"]["values"]
    assert state["note"]["text"] == {"type": "plain_text_input", "value": "called back"}
    assert state["outcome"]["pick"] == {"type": "static_select", "selected_option": options[1]}
    assert state["tags"]["tags"]["selected_options"] == [options[0], options[2]]
    assert state["owner"]["user"] == {"type": "users_select", "selected_user": "U2"}
    assert state["due"]["date"] == {"type": "datepicker", "selected_date": None}
    assert bot.payload()["view"]["private_metadata"] == "case-7"
    assert sim.open_views("U1") == []  # the empty 200 closed it


def test_render_channel_shows_escaped_text_and_threads(sim: SlackSimulator, client: WebClient) -> None:
    comment = "&lt;!channel&gt; refund me &amp; now"
    blocks = [
        {"type": "header", "text": plain("Detractor")},
        section(f"<@U1> please look: {comment}\n>a quote"),
        {"type": "actions", "elements": [button("Claim", "claim", "1")]},
    ]
    ts = client.chat_postMessage(channel="C1", text=comment, blocks=blocks)["ts"]
    client.chat_postMessage(channel="C1", text="<!here> claimed by <@U2>", thread_ts=ts)
    client.chat_postEphemeral(channel="C1", user="U1", text="Only you: <https://x.test|details>")

    screen = render_channel(sim, "C1")
    assert "@Anna Schmidt please look: <!channel> refund me & now\n  │ a quote" in screen
    assert "@channel" not in screen and "DETRACTOR" in screen and "[ Claim ]" in screen
    reply = next(line for line in screen.splitlines() if "↳" in line)
    assert reply.startswith("    ↳ ") and "@here claimed by @Ben Ode" in screen
    assert "details (https://x.test)" in render_ephemerals(sim, "U1")


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ([section("x", fields=[plain("f")] * 11)], "11 items, limit is 10"),
        ([{"type": "actions", "elements": [button("b" * 76, "a", "v")]}], "76 characters, limit is 75"),
        ([{"type": "context", "elements": [plain("c")] * 11}], "11 elements, limit is 10"),
        ([{"type": "divider", "block_id": "d"}, {"type": "divider", "block_id": "d"}], "duplicate block_id"),
        ([input_block("i", {"type": "plain_text_input"})], "not allowed in a message"),
        ([{"type": "section", "text": {"type": "markdown", "text": "x"}}], "text type must be"),
        ([{"type": "carousel"}], "unknown block type"),
    ],
)
def test_block_kit_rules(blocks: list[dict[str, Any]], expected: str) -> None:
    assert any(expected in problem for problem in validate_blocks(blocks))
    assert validate_blocks([section("fine"), {"type": "divider"}]) == []


def test_view_rules() -> None:
    select = {
        "type": "static_select",
        "action_id": "s",
        "options": [{"text": plain("o"), "value": "v"}] * 101,
    }
    view = {"type": "modal", "title": plain("T"), "blocks": [input_block("pick", select)]}
    problems = validate_view(view)
    assert any("101 options, limit is 100" in p for p in problems)
    assert any("needs a `submit`" in p for p in problems)


def test_views_push_update_publish_and_home_clicks(
    sim: SlackSimulator, client: WebClient, bot: FakeBot
) -> None:
    modal = {"type": "modal", "title": plain("Case"), "blocks": [section("one")]}
    first = client.views_open(trigger_id=sim.issue_trigger("U1"), view=modal)["view"]
    with pytest.raises(SlackApiError, match="invalid_trigger_id"):  # a push needs a click inside a modal
        client.views_push(trigger_id=sim.issue_trigger("U1"), view=modal)
    pushed = client.views_push(trigger_id=sim.issue_trigger("U1", view_id=first["id"]), view=modal)["view"]
    assert pushed["previous_view_id"] == first["id"] and len(sim.open_views("U1")) == 2
    second_root = client.views_open(trigger_id=sim.issue_trigger("U1"), view=modal)["view"]  # another device
    assert len(sim.open_views("U1")) == 3 and second_root["root_view_id"] == second_root["id"]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=first["id"], hash="stale", view=modal)
    updated = client.views_update(
        view_id=first["id"], hash=first["hash"], view={**modal, "blocks": [section("1")]}
    )
    assert updated["view"]["blocks"][0]["text"]["text"] == "1"

    home = {
        "type": "home",
        "blocks": [{"type": "actions", "elements": [button("New case", "new_case", "x")]}],
    }
    home_id = client.views_publish(user_id="U2", view=home)["view"]["id"]
    sim.driver(bot.url).click_in_view("U2", home_id, "new_case")
    payload = bot.payload()
    assert payload["container"] == {"type": "view", "view_id": home_id}
    assert payload["view"]["type"] == "home" and payload["actions"][0]["action_id"] == "new_case"
    with pytest.raises(DriverError, match="belongs to U2"):
        sim.driver(bot.url).click_in_view("U1", home_id, "new_case")


def test_a_bolt_app_runs_against_the_simulator(sim: SlackSimulator) -> None:
    app = App(
        client=WebClient(token=TOKEN, base_url=sim.api_url),
        signing_secret=SECRET,
        process_before_response=True,
    )
    note = input_block("note", {"type": "plain_text_input", "action_id": "text"})
    modal = {
        "type": "modal",
        "callback_id": "note",
        "title": plain("Note"),
        "submit": plain("Save"),
        "blocks": [note],
    }

    @app.action("claim")
    def claim(ack: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=modal)
        respond(replace_original=True, text=f"Claimed by <@{body['user']['id']}>")

    @app.view("note")
    def save(ack: Any, view: dict[str, Any]) -> None:
        if len(view["state"]["values"]["note"]["text"]["value"]) < 3:
            ack(response_action="errors", errors={"note": "Say a bit more"})
        else:
            ack()

    @app.command("/closeloop")
    def command(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        ack(f"Plain answer to {command['text']}")
        respond(f"You asked for {command['text']}")

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=Quiet)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        driver = sim.driver(f"http://127.0.0.1:{server.server_port}/slack/events")
        blocks = [{"type": "actions", "elements": [button("Claim", "claim", "7")]}]
        ts = WebClient(token=TOKEN, base_url=sim.api_url).chat_postMessage(
            channel="C1", text="Case 7", blocks=blocks
        )
        assert driver.click("U1", "C1", ts["ts"], "claim").status == 200
        assert sim.message("C1", ts["ts"]).text == "Claimed by <@U1>"
        (view,) = sim.open_views("U1")
        assert driver.submit_view("U1", view["id"], {"note": "ok"}).json["errors"] == {
            "note": "Say a bit more"
        }
        assert driver.submit_view("U1", view["id"], {"note": "called the customer"}).status == 200
        assert sim.open_views("U1") == []
        assert driver.slash_command("U2", "C1", "/closeloop", "help").status == 200
        assert sorted(e.text for e in sim.ephemerals("U2")) == ["Plain answer to help", "You asked for help"]
        assert (
            driver.send_raw(b"payload=%7B%7D", "application/x-www-form-urlencoded", signature="v0=x").status
            == 401
        )
    finally:
        server.shutdown()
        server.server_close()


def test_snapshots_keep_what_a_user_saw(sim: SlackSimulator, client: WebClient, bot: FakeBot) -> None:
    actions = {"type": "actions", "elements": [{"type": "button", "text": plain("Claim"), "value": "7"}]}
    ts = client.chat_postMessage(channel="C1", text="Case 7", blocks=[actions])["ts"]
    stale = sim.message("C1", ts)
    action_id = stale.blocks[0]["elements"][0]["action_id"]  # generated, as Slack does
    client.chat_update(channel="C1", ts=ts, text="Case 7 claimed", blocks=[section("claimed")])
    assert stale.text == "Case 7" and sim.message("C1", ts).text == "Case 7 claimed"
    with pytest.raises(DriverError):
        sim.driver(bot.url).click("U1", "C1", ts, action_id)
    sim.driver(bot.url).click("U1", "C1", ts, action_id, message=stale)
    assert bot.payload()["message"]["text"] == "Case 7" and bot.payload()["actions"][0]["value"] == "7"
