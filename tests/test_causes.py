"""`/loop causes`, end to end: per department, each root cause's count and share, its outcomes and
its top remedies over a rolling period, checked against counts worked out by hand on fixed data;
bad periods, permissions, hostile names and Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.devkit.bench import inprocess
from bot.devkit.bench.prefill import prefill
from bot.devkit.bench.report import Report
from bot.domain.causes import CauseTally, grouped
from bot.policy_file import parse_policy
from bot.slack.causes_report import causes_answer
from storage.models import Case
from tests.factories import CLOSE_FORM, payload
from tests.support.steps import close_case, open_case

SUPPORT = "C0SUPPORT"


@pytest.fixture
def policy(raw_policy, request):
    changes = dict(getattr(request, "param", {}))
    if "support_title" in changes:
        raw_policy["departments"][0]["title"] = changes.pop("support_title")
    raw_policy.update(changes)
    return parse_policy(raw_policy, "policy.yml")


def closed(stack, clock, n: int, cause: str, outcome: str, remedy: str, *, billing: bool = False) -> None:
    """A detractor's case (billing's when its comment names an invoice) closed with these choices,
    a minute after the last one (the simulated Slack paces posts per channel as Slack does)."""
    clock.advance(minutes=1)
    comment = "My invoice is wrong." if billing else "The export keeps failing."
    case = open_case(stack, id=f"case-{n}", comment=comment, customer={"id": f"cus-{n}", "name": f"C {n}"})
    assert case.department == ("billing" if billing else "support")
    form = {**CLOSE_FORM, "root_cause": cause, "outcome": outcome, "remedy": remedy}
    close_case(stack, case, "U0OMAR" if billing else "U0ALICE", form=form)


def answer(stack, user: str, text: str):
    stack.slack.slash_command(user, SUPPORT, "/loop", text)
    stack.settle()
    return stack.simulator.ephemerals(user)[-1]


def sections(reply) -> list[str]:
    return [b["text"]["text"] for b in reply.blocks if b["type"] == "section"]


def department(reply, title: str) -> str:
    (text,) = [s for s in sections(reply) if s.startswith(f"*{title}*")]
    return text


@pytest.mark.backends("sqlite", "postgresql")
def test_causes_count_each_departments_root_causes_outcomes_and_remedies(stack, clock):
    closed(stack, clock, 0, "Pricing", "resolved", "Refund", billing=True)  # 40 days before: outside month
    clock.advance(days=40)
    for n, (cause, outcome, remedy) in enumerate(
        [
            ("Product bug", "resolved", "Workaround given"),
            ("Product bug", "resolved", "Workaround given"),  # one grouped row counting 2
            ("Product bug", "resolved", "Fix scheduled"),
            ("Product bug", "not_resolved", "Workaround given"),
            ("Missing feature", "partly_resolved", "Apology and explanation"),
        ],
        start=1,
    ):
        closed(stack, clock, n, cause, outcome, remedy)
    selfclosed = {"id": "self", "customer": {"id": "cus-self", "name": "S"}}
    quiet = open_case(stack, **selfclosed)  # its customer's new score closes it: no closer, no cause
    assert stack.post_feedback(payload(**selfclosed, score=10)).status == 202
    stack.settle()
    assert stack.runtime.repository.get_case(quiet.id).status == "closed"
    closed(stack, clock, 6, "Billing error", "resolved", "Refund", billing=True)
    closed(stack, clock, 7, "Billing error", "unreachable", "None needed", billing=True)
    closed(stack, clock, 8, "Pricing", "partly_resolved", "Credit up to $50", billing=True)

    month = answer(stack, "U0MAYA", "causes")  # a month by default
    assert "Root causes — the last 30 days" in sections(month)[0]
    assert month.text == "Root causes for the last 30 days: 8 loops closed in 2 departments"
    titles = [s.split("*")[1] for s in sections(month)[1:]]
    assert titles == ["Customer Support", "Billing"]  # 5 loops before 3
    assert department(month, "Customer Support") == (
        "*Customer Support* — 5 loops closed\n"
        "• *Product bug* — 4 (80%)\n"
        "    ✅ 3 resolved · ◐ 0 partly · ✖️ 1 not resolved · 📵 0 unreachable\n"
        "    Remedies: Workaround given (3), Fix scheduled (1)\n"
        "• *Missing feature* — 1 (20%)\n"
        "    ✅ 0 resolved · ◐ 1 partly · ✖️ 0 not resolved · 📵 0 unreachable\n"
        "    Remedies: Apology and explanation (1)"
    )
    assert department(month, "Billing") == (
        "*Billing* — 3 loops closed\n"
        "• *Billing error* — 2 (67%)\n"
        "    ✅ 1 resolved · ◐ 0 partly · ✖️ 0 not resolved · 📵 1 unreachable\n"
        "    Remedies: None needed (1), Refund (1)\n"
        "• *Pricing* — 1 (33%)\n"
        "    ✅ 0 resolved · ◐ 1 partly · ✖️ 0 not resolved · 📵 0 unreachable\n"
        "    Remedies: Credit up to $50 (1)"
    )

    quarter = answer(stack, "U0MAYA", "causes 45d")  # the close 40 days ago counts now
    assert "the last 45 days" in sections(quarter)[0]
    assert department(quarter, "Billing").startswith(
        "*Billing* — 4 loops closed\n• *Billing error* — 2 (50%)\n"
        "    ✅ 1 resolved · ◐ 0 partly · ✖️ 0 not resolved · 📵 1 unreachable\n"
        "    Remedies: None needed (1), Refund (1)\n• *Pricing* — 2 (50%)\n"
        "    ✅ 1 resolved · ◐ 1 partly"
    )


def test_a_week_leaves_out_an_older_close_and_an_empty_period_says_so(stack, clock):
    closed(stack, clock, 1, "Misunderstanding", "resolved", "Apology and explanation")
    clock.advance(days=8)
    assert answer(stack, "U0MAYA", "causes week").text == "No loops closed in the last 7 days."
    assert answer(stack, "U0MAYA", "causes 9d").text.endswith(": 1 loop closed in 1 department")
    closed(stack, clock, 2, "Other", "resolved", "None needed")
    week = answer(stack, "U0MAYA", "causes WEEK")
    assert department(week, "Customer Support").startswith(
        "*Customer Support* — 1 loop closed\n• *Other* — 1 (100%)"
    )
    assert "Misunderstanding" not in str(week.blocks)
    assert answer(stack, "U0MAYA", "causes 1d").text.startswith("Root causes for the last day: 1 loop closed")


@pytest.mark.parametrize("said", ["<!channel>fortnight", "0d", "3661d", "-5d", "d", "12"])
def test_a_bad_period_is_answered_calmly_and_escaped(stack, said):
    shown = said.replace("<", "&lt;").replace(">", "&gt;")
    assert answer(stack, "U0BOB", f"causes {said}").text == (
        "I show `week`, `month`, `quarter`, `year` or a number of days from `1d` to `3660d`, "
        f"not `{shown}`: try `/loop causes month`."
    )


def test_the_longest_period_is_accepted(stack):
    assert answer(stack, "U0BOB", "causes 3660d").text == "No loops closed in the last 3660 days."
    assert answer(stack, "U0BOB", "causes year").text == "No loops closed in the last 365 days."


@pytest.mark.parametrize("policy", [{"permissions": {"reports": "managers"}}], indirect=True)
def test_causes_follow_the_reports_permission_as_overdue_does(stack, clock):
    closed(stack, clock, 1, "Other", "resolved", "None needed")
    reply = answer(stack, "U0BOB", "causes")
    assert reply.text == "Reports are for managers here (permissions.reports in the policy)."
    assert not reply.blocks
    assert "Root causes" in answer(stack, "U0MAYA", "causes").text


HOSTILE_CAUSE = "<!channel> <@U0MAYA> & co"
HOSTILE_REMEDY = "<!here> refund"


@pytest.mark.parametrize(
    "policy",
    [{"root_causes": [HOSTILE_CAUSE], "remedies": [HOSTILE_REMEDY], "support_title": "<!everyone> Support"}],
    indirect=True,
)
def test_hostile_root_cause_remedy_and_department_names_stay_inert(stack, clock):
    closed(stack, clock, 1, HOSTILE_CAUSE, "resolved", HOSTILE_REMEDY)
    reply = answer(stack, "U0MAYA", "causes")
    text = department(reply, "&lt;!everyone&gt; Support")
    assert "*&lt;!channel&gt; &lt;@U0MAYA&gt; &amp; co* — 1 (100%)" in text
    assert "Remedies: &lt;!here&gt; refund (1)" in text
    everything = str(reply.blocks) + reply.text
    assert "<!" not in everything and "<@" not in everything


LONG = [f"Cause {n:02d} " + "&" * 64 for n in range(12)]


@pytest.mark.parametrize("policy", [{"root_causes": LONG}], indirect=True)
def test_many_long_causes_are_capped_inside_slacks_limits_and_say_how_many_more(stack, clock):
    for n, cause in enumerate(LONG):
        closed(stack, clock, n, cause, "resolved", "Refund")
    reply = answer(stack, "U0MAYA", "causes")  # the simulated Slack would refuse an oversized one
    text = department(reply, "Customer Support")
    assert len(text) <= 3000
    shown = text.count("\n• ")
    assert 0 < shown < len(LONG)
    assert text.endswith(f"…and {len(LONG) - shown} more root causes.")
    assert "&amp;" * 64 in text


def test_a_report_of_many_departments_stays_under_fifty_blocks(policy):
    now = datetime(2026, 12, 1, tzinfo=UTC)
    tallies = [
        CauseTally(f"dept-{d:02d}", "<!channel>" * 10, o, f"<@U0{r}>" * 20, 1)
        for d in range(60)
        for o in ("resolved", "unreachable")
        for r in range(5)
    ]
    reply = causes_answer(grouped(30, now, now, tallies), policy)
    assert len(reply["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in reply["blocks"] if b["type"] == "section")
    assert reply["blocks"][-1]["elements"][0]["text"] == "…and 15 more departments."
    assert "<!" not in str(reply["blocks"]) and "<@" not in str(reply["blocks"])


def test_the_bench_reports_the_causes_query_over_the_prefilled_closes(database, policy) -> None:
    now = datetime.now(UTC)
    prefill(database, cases=500, open_cases=50, due=0, now=now)
    with database.transaction() as session:
        month, departments = session.execute(
            select(func.count(), func.count(Case.department.distinct())).where(
                Case.closed_at >= now - timedelta(days=30)
            )
        ).one()
    report = Report()
    inprocess.causes_query(database, policy, report, "500")
    (figure,) = [f for f in report.figures if "causes" in f.measure]
    assert figure.measure == "/loop causes month query, 500 cases" and figure.value > 0
    assert month and figure.note == f"{month:,} loops in {departments} departments"
