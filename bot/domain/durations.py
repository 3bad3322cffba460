"""Durations as admins write them in the policy file: `90s`, `15m`, `4h`, `2d`, `1h30m`."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*([smhd])")
_WHOLE = re.compile(r"^\s*(\d+\s*[smhd]\s*)+$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """A bare number is refused: '30' could be seconds or minutes, and guessing wrong breaks an SLA."""
    if not isinstance(text, str) or not _WHOLE.match(text.lower()):
        raise ValueError(
            f"{text!r} is not a duration — write a number with a unit: s, m, h or d (e.g. 30m, 4h, 1h30m)"
        )
    total = timedelta()
    for amount, unit in _PART.findall(text.lower()):
        total += timedelta(**{_UNITS[unit]: int(amount)})
    return total


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration, for messages and error texts ('1d 4h', '15m')."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0m"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts)
