"""The whole bot running locally against a simulated Slack workspace: the real HTTP server, the
real Bolt app and outbox, a real database, with the simulator playing Slack on both sides.

`closeloop demo` runs on it, and so do the end-to-end tests, so what the demo shows is what the
tests prove.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import utc_now
from bot.devkit.simulator import SlackSimulator
from bot.domain.policy import Policy
from bot.outbox.pacing import ChannelPacer
from bot.server import HttpServer
from bot.settings import Settings
from bot.wiring import Runtime, build_runtime

# People of the built-in demo workspace; the example policy's managers are among them.
TEAM: tuple[tuple[str, str, str], ...] = (
    ("U0ALICE", "alice", "Alice Agent"),
    ("U0BOB", "bob", "Bob Builder"),
    ("U0CAROL", "carol", "Carol Chen"),
    ("U0MAYA", "maya", "Maya Manager"),
    ("U0OMAR", "omar", "Omar Ortiz"),
    ("U0PRIYA", "priya", "Priya Patel"),
    ("U0OPS", "ops", "Olu Ops"),
)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: dict[str, Any]


def seed_workspace(simulator: SlackSimulator, policy: Policy) -> None:
    for user_id, name, real_name in TEAM:
        simulator.add_user(user_id, name, real_name)
    members = [user_id for user_id, _, _ in TEAM]
    for department in policy.departments:
        simulator.add_channel(department.channel, department.name, bot_is_member=True, members=members)
    if policy.announcements.channel not in {d.channel for d in policy.departments}:
        simulator.add_channel(
            policy.announcements.channel, "closed-loops", bot_is_member=True, members=members
        )


def post_to(url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
    """POST `body`; the status and the JSON answer (or {"raw": text} when it is not JSON)."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return HttpAnswer(response.status, json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            parsed = {"raw": raw.decode("utf-8", "replace")}
        return HttpAnswer(error.code, parsed)


class LocalStack:
    def __init__(
        self,
        *,
        policy: Policy,
        database_url: str,
        clock: Callable[[], datetime] = utc_now,
        simulator: SlackSimulator | None = None,
        seed: bool = True,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.intake_token = secrets.token_urlsafe(24)
        signing_secret = secrets.token_hex(16)
        self.simulator = simulator or SlackSimulator(
            bot_token="xoxb-local-simulator",
            signing_secret=signing_secret,
            clock=lambda: clock().timestamp(),
        )
        self.simulator.start()
        if seed:
            seed_workspace(self.simulator, policy)
        self.settings = Settings(
            slack_bot_token=self.simulator.bot_token,
            slack_signing_secret=self.simulator.signing_secret,
            slack_app_token=None,
            slack_api_url=self.simulator.api_url,
            database_url=database_url,
            policy_path=None,
            intake_token=self.intake_token,
            port=0,
            source="the local stack",
            environment=environment or {},  # e.g. the secrets the policy's webhooks name
        )
        # Time here is `clock`, which only moves when told: a post that would go too fast is left
        # for the sweep after the clock has moved past its slot.
        pacer = ChannelPacer(clock=lambda: clock().timestamp())
        self.runtime: Runtime = build_runtime(
            self.settings, policy, clock=clock, pacer=pacer, come_back_later=False
        )
        # What `closeloop run`'s token check does: who the bot is, asked once before serving.
        self.runtime.identity.learn(self.runtime.bolt_app.client.auth_test().data)
        self.server = HttpServer(self.runtime.wsgi, host="127.0.0.1", port=0).start_in_thread()
        self.slack = self.simulator.driver(f"{self.server.url}/slack/events")

    def post_feedback(
        self, payload: Any, *, token: str | None = None, content_type: str = "application/json"
    ) -> HttpAnswer:
        """POST /feedback as a survey tool would."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "Content-Type": content_type,
            "Authorization": f"Bearer {self.intake_token if token is None else token}",
        }
        return post_to(f"{self.server.url}/feedback", body, headers)

    def sweep_deadlines(self) -> int:
        """Run one deadline sweep now (the scheduler would, every sla.sweep_every) and settle."""
        fired = self.runtime.sweep_deadlines()
        self.settle()
        return fired

    def settle(self) -> None:
        """Wait for listeners and the outbox to finish what was asked of them (no sleeping)."""
        if not self.runtime.wait_idle():
            raise TimeoutError("the bot did not settle within 30 s")

    def close(self) -> None:
        self.server.close()
        self.runtime.close()
        self.simulator.stop()

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
