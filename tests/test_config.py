"""Settings and the policy file: every mistake names the file, the field and the fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from bot.policy_file import PolicyError, load_policy, parse_policy
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
    assert line == (
        "policy.yml: root_causes[8]: 76 characters, but it is shown as a Slack menu option, "
        "which takes at most 75 — shorten it"
    )


def test_option_lists_say_why_they_are_limited(raw_policy):
    raw_policy["remedies"] = [f"Remedy {n}" for n in range(101)]
    raw_policy["root_causes"][0] = "  "
    found = problems(raw_policy)
    assert found == [
        "policy.yml: root_causes[0]: empty — write the option's text, or remove the entry",
        "policy.yml: remedies: 101 entries, but they are shown in a Slack menu, which holds at most 100 "
        "— merge or remove some",
    ]


def test_an_unsupported_version_says_which_one_this_closeloop_reads(raw_policy):
    raw_policy["version"] = 2
    assert problems(raw_policy) == [
        "policy.yml: version: 2 is not supported — this closeloop reads policy version 1; set version: 1"
    ]
    raw_policy["version"] = 0
    assert problems(raw_policy)[0].startswith("policy.yml: version: 0 is not supported — this closeloop")


def test_a_name_that_is_not_a_key_is_explained_not_shown_as_a_regex(raw_policy):
    raw_policy["departments"][1]["name"] = "Billing"
    raw_policy["routing"]["default_department"] = "Customer Support"
    found = problems(raw_policy)
    assert found == [
        "policy.yml: departments[1].name: 'Billing' is not a valid name — names are lower-case keys of at "
        "most 50 letters, digits, '-' or '_', e.g. billing",
        "policy.yml: routing.default_department: 'Customer Support' is not a valid name — names are "
        "lower-case keys of at most 50 letters, digits, '-' or '_', e.g. customer-support",
    ]


def test_numeric_and_list_limits_come_with_a_fix(raw_policy):
    raw_policy["announcements"]["quote_max_chars"] = 5
    raw_policy["routing"]["rules"][0]["score"] = {"min": 0, "max": 11}
    raw_policy["sla"]["escalation"]["snooze_choices"] = ["1h"] * 11
    found = problems(raw_policy)
    assert (
        "policy.yml: announcements.quote_max_chars: Input should be greater than or equal to 20 "
        "— use 20 or more" in found
    )
    assert (
        "policy.yml: routing.rules[0].score.max: Input should be less than or equal to 10 — use 10 or less"
        in found
    )
    assert any(
        p.startswith("policy.yml: sla.escalation.snooze_choices: ")
        and p.endswith(" — remove entries to keep at most 10")
        for p in found
    )


@pytest.mark.parametrize("managers", [[], None])
def test_with_deadlines_every_department_needs_a_manager_to_escalate_to(raw_policy, managers):
    if managers is None:
        del raw_policy["departments"][2]["managers"]
    else:
        raw_policy["departments"][2]["managers"] = managers
    assert problems(raw_policy) == [
        "policy.yml: departments[2].managers: empty, but missed deadlines (the sla section) are escalated "
        "to the department's managers — list at least one member id (U…) who hears of missed deadlines, "
        "e.g. managers: [U0123ABCD]"
    ]
    del raw_policy["sla"]  # no deadlines, no escalations: a department may do without managers
    assert parse_policy(raw_policy, "policy.yml").department("product").managers == []


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


def test_a_recognition_leader_that_is_not_a_member_id_names_the_file_field_and_fix(raw_policy):
    raw_policy["recognition"] = {"leaders": ["U0MAYA", "@maya"]}
    assert problems(raw_policy) == [
        "policy.yml: recognition.leaders: '@maya' is not a Slack user id — use the member id "
        "from the person's profile ('⋮' > 'Copy member ID', it starts with U)"
    ]
    raw_policy["recognition"] = {"leader": ["U0MAYA"]}
    assert problems(raw_policy) == [
        "policy.yml: recognition.leader: Extra inputs are not permitted — remove it or check its spelling"
    ]


def test_announced_outcomes_default_to_successes_and_must_be_outcomes(raw_policy):
    policy = parse_policy(raw_policy, "policy.yml")
    assert [policy.announces(o) for o in ("resolved", "partly_resolved", "not_resolved", "unreachable")] == [
        True,
        True,
        False,
        False,
    ]
    raw_policy["announcements"]["outcomes"] = ["resolved", "won"]
    (problem,) = problems(raw_policy)
    assert problem.startswith("policy.yml: announcements.outcomes[1]: ") and "'resolved'" in problem


@pytest.mark.parametrize("currency", ["EUR", "CHF", "€", "$", "US$", "£"])
def test_a_currency_is_a_code_or_a_short_symbol(raw_policy, currency):
    raw_policy["cases"]["currency"] = currency
    assert parse_policy(raw_policy, "policy.yml").cases.currency == currency


@pytest.mark.parametrize("currency", ["eur", "Euro", "EURO", "<!here>", "€€€€", "&", "12", "*"])
def test_a_currency_that_is_neither_says_file_field_and_fix(raw_policy, currency):
    raw_policy["cases"]["currency"] = currency
    (line,) = problems(raw_policy)
    assert line == (
        f"policy.yml: cases.currency: {currency!r} is not a currency — use an ISO 4217 code of three "
        "capital letters (EUR, USD) or a symbol of at most 3 characters (€, $, US$)"
    )
