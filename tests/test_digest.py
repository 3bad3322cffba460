"""The weekly digest, end to end: the real bot, a real database and the simulated Slack.

Fixed data in ISO week 2026-W48 (Mon 23 Nov – Sun 29 Nov, Europe/Berlin): figures on the lead
worked out by hand; the thread's lists; the chart uploaded into the thread; sent once per
period however often the scheduler asks, after a restart across the due time, after two weeks
down (no backlog), and after a send that failed half-way (resumed, nothing posted twice)."""

from __future__ import annotations

import struct
import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.app.digest import DigestService
from bot.domain.digest import targets
from bot.domain.digest_policy import latest_due_week, week_label
from bot.policy_file import parse_policy
from bot.slack.digest_post import DigestPoster
from bot.wiring import digest_service
from storage.digests import DigestStore
from tests.factories import CLOSE_FORM, payload
from tests.support.steps import close_case, open_case

WINS = "C0WINS"
SUPPORT = "C0SUPPORT"
DIGEST = {"day": "mon", "time": "09:00", "timezone": "Europe/Berlin", "channel": WINS}
# Mon 30 Nov 2026 09:00 in Berlin (CET, UTC+1) is 08:00 UTC: W48's digest is due then.
W48_DUE = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def policy(raw_policy, request):
    changes = dict(getattr(request, "param", {}))
    raw_policy["root_causes"] += changes.pop("root_causes", [])
    raw_policy["digest"] = {**DIGEST, **changes}
    return parse_policy(raw_policy, "policy.yml")


def digests_of(stack) -> DigestService:
    assert stack.runtime.digests is not None
    return stack.runtime.digests


def leads(stack, channel: str = WINS) -> list:
    return [
        m
        for m in stack.simulator.messages(channel)
        if (m.metadata or {}).get("event_type") == "closeloop_digest"
    ]


def fields(message) -> dict[str, str]:
    (section,) = [b for b in message.blocks if b["type"] == "section" and "fields" in b]
    pairs = (f["text"].split("\n", 1) for f in section["fields"])
    return {name.strip("*"): value for name, value in pairs}


def week48(stack, clock) -> None:
    """W48: 4 NPS responses (2 promoters, 1 passive, 1 detractor): NPS +25 with a margin of
    1.96·√((0.5 + 0.25 − 0.25²)/4)·100 = 81.3; cases: the detractor's and the passive's, one
    closed in the week (closure rate 50 %). W47: one detractor, its case left open (NPS −100)."""
    clock.advance(days=-6)  # Tue 17 Nov (W47)
    open_case(stack, id="w47-det", score=2, customer={"id": "c-old", "name": "Old"})
    clock.advance(days=6, hours=1)  # Mon 23 Nov 10:00 UTC (W48)
    detractor = open_case(
        stack, id="w48-det", score=1, customer={"id": "c1", "name": "Dana"}, tags=["export"]
    )
    clock.advance(minutes=2)
    open_case(stack, id="w48-pas", score=7, customer={"id": "c2", "name": "Pat"})
    for n in range(2):
        clock.advance(minutes=2)
        assert (
            stack.post_feedback(payload(id=f"w48-pro-{n}", score=10, customer={"id": f"p{n}"})).status == 202
        )
    stack.settle()
    clock.advance(hours=2)
    close_case(stack, detractor, "U0ALICE", form={**CLOSE_FORM, "root_cause": "Product bug"})


