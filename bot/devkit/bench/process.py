"""`closeloop run` as a child process, started the way an admin starts it (the console script,
settings in environment variables), pointed at the simulated Slack and the bench's database.

Output goes to a file: a pipe nobody reads would fill up and stall the bot.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.devkit.simulator import SlackSimulator

INTAKE_TOKEN = "bench-intake-token-0123456789abcdef"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll something another process does (start-up, posting), bounded by `timeout` seconds."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= end:
            return False
        time.sleep(interval)
    return True


def closeloop_command() -> list[str]:
    """The installed `closeloop` script beside this Python, else the module it runs."""
    script = Path(sys.executable).with_name("closeloop")
    if script.exists():
        return [str(script)]
    found = shutil.which("closeloop")
    return [found] if found else [sys.executable, "-m", "bot.cli"]


class BotProcess:
    """One `closeloop run`; `stop()` sends SIGTERM like a deploy does."""

    def __init__(
        self, simulator: SlackSimulator, database_url: str, policy_path: Path, workdir: Path, *, name: str
    ) -> None:
        self.simulator = simulator
        self.database_url = database_url
        self.policy_path = policy_path
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.peak_rss_kib = 0

    def start(self, timeout: float = 60.0) -> BotProcess:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CLOSELOOP_"))},
            "SLACK_BOT_TOKEN": self.simulator.bot_token,
            "SLACK_SIGNING_SECRET": self.simulator.signing_secret,
            "SLACK_API_URL": self.simulator.api_url,
            "DATABASE_URL": self.database_url,
            "CLOSELOOP_POLICY": str(self.policy_path),
            "CLOSELOOP_INTAKE_TOKEN": INTAKE_TOKEN,
            "PORT": str(self.port),
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*closeloop_command(), "run", "--host", "127.0.0.1"],
                env=env,
                cwd=self.workdir,  # no .env of the caller's is read
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not wait_until(self.healthy, timeout=timeout, interval=0.1):
            self.kill()
            raise RuntimeError(f"closeloop run did not come up:\n{self.output()}")
        return self

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the bot is not running")
        return self.process.pid

    def healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"closeloop run exited with {self.process.returncode}:\n{self.output()}")
        try:
            with _NO_PROXY.open(f"{self.url}/healthz", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def post_feedback(self, body: Any) -> int | None:
        """POST one response like a survey tool; the HTTP status, None when the connection failed."""
        request = urllib.request.Request(
            f"{self.url}/feedback",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {INTAKE_TOKEN}"},
        )
        try:
            with _NO_PROXY.open(request, timeout=30) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return None

    def cpu_seconds(self) -> float:
        """User + system CPU the bot has used so far (/proc/<pid>/stat), 0 where there is no /proc."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def read_peak_rss(self) -> int:
        """VmHWM, the process's peak resident memory, in KiB (kept after the process stops)."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))
        except OSError:
            pass
        return self.peak_rss_kib

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.read_peak_rss()
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                return self.kill()
        return self.process.returncode

    def kill(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait(timeout=30)

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def errors_logged(self) -> list[str]:
        """Lines the bot logged at ERROR (or a traceback): the bench reports them as breakage."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [line for line in lines if " ERROR " in line or line.startswith("Traceback")]
