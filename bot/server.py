"""Serving the WSGI app with waitress: a production-grade, pure-Python server (no compiler, works
on every platform), unlike Bolt's development server."""

from __future__ import annotations

import threading
from typing import Any

import waitress
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

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        host = self._server.effective_host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}"

    def serve_forever(self) -> None:
        self._server.run()

    def start_in_thread(self) -> HttpServer:
        self._thread = threading.Thread(target=self.serve_forever, name="closeloop-http", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting, let running requests finish (up to `timeout`), then close connections."""
        server: Any = self._server
        server.close()
        server.task_dispatcher.shutdown(cancel_pending=False, timeout=timeout)
        for channel in list(server._map.values()):
            channel.close()
        if self._thread is not None:
            self._thread.join(timeout)
