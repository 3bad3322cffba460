"""`closeloop run --workers N`: worker processes sharing one listening socket, each a whole bot,
replaced when one dies, stopped together by SIGTERM to the parent; PostgreSQL only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import cli
from bot.devkit.simulator import SlackSimulator
from storage.db import Database
from storage.models import Case, Feedback
from tests.factories import payload
from tests.test_cli import EXAMPLE, clean_env, run_env  # noqa: F401  (clean_env is a fixture)
from tests.test_process import free_port, healthy, wait_until

INTAKE_TOKEN = "intake-token-0123456789"


def test_several_workers_need_postgresql(clean_env, capsys, tmp_path):  # noqa: F811
    with SlackSimulator(bot_token="xoxb-real") as simulator:
        run_env(tmp_path, simulator)
        assert cli.main(["run", "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("closeloop: --workers 2 needs PostgreSQL: SQLite lets one process write at a time")
    assert len(err.splitlines()) == 1


def post(url: str, body: dict) -> int:
    request = urllib.request.Request(
        f"{url}/feedback",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {INTAKE_TOKEN}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # a new connection each time
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


@pytest.mark.process
@pytest.mark.backends("postgresql")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, SIGTERM and /proc")
def test_workers_share_the_intake_and_stop_together_on_sigterm(database_url, backend, tmp_path):
    port = free_port()
    with SlackSimulator(bot_token="xoxb-proc", signing_secret="proc-secret") as simulator:
        simulator.add_channel("C0SUPPORT", "support")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CLOSELOOP_"))},
            "SLACK_BOT_TOKEN": simulator.bot_token,
            "SLACK_SIGNING_SECRET": simulator.signing_secret,
            "SLACK_API_URL": simulator.api_url,
            "DATABASE_URL": database_url,
            "CLOSELOOP_POLICY": str(EXAMPLE),
            "CLOSELOOP_INTAKE_TOKEN": INTAKE_TOKEN,
            "PORT": str(port),
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                "--host",
                "127.0.0.1",
                "--workers",
                "2",
                "--threads",
                "4",
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            assert wait_until(lambda: healthy(url)), "closeloop run --workers 2 did not come up"
            workers = children(process.pid)
            assert len(workers) == 2
            # Several responses, and one response sent many times at once over new connections:
            # whichever worker takes each, one case per response id.
            statuses = [post(url, payload(id=f"w-{n}")) for n in range(6)]
            racing: list[int] = []
            starting = threading.Barrier(8)

            def send_the_same() -> None:
                starting.wait()
                racing.append(post(url, payload(id="w-same", comment="The export fails.")))

            senders = [threading.Thread(target=send_the_same) for _ in range(8)]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join(30)
            assert statuses == [202] * 6 and racing == [202] * 8
            assert wait_until(lambda: len(simulator.messages("C0SUPPORT")) == 7)
            # A worker that dies is replaced; the others serve meanwhile.
            os.kill(workers[0], signal.SIGKILL)
            assert wait_until(lambda: len(set(children(process.pid)) - {workers[0]}) == 2)
            workers = children(process.pid)
            assert healthy(url) and post(url, payload(id="w-after")) == 202
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, output
    assert not any(alive(pid) for pid in workers), "a worker outlived its parent"
    assert output.count("closeloop listening on") == 1, output
    assert "with 2 worker processes" in output
    assert "received SIGTERM: stopping 2 workers" in output
    assert output.count("closeloop stopped") == 1, output
    database = Database(database_url)
    try:
        with database.transaction() as session:
            assert session.scalar(select(func.count()).select_from(Feedback)) == 8
            assert session.scalar(select(func.count()).select_from(Case)) == 8
    finally:
        database.dispose()
    posted = [call for call in simulator.calls_to("chat.postMessage") if call.response.get("ok")]
    cases_posted = [call.params["metadata"]["event_payload"]["case_id"] for call in posted]
    assert len(cases_posted) >= 7 and len(set(cases_posted)) == len(cases_posted)  # none twice
