"""The Web API dispatcher: authentication, injected faults, the method handlers and the call record.

It is independent of HTTP (the transport hands it a method name, parameters and a token), so the
order in which Slack applies its checks is visible in one place: unknown method, auth, the
workspace's per-method tier limit, fault, then the method itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.devkit.simulator import chat, conversations, files, views
from bot.devkit.simulator.context import Handler, MethodContext, Params, RateLimited
from bot.devkit.simulator.errors import SlackError
from bot.devkit.simulator.limits import Fault, FaultQueue, RateLimiter, WorkspaceLimits
from bot.devkit.simulator.transport import HttpReply
from bot.devkit.simulator.workspace import Workspace

logger = logging.getLogger(__name__)

HANDLERS: dict[str, Handler] = {
    **chat.HANDLERS,
    **conversations.HANDLERS,
    **views.HANDLERS,
    **files.HANDLERS,
}


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made, as the simulator answered it."""

    method: str
    params: dict[str, Any]
    response: dict[str, Any]
    http_status: int
    at: float


def fault_reply(fault: Fault) -> HttpReply:
    """What an injected fault looks like on the wire; a 429 carries Retry-After like the real one."""
    if fault.status == 429:
        return HttpReply(429, {"ok": False, "error": fault.error or "ratelimited"}, {"Retry-After": "1"})
    if fault.status is not None:
        return HttpReply(fault.status, {"ok": False, "error": fault.error or "internal_error"})
    return HttpReply(200, {"ok": False, "error": fault.error or "fatal_error"})


class WebApi:
    """Answers Web API calls against a workspace and remembers every call and every violation."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        bot_token: str,
        post_limiter: RateLimiter,
        faults: FaultQueue,
        limits: WorkspaceLimits | None = None,
        handlers: dict[str, Handler] | None = None,
    ) -> None:
        self.workspace = workspace
        self._limits = limits
        self._bot_token = bot_token
        self._faults = faults
        self._handlers = dict(HANDLERS if handlers is None else handlers)
        self._lock = threading.Lock()
        self._calls: list[ApiCall] = []
        self._violations: list[str] = []
        self._context = MethodContext(workspace, self.report, post_limiter)

    @property
    def calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self._calls)

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def take_violations(self) -> list[str]:
        with self._lock:
            taken, self._violations = self._violations, []
            return taken

    def report(self, where: str, problems: list[str]) -> None:
        with self._lock:
            self._violations.extend(f"{where}: {p}" for p in problems)

    def call(self, method: str, params: Params, *, token: str | None) -> HttpReply:
        params = dict(params)
        token = token or params.pop("token", None)
        params.pop("token", None)
        try:
            reply = self._answer(method, params, token)
        except Exception:
            logger.exception("simulator failed on %s", method)
            reply = HttpReply(500, {"ok": False, "error": "internal_error"})
        with self._lock:
            self._calls.append(ApiCall(method, params, reply.body, reply.status, self.workspace.clock()))
        return reply

    def _answer(self, method: str, params: Params, token: str | None) -> HttpReply:
        handler = self._handlers.get(method)
        if handler is None:
            return HttpReply(200, {"ok": False, "error": "unknown_method"})
        if not token:
            return HttpReply(200, {"ok": False, "error": "not_authed"})
        if token != self._bot_token:
            return HttpReply(200, {"ok": False, "error": "invalid_auth"})
        retry_after = self._limits.take(method) if self._limits is not None else None
        if retry_after is not None:
            return HttpReply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        fault = self._faults.take(method)
        if fault and fault.delay_seconds:
            self._faults.stall(fault.delay_seconds)
        if fault and fault.fails and not fault.applied:
            return fault_reply(fault)
        reply = self._run(handler, params)
        return fault_reply(fault) if fault and fault.fails else reply

    def _run(self, handler: Callable[[MethodContext, Params], dict[str, Any]], params: Params) -> HttpReply:
        try:
            return HttpReply(200, {"ok": True, **handler(self._context, params)})
        except SlackError as exc:
            return HttpReply(200, exc.to_response())
        except RateLimited as exc:
            return HttpReply(
                429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(exc.retry_after)}
            )
