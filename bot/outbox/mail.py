"""A follow-up as an e-mail, and sending it over SMTP with the standard library.

The message is an `EmailMessage` with a plain-text and an HTML part. Customer text (the name,
the owner's note) is escaped for HTML with `html.escape`; headers are built by the email package
(`Address`, the `subject` header), which folds and encodes them, so a name with a newline or a
quote cannot add a header. What the SMTP server answered decides what happens next: refused
(a 4xx or 5xx reply, or no connection at all) means known not sent; a connection lost after the
message was handed over means nobody knows, and a person decides (`Outcome.uncertain`). Once
the server has accepted the message it went, whatever happens to the QUIT after it.
"""

from __future__ import annotations

import contextlib
import html
import logging
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid

from bot.domain.outer_loop import Composed
from bot.settings import MailSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Addresses:
    sender: str  # the From header as configured
    to_name: str | None
    to_address: str
    reply_to: str | None


NAME_MAX = 60  # characters of a display name; see `_address`


def _address(name: str | None, address: str) -> Address:
    # A display name is one line: a newline or other control character in a customer's name
    # becomes a space, and the email package quotes whatever else needs it. It is kept short and
    # without quotes or backslashes: a quoted name longer than a header line (or one its escapes
    # make so) is refolded by the email package without its quotes, and `<!x> <@y> <z>` in it
    # would then read as the addresses (`To: <!channel> … <dana@…>`).
    clean = " ".join((name or "").split())
    clean = "".join(c for c in clean if c.isprintable() and c not in '"\\')
    username, _, domain = address.strip().rpartition("@")
    return Address(display_name=clean[:NAME_MAX].strip(), username=username, domain=domain)


def _paragraphs_html(text: str) -> str:
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n")]
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in block.split("\n")) + "</p>" for block in blocks
    )


def build_message(composed: Composed, addresses: Addresses, now: datetime, message_id: str) -> EmailMessage:
    message = EmailMessage()
    (sender_name, sender_address), *_ = getaddresses([addresses.sender])
    message["From"] = _address(sender_name, sender_address)
    message["To"] = _address(addresses.to_name, addresses.to_address)
    if addresses.reply_to:
        message["Reply-To"] = _address(None, addresses.reply_to)
    message["Subject"] = " ".join(composed.subject.split())
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "no"  # a person wrote it: auto-replies are welcome
    parts = [composed.greeting, composed.note, composed.signature]
    message.set_content("\n\n".join(p for p in parts if p) + "\n")
    body = "\n".join(_paragraphs_html(p) for p in parts if p)
    lang = html.escape(composed.language, quote=True)
    message.add_alternative(
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(composed.subject)}</title></head>\n<body>\n{body}\n</body></html>\n",
        subtype="html",
    )
    message["Content-Language"] = composed.language  # after the body: set_content drops Content-*
    return message


def new_message_id(sender: str) -> str:
    domain = getaddresses([sender])[0][1].rpartition("@")[2] or "closeloop.invalid"
    return make_msgid("closeloop", domain=domain)


# The steps of one conversation, each within the timeout: connect, greeting, EHLO, STARTTLS,
# EHLO again, AUTH (two answers at most), MAIL, RCPT, DATA, the message, QUIT.
SMTP_STEPS = 12


def conversation_limit(settings: MailSettings) -> float:
    """The longest one SMTP conversation may take, in seconds (`SmtpMailer` cuts it there): what
    a lease on a mail being sent must outlast, or another process would take it for a crashed
    send while it still goes."""
    return SMTP_STEPS * settings.timeout


@dataclass(frozen=True)
class Outcome:
    """`sent`; or not, with the reason, and whether to try again (`retry`) or whether nobody
    knows if it went (`uncertain`). `unreachable`: no connection at all, so the next mail of the
    same run would wait out the same timeout."""

    sent: bool
    reason: str = ""
    retry: bool = False
    uncertain: bool = False
    unreachable: bool = False


class SmtpMailer:
    """One SMTP connection per message: follow-ups are few, and a long-lived connection would
    need keep-alives and reconnects for nothing."""

    def __init__(self, settings: MailSettings, limit: float | None = None) -> None:
        self.settings = settings
        self.limit = conversation_limit(settings) if limit is None else limit

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        if s.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        return client

    def send(self, message: EmailMessage) -> Outcome:
        started = time.monotonic()
        try:
            client = self._open()
        except (OSError, smtplib.SMTPException) as error:  # not reached: nothing was handed over
            return Outcome(
                False,
                f"could not reach the mail server ({type(error).__name__}: {error})",
                retry=True,
                unreachable=True,
            )
        cut = threading.Event()
        # A server answering each command just within the timeout could still outlast the lease:
        # the whole conversation is cut at `limit` (a blocked read then fails at once).
        watchdog = threading.Timer(max(0.0, self.limit - (time.monotonic() - started)), _cut, (client, cut))
        watchdog.daemon = True
        watchdog.start()
        try:
            outcome = self._converse(client, message)
        finally:
            watchdog.cancel()
            client.close()
        if cut.is_set() and not outcome.sent:
            took = f"the mail server took longer than {self.limit:g} s"
            return replace(outcome, reason=f"{took} ({outcome.reason})")
        return outcome

    def _converse(self, client: smtplib.SMTP, message: EmailMessage) -> Outcome:
        handed_over = False
        try:
            if self.settings.username:
                client.login(self.settings.username, self.settings.password or "")
            handed_over = True
            client.send_message(message)
        except smtplib.SMTPNotSupportedError as error:  # raised before MAIL FROM: nothing went
            return Outcome(False, f"the mail server cannot take this mail ({error})")
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            return Outcome(
                False, f"the mail server refused the address ({codes})", retry=any(c < 500 for c in codes)
            )
        except smtplib.SMTPResponseException as error:
            text = (
                error.smtp_error.decode(errors="replace")
                if isinstance(error.smtp_error, bytes)
                else str(error)
            )
            reason = f"the mail server answered {error.smtp_code} {text[:200]}"
            if isinstance(error, smtplib.SMTPAuthenticationError):
                return Outcome(
                    False, reason + " — check the user and password in CLOSELOOP_SMTP_URL", retry=True
                )
            return Outcome(False, reason, retry=error.smtp_code < 500)
        except (OSError, smtplib.SMTPException) as error:
            reason = f"the connection to the mail server broke ({type(error).__name__}: {error})"
            if handed_over:  # it may have been accepted before the answer was lost
                return Outcome(False, reason, uncertain=True)
            return Outcome(False, reason, retry=True)
        try:  # accepted: the mail went, and a QUIT refused or timed out changes nothing
            client.quit()
        except (OSError, smtplib.SMTPException) as error:
            log.info("the mail server did not end the session cleanly (%s); the mail went", error)
        return Outcome(True)


def _cut(client: smtplib.SMTP, cut: threading.Event) -> None:
    sock = client.sock
    if sock is None:
        return
    cut.set()
    with contextlib.suppress(OSError):  # closed meanwhile: the conversation ended on its own
        sock.shutdown(socket.SHUT_RDWR)
