"""Slack's acks before the work they start.

A click is acked in its request's own thread (`ack_now`, a Bolt listener middleware), and its work
(the claim's transaction, a private answer) then runs on a listener thread. Under a burst of clicks
that work competed for the GIL with the acks still being answered: with every click's work
started at once, the twentieth ack waited behind nineteen claims and their case-message edits.
Here, work from a click acked early waits until no Slack request is being answered (at most
`max_wait`), so the acks go out first and the work follows a few milliseconds later.

Only early-acked work waits: a listener that acks itself (a form submission answering with
errors, a slash command answering with text) is the ack, so it starts at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, ParamSpec, TypeVar

from slack_bolt import Ack

from bot.executor import TrackingExecutor
from bot.web import WsgiApp

P = ParamSpec("P")
T = TypeVar("T")

SLACK_PATH = "/slack/events"
_request = threading.local()  # per request thread: was this request acked before its listener?


def ack_now(ack: Ack, next_: Callable[[], None]) -> None:
    """Bolt listener middleware: ack in the request thread, before the listener is queued.

    Bolt hands a listener to its executor and polls every 10 ms until the listener has called
    ack(), so a click waited for a free listener thread (busy with earlier clicks' work) plus the
    poll. Acked here, Bolt answers as soon as the work is queued. For listeners that ack with no
    arguments first thing (the later ack() changes nothing)."""
    ack()
    _request.acked_early = True
    next_()


def _take_acked_early() -> bool:
    acked = bool(getattr(_request, "acked_early", False))
    _request.acked_early = False
    return acked


class AckFirst:
    """Counts the Slack requests being answered, for early-acked work to wait on."""

    def __init__(self, max_wait: float = 0.1) -> None:
        self.max_wait = max_wait
        self._quiet = threading.Condition()
        self._answering = 0

    def wsgi(self, app: WsgiApp) -> WsgiApp:
        """`app`, counting each request to /slack/events while it is being answered."""

        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") != SLACK_PATH:
                return app(environ, start_response)
            _request.acked_early = False
            with self._quiet:
                self._answering += 1
            try:
                return app(environ, start_response)
            finally:
                with self._quiet:
                    self._answering -= 1
                    if not self._answering:
                        self._quiet.notify_all()

        return counted

    @property
    def answering(self) -> int:
        return self._answering

    def wait_turn(self) -> bool:
        """Wait until no Slack request is being answered (True), or `max_wait` passed (False)."""
        with self._quiet:
            return self._quiet.wait_for(lambda: self._answering == 0, timeout=self.max_wait)


class AckFirstExecutor(TrackingExecutor):
    """Bolt's listener executor: work submitted from a request acked early (`ack_now`) waits its
    turn behind the acks being answered; other listeners start at once."""

    def __init__(self, gate: AckFirst, max_workers: int, thread_name_prefix: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self.gate = gate

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if not _take_acked_early():
            return super().submit(fn, *args, **kwargs)

        def after_the_acks(*args: P.args, **kwargs: P.kwargs) -> T:
            self.gate.wait_turn()
            return fn(*args, **kwargs)

        return super().submit(after_the_acks, *args, **kwargs)
