"""`closeloop run` as a real process: it serves, posts to Slack (the simulator), and stops cleanly
on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from bot.devkit.simulator import SlackSimulator
from storage.migrate import upgrade
from tests.factories import payload

EXAMPLE = Path(__file__).parent.parent / "bot" / "examples" / "policy.yml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition, attempts: int = 300) -> bool:
    """Poll a condition about another process (its start-up), bounded; not a deadline wait."""
    import time

    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.05)
    return False


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def start_run(simulator: SlackSimulator, database: str, port: int, workdir: Path) -> subprocess.Popen[str]:
    """`closeloop run` as an admin starts it: settings in the environment, output on one pipe."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CLOSELOOP_"))},
        "SLACK_BOT_TOKEN": simulator.bot_token,
        "SLACK_SIGNING_SECRET": simulator.signing_secret,
        "SLACK_API_URL": simulator.api_url,
        "DATABASE_URL": database,
        "CLOSELOOP_POLICY": str(EXAMPLE),
        "CLOSELOOP_INTAKE_TOKEN": "intake-token-0123456789",
        "PORT": str(port),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--host", "127.0.0.1"],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.process
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_run_serves_posts_and_stops_on_sigterm(tmp_path):
    database = f"sqlite:///{tmp_path / 'run.sqlite3'}"
    upgrade(database)
    port = free_port()
    with SlackSimulator(bot_token="xoxb-proc", signing_secret="proc-secret") as simulator:
        simulator.add_channel("C0SUPPORT", "support")
        process = start_run(simulator, database, port, tmp_path)
        url = f"http://127.0.0.1:{port}"
        try:
            assert wait_until(lambda: healthy(url)), "closeloop run did not come up"
            request = urllib.request.Request(
                f"{url}/feedback",
                data=json.dumps(payload()).encode(),
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "Authorization": "Bearer intake-token-0123456789",
                },
            )
            with urllib.request.urlopen(request) as response:
                assert response.status == 202
            assert wait_until(lambda: len(simulator.messages("C0SUPPORT")) == 1)
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, output
    assert "connected to Slack as closeloop" in output
    assert "received SIGTERM: finishing in-flight work" in output
    # The example policy's weekly digest may post to the announcements channel too: count the case's.
    posts = [c for c in simulator.calls_to("chat.postMessage") if c.params.get("channel") == "C0SUPPORT"]
    assert len(posts) == 1


@pytest.mark.process
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_the_first_run_on_a_new_sqlite_file_creates_the_schema(tmp_path):
    """The embedded default needs no `closeloop db upgrade`: `run` creates a new file's schema."""
    from storage.migrate import pending

    path = tmp_path / "first.sqlite3"
    port = free_port()
    with SlackSimulator(bot_token="xoxb-first", signing_secret="first-secret") as simulator:
        process = start_run(simulator, f"sqlite:///{path}", port, tmp_path)
        try:
            assert wait_until(lambda: healthy(f"http://127.0.0.1:{port}")), "closeloop run did not come up"
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, output
    assert "created the database schema" in output
    current, head = pending(f"sqlite:///{path}")
    assert current == head is not None
