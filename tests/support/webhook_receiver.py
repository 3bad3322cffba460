"""A webhook receiver for the case-event tests: a real HTTP server on port 0 (one thread per
request) that verifies every request's Standard Webhooks signature with the library's own
`verify`, de-duplicates by `webhook-id`, and misbehaves on purpose when asked: it drops the
connection (before or after taking the event) or answers 500, on a seeded coin.

It also watches what the sender must never do: two requests for one event at the same time
(two workers sending one row), or two events of one case at the same time (a lane overtaking)."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Arrival:
    event_id: str
    case_id: int
    sequence: int
    type: str
    outcome: str  # "ok", "500", "dropped", "dropped-after", "bad-signature"


@dataclass
class Chaos:
    """Per request, with these chances: drop before taking it, take it then drop, answer 500."""

    drop: float = 0.0
    drop_after: float = 0.0
    error: float = 0.0
    seed: int = 13
    work_seconds: float = 0.0  # how long taking an event takes (lets concurrent sends overlap)


@dataclass
class WebhookReceiver:
    secret: str
    chaos: Chaos = field(default_factory=Chaos)
    status: int = 200  # answered when the coin says no trouble
    arrivals: list[Arrival] = field(default_factory=list)
    taken: list[dict[str, Any]] = field(default_factory=list)  # payloads, de-duplicated by id
    taken_ids: set[str] = field(default_factory=set)
    headers: list[dict[str, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.chaos.seed)
        self._in_flight_events: set[str] = set()
        self._in_flight_cases: set[int] = set()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._handle(self, body)

            def log_message(self, *_args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as error:
            with self._lock:
                self.violations.append(f"bad signature: {error}")
                self.arrivals.append(Arrival(headers.get("webhook-id", "?"), 0, 0, "?", "bad-signature"))
            handler.send_response(401)
            handler.end_headers()
            return
        event_id = headers["webhook-id"]
        if payload["data"]["event_id"] != event_id:
            self.violations.append(f"{event_id}: the body names another event id")
        case_id, sequence = payload["data"]["case"]["id"], payload["data"]["sequence"]
        with self._lock:
            self.headers.append(headers)
            if event_id in self._in_flight_events:
                self.violations.append(f"{event_id} sent twice at the same time")
            if case_id in self._in_flight_cases:
                self.violations.append(f"case #{case_id}: two of its events sent at the same time")
            self._in_flight_events.add(event_id)
            self._in_flight_cases.add(case_id)
            coin = self._random.random()
        try:
            if self.chaos.work_seconds:
                time.sleep(self.chaos.work_seconds)  # the receiver's own work, not a deadline
            outcome = self._decide(coin)
            if outcome in ("ok", "dropped-after"):
                with self._lock:
                    if event_id not in self.taken_ids:
                        self.taken_ids.add(event_id)
                        self.taken.append(payload)
            with self._lock:
                self.arrivals.append(Arrival(event_id, case_id, sequence, payload["type"], outcome))
        finally:
            with self._lock:
                self._in_flight_events.discard(event_id)
                self._in_flight_cases.discard(case_id)
        if outcome.startswith("dropped"):
            handler.close_connection = True
            return  # no answer at all: the connection closes under the sender
        handler.send_response(500 if outcome == "500" else self.status)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.write(json.dumps({"ok": outcome == "ok"}).encode())

    def _decide(self, coin: float) -> str:
        if self.status >= 300:
            return str(self.status)
        chaos = self.chaos
        if coin < chaos.drop:
            return "dropped"
        if coin < chaos.drop + chaos.drop_after:
            return "dropped-after"
        if coin < chaos.drop + chaos.drop_after + chaos.error:
            return "500"
        return "ok"

    def order_problems(self, expected: dict[int, list[str]]) -> list[str]:
        """Each arrival of a case's event came after every earlier event of that case was answered
        200 (delivered), and the de-duplicated events of each case are exactly `expected`, in order."""
        problems = []
        delivered: set[str] = set()
        for arrival in self.arrivals:
            if arrival.outcome == "bad-signature":
                continue
            earlier = expected[arrival.case_id][: expected[arrival.case_id].index(arrival.event_id)]
            missing = [e for e in earlier if e not in delivered]
            if missing:
                problems.append(
                    f"case #{arrival.case_id}: {arrival.type} sent before {missing} was delivered"
                )
            if arrival.outcome == "ok":
                delivered.add(arrival.event_id)
        by_case: dict[int, list[str]] = {}
        for payload in self.taken:
            by_case.setdefault(payload["data"]["case"]["id"], []).append(payload["data"]["event_id"])
        if by_case != expected:
            problems.append(f"taken {by_case} != expected {expected}")
        return problems
