"""Serving the WSGI app with waitress: a production-grade, pure-Python server (no compiler, works
on every platform), unlike Bolt's development server."""

from __future__ import annotations

import threading
from typing import Any

import waitress
from waitress import wasyncore
from waitress.server import BaseWSGIServer

from bot.web import WsgiApp


class HttpServer:
    def __init__(self, app: WsgiApp, *, host: str = "0.0.0.0", port: int = 3000, threads: int = 8) -> None:
        server = waitress.create_server(
            app, host=host, port=port, threads=threads, ident="closeloop", clear_untrusted_proxy_headers=True
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