def test_the_digest_shows_the_weeks_figures_against_last_week_its_thread_and_chart(stack, clock):
    week48(stack, clock)
    clock.advance(days=10)  # well after W48's due time, before W49's
    (outcome,) = digests_of(stack).run_due()
    assert (outcome.status, outcome.period) == ("sent", "2026-W48")
    (lead,) = leads(stack)
    assert "Mon 23 Nov – Sun 29 Nov 2026 (Europe/Berlin)" in lead.blocks[2]["elements"][0]["text"]
    figures = fields(lead)
    assert figures["Responses"].startswith("4 ▲ +3 (last week 1)")
    assert figures["NPS"].startswith("+25 ± 81 ▲ +125 (last week -100 ± 0")
    assert figures["Closure rate"].startswith("50% ▲ +50 pts (last week 0%, 1 of 2 cases)")
    replies = stack.simulator.thread(WINS, lead.ts)[1:]
    assert len(replies) == 3
    learn, follow_up, chart = replies
    learned = " ".join(b["text"]["text"] for b in learn.blocks if b["type"] == "section")
    assert "• export — *1* ＝ (week before 1)" in learned
    assert "• Product bug — *1*" in learned
    assert "<@U0ALICE> — *1* closed" in learned
    followed = " ".join(b["text"]["text"] for b in follow_up.blocks if b["type"] == "section")
    assert "Overdue cases now" in followed and "Promoters nobody thanked" in followed
    (upload,) = stack.simulator.files(WINS)
    assert chart.files[0]["id"] == upload.id and upload.thread_ts == lead.ts
    assert upload.filename == "closeloop-digest-2026-W48-all.png" and upload.completed
    assert upload.data[:8] == PNG_SIGNATURE
    assert struct.unpack(">II", upload.data[16:24]) == (1200, 600)  # IHDR: width, height


@pytest.mark.backends("sqlite", "postgresql")  # the claim is an ON CONFLICT insert per dialect
def test_the_charts_weeks_are_the_weekly_figures_and_the_missed_thank_yous_come_a_week_later(stack, clock):
    week48(stack, clock)
    clock.advance(days=10)
    service = digests_of(stack)
    (target,) = targets(service.policy)
    digest = service.compose(target, latest_due_week(service.policy.digest, clock()))
    assert [p.label for p in digest.history] == [f"2026-W{n}" for n in range(37, 49)]
    w47, w48 = digest.history[-2:]
    assert (w47.responses, w47.nps, w47.margin, w47.closure_rate) == (1, -100.0, 0.0, 0.0)
    assert (w48.responses, w48.nps, w48.closure_rate) == (4, 25.0, 0.5)
    assert w48.margin == pytest.approx(1.96 * ((0.5 + 0.25 - 0.25**2) / 4) ** 0.5 * 100)  # 81.26
    assert all(p.responses == 0 and p.nps is None for p in digest.history[:-2])
    assert digest.missed_total == 0  # W48's promoters still have until W49 to be thanked
    clock.advance(days=7)  # W49's digest: the week to thank W48's two promoters ran out in it
    digest = service.compose(target, latest_due_week(service.policy.digest, clock()))
    assert digest.week.label == "2026-W49"
    assert (digest.missed_total, [m.channel for m in digest.missed]) == (2, [SUPPORT, SUPPORT])


def test_the_scheduler_sends_each_week_once_however_often_it_asks(stack, clock):
    clock.advance(days=7)  # Mon 30 Nov 09:00 UTC: W48 is due (and W47 no longer is)
    service = digests_of(stack)
    assert [o.status for o in service.run_due()] == ["sent"]
    assert [o.status for o in service.run_due()] == ["already_sent"]
    clock.advance(days=3)
    assert [o.status for o in service.run_due()] == ["already_sent"]
    assert len(leads(stack)) == 1
    clock.advance(days=4)  # Mon 7 Dec 09:00 UTC: W49 is due
    assert [(o.status, o.period) for o in service.run_due()] == [("sent", "2026-W49")]
    assert len(leads(stack)) == 2


@pytest.mark.backends("sqlite", "postgresql")  # the claim is an ON CONFLICT insert per dialect
def test_a_restart_across_the_due_time_sends_the_missed_week_once(stack, clock, database_url, policy):
    """The bot stops before W48's due time and comes back after it: a new process (a new service
    on the same database) sends W48 once, and a second new process does not send it again."""
    clock.advance(days=6, hours=22)  # Mon 30 Nov 07:00 UTC, an hour before the due time
    before = digests_of(stack)
    assert [o.period for o in before.run_due()] == ["2026-W47"]  # the week before, still due
    assert len(leads(stack)) == 1
    clock.advance(hours=3)  # down across 08:00 UTC; back at 10:00 UTC
    for attempt in range(2):
        database = stack.runtime.database
        restarted = digest_service(stack.settings, policy, database, clock, slack=True)
        outcomes = restarted.run_due()
        assert [(o.status, o.period) for o in outcomes] == [
            ("sent" if attempt == 0 else "already_sent", "2026-W48")
        ]
    assert len(leads(stack)) == 2


