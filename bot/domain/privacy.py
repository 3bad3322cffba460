"""Masking a customer's email address and phone numbers in what the whole channel sees (when the
policy asks for it); the owner still sees them in full, privately."""

from __future__ import annotations

import re

# The look-behind lets an address start only where a run of address characters starts: without
# it every position inside a long run is tried again, which is quadratic in the comment's length.
EMAIL = re.compile(r"(?<![\w.+-])([\w.+-])[\w.+-]*@([\w-]+(?:\.[\w-]+)+)")
# A phone number has a phone's shape: an international +prefix, an area code in brackets, a
# trunk 0, or the North American 555-123-4567; 7 to 15 digits in all. Order numbers, amounts,
# dates, times and addresses like 192.168.10.1 do not, and stay readable.
PHONE = re.compile(
    r"(?<![\w+#/])(?:\+\d[\d\s().-]{5,20}\d|\(\d{1,4}\)[\s.-]?\d[\d\s.-]{4,14}\d"
    r"|0\d[\d\s./-]{5,16}\d|\d{3}[.\s-]\d{3}[.\s-]\d{4})(?![\w/])"
)
DATE_LIKE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")


def _is_phone(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 7 <= len(digits) <= 15 and not DATE_LIKE.fullmatch(text.strip())


def mask_email(address: str | None) -> str | None:
    """dana@acme.example -> d•••@acme.example: the domain still says which company."""
    if not address:
        return address
    return EMAIL.sub(lambda m: f"{m.group(1)}•••@{m.group(2)}", address)


def _mask_phone(match: re.Match[str]) -> str:
    if not _is_phone(match.group(0)):
        return match.group(0)
    digits = re.sub(r"\D", "", match.group(0))
    return f"•••{digits[-2:]}"


def mask_text(text: str | None) -> str | None:
    """Emails and phone numbers inside free text (a comment), each reduced to a recognisable stub."""
    if not text:
        return text
    return PHONE.sub(_mask_phone, EMAIL.sub(lambda m: f"{m.group(1)}•••@{m.group(2)}", text))


def contact_details(email: str | None, text: str | None) -> list[str]:
    """The email and every phone number or address found in the comment, unmasked, for the owner."""
    found = [email] if email else []
    for source in (text or "",):
        found += [m.group(0) for m in EMAIL.finditer(source)]
        found += [m.group(0) for m in PHONE.finditer(source) if _is_phone(m.group(0))]
    return list(dict.fromkeys(found))
