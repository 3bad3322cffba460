"""Follow-ups through a helpdesk instead of e-mail: a department under outer_loop.helpdesk gets a
POST signed per Standard Webhooks (verified here with the reference library), with the same
webhook-id on every try, retried with backoff after a 500 on a moved clock; no mail is sent."""

# ruff: noqa: F811 (the fixtures are imported from test_tell_customer)
from __future__ import annotations

import base64
import json
import secrets
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from bot.domain.vocabulary import FollowUp
from tests.support import steps
from tests.test_tell_customer import NOT_TOLD, OWNER, make_stack, outer_policy, send, smtp  # noqa: F401

pytestmark = pytest.mark.backends("sqlite")

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Helpdesk:
    """Answers the first `failures` requests with 500, then 200; keeps every verified body."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.bodies: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self.bad: list[str] = []
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                # The library's own signing, checked by hand: verify() also wants the timestamp
                # within 5 minutes of the real clock, and the bot's here is a test's fixed one.
                at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
                expected = Webhook(SECRET).sign(headers["webhook-id"], at, body.decode())
                if headers.get("webhook-signature") != expected:
                    desk.bad.append(f"bad signature on {headers.get('webhook-id')}")
                    self.send_response(401)
                    self.end_headers()
                    return
                payload = json.loads(body)
                desk.ids.append(headers["webhook-id"])
                failing = len(desk.ids) <= desk.failures
                if not failing:
                    desk.bodies.append(payload)
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/closeloop"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_helpdesk_gets_a_signed_follow_up_retried_with_the_same_id(database_url, raw_policy, clock, smtp):
    desk = Helpdesk(failures=1)
    try:
        route = {"url": desk.url, "secret_env": "CLOSELOOP_HELPDESK_SECRET"}
        names = [d["name"] for d in raw_policy["departments"]]
        policy = outer_policy(raw_policy, helpdesk={name: route for name in names})
        with make_stack(database_url, policy, clock, smtp, {"CLOSELOOP_HELPDESK_SECRET": SECRET}) as stack:
            case = steps.open_case(stack, customer={"id": "cus-7", "name": "Dana <b>", "email": None})
            steps.click(stack, OWNER, case, "case_claim")
            steps.close_case(stack, case, OWNER, NOT_TOLD)
            (form,) = stack.simulator.open_views(OWNER)  # no e-mail address: the helpdesk knows them
            send(stack, form, "We fixed the export & more.")
            assert len(desk.ids) == 1 and desk.bodies == []  # a 500: tried again later
            clock.advance(seconds=16)
            stack.runtime.outbox_queue.request_sweep()
            stack.settle()
            stack.runtime.outbox_queue.request_sweep()
            stack.settle()
            assert desk.bad == [] and len(desk.ids) == 2 and desk.ids[0] == desk.ids[1]
            (body,) = desk.bodies
            assert body["type"] == "customer.follow_up"
            assert body["data"]["note"] == "We fixed the export & more."
            assert body["data"]["customer"] == {"id": "cus-7", "name": "Dana <b>", "email": None}
            assert body["data"]["author"]["slack_id"] == OWNER
            assert stack.runtime.repository.get_case(case.id).follow_up == FollowUp.TOLD
            thread = stack.simulator.thread(case.slack_channel, case.slack_ts)
            assert any("through the helpdesk" in m.text for m in thread)
            assert smtp.mailbox.received == []
            stack.settle()
            assert stack.simulator.violations == []
    finally:
        desk.stop()
