"""Setting up the survey tools' routes: malformed secrets stop start-up with one line naming the
variable and the fix; a tool switched on without its policy mapping fails `closeloop check` and
start-up; the policy's `sources:` errors name the key; the README's Zendesk body template is the
one the code reads; and the real wiring serves a tool whose secret is set."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
import yaml

from bot import cli
from bot.app.sources import ZENDESK_TEMPLATE, parse_form
from bot.app.sources.common import when
from bot.app.sources.zendesk import from_zendesk
from bot.check import run_check
from bot.devkit.local_stack import post_to
from bot.domain.sources import FormbricksSource, Sources
from bot.policy_file import PolicyError, parse_policy
from bot.server import HttpServer
from bot.settings import SettingsError, load_settings
from bot.wiring import build_runtime

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "bot" / "examples" / "policy.yml"
GOOD_WHSEC = "whsec_" + base64.b64encode(b"k" * 32).decode()
TOOL_VARIABLES = [
    f"CLOSELOOP_{tool}_SECRET" for tool in ("TYPEFORM", "FORMBRICKS", "WOOTRIC", "ASKNICELY", "ZENDESK")
]


@pytest.mark.parametrize(
    ("name", "value", "phrase"),
    [
        ("CLOSELOOP_FORMBRICKS_SECRET", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "does not start with 'whsec_'"),
        ("CLOSELOOP_FORMBRICKS_SECRET", "whsec_not*base64!", "is not base64 after 'whsec_'"),
        ("CLOSELOOP_FORMBRICKS_SECRET", "whsec_c2hvcnQ=", "holds a 5-byte key, fewer than 16"),
        ("CLOSELOOP_INTAKE_WEBHOOK_SECRET", "plain-secret-0123456789", "does not start with 'whsec_'"),
        ("CLOSELOOP_TYPEFORM_SECRET", "abc123", "is shorter than 16 characters"),
        ("CLOSELOOP_ASKNICELY_SECRET", "tiny", "is shorter than 16 characters"),
        ("CLOSELOOP_ZENDESK_SECRET", "two words-0123456789", "contains a space or a line break"),
    ],
)
def test_a_malformed_secret_stops_start_up_with_one_line_naming_the_variable_and_the_fix(name, value, phrase):
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value}, None)
    message = str(caught.value)
    assert message.startswith(f"{name} in the environment {phrase}"), message
    assert "— set it to" in message and "\n" not in message
    assert value not in message  # a secret is never shown back


def test_well_formed_secrets_turn_their_routes_on():
    environ = {
        "CLOSELOOP_TYPEFORM_SECRET": "t" * 20,
        "CLOSELOOP_FORMBRICKS_SECRET": GOOD_WHSEC,
        "CLOSELOOP_ZENDESK_SECRET": "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==",
        "CLOSELOOP_INTAKE_WEBHOOK_SECRET": GOOD_WHSEC,
        "CLOSELOOP_WOOTRIC_SECRET": "",
    }
    settings = load_settings(environ, None)
    assert set(settings.source_secrets) == {"typeform", "formbricks", "zendesk"}
    assert settings.intake_webhook_secret == GOOD_WHSEC
    settings.require_intake_auth()  # a Standard Webhooks secret alone is enough for /feedback


def test_closeloop_check_stops_on_a_malformed_formbricks_secret(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    for name in TOOL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOSELOOP_FORMBRICKS_SECRET", "formbricks-secret-without-prefix")
    assert cli.main(["check", "--policy", str(EXAMPLE)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "CLOSELOOP_FORMBRICKS_SECRET" in error and "whsec_" in error


def _policy_file(tmp_path: Path, raw_policy: dict, sources: dict | None) -> Path:
    if sources is not None:
        raw_policy = {**raw_policy, "sources": sources}
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(raw_policy))
    return path


def test_check_names_a_tool_switched_on_whose_score_question_the_policy_does_not_map(
    tmp_path, raw_policy, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # no database here: check reports none owed
    environ = {"CLOSELOOP_TYPEFORM_SECRET": "t" * 20, "CLOSELOOP_FORMBRICKS_SECRET": GOOD_WHSEC}
    lines: list[str] = []
    path = _policy_file(tmp_path, raw_policy, None)
    assert run_check(load_settings(environ, None), str(path), out=lines.append) == 1
    problems = [line for line in lines if line.startswith("✗")]
    assert problems == [
        "✗ CLOSELOOP_TYPEFORM_SECRET is set, but the policy has no sources.typeform.score_ref — add "
        "'sources: {typeform: {score_ref: <the score question's id>}}' to the policy (README, "
        "'Survey tools'), or unset CLOSELOOP_TYPEFORM_SECRET",
        "✗ CLOSELOOP_FORMBRICKS_SECRET is set, but the policy has no sources.formbricks.score_question — add "
        "'sources: {formbricks: {score_question: <the score question's id>}}' to the policy (README, "
        "'Survey tools'), or unset CLOSELOOP_FORMBRICKS_SECRET",
    ]
    mapped = _policy_file(
        tmp_path, raw_policy, {"typeform": {"score_ref": "nps"}, "formbricks": {"score_question": "q1"}}
    )
    lines.clear()
    assert run_check(load_settings(environ, None), str(mapped), out=lines.append) == 0, lines
    assert "✓ survey tool webhooks on: /feedback/typeform, /feedback/formbricks" in lines


def test_the_bot_does_not_start_with_a_tool_on_and_its_score_unmapped(tmp_path, policy):
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'never.sqlite3'}",
            "CLOSELOOP_FORMBRICKS_SECRET": GOOD_WHSEC,
        },
        None,
    )
    with pytest.raises(SettingsError, match=r"^CLOSELOOP_FORMBRICKS_SECRET is set, but the policy has no"):
        build_runtime(settings, policy)
    assert not (tmp_path / "never.sqlite3").exists()  # refused before anything was opened


@pytest.mark.parametrize(
    ("sources", "phrase"),
    [
        ({"typeform": {"comment_ref": "why"}}, "sources.typeform.score_ref: Field required — add it"),
        ({"surveymonkey": {}}, "sources.surveymonkey: Extra inputs are not permitted"),
        ({"formbricks": {"score_question": "q1", "survey": "stars"}}, "sources.formbricks.survey"),
        ({"wootric": {"segment_propery": "plan"}}, "sources.wootric.segment_propery"),
    ],
)
def test_policy_errors_in_sources_name_the_key(raw_policy, sources, phrase):
    with pytest.raises(PolicyError) as caught:
        parse_policy({**raw_policy, "sources": sources}, "policy.yml")
    assert any(phrase in problem for problem in caught.value.problems), caught.value.problems


def test_the_readme_gives_the_zendesk_template_the_code_reads(policy):
    readme = (ROOT / "README.md").read_text()
    assert ZENDESK_TEMPLATE in readme
    # What Zendesk sends once it has filled the placeholders in:
    filled = re.sub(r"\{\{[a-z_.]+\}\}", "x", ZENDESK_TEMPLATE).replace('"rating": "x"', '"rating": "Good"')
    mapped = from_zendesk(json.loads(filled), policy.sources)
    assert (mapped["id"], mapped["survey"], mapped["score"]) == ("zendesk:x", "csat", 5)


def test_times_and_nested_forms_as_tools_send_them():
    assert when("2016-08-04 13:57:26 -0700") == "2016-08-04T13:57:26-07:00"  # Wootric's form encoding
    assert when("2026-11-23T08:58:30Z") == "2026-11-23T08:58:30+00:00"
    assert when("1763887220") == "2025-11-23T08:40:20+00:00"  # AskNicely's Unix seconds
    assert when("next tuesday") is None and when(10**30) is None and when(True) is None
    assert when("1969-07-20T20:17:00Z") is None and when(-5) is None  # the intake would refuse them
    form = parse_form(
        b"response%5Bend_user_properties%5D%5Bplan%5D=pro&response%5Bscore%5D=9&event_name=created"
    )
    assert form == {
        "response": {"end_user_properties": {"plan": "pro"}, "score": "9"},
        "event_name": "created",
    }
    with pytest.raises(Exception, match="too deep"):
        parse_form(b"a%5Bb%5D%5Bc%5D%5Bd%5D%5Be%5D=1")


def test_the_real_wiring_serves_a_tool_whose_secret_is_set(stack, policy):
    """build_runtime with the secret in its settings and the mapping in its policy: the route is on."""
    settings = dataclasses.replace(stack.settings, source_secrets={"formbricks": GOOD_WHSEC})
    mapped = policy.model_copy(
        update={"sources": Sources(formbricks=FormbricksSource(score_question="q_nps"))}
    )
    runtime = build_runtime(settings, mapped, clock=stack.runtime.services.clock)
    server = HttpServer(runtime.wsgi, host="127.0.0.1", port=0).start_in_thread()
    try:
        body = (ROOT / "tests" / "fixtures" / "sources" / "formbricks.json").read_bytes()
        timestamp = str(int(stack.runtime.services.clock().timestamp()))
        key = base64.b64decode(GOOD_WHSEC.removeprefix("whsec_"))
        signature = hmac.new(key, f"msg_1.{timestamp}.".encode() + body, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "webhook-id": "msg_1",
            "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + base64.b64encode(signature).decode(),
        }
        answer = post_to(f"{server.url}/feedback/formbricks", body, headers)
        assert answer.status == 202 and answer.body["status"] == "created", answer
        off = post_to(f"{server.url}/feedback/typeform", body, {"Content-Type": "application/json"})
        assert off.status == 404 and "CLOSELOOP_TYPEFORM_SECRET" in off.body["detail"]
        metrics = runtime.metrics.exposition()[0].decode()
        assert 'closeloop_intake_requests_total{result="created"} 1.0' in metrics
    finally:
        server.close()
        runtime.close()


def test_the_readmes_sources_example_is_a_valid_policy_section(raw_policy):
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```yaml\nsources:", readme.index("## Survey tools")) + len("```yaml\n")
    example = yaml.safe_load(readme[start : readme.index("```", start)])
    policy = parse_policy({**raw_policy, **example}, "README.md")
    assert policy.sources.typeform is not None and policy.sources.typeform.score_ref == "recommend"
    assert policy.sources.formbricks is not None and policy.sources.wootric.segment_property == "plan"
