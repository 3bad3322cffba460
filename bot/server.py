"""Serving the WSGI app with waitress: a production-grade, pure-Python server (no compiler, works
on every platform), unlike Bolt's development server; in one process, or in several worker
processes sharing one listening socket (`Workers`)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

import waitress
from waitress import wasyncore
from waitress.server import BaseWSGIServer

from bot.web import WsgiApp

log = logging.getLogger("closeloop")

DEFAULT_THREADS = 8


def listening_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A bound, listening TCP socket, made before the workers are forked so they all accept from
    it: the kernel hands each new connection to one of them."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class HttpServer:
    def __init__(
        self,
        app: WsgiApp,
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        threads: int = DEFAULT_THREADS,
        sock: socket.socket | None = None,
    ) -> None:
        """Listen on `host:port`, or serve `sock`, a socket already listening (a worker's)."""
        # waitress warns "Task queue depth is N" whenever a request waits for a thread: under
        # sustained load, a line per request. The metrics' minute summary says what was served.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        where: dict[str, Any] = {"sockets": [sock]} if sock is not None else {"host": host, "port": port}
        server = waitress.create_server(
            app, threads=threads, ident="closeloop", clear_untrusted_proxy_headers=True, **where
        )
        if not isinstance(server, BaseWSGIServer):  # several listen addresses: not something we configure
            raise RuntimeError("closeloop listens on exactly one address")
        self._server = server
        self._thread: threading.Thread | None = None
        self._stop_accepting = threading.Event()
        self._stopped = threading.Event()
        self._finished = threading.Event()
        self._running = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        host = self._server.effective_host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}"

    def serve_forever(self) -> None:
        """Run the event loop until `close()`. All socket closing happens here, in the loop's own
        thread: closing a socket from another thread while this one sits in select() hands it a
        dead file descriptor."""
        server: Any = self._server
        adj = server.adj
        self._running.set()
        while not self._stopped.is_set():
            if self._stop_accepting.is_set() and server.accepting:
                wasyncore.dispatcher.close(server)
            server.asyncore.loop(
                timeout=adj.asyncore_loop_timeout, map=server._map, use_poll=adj.asyncore_use_poll, count=1
            )
        if server.accepting:  # stopped before the loop got round to it
            wasyncore.dispatcher.close(server)  # not server.close(): that would close the trigger
        for channel in list(server._map.values()):
            if channel is not server.trigger:  # close() still needs it to wake us; it closes it
                channel.close()
        self._finished.set()

    def start_in_thread(self) -> HttpServer:
        self._thread = threading.Thread(target=self.serve_forever, name="closeloop-http", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting, let running requests finish (up to `timeout`), then close connections."""
        server: Any = self._server
        self._stop_accepting.set()
        server.pull_trigger()  # wake the loop so it stops listening now
        server.task_dispatcher.shutdown(cancel_pending=False, timeout=timeout)
        self._stopped.set()
        server.pull_trigger()
        if self._running.is_set():
            self._finished.wait(timeout)
        server.trigger.close()


def watch_parent(parent: int, on_gone: Callable[[], None], interval: float = 1.0) -> threading.Thread:
    """Call `on_gone` once the process that forked this one is gone (killed with -9, say), so a
    worker never keeps serving on its own."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        log.warning("the parent process %s is gone: this worker stops", parent)
        on_gone()

    thread = threading.Thread(target=watch, name="closeloop-parent-watch", daemon=True)
    thread.start()
    return thread


class Workers:
    """Pre-fork: `count` child processes, each running `serve()` (a whole runtime serving the
    listening socket they inherit) until it returns its exit code.

    SIGTERM or SIGINT to the parent is passed on to every worker, which finishes its in-flight
    requests and stops; the parent returns once all have. A worker that dies otherwise is started
    again a second later; one that exits with `fatal_code` (it refused to start, e.g. a bad
    token) stops them all, and the parent returns that code.
    """

    def __init__(
        self, serve: Callable[[], int], count: int, *, fatal_code: int = 2, restart_delay: float = 1.0
    ) -> None:
        self.serve = serve
        self.count = count
        self.fatal_code = fatal_code
        self.restart_delay = restart_delay
        self.children: dict[int, int] = {}  # pid -> worker number
        self.stopping = False
        self.code = 0

    def _start(self, number: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the parent's code
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                code = self.serve()
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.children[pid] = number
        log.debug("worker %s started (pid %s)", number, pid)

    def _stop_all(self, signum: int = signal.SIGTERM) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                os.kill(pid, signum)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stopping:
            self.stopping = True
            log.info("received %s: stopping %s workers", signal.Signals(signum).name, len(self.children))
        self._stop_all()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for number in range(1, self.count + 1):
            self._start(number)
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            number = self.children.pop(pid, None)
            if number is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if self.stopping:
                continue
            if code == self.fatal_code:
                log.error("worker %s could not start (exit code %s): stopping the others", number, code)
                self.stopping, self.code = True, code
                self._stop_all()
                continue
            log.warning("worker %s (pid %s) exited with %s: starting it again", number, pid, code)
            time.sleep(self.restart_delay)
            if not self.stopping:
                self._start(number)
        return self.code
