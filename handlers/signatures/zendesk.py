"""Zendesk webhooks: `X-Zendesk-Webhook-Signature: base64(HMAC-SHA256(timestamp + body))` keyed
with the webhook's signing secret, the timestamp sent in `X-Zendesk-Webhook-Signature-Timestamp`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

SIGNATURE_HEADER = "HTTP_X_ZENDESK_WEBHOOK_SIGNATURE"
TIMESTAMP_HEADER = "HTTP_X_ZENDESK_WEBHOOK_SIGNATURE_TIMESTAMP"


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def zendesk_problem(environ: dict[str, Any], secret: str, body: bytes | None) -> str | None:
    signature = str(environ.get(SIGNATURE_HEADER, "")).strip()
    timestamp = str(environ.get(TIMESTAMP_HEADER, "")).strip()
    if not signature:
        return "X-Zendesk-Webhook-Signature is missing — Zendesk signs every webhook request"
    if not timestamp:
        return "X-Zendesk-Webhook-Signature-Timestamp is missing — it is part of what Zendesk signs"
    if body is None:
        return "the body is over the size limit, too large to verify"
    expected = zendesk_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return (
            "X-Zendesk-Webhook-Signature does not match: copy the webhook's signing secret again "
            "(Admin Center > Apps and integrations > Webhooks > the webhook > Reveal secret)"
        )
    return None
