"""Settings and the policy file: every mistake names the file, the field and the fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from bot.policy import PolicyError, load_policy, parse_policy
from bot.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings

EXAMPLE = Path(__file__).parent.parent / "bot" / "examples" / "policy.yml"


def problems(data) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(data, "policy.yml")
    return caught.value.problems


def test_the_shipped_example_is_valid():
    policy = load_policy(EXAMPLE)
    assert [d.name for d in policy.departments] == ["support", "billing", "product"]
    assert policy.announcements.channel == "C0WINS"


def test_a_channel_name_instead_of_an_id_is_explained(raw_policy):
    raw_policy["departments"][0]["channel"] = "#support"
    (line,) = problems(raw_policy)
    assert line.startswith("policy.yml: departments[0].channel: '#support' is not a Slack channel id")
    assert "View channel details" in line


def test_unknown_departments_and_fields_are_named_with_fixes(raw_policy):
    raw_policy["routing"]["rules"][1]["department"] = "sales"
    raw_policy["routing"]["default_department"] = "helpdesk"
    found = problems(raw_policy)
    assert (
        "policy.yml: routing.default_department: 'helpdesk' is not a department — use one of: "
        "support, billing, product" in found
    )
    assert any(p.startswith("policy.yml: routing.rules[1].department: 'sales'") for p in found)
    typo = copy.deepcopy(raw_policy)
    typo["routing"] = yaml.safe_load(EXAMPLE.read_text())["routing"]
    typo["anouncements"] = typo.pop("announcements")
    found = problems(typo)
    assert "policy.yml: announcements: Field required — add it" in found
    assert (
        "policy.yml: anouncements: Extra inputs are not permitted — remove it or check its spelling" in found
    )


def test_options_too_long_for_slack_are_refused(raw_policy):
    raw_policy["root_causes"].append("x" * 76)
    (line,) = problems(raw_policy)
    assert line.startswith("policy.yml: root_causes[8]:") and "75" in line


def test_broken_yaml_and_missing_files_say_where(tmp_path):
    broken = tmp_path / "policy.yml"
    broken.write_text("departments:\n  - name: support\n   channel: C1\n")
    with pytest.raises(PolicyError, match=r"policy.yml: line 3, column \d+: .* fix the YAML syntax"):
        load_policy(broken)
    with pytest.raises(PolicyError, match="file not found — set CLOSELOOP_POLICY"):
        load_policy(tmp_path / "absent.yml")


def test_settings_defaults_and_env_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("SLACK_BOT_TOKEN=xoxb-from-file\nPORT=4000\n")
    settings = load_settings({"PORT": "5000"}, env)
    assert settings.slack_bot_token == "xoxb-from-file"
    assert settings.port == 5000  # the real environment wins over .env
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.slack_api_url == "https://slack.com/api/"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN in the environment does not start with 'xoxb-'"),
        ({"PORT": "http"}, "PORT in the environment is 'http' — set a port number"),
        (
            {"SLACK_API_URL": "slack.com"},
            "SLACK_API_URL in the environment is 'slack.com', not an http(s) URL",
        ),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL in the environment is not a SQLite or PostgreSQL URL"),
        ({"CLOSELOOP_INTAKE_TOKEN": "short"}, "CLOSELOOP_INTAKE_TOKEN in the environment is shorter than 16"),
    ],
)
def test_wrong_settings_stop_with_one_line_naming_them(environ, message):
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, None)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_missing_required_settings_are_named():
    settings = load_settings({}, None)
    with pytest.raises(
        SettingsError,
        match="SLACK_SIGNING_SECRET is not set in the environment — set it to the Signing Secret",
    ):
        settings.require("SLACK_SIGNING_SECRET")
