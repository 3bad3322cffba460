"""An HMAC of the raw body in one header, with the algorithm as a prefix: Typeform sends
`Typeform-Signature: sha256=<base64>`, Wootric `X-Wootric-Signature: sha1=<hex>`. Neither signs
a timestamp, so neither can refuse a replay; the upsert on the response id makes one harmless."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal

Encoding = Literal["base64", "hex"]


def body_signature(secret: str, body: bytes, algorithm: str, encoding: Encoding) -> str:
    """`<algorithm>=<digest>` as the tool computes it."""
    digest = hmac.new(secret.encode(), body, getattr(hashlib, algorithm))
    value = base64.b64encode(digest.digest()).decode() if encoding == "base64" else digest.hexdigest()
    return f"{algorithm}={value}"


def body_hmac_problem(
    supplied: str | None, secret: str, body: bytes | None, *, header: str, algorithm: str, encoding: Encoding
) -> str | None:
    if not supplied or not supplied.strip():
        return f"{header} is missing — the tool signs every request once the webhook has its secret"
    if body is None:
        return "the body is over the size limit, too large to verify"
    supplied = supplied.strip()
    if not supplied.startswith(f"{algorithm}="):
        return (
            f"{header} must be '{algorithm}=' followed by the {encoding} HMAC-{algorithm.upper()} "
            "of the body"
        )
    if encoding == "hex":
        supplied = supplied.lower()
    expected = body_signature(secret, body, algorithm, encoding)
    if not hmac.compare_digest(expected.encode(), supplied.encode("utf-8", "replace")):
        return (
            f"{header} does not match the body: check that the secret in the tool is the one in "
            "closeloop's setting"
        )
    return None
