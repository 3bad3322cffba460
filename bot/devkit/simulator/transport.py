"""The simulator's HTTP server: a real socket on 127.0.0.1 so the bot talks to it like to Slack.

Routing is by path prefix to plain callables, and body decoding (JSON or form, with JSON-valued
form fields) happens here once, so the Web API and response_url code only see dictionaries.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

logger = logging.getLogger(__name__)

# How quickly stop() is noticed: every test with a `stack` waits about half of it on teardown
# (0.5 s is the default; at 0.005 s an idle simulator costs a select() call every 5 ms).
POLL_SECONDS = 0.005
JSON_FIELDS = frozenset({"blocks", "attachments", "metadata", "view"})


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def params(self) -> dict[str, Any]:
        """Query string plus body, as Slack reads them; JSON-valued form fields are decoded."""
        params: dict[str, Any] = dict(parse_qsl(self.query))
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json" and self.body:
            decoded = json.loads(self.body)
            if isinstance(decoded, dict):
                params.update(decoded)
        elif self.body:
            params.update(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
            for key in JSON_FIELDS & params.keys():
                if isinstance(params[key], str):
                    # undecodable JSON stays a string; validation then reports it like Slack would
                    with contextlib.suppress(ValueError):
                        params[key] = json.loads(params[key])
        return params

    def bearer_token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        return auth.removeprefix("Bearer ").strip() or None


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[HttpRequest, str], HttpReply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, routes: dict[str, Route]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = HttpRequest(self.command, url.path, url.query, headers, self.rfile.read(length))
        reply = HttpReply(404, {"ok": False, "error": "not_found"})
        for prefix, route in self.server.routes.items():
            if url.path.startswith(prefix):
                try:
                    reply = route(request, url.path[len(prefix) :])
                except ValueError:  # undecodable body
                    reply = HttpReply(400, {"ok": False, "error": "invalid_request_body"})
                break
        payload = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class HttpServer:
    """Serves `routes` (path prefix -> handler receiving the rest of the path) on an ephemeral port."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self._routes = routes
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _Server(self._routes)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_SECONDS,), name="slack-simulator", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
