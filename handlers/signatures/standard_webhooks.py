"""Standard Webhooks (standardwebhooks.com), as Formbricks signs and as any sender may sign
`POST /feedback`: `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64
HMAC-SHA256 of "id.timestamp.body">` keyed with the base64-decoded `whsec_` secret.

The `standardwebhooks` package (the spec's reference library) computes the signature; the
five-minute window is checked here against the injected clock, because its `verify` reads the
wall clock, which tests and replays cannot move."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

ID_HEADER = "HTTP_WEBHOOK_ID"
TIMESTAMP_HEADER = "HTTP_WEBHOOK_TIMESTAMP"
SIGNATURE_HEADER = "HTTP_WEBHOOK_SIGNATURE"
HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
MAX_ID = 200  # ids are UUIDs or msg_… names; a longer one is not a Standard Webhooks id


def webhook(secret: str) -> Webhook:
    """The verifier for a `whsec_` secret (settings has already checked its form)."""
    return Webhook(secret)


def tried(environ: dict[str, Any]) -> bool:
    return any(header in environ for header in HEADERS)


def _matches(expected: bytes, signatures: str) -> bool:
    """Any `v1,<base64>` among the space-separated signatures (senders rotating keys send two)."""
    for entry in signatures.split()[:10]:
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            supplied = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, supplied):
            return True
    return False


def standard_webhook_problem(
    environ: dict[str, Any],
    verifier: Webhook,
    body: bytes | None,
    now: float,
    stale: Callable[[float], str | None],
) -> str | None:
    """`stale(age)` words a timestamp outside the window (handlers.intake's, shared by all schemes)."""
    message_id = str(environ.get(ID_HEADER, "")).strip()
    timestamp = str(environ.get(TIMESTAMP_HEADER, "")).strip()
    signatures = str(environ.get(SIGNATURE_HEADER, "")).strip()
    missing = [
        name
        for name, value in zip(
            ("webhook-id", "webhook-timestamp", "webhook-signature"),
            (message_id, timestamp, signatures),
            strict=True,
        )
        if not value
    ]
    if missing:
        return (
            f"{', '.join(missing)} missing — a Standard Webhooks request carries webhook-id, "
            "webhook-timestamp and webhook-signature"
        )
    if len(message_id) > MAX_ID:
        return f"webhook-id is longer than {MAX_ID} characters"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 15):
        return "webhook-timestamp must be the Unix time in whole seconds, e.g. 1763888400"
    if body is None:
        return "the body is over the size limit, too large to verify"
    problem = stale(now - int(timestamp))
    if problem is not None:
        return problem
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8 text, so its signature cannot be checked"
    signed = verifier.sign(
        msg_id=message_id, timestamp=datetime.fromtimestamp(int(timestamp), UTC), data=text
    )
    expected = base64.b64decode(signed.partition(",")[2])
    if not _matches(expected, signatures):
        return (
            "webhook-signature does not match: expected v1,<base64 HMAC-SHA256 of "
            "'<webhook-id>.<webhook-timestamp>.<raw body>'> keyed with the base64-decoded whsec_ secret"
        )
    return None
