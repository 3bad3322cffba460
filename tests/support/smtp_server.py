"""A real SMTP server on a free local port (aiosmtpd), for the follow-up tests: it keeps every
message it accepts (parsed, and the bytes as they came), can be told to refuse for a while (a
mail server that is down), and can speak STARTTLS or SMTPS with a self-signed certificate made
by `openssl req`, require a login, or not offer SMTPUTF8."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.crash_helpers import free_port


class Mailbox:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.raw: list[bytes] = []
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
            self.raw.append(envelope.original_content or envelope.content)
        return "250 2.0.0 OK queued"

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [message for _, message in self.received]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key; trusted by a client through SSL_CERT_FILE."""
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class SmtpServer:
    """`tls`: None, "starttls" (required before MAIL) or "ssl" (SMTPS), with the certificate of
    `self_signed`; `login`: the user and password it requires (over TLS only)."""

    def __init__(
        self,
        *,
        tls: str | None = None,
        certificate: tuple[Path, Path] | None = None,
        login: tuple[str, str] | None = None,
        smtputf8: bool = True,
    ) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.logins: list[str] = []
        options: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
        if tls is not None:
            assert certificate is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*certificate)
            if tls == "ssl":
                options["ssl_context"] = context
            else:
                options.update(tls_context=context, require_starttls=True)
        if login is not None:
            options.update(authenticator=self._authenticator(login), auth_required=True)
            if tls == "ssl":  # aiosmtpd offers AUTH over SMTPS only so (the socket is TLS already)
                options["auth_require_tls"] = False
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **options)

    def _authenticator(self, login: tuple[str, str]) -> Any:
        def check(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            self.logins.append(f"{mechanism}:{'ok' if ok else 'refused'}")
            return AuthResult(success=ok, handled=False)

        return check

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=false&timeout=5"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