@pytest.mark.backends("sqlite", "postgresql")  # the claim is an ON CONFLICT insert per dialect
def test_after_two_weeks_down_only_the_newest_week_is_sent(stack, clock):
    """Down from before W48's due time until after W49's: W49 goes out, W48 never does."""
    clock.advance(days=6, hours=22)
    digests_of(stack).run_due()  # W47, before going down
    clock.advance(days=8)  # Tue 8 Dec: W48 and W49 have both become due
    assert [(o.status, o.period) for o in digests_of(stack).run_due()] == [("sent", "2026-W49")]
    store = DigestStore(stack.runtime.database)
    assert store.find("all", "2026-W48") is None
    assert [lead.blocks[0]["text"]["text"].split(" · ")[1] for lead in leads(stack)] == [
        "2026-W47",
        "2026-W49",
    ]


def test_a_send_that_failed_half_way_is_resumed_and_nothing_is_posted_twice(stack, clock):
    clock.advance(days=7)
    service = digests_of(stack)
    # The chart's upload is lost after Slack shared it (its answer never arrived): uncertain.
    stack.simulator.inject_fault("files.completeUploadExternal", status=500, applied=True)
    (failed,) = service.run_due()
    assert failed.status == "failed" and failed.send.parts_done == 2 and failed.send.lead_ts
    assert "internal_error" in failed.error
    assert [o.status for o in service.run_due()] == ["sending"]  # its lease still holds
    clock.advance(minutes=1)  # the first retry is a minute later
    (resumed,) = service.run_due()
    assert resumed.status == "sent" and resumed.send.attempts == 2
    (lead,) = leads(stack)
    assert len(stack.simulator.thread(WINS, lead.ts)) == 4  # lead, two replies, one chart
    assert len(stack.simulator.files(WINS)) == 1


@pytest.mark.backends("sqlite", "postgresql")  # the claim is an ON CONFLICT insert per dialect
def test_a_send_that_crashed_after_posting_the_lead_is_taken_over_without_a_second_lead(stack, clock):
    """A process posted the lead, then died before recording it: once its lease runs out another
    process takes the row over, finds the lead by its metadata and posts only the rest."""
    clock.advance(days=7)
    service = digests_of(stack)
    (target,) = targets(service.policy)
    monday = latest_due_week(service.policy.digest, clock())
    store = DigestStore(stack.runtime.database)
    claim = store.claim(
        target.key, week_label(monday), WINS, now=clock(), lease=timedelta(minutes=10), by="dead"
    )
    digest = service.compose(target, monday)
    from bot.slack.digest_message import lead_message

    DigestPoster(stack.runtime.bolt_app.client).post(
        WINS, lead_message(digest), send_id=claim.send.id, part="lead"
    )
    assert [o.status for o in service.run_due()] == ["sending"]
    clock.advance(minutes=11)
    (outcome,) = service.run_due()
    assert outcome.status == "sent" and outcome.send.sent_by == "scheduler"
    (lead,) = leads(stack)
    assert outcome.send.lead_ts == lead.ts
    assert len(stack.simulator.thread(WINS, lead.ts)) == 4


def test_the_bot_not_in_the_channel_is_retried_until_invited(stack, clock, caplog):
    clock.advance(days=7)
    channel = stack.simulator.workspace.channels[WINS]
    channel.members.discard(stack.simulator.bot_user_id)
    (outcome,) = digests_of(stack).run_due()
    assert outcome.status == "failed" and "not_in_channel: invite the bot to channel C0WINS" in outcome.error
    assert "not_in_channel" in caplog.text
    channel.members.add(stack.simulator.bot_user_id)
    clock.advance(minutes=1)
    assert [o.status for o in digests_of(stack).run_due()] == ["sent"]
    assert len(leads(stack)) == 1


