"""`closeloop digest`: the preview in the terminal (readable text, nothing sent or recorded),
`--send` under the once-per-period rule, and clear one-line errors for bad arguments."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.policy_file import parse_policy
from storage.digests import DigestStore
from tests.factories import CLOSE_FORM
from tests.support.steps import close_case, open_case

WINS = "C0WINS"
DIGEST = {"day": "mon", "time": "09:00", "timezone": "Europe/Berlin", "channel": WINS}


@pytest.fixture
def policy(raw_policy):
    raw_policy["digest"] = dict(DIGEST)
    return parse_policy(raw_policy, "policy.yml")


@pytest.fixture
def env(monkeypatch, tmp_path: Path, stack, raw_policy, database_url):
    """`closeloop` pointed at the stack's database, a policy file with a digest and the simulator."""
    raw_policy["digest"] = dict(DIGEST)
    policy_file = tmp_path / "policy.yml"
    policy_file.write_text(yaml.safe_dump(raw_policy))
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in ("SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CLOSELOOP_POLICY", str(policy_file))
    monkeypatch.setenv("SLACK_BOT_TOKEN", stack.simulator.bot_token)
    monkeypatch.setenv("SLACK_API_URL", stack.simulator.api_url)
    return monkeypatch


def digest(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["digest", *args])
    out, err = capsys.readouterr()
    return code, out, err


def leads(stack) -> list:
    return [
        m
        for m in stack.simulator.messages(WINS)
        if (m.metadata or {}).get("event_type") == "closeloop_digest"
    ]


def test_the_preview_prints_readable_text_and_sends_nothing(stack, clock, env, capsys, tmp_path):
    clock.advance(hours=1)  # Mon 23 Nov 10:00 UTC, in W48
    case = open_case(stack, id="d1", score=2, customer={"id": "c1", "name": "<!channel> \x1b[2J Dana & Co"})
    close_case(stack, case, "U0ALICE", form={**CLOSE_FORM, "root_cause": "Product bug"})
    chart = tmp_path / "chart.png"
    code, out, err = digest(capsys, "--week", "2026-W48", "--chart", str(chart))
    assert code == 0, err
    assert out.startswith("Preview of the 2026-W48 digest for everyone, to channel C0WINS\n")
    assert "📊 Weekly loop digest · 2026-W48 · everyone\n=====" in out
    assert "  Responses:      1 ▲ +1 (last week 0)" in out
    assert "  NPS:            -100 ± 0" in out
    assert "• Product bug — 1" in out
    assert "• @U0ALICE — 1 closed" in out  # mentions as text, no mrkdwn markers
    assert "*" not in out and "&lt;" not in out and "<@" not in out
    assert "\x1b" not in out  # a customer's name cannot drive the terminal
    assert "[chart closeloop-digest-2026-W48-all.png:" in out and "Nothing was sent." in out
    png = chart.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (1200, 600)
    assert leads(stack) == []
    assert DigestStore(stack.runtime.database).find("all", "2026-W48") is None


def test_send_sends_once_and_a_second_send_says_when_it_went(stack, env, capsys):
    code, out, err = digest(capsys, "--week", "2026-W47", "--send")
    assert code == 0, err
    assert out.startswith("Sent the 2026-W47 digest for everyone to channel C0WINS")
    (lead,) = leads(stack)
    assert len(stack.simulator.thread(WINS, lead.ts)) == 4
    code, out, _ = digest(capsys, "--week", "2026-W47", "--send")
    assert code == 1
    assert "was already sent on " in out and "(closeloop digest --send) — nothing sent again." in out
    assert len(leads(stack)) == 1
    # the scheduler keeps the same rule: it does not send W47 either (its row exists)
    send = DigestStore(stack.runtime.database).find("all", "2026-W47")
    assert send is not None and send.status == "sent"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--week", "2026-48"], "--week 2026-48: not an ISO week — write it as YYYY-Www, e.g. 2026-W48"),
        (["--week", "2026-W60"], "--week 2026-W60: not an ISO week"),
        (
            ["--department", "sales"],
            "--department sales: no such department — known: support, billing, product",
        ),
        (
            ["--department", "support"],
            "the policy sends no department digests — set digest.per_department: true",
        ),
        (["--week", "2099-W01", "--send"], "--week 2099-W01 is not over until"),
    ],
)
def test_bad_arguments_get_one_clear_line(stack, env, capsys, args, message):
    code, out, err = digest(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("closeloop: ") and message in err
    assert leads(stack) == []


def test_a_policy_without_a_digest_says_how_to_add_one(stack, env, capsys, raw_policy, tmp_path):
    plain = tmp_path / "plain.yml"
    plain.write_text(yaml.safe_dump({k: v for k, v in raw_policy.items() if k != "digest"}))
    env.setenv("CLOSELOOP_POLICY", str(plain))
    code, _, err = digest(capsys)
    assert code == 2 and "the policy has no digest section — add one" in err
