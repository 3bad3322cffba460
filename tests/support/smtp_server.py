"""A real SMTP server on a free local port (aiosmtpd), for the follow-up tests: it keeps every
message it accepts, and can be told to refuse for a while (a mail server that is down)."""

from __future__ import annotations

import asyncio
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.crash_helpers import free_port


class Mailbox:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.refuse_with: str | None = None  # e.g. "451 4.3.0 try again later"
        self.refused = 0
        self.hang = False  # take the message, then never answer (a server that stalls after DATA)
        self.hung = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hang:
            with self._lock:
                self.hung += 1
            await asyncio.sleep(300)
            return "451 4.3.0 too late"
        with self._lock:
            if self.refuse_with is not None:
                self.refused += 1
                return self.refuse_with
            parsed = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 OK queued"

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [message for _, message in self.received]


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=false&timeout=5"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