@pytest.mark.parametrize("policy", [{"channel": None, "per_department": True}], indirect=True)
def test_per_department_digests_go_to_each_departments_channel(stack, clock):
    week48(stack, clock)
    clock.advance(days=10)
    outcomes = digests_of(stack).run_due()
    assert sorted(o.target.key for o in outcomes if o.status == "sent") == [
        "department:billing",
        "department:product",
        "department:support",
    ]
    assert leads(stack, WINS) == []
    (support,) = leads(stack, SUPPORT)
    assert fields(support)["Responses"].startswith("4 ")
    (billing,) = leads(stack, "C0BILLING")
    assert fields(billing)["Responses"].startswith("0 ")


HOSTILE = "<!channel> <@U0ALICE> & <https://evil.example|Invoice> "
HOSTILE_CAUSE = "<!channel> & <@U0BOB> " + "y" * 50  # 72 characters: a valid menu option


@pytest.mark.parametrize("policy", [{"root_causes": [HOSTILE_CAUSE]}], indirect=True)
def test_hostile_theme_cause_and_customer_names_are_escaped_and_inside_slacks_limits(stack, clock):
    """Themes from survey tags, customers' names and a root cause are all outside text; 30
    detractors with 60 themes and 30 overdue cases stay inside 50 blocks a message."""
    for n in range(30):
        clock.advance(minutes=2)
        case = open_case(
            stack,
            id=f"hostile-{n}",
            score=1,
            customer={"id": f"h{n}", "name": (HOSTILE + "z" * 200)[:200]},
            tags=[f"<!here> & <@U0ALICE> {n}"[:50], f"{'<!channel>' * 4} {n}"[:50]],
        )
        if n < 3:
            close_case(stack, case, "U0ALICE", form={**CLOSE_FORM, "root_cause": HOSTILE_CAUSE})
    clock.advance(days=8)  # the open cases are overdue now (their deadlines passed)
    (outcome,) = digests_of(stack).run_due()
    assert outcome.status == "sent"
    (lead,) = leads(stack)
    everything = [m for m in stack.simulator.thread(WINS, lead.ts)]
    texts = " ".join(str(m.blocks) + m.text for m in everything)
    assert "<!channel>" not in texts and "<!here>" not in texts and "<https://evil" not in texts
    assert "&lt;!channel&gt; &amp; &lt;@U0BOB&gt; yyy" in texts  # the root cause
    assert "• &lt;!channel&gt;&lt;!channel&gt;&lt;!channel&gt;&lt;!channel&gt; 1 — *1*" in texts  # a theme
    assert "…and 50 more themes" in texts  # 60 themes, 10 listed
    assert "&lt;!channel&gt; &lt;@U0ALICE&gt; &amp; &lt;https://evil.example|Invoice&gt;" in texts  # a name
    assert "…and 17 more" in texts  # 27 overdue cases, 10 listed
    assert all(len(m.blocks) <= 50 for m in everything)
    # the strict simulator (the stack fixture) fails the test on any Block Kit violation


def test_the_scheduler_asks_at_start_so_a_week_missed_while_down_goes_out_then(stack, clock):
    """`closeloop run`'s scheduler: the digest job runs at once when the bot starts (then every
    minute), so the week that fell due while it was down is sent without waiting."""
    clock.advance(days=7)  # W48 became due while no bot ran
    stack.runtime.start_background()
    job = stack.runtime.scheduler.get_job("weekly-digest")
    assert job is not None and job.trigger.interval.total_seconds() == 60
    found = threading.Event()
    for _ in range(400):  # wait for the job's work (not for a deadline): at most 20 s
        if leads(stack):
            found.set()
            break
        found.wait(0.05)
    assert found.is_set()
    (lead,) = leads(stack)
    assert "2026-W48" in lead.text
