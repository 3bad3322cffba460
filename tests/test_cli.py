"""The `closeloop` command: configuration errors, `check`, `db`, `demo`, and the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import cli
from bot.check import run_check
from bot.devkit.demo import run_demo
from bot.devkit.simulator import SlackSimulator
from bot.settings import Settings, load_settings
from storage.migrate import upgrade
from tests.test_process import free_port

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "bot" / "examples" / "policy.yml"
SETTINGS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DATABASE_URL",
    "CLOSELOOP_POLICY",
    "CLOSELOOP_INTAKE_TOKEN",
    "CLOSELOOP_INTAKE_SIGNING_SECRET",
    "PORT",
)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No real settings or .env leak into these tests."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.fixture
def no_retry_wait(monkeypatch):
    """slack_sdk still retries a failed connection once, but without its backoff sleep (~1 s)."""
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    monkeypatch.setattr(BackoffRetryIntervalCalculator, "calculate_sleep_duration", lambda self, attempt: 0.0)


def test_run_without_settings_stops_with_one_clear_line(clean_env, capsys):
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("closeloop: SLACK_BOT_TOKEN is not set in the environment or .env")
    assert len(err.splitlines()) == 1


def test_run_with_a_broken_policy_names_file_field_and_fix(clean_env, capsys, tmp_path):
    policy = tmp_path / "policy.yml"
    policy.write_text(EXAMPLE.read_text().replace("channel: C0BILLING", "channel: billing"))
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-1\nSLACK_SIGNING_SECRET=s\nCLOSELOOP_INTAKE_TOKEN=0123456789abcdef\n"
        f"CLOSELOOP_POLICY={policy}\n"
    )
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert f"{policy}: departments[1].channel: 'billing' is not a Slack channel id" in err


def test_run_refuses_an_outdated_database(clean_env, capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0002")  # a database an older closeloop used: only `db upgrade` may change it
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-1\nSLACK_SIGNING_SECRET=s\nCLOSELOOP_INTAKE_TOKEN=0123456789abcdef\n"
        f"CLOSELOOP_POLICY={EXAMPLE}\nDATABASE_URL={url}\n"
    )
    assert cli.main(["run"]) == 2
    assert "is at schema 0002" in capsys.readouterr().err
    assert cli.main(["db", "status"]) == 1  # and it was left as it was


def test_run_refuses_a_sqlite_file_with_tables_but_no_schema_version(clean_env, capsys, tmp_path):
    """Not empty, so not ours to fill in: maybe the wrong file; nothing is created in it."""
    import sqlite3

    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER)")
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-1\nSLACK_SIGNING_SECRET=s\nCLOSELOOP_INTAKE_TOKEN=0123456789abcdef\n"
        f"CLOSELOOP_POLICY={EXAMPLE}\nDATABASE_URL=sqlite:///{path}\n"
    )
    assert cli.main(["run"]) == 2
    assert "is at schema none" in capsys.readouterr().err
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"invoices"}


def test_run_socket_mode_needs_an_app_token(clean_env, capsys, tmp_path):
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-1\nSLACK_SIGNING_SECRET=s\nCLOSELOOP_INTAKE_TOKEN=0123456789abcdef\n"
        f"CLOSELOOP_POLICY={EXAMPLE}\n"
    )
    assert cli.main(["run", "--socket"]) == 2
    assert "SLACK_APP_TOKEN is not set" in capsys.readouterr().err


def test_db_upgrade_creates_the_schema(clean_env, capsys, tmp_path):
    clean_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert cli.main(["db", "status"]) == 1  # scripts can tell an outdated schema
    shown = capsys.readouterr()
    assert "database schema: empty" in shown.out and "run `closeloop db upgrade`" in shown.err
    assert cli.main(["db", "upgrade"]) == 0
    assert "database schema: 0018 (latest: 0018)" in capsys.readouterr().out
    assert cli.main(["db", "status"]) == 0


def settings_for(simulator: SlackSimulator | None) -> Settings:
    environ = {"CLOSELOOP_POLICY": str(EXAMPLE)}
    if simulator:
        environ |= {"SLACK_BOT_TOKEN": simulator.bot_token, "SLACK_API_URL": simulator.api_url}
    return load_settings(environ, None)


def test_check_validates_the_policy_without_a_token():
    lines: list[str] = []
    assert run_check(settings_for(None), None, out=lines.append) == 0
    assert lines[0].startswith(f"✓ {EXAMPLE}: valid — 3 departments, 3 routing rules")
    assert "· CLOSELOOP_SMTP_URL not set: follow-ups to customers by e-mail are off" in lines
    assert any("channel access not checked" in line for line in lines[1:])


def test_check_tests_the_mail_settings():
    environ = {"CLOSELOOP_POLICY": str(EXAMPLE), "CLOSELOOP_MAIL_FROM": "Acme <support@acme.example>"}
    lines: list[str] = []
    good = environ | {"CLOSELOOP_SMTP_URL": "smtp://u:p@mail.acme.example:587?starttls=true"}
    assert run_check(load_settings(good, None), None, out=lines.append) == 0
    shown = "✓ follow-ups to customers by e-mail through mail.acme.example:587"
    assert any(line.startswith(shown) for line in lines)
    lines.clear()
    bad = environ | {"CLOSELOOP_SMTP_URL": "http://mail.acme.example"}
    assert run_check(load_settings(bad, None), None, out=lines.append) == 1
    (problem,) = [line for line in lines if line.startswith("✗")]
    assert "CLOSELOOP_SMTP_URL" in problem


def test_check_reports_channels_the_bot_cannot_post_in():
    with SlackSimulator(bot_token="xoxb-check") as simulator:
        simulator.add_channel("C0SUPPORT", "support")
        simulator.add_channel("C0BILLING", "billing", bot_is_member=False)
        simulator.add_channel("C0PRODUCT", "product")
        lines: list[str] = []
        assert run_check(settings_for(simulator), None, out=lines.append) == 1
    assert any(line.startswith("✓ token works: bot closeloop") for line in lines)
    assert (
        "✗ #billing (department billing): the bot is not a member — type `/invite @closeloop` in that channel"
        in lines
    )
    assert any(line.startswith("✗ C0WINS (announcements, the weekly digest): not found") for line in lines)


def test_check_passes_when_every_channel_is_reachable():
    with SlackSimulator(bot_token="xoxb-check") as simulator:
        for channel in ("C0SUPPORT", "C0BILLING", "C0PRODUCT", "C0WINS"):
            simulator.add_channel(channel, channel.lower())
        lines: list[str] = []
        assert run_check(settings_for(simulator), None, out=lines.append) == 0
    assert "✓ the bot can post in all 4 channels" in lines


def test_check_lists_what_the_running_bot_could_not_send(stack, monkeypatch):
    from bot.devkit.simulator import BOT_USER_ID
    from tests.factories import payload

    stack.simulator.workspace.channel("C0BILLING").members.discard(BOT_USER_ID)
    stack.post_feedback(payload(comment="refund please"))
    stack.settle()
    environ = {
        "CLOSELOOP_POLICY": str(EXAMPLE),
        "SLACK_BOT_TOKEN": stack.simulator.bot_token,
        "SLACK_API_URL": stack.simulator.api_url,
        "DATABASE_URL": stack.settings.database_url,
    }
    lines: list[str] = []
    assert run_check(load_settings(environ, None), None, out=lines.append) == 1
    assert (
        "✗ case messages: 1 not sent — not_in_channel: invite the bot to the channel: "
        "type `/invite @closeloop` in <#C0BILLING>"
    ) in lines


def test_check_says_when_slack_cannot_be_reached_without_a_traceback(no_retry_wait):
    environ = {
        "CLOSELOOP_POLICY": str(EXAMPLE),
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/",  # nothing listens there
    }
    lines: list[str] = []
    assert run_check(load_settings(environ, None), None, out=lines.append) == 1
    (problem,) = [line for line in lines if line.startswith("✗")]
    assert problem.startswith("✗ Slack is not reachable at http://127.0.0.1:")
    assert "check this machine's network or proxy (HTTPS_PROXY), or SLACK_API_URL" in problem


def test_check_says_the_schema_is_outdated(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0002")
    lines: list[str] = []
    environ = {"CLOSELOOP_POLICY": str(EXAMPLE), "DATABASE_URL": url}
    assert run_check(load_settings(environ, None), None, out=lines.append) == 1
    assert "✗ the database schema is 0002, this version needs 0018 — run `closeloop db upgrade`" in lines[-1]


def test_the_demo_runs_the_whole_loop(tmp_path):
    lines: list[str] = []
    assert run_demo(database_path=str(tmp_path / "demo.sqlite3"), say=lines.append) == 0
    shown = "\n".join(lines)
    assert "Alice and Bob click Claim" in shown
    assert "<!channel> is anyone there?" in shown  # shown as text: it was escaped on the way in
    assert "🎉 *Loop closed!* @Alice Agent followed up with *Dana Scully · Acme Corp*" in shown
    assert "in *2 h 18 min*" in shown
    assert (
        "  11:30  Omar claims the billing case" in shown
        and "↳ [11:30] closeloop [APP]\n        👤 @Omar" in shown
    )
    assert (
        "↳ [09:51] closeloop [APP]\n        👤 @Alice Agent claimed this case." in shown
    )  # Slack's clock is the story's
    assert "@Alice Agent already owns this case." in shown
    assert "@Alice Agent @Bob Builder can someone take it?" in shown  # the claim deadline passed
    assert "✅ @Maya Manager acknowledged this — the escalation stops here." in shown
    # Recognition: kudos and a leader's note on the shout-out, then the detractor won back.
    assert "👏 2: @Bob Builder, @Priya Patel · 🏅 1 recognition" in shown
    assert "🏅 @Maya Manager recognised @Alice Agent:" in shown
    assert "🔄 *Won back!* Dana Scully went from 2 to 9 after @Alice Agent's follow-up in November." in shown
    assert "Database: 5 responses, 3 cases" in shown


def test_the_manifest_matches_the_app():
    manifest = yaml.safe_load((ROOT / "slack-manifest.yml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/loop" and command["url"].endswith("/slack/events")
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] and settings["interactivity"]["request_url"].endswith(
        "/slack/events"
    )
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert manifest["features"]["app_home"]["home_tab_enabled"]
    assert manifest["features"]["app_home"]["messages_tab_enabled"]  # DMs: reminders, escalations
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # chat.postMessage/update/postEphemeral, /loop, conversations.info in `check`
    assert scopes == {
        "chat:write",
        "commands",
        "channels:read",
        "groups:read",
        "channels:history",
        "groups:history",
        "im:write",  # conversations.open of a reminder's DM before looking for it again
        "im:history",
        "files:write",  # files_upload_v2: the weekly digest's chart
        "users:read",  # users.info: a follow-up's Reply-To is its author's own address
        "users:read.email",
    }


def test_env_example_lists_every_setting():
    text = (ROOT / ".env.example").read_text()
    for name in SETTINGS:
        assert f"\n{name}=" in text, name


def run_env(tmp_path, simulator, **extra) -> None:
    database = tmp_path / "run.sqlite3"
    upgrade(f"sqlite:///{database}")
    lines = {
        "SLACK_BOT_TOKEN": simulator.bot_token,
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": simulator.api_url,
        "CLOSELOOP_INTAKE_TOKEN": "0123456789abcdef",
        "CLOSELOOP_POLICY": str(EXAMPLE),
        "DATABASE_URL": f"sqlite:///{database}",
        **extra,
    }
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in lines.items()))


def test_run_with_a_revoked_token_says_so(clean_env, capsys, tmp_path):
    with SlackSimulator(bot_token="xoxb-real") as simulator:
        run_env(tmp_path, simulator, SLACK_BOT_TOKEN="xoxb-revoked")
        assert cli.main(["run"]) == 2
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in capsys.readouterr().err


def test_socket_mode_failure_is_one_clear_line(clean_env, capsys, tmp_path):
    with SlackSimulator(bot_token="xoxb-real") as simulator:
        run_env(tmp_path, simulator, SLACK_APP_TOKEN="xapp-1-test", PORT=str(free_port()))
        assert cli.main(["run", "--socket", "--host", "127.0.0.1"]) == 2
    err = capsys.readouterr().err
    # The simulator has no Socket Mode endpoint, so apps.connections.open fails as a bad token would.
    assert "closeloop: Socket Mode could not connect (unknown_method) — check that SLACK_APP_TOKEN" in err
    assert len(err.strip().splitlines()) == 1


def test_socket_mode_without_a_network_is_one_clear_line(clean_env, capsys, tmp_path, no_retry_wait):
    with SlackSimulator(bot_token="xoxb-real") as simulator:
        run_env(tmp_path, simulator, SLACK_APP_TOKEN="xapp-1-test", PORT=str(free_port()))
    # The simulator is gone: Slack cannot be reached at all (no network, a proxy in the way).
    assert cli.main(["run", "--socket", "--host", "127.0.0.1"]) == 2
    err = capsys.readouterr().err
    assert "closeloop: Socket Mode could not reach Slack (" in err and "(HTTPS_PROXY)" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "url",
    ["postgresql://closeloop:s3cret@127.0.0.1:1/nowhere", "sqlite:////nonexistent-folder/closeloop.sqlite3"],
)
def test_an_unreachable_database_is_one_clear_line_without_the_password(clean_env, capsys, url):
    clean_env.setenv("DATABASE_URL", url)
    assert cli.main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("closeloop: DATABASE_URL in the environment or .env (") and "cannot be opened" in err
    )
    assert "s3cret" not in err and len(err.splitlines()) == 1


def test_the_demo_narrates_the_times_its_messages_show_and_the_readme_shows_its_output(tmp_path):
    import re

    lines: list[str] = []
    assert run_demo(database_path=str(tmp_path / "demo.sqlite3"), say=lines.append) == 0
    shown = "\n".join(lines).splitlines()
    narrated = {m.group(1) for line in shown if (m := re.match(r"^  (\d\d:\d\d)  ", line))}
    stamped = {m.group(1) for line in shown if (m := re.search(r"\[(\d\d:\d\d)\] closeloop", line))}
    assert stamped and stamped <= narrated, f"messages at {sorted(stamped - narrated)} that no step narrates"
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```", readme.index("## What the demo shows")) + 4
    excerpt = readme[start : readme.index("```", start)].splitlines()
    missing = [line for line in excerpt if line.strip() != "..." and line not in shown]
    assert missing == [], "README's demo excerpt is not what the demo prints"


def test_postgresql_is_never_migrated_implicitly():
    """Only SQLite files are filled in by `run`: this answers without connecting anywhere."""
    assert cli._empty_sqlite("postgresql://closeloop:s3cret@127.0.0.1:1/nowhere") is False
