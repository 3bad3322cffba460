"""The core loop end to end: intake over HTTP, the case message in the simulated channel, and
signed clicks and modal submissions to the bot's real /slack/events endpoint."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.devkit.simulator.render import render_channel
from tests.factories import CLOSE_FORM, payload
from tests.support.steps import close_case, open_case


def post_case(stack, **overrides):
    case = open_case(stack, **overrides)
    assert case.slack_channel and case.slack_ts
    return case


def top_level(stack, channel):
    return [m for m in stack.simulator.messages(channel) if not m.thread_ts or m.thread_ts == m.ts]


def thread_texts(stack, case):
    return [m.text for m in stack.simulator.thread(case.slack_channel, case.slack_ts)[1:]]


def button_ids(message) -> list[str]:
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def test_a_detractor_is_posted_once_to_its_departments_channel(stack):
    case = post_case(stack)
    assert case.slack_channel == "C0SUPPORT"
    (message,) = top_level(stack, "C0SUPPORT")
    assert message.blocks[0]["text"]["text"] == f"🔴 Detractor · NPS 3/10 · Case #{case.id}"
    assert button_ids(message) == ["case_claim", "case_close", "case_hand_over"]  # Assign…: managers
    assert message.metadata["event_payload"] == {"case_id": case.id}
    shown = render_channel(stack.simulator, "C0SUPPORT")
    for expected in (
        "Dana Scully",
        "Acme Corp",
        "enterprise",
        "48,000",
        "export",
        "nobody answers my tickets",
    ):
        assert expected in shown


def test_routing_sends_billing_words_to_billing(stack):
    case = post_case(stack, id="r-bill", comment="I was charged twice, please refund")
    assert case.department == "billing" and case.slack_channel == "C0BILLING"


def test_a_resent_response_edits_the_message_instead_of_posting_again(stack, clock):
    first = post_case(stack, comment=None)
    clock.advance(minutes=4)
    second = post_case(stack, comment="Export still broken")
    assert second.id == first.id
    assert len(top_level(stack, "C0SUPPORT")) == 1
    assert len(stack.simulator.calls_to("chat.postMessage")) == 2  # the case, and one thread note
    (message,) = top_level(stack, "C0SUPPORT")
    assert "Export still broken" in message.blocks[1]["text"]["text"]
    assert "sent an update (comment)" in thread_texts(stack, second)[0]


HOSTILE = "<!channel> <!here> <!everyone> <@U0EVIL> <!subteam^S1> <https://evil.example|Invoice> <#C0WINS> &"
LIVE = ("<!channel>", "<!here>", "<!everyone>", "<@U0EVIL>", "<!subteam", "<https://", "<#C0WINS>")


def test_customer_and_staff_text_cannot_ping_anyone_anywhere(stack):
    """Every call the bot makes in a whole loop (posts, edits, replies, modals, ephemerals, Home,
    the shout-out) is scanned for live mentions and links that came from outside text."""
    case = post_case(
        stack,
        comment=HOSTILE,
        customer={"name": HOSTILE[:200], "account": "<@U0EVIL>"},
        tags=["<!here>", "&"],
        touchpoint="<#C0WINS>",
        id="<!channel>",
    )
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
    stack.settle()
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_log_contact")
    stack.settle()
    (view,) = stack.simulator.open_views("U0ALICE")
    stack.slack.submit_view("U0ALICE", view["id"], {"channel": "email", "note": HOSTILE})
    stack.settle()
    close_case(stack, case, form={**CLOSE_FORM, "note": HOSTILE})
    stack.slack.event({"type": "app_home_opened", "user": "U0ALICE", "tab": "home", "channel": "D0ALICE"})
    stack.slack.slash_command("U0ALICE", "C0SUPPORT", "/loop", HOSTILE)
    stack.settle()
    methods = {call.method for call in stack.simulator.calls}
    assert {"chat.postMessage", "chat.update", "views.open", "views.publish"} <= methods
    for call in stack.simulator.calls:
        sent = json.dumps(call.params, ensure_ascii=False)
        for live in LIVE:
            assert live not in sent, f"{live} reached Slack unescaped in {call.method}"
    assert len(stack.simulator.messages("C0WINS")) == 1  # the shout-out was among the scanned calls
    assert "&lt;!channel&gt;" in top_level(stack, case.slack_channel)[0].blocks[1]["text"]["text"]
    for ephemeral in stack.simulator.ephemerals("U0ALICE"):
        assert all(live not in ephemeral.text for live in LIVE)


def test_a_comment_of_many_short_lines_still_fits(stack):
    case = post_case(stack, comment="ok\n" * 3000)
    text = top_level(stack, case.slack_channel)[0].blocks[1]["text"]["text"]
    assert len(text) <= 3000 and "characters shown]" in text


def test_a_huge_comment_is_cut_with_a_visible_marker(stack):
    comment = ("word " * 2000).strip()  # 9,999 characters: accepted, stored whole, cut in Slack
    case = post_case(stack, comment=comment)
    assert stack.runtime.repository.get_case(case.id).comment == comment
    text = top_level(stack, case.slack_channel)[0].blocks[1]["text"]["text"]
    assert len(text) <= 3000 and "of 9,999 characters shown]" in text


def test_claim_edits_the_message_and_writes_the_thread(stack):
    case = post_case(stack)
    result = stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
    assert result.status == 200
    stack.settle()
    (message,) = top_level(stack, case.slack_channel)
    assert "*Status:* 👤 Claimed by <@U0ALICE>" in str(message.blocks)
    assert button_ids(message) == ["case_log_contact", "case_close", "case_release", "case_hand_over"]
    assert thread_texts(stack, case) == ["👤 <@U0ALICE> claimed this case."]


@pytest.mark.backends("sqlite", "postgresql")  # real threads race for the case row
def test_simultaneous_claims_make_one_owner_and_tell_the_others_privately(stack):
    case = post_case(stack)
    seen = top_level(stack, case.slack_channel)[0]  # what all three saw when they clicked
    clickers = ["U0ALICE", "U0BOB", "U0CAROL"]
    barrier = threading.Barrier(len(clickers))

    def click(user):
        barrier.wait()
        return stack.slack.click(user, case.slack_channel, case.slack_ts, "case_claim", message=seen)

    with ThreadPoolExecutor(len(clickers)) as pool:
        assert [r.status for r in pool.map(click, clickers)] == [200, 200, 200]
    stack.settle()
    owner = stack.runtime.repository.get_case(case.id).owner_id
    assert owner in clickers
    losers = [u for u in clickers if u != owner]
    notes = [(e.user, e.text) for e in stack.simulator.ephemerals()]
    assert sorted(notes) == sorted((u, f"<@{owner}> already owns this case.") for u in losers)
    assert thread_texts(stack, case) == [f"👤 <@{owner}> claimed this case."]


def test_a_second_click_by_the_owner_changes_nothing(stack):
    case = post_case(stack)
    stale = top_level(stack, case.slack_channel)[0]  # the message as it was before anyone claimed
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
    stack.settle()
    version = stack.runtime.repository.get_case(case.id).version
    updates = len(stack.simulator.calls_to("chat.update"))
    result = stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim", message=stale)
    assert result.status == 200
    stack.settle()
    assert stack.runtime.repository.get_case(case.id).version == version
    assert len(stack.simulator.calls_to("chat.update")) == updates
    assert thread_texts(stack, case) == ["👤 <@U0ALICE> claimed this case."]
    assert [e.text for e in stack.simulator.ephemerals("U0ALICE")] == ["You already own this case."]


def test_only_the_owner_can_release(stack):
    case = post_case(stack)
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
    stack.settle()
    stack.slack.click("U0BOB", case.slack_channel, case.slack_ts, "case_release")
    stack.settle()
    assert stack.runtime.repository.get_case(case.id).owner_id == "U0ALICE"
    assert [e.text for e in stack.simulator.ephemerals("U0BOB")] == [
        "Only the owner, <@U0ALICE>, can release it."
    ]
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_release")
    stack.settle()
    assert stack.runtime.repository.get_case(case.id).owner_id is None
    assert thread_texts(stack, case)[-1] == "↩️ <@U0ALICE> released this case — it is unclaimed again."


def test_log_contact_moves_the_case_to_contacted(stack):
    case = post_case(stack)
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
    stack.settle()
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_log_contact")
    stack.settle()
    (view,) = stack.simulator.open_views("U0ALICE")
    result = stack.slack.submit_view(
        "U0ALICE", view["id"], {"channel": "email", "note": "Sent <!here> a mail"}
    )
    assert result.status == 200 and not result.body
    stack.settle()
    refreshed = stack.runtime.repository.get_case(case.id)
    assert refreshed.status == "contacted" and refreshed.contact_channel == "email"
    assert thread_texts(stack, case)[-1] == (
        "📞 <@U0ALICE> contacted the customer by email.\n>Sent &lt;!here&gt; a mail"
    )
    assert "*Status:* 📞 Customer contacted by <@U0ALICE> (email)" in str(
        top_level(stack, case.slack_channel)[0].blocks
    )


def test_someone_else_cannot_open_log_contact(stack):
    case = post_case(stack)
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
    stack.settle()
    stack.slack.click("U0BOB", case.slack_channel, case.slack_ts, "case_log_contact")
    stack.settle()
    assert stack.simulator.open_views("U0BOB") == []
    assert [e.text for e in stack.simulator.ephemerals("U0BOB")] == [
        "Only the owner, <@U0ALICE>, can log a contact."
    ]


def test_closing_updates_the_message_history_and_announces_the_closer(stack, clock):
    case = post_case(stack)
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
    stack.settle()
    clock.advance(hours=2, minutes=14)
    _, result = close_case(stack, case)
    assert result.status == 200 and not result.body
    closed = stack.runtime.repository.get_case(case.id)
    assert (closed.status, closed.outcome, closed.root_cause, closed.remedy) == (
        "closed",
        "resolved",
        "Product bug",
        "Workaround given",
    )
    (message,) = top_level(stack, case.slack_channel)
    assert button_ids(message) == ["case_reopen"]  # the only thing left to do with a closed loop
    assert "Outcome:* Resolved" in str(message.blocks)
    assert thread_texts(stack, case)[-1].startswith("✅ <@U0ALICE> closed the loop — *Resolved*.")
    (shout,) = stack.simulator.messages("C0WINS")
    text = shout.blocks[0]["text"]["text"]
    assert "<@U0ALICE>" in text and "in *2 h 14 min*" in text and "Resolved" in text
    assert "nobody answers my tickets" in str(shout.blocks[1])  # the example policy allows a quote


def test_missing_close_fields_are_shown_in_the_modal(stack):
    case = post_case(stack)
    _, result = close_case(stack, case, form={"outcome": "resolved"})
    assert result.json["response_action"] == "errors"
    assert set(result.json["errors"]) == {
        "contact_channel",
        "root_cause",
        "remedy",
        "note",
        "customer_informed",
    }
    assert stack.runtime.repository.get_case(case.id).status == "new"
    assert stack.simulator.messages("C0WINS") == []


def test_a_second_close_is_refused_inside_the_modal(stack):
    case = post_case(stack)
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
    stack.settle()
    for _ in range(2):  # two Close modals open at once (two tabs, or a double click)
        stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_close")
        stack.settle()
    first, second = stack.simulator.open_views("U0ALICE")
    assert stack.slack.submit_view("U0ALICE", first["id"], CLOSE_FORM).status == 200
    stack.settle()
    refused = stack.slack.submit_view("U0ALICE", second["id"], CLOSE_FORM)
    stack.settle()
    assert refused.json["response_action"] == "update"
    assert "This loop is already closed." in str(refused.json["view"])
    assert len(stack.simulator.messages("C0WINS")) == 1


def test_someone_else_cannot_close_a_claimed_case_but_a_manager_can(stack):
    case = post_case(stack)
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
    stack.settle()
    stack.slack.click("U0BOB", case.slack_channel, case.slack_ts, "case_close")
    stack.settle()
    assert stack.simulator.open_views("U0BOB") == []
    assert "Only the owner, <@U0ALICE>, or a manager" in stack.simulator.ephemerals("U0BOB")[0].text
    close_case(stack, case, user="U0MAYA")  # support's manager in the example policy
    closed = stack.runtime.repository.get_case(case.id)
    assert closed.status == "closed" and closed.closed_by == "U0MAYA" and closed.owner_id == "U0ALICE"


def test_loop_help_answers_privately(stack):
    result = stack.slack.slash_command("U0ALICE", "C0SUPPORT", "/loop", "help")
    assert result.status == 200
    (answer,) = stack.simulator.ephemerals("U0ALICE")
    assert "*Claim* a case" in answer.text and "/loop help" in answer.text
    stack.slack.slash_command("U0ALICE", "C0SUPPORT", "/loop", "<!channel>")
    assert "I don't know `/loop &lt;!channel&gt;`" in stack.simulator.ephemerals("U0ALICE")[-1].text
    assert stack.simulator.messages("C0SUPPORT") == []  # nothing public


def test_a_promoter_gets_a_notice_with_follow_up_buttons_and_no_case(stack):
    answer = stack.post_feedback(payload(id="p1", score=10, comment="Great team!"))
    assert answer.status == 202 and answer.body["case_id"] is None
    stack.settle()
    (notice,) = top_level(stack, "C0SUPPORT")
    assert button_ids(notice) == ["promoter_thanked", "promoter_review", "promoter_reference"]
    assert "Promoter · NPS 10/10" in notice.text


def test_healthz(stack):
    import json
    import urllib.request

    with urllib.request.urlopen(f"{stack.server.url}/healthz") as response:
        assert response.status == 200 and json.loads(response.read()) == {"ok": True, "database": "ok"}


def test_the_home_tab_lists_the_viewers_open_cases(stack):
    case = post_case(stack)
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
    stack.settle()
    result = stack.slack.event(
        {"type": "app_home_opened", "user": "U0ALICE", "tab": "home", "channel": "D0ALICE"}
    )
    assert result.status == 200
    stack.settle()
    home = str(stack.simulator.home_view("U0ALICE"))
    assert "Your open cases (1)" in home and f"Case #{case.id}" in home and "Dana Scully" in home
    stack.slack.event({"type": "app_home_opened", "user": "U0BOB", "tab": "home", "channel": "D0BOB"})
    stack.settle()
    assert "Your open cases (0)" in str(stack.simulator.home_view("U0BOB"))


def test_the_home_tab_counts_every_open_case_but_lists_the_oldest(stack):
    cases = stack.runtime.services.cases
    for number in range(30):
        answer = stack.post_feedback(payload(id=f"home-{number}"))
        assert cases.claim(answer.body["case_id"], "U0ALICE").done
    stack.settle()
    stack.slack.event({"type": "app_home_opened", "user": "U0ALICE", "tab": "home", "channel": "D0ALICE"})
    stack.settle()
    home = stack.simulator.home_view("U0ALICE")
    text = str(home)
    assert "Your open cases (30)" in text and "…and 5 more" in text  # 25 listed (tests/test_home.py)
    listed = {int(n) for n in re.findall(r"Case #(\d+)[>*]", text)}
    assert listed == set(range(1, 26))
