"""Themes end to end through the simulated Slack: the close modal's theme picker, `/loop themes`
against counts worked out by hand, hostile names inside Slack's limits, the spike alert in the
department's channel, and the export's themes column."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from bot.app.export import COLUMNS, records
from bot.devkit.simulator import TEAM_ID
from bot.domain.themes import ThemeCount, ThemesReport
from bot.export_format import write_csv, write_jsonl
from bot.policy_file import parse_policy
from bot.slack.modals import FormErrors, parse_close
from bot.slack.themes_report import themes_answer
from storage.export import export_rows
from storage.models import ThemeTag
from tests.factories import CLOSE_FORM, payload
from tests.support.steps import close_case, open_case

SUPPORT = "C0SUPPORT"
THEMES = ["CSV Export", "Billing", "Login", "<!channel> & <@U0MAYA>"]


@pytest.fixture
def policy(raw_policy, request):
    raw_policy["themes"] = THEMES
    raw_policy.update(dict(getattr(request, "param", {})))
    return parse_policy(raw_policy, "policy.yml")


def theme_rows(stack, feedback_id: int) -> list[tuple[str, str]]:
    with stack.runtime.database.transaction() as session:
        rows = session.scalars(select(ThemeTag).where(ThemeTag.feedback_id == feedback_id))
        return sorted((r.theme, r.source) for r in rows)


def answer(stack, user: str, text: str):
    stack.slack.slash_command(user, SUPPORT, "/loop", text)
    stack.settle()
    return stack.simulator.ephemerals(user)[-1]


def detractor(stack, clock, n: int, tags: list[str], **extra):
    """A detractor arriving a minute after the last (the simulated Slack paces posts per channel)."""
    clock.advance(minutes=1)
    return open_case(stack, id=f"d-{n}", tags=tags, customer={"id": f"cus-{n}", "name": f"C {n}"}, **extra)


def promoter(stack, clock, n: int, tags: list[str]) -> None:
    clock.advance(minutes=1)
    body = payload(id=f"p-{n}", score=10, tags=tags, customer={"id": f"cus-p{n}", "name": f"P {n}"})
    assert stack.post_feedback(body).status == 202
    stack.settle()


# ---- the close modal --------------------------------------------------------------------------


def test_the_owner_picks_themes_when_closing_and_they_are_stored_beside_the_tags(stack, clock):
    case = detractor(stack, clock, 1, ["csv export", "<!here>"])
    view, result = close_case(stack, case, form={**CLOSE_FORM, "themes": ["Billing", "CSV Export"]})
    assert result.status == 200 and not result.json
    (picker,) = [b for b in view["blocks"] if b.get("block_id") == "themes"]
    assert picker["optional"] is True and picker["element"]["type"] == "multi_static_select"
    assert [o["value"] for o in picker["element"]["options"]] == THEMES
    assert picker["hint"]["text"] == "The survey's tags count already: csv export, <!here>"  # plain text

    closed = stack.runtime.repository.get_case(case.id)
    assert closed.status == "closed"
    assert theme_rows(stack, closed.feedback_id) == [
        ("<!here>", "tag"),
        ("billing", "owner"),
        ("csv export", "owner"),  # also a tag: counted once (distinct responses)
        ("csv export", "tag"),
    ]
    reply = stack.simulator.thread(closed.slack_channel, closed.slack_ts)[-1]
    assert "Themes: Billing, CSV Export" in reply.text or "Themes: Billing, CSV Export" in str(reply.blocks)


def test_a_reclose_replaces_the_owners_picks_and_keeps_the_tags(stack, clock):
    case = detractor(stack, clock, 1, ["login"])
    close_case(stack, case, form={**CLOSE_FORM, "themes": ["Billing"]})
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_reopen")
    stack.settle()
    assert stack.runtime.repository.get_case(case.id).status != "closed"
    close_case(stack, case, form={**CLOSE_FORM, "themes": [THEMES[3]]})
    assert theme_rows(stack, case.feedback_id) == [("<!channel> & <@u0maya>", "owner"), ("login", "tag")]
    reply = stack.simulator.thread(case.slack_channel, case.slack_ts)[-1]
    everything = reply.text + json.dumps(reply.blocks)
    assert "&lt;!channel&gt; &amp; &lt;@U0MAYA&gt;" in everything and "<!channel>" not in everything


@pytest.mark.parametrize("policy", [{"themes": []}], indirect=True)
def test_no_themes_in_the_policy_means_no_picker_and_no_owner_rows(stack, clock, policy):
    assert policy.themes == []
    case = detractor(stack, clock, 1, ["Export"])
    view, result = close_case(stack, case)
    assert result.status == 200 and not result.json
    assert all(b.get("block_id") != "themes" for b in view["blocks"])
    assert stack.runtime.repository.get_case(case.id).status == "closed"
    assert theme_rows(stack, case.feedback_id) == [("export", "tag")]  # the tags still count
    assert parse_close(_close_values([{"value": "Export"}]), policy).themes is None  # no picker: none read


def _close_values(themes: object) -> dict:
    def chosen(value: str) -> dict:
        return {"value": {"type": "static_select", "selected_option": {"value": value}}}

    values = {k: chosen(v) for k, v in CLOSE_FORM.items() if k != "note"}
    values["note"] = {"value": {"type": "plain_text_input", "value": CLOSE_FORM["note"]}}
    values["themes"] = {"value": {"type": "multi_static_select", "selected_options": themes}}
    return values


def test_forged_or_removed_themes_are_asked_again_and_odd_shapes_are_no_picks(policy):
    with pytest.raises(FormErrors) as raised:
        parse_close(_close_values([{"value": "Billing"}, {"value": "<!channel> not a theme"}]), policy)
    assert raised.value.errors == {
        "themes": "“<!channel> not a theme” is no longer a theme — please choose again."
    }
    with pytest.raises(FormErrors):
        parse_close(_close_values([{"value": 7}]), policy)
    assert parse_close(_close_values([{"value": "Login"}, {"value": "Login"}]), policy).themes == ("Login",)
    assert parse_close(_close_values("Login"), policy).themes == ()
    assert parse_close(_close_values(None), policy).themes == ()
    assert parse_close(_close_values([]), policy).themes == ()


def test_a_forged_theme_submitted_to_the_endpoint_changes_nothing(stack, clock):
    """As a forged or stale form would reach the bot: a signed view_submission naming a theme
    the policy does not list."""
    case = detractor(stack, clock, 1, [])
    stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_close")
    stack.settle()
    (view,) = stack.simulator.open_views("U0ALICE")
    values = _close_values([{"text": {"type": "plain_text", "text": "F"}, "value": "Forged"}])
    body = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "closeloop-sim"},
        "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": TEAM_ID},
        "api_app_id": "A0SIM",
        "token": "sim-verification-token",
        "trigger_id": "1.2.forged",
        "view": {**view, "state": {"values": values}},
        "response_urls": [],
    }
    result = stack.slack.send_raw(
        urlencode({"payload": json.dumps(body)}).encode(), "application/x-www-form-urlencoded"
    )
    assert result.status == 200
    assert result.json == {
        "response_action": "errors",
        "errors": {"themes": "“Forged” is no longer a theme — please choose again."},
    }
    stack.settle()
    assert stack.runtime.repository.get_case(case.id).status == "new"
    assert theme_rows(stack, case.feedback_id) == []


# ---- /loop themes -----------------------------------------------------------------------------


def test_loop_themes_lists_the_themes_rising_fastest_among_detractors(stack, clock):
    """By hand, the week up to now against the week before: export 3 vs 1, login 2 vs 0 (one of
    them picked by its owner at close), billing 1 vs 2; a promoter tagged export is no detractor."""
    n = 0

    def arrive(tags: list[str], **extra) -> None:
        nonlocal n
        n += 1
        detractor(stack, clock, n, tags, **extra)

    arrive(["CSV Export"])
    for _ in range(2):
        arrive(["billing"], comment="My invoice is wrong.")  # billing's
    clock.advance(days=7)
    for _ in range(3):
        arrive(["csv export"])
    arrive(["Login"])
    arrive(["Billing"], comment="My invoice is wrong.")
    n += 1
    closing = detractor(stack, clock, n, [])
    close_case(stack, closing, form={**CLOSE_FORM, "themes": ["Login"]})
    promoter(stack, clock, 1, ["csv export"])  # no detractor: not counted

    reply = answer(stack, "U0MAYA", "themes")  # a week by default
    assert reply.text == "Themes among detractors, the last 7 days: 2 rising — CSV Export +2, Login +2"
    sections = [b["text"]["text"] for b in reply.blocks if b["type"] == "section"]
    assert sections[0].startswith("*📈 Themes rising among detractors — the last 7 days*")
    assert sections[1] == "• *CSV Export* — 3 (was 1) ▲ +2\n• *Login* — 2 (new) ▲ +2"
    context = reply.blocks[-1]["elements"][0]["text"]
    assert context == "1 theme steady or falling. Most frequent: CSV Export (3), Login (2), Billing (1)"

    billing = answer(stack, "U0MAYA", "themes 7d billing")  # either order
    assert billing.text == "Themes among detractors in Billing, the last 7 days: 0 rising"
    assert "No theme rose" in json.dumps(billing.blocks)
    assert answer(stack, "U0MAYA", "themes support 1d").text.startswith(
        "Themes among detractors in Customer Support, the last day: "
    )
    clock.advance(days=30)
    assert answer(stack, "U0MAYA", "themes week").text == (
        "No themes among detractors in the last 7 days or the 7 days before."
    )


@pytest.mark.parametrize("said", ["<!channel>", "0d", "fortnight", "week month", "support billing"])
def test_a_bad_period_or_department_is_answered_calmly_and_escaped(stack, said):
    reply = answer(stack, "U0BOB", f"themes {said}")
    assert reply.text.startswith("I show a department (`billing`, ")
    assert reply.text.endswith("try `/loop themes week`.")
    assert "<!channel>" not in reply.text


@pytest.mark.parametrize("policy", [{"permissions": {"reports": "managers"}}], indirect=True)
def test_loop_themes_follows_the_reports_permission(stack):
    reply = answer(stack, "U0BOB", "themes")
    assert reply.text == "Reports are for managers here (permissions.reports in the policy)."
    assert answer(stack, "U0MAYA", "themes").text.startswith("No themes among detractors")


HOSTILE = ["<!channel>", "<@U123>", "&" * 50, "<https://evil.example|Invoice>", "x" * 50]


def test_hostile_tags_stay_inert_in_the_answer(stack, clock):
    for n, tag in enumerate(HOSTILE):
        detractor(stack, clock, n, [tag])
    reply = answer(stack, "U0MAYA", "themes")
    everything = reply.text + json.dumps(reply.blocks)
    assert reply.text.startswith("Themes among detractors, the last 7 days: 5 rising — ")
    assert "<!channel>" not in everything and "<@U123>" not in everything and "<https" not in everything
    assert "&lt;!channel&gt;" in everything and "&amp;" * 50 in everything


def test_many_long_hostile_themes_stay_inside_slacks_limits_and_say_how_many_more(policy):
    now = datetime(2026, 12, 1, tzinfo=UTC)
    themes = [ThemeCount(f"{n:03d}" + "&<>" * 16, 100 - n, 0) for n in range(90)]
    reply = themes_answer(ThemesReport(now - timedelta(days=7), now, None, themes), policy)
    assert len(reply["blocks"]) <= 50
    sections = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in sections)
    assert sum(text.count("• ") for text in sections) == 30
    context = reply["blocks"][-1]["elements"][0]["text"]
    assert context.startswith("…and 60 more rising themes.") and len(context) < 3000
    assert "<" not in json.dumps(reply["blocks"]).replace("\\u", "")


# ---- the spike alert, end to end ---------------------------------------------------------------


@pytest.mark.parametrize(
    "policy", [{"alerts": {"theme_spike": {"count": 3, "within": "24h"}}}], indirect=True
)
def test_a_spike_posts_one_alert_naming_the_cases_in_the_departments_channel(stack, clock):
    cases = [detractor(stack, clock, n, ["<!channel> Export"]) for n in range(2)]
    promoter(stack, clock, 9, ["<!channel> Export"])  # not counted
    assert stack.runtime.check_theme_spikes() == 0  # 2 of 3
    cases.append(detractor(stack, clock, 2, ["<!CHANNEL>  export"]))  # the same theme
    before = len(stack.simulator.messages(SUPPORT))
    clock.advance(minutes=1)
    assert stack.runtime.check_theme_spikes() == 1
    stack.settle()
    assert stack.runtime.check_theme_spikes() == 0  # once per window
    stack.settle()
    posted = stack.simulator.messages(SUPPORT)[before:]
    assert len(posted) == 1
    alert = posted[0]
    everything = alert.text + json.dumps(alert.blocks)
    assert alert.text == "Theme spike among detractors: &lt;!channel&gt; export — 3 in the last day"
    assert "<!channel>" not in everything
    for case in cases:
        assert f"|Case #{case.id}>" in everything
    assert everything.index(f"Case #{cases[2].id}") < everything.index(f"Case #{cases[0].id}")  # newest first


# ---- the export ---------------------------------------------------------------------------------


def test_the_export_has_a_themes_column_from_tags_and_picks(stack, clock):
    first = detractor(stack, clock, 1, ["=cmd()", "Login", "a, b"])
    close_case(stack, first, form={**CLOSE_FORM, "themes": ["Billing", "Login"]})
    detractor(stack, clock, 2, [])
    assert "themes" in COLUMNS

    def exported(write) -> str:
        out = io.StringIO()
        write(out, COLUMNS, records(export_rows(stack.settings.database_url), clock()))
        return out.getvalue()

    rows = list(csv.DictReader(io.StringIO(exported(write_csv))))
    assert [r["themes"] for r in rows] == ["'=cmd(), a, b, billing, login", ""]  # neutralised
    lines = [json.loads(line) for line in exported(write_jsonl).splitlines()]
    assert [line["themes"] for line in lines] == [["=cmd()", "a, b", "billing", "login"], []]


def test_an_alert_with_a_ratio_names_twenty_cases_and_counts_the_rest(policy):
    from bot.domain.themes import ThemeAlert
    from bot.slack.themes_report import theme_alert_message
    from tests.factories import case_snapshot

    cases = [case_snapshot(id=n, score=n % 7) for n in range(1, 21)]
    alert = ThemeAlert("billing", "<@U123> & co", 25, timedelta(hours=12), datetime.now(UTC), 2.5, cases)
    links = {n: f"https://x.slack.com/archives/C0BILLING/p{n}" for n in range(1, 11)}  # half posted
    message = theme_alert_message(alert, "<@U123> & co", policy, links)
    assert message.text == "Theme spike among detractors: &lt;@U123&gt; &amp; co — 25 in the last 12 hours"
    title, listed = message.blocks[0]["text"]["text"], message.blocks[1]["text"]["text"]
    assert title == (
        "🚨 *Theme spike among detractors: &lt;@U123&gt; &amp; co* — 25 detractors in the last 12 hours, "
        "against a 4-week average of 2.5 per 12 hours"
    )
    assert listed.splitlines()[0] == "• <https://x.slack.com/archives/C0BILLING/p1|Case #1> · NPS 1/10"
    assert listed.splitlines()[19] == "• Case #20 · NPS 6/10"  # not posted yet: no link
    assert listed.splitlines()[-1] == "…and 5 more."
    assert len(message.blocks) <= 50 and all(len(b["text"]["text"]) <= 3000 for b in message.blocks[:2])


def test_a_tag_longer_than_the_intake_takes_is_refused_and_stores_no_theme(stack):
    answer = stack.post_feedback(payload(id="long-tag", tags=["<!channel>" * 1000]))
    assert answer.status == 422 and "tags" in str(answer.body["fields"])
    with stack.runtime.database.transaction() as session:
        assert session.scalars(select(ThemeTag)).all() == []
