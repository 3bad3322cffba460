"""Which CSV column feeds which field of a response, and a CSV row as the intake's payload.

The row becomes the same JSON-shaped payload `POST /feedback` takes, so it is validated by the
intake's own `parse_feedback`: a row is refused for exactly what a request would be. Cells are
text; the few fields the intake wants as numbers are converted only when they read as one, so a
cell like `ten` reaches the validation and is refused there, with its reason.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.records import FEEDBACK_FIELDS

# The fields a column can feed (the response id, its survey, and every field a re-send may
# change); the default column of each is the field's own name (as `closeloop export` names
# them), matched ignoring case, spaces and dashes.
FIELDS: tuple[str, ...] = ("id", "survey", *FEEDBACK_FIELDS)
# Other names a column of a field often has; `external_id` lets an export be imported again.
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("external_id",),
    "submitted_at": ("answered_at",),
}
REQUIRED = ("id", "score")
# Column names survey tools' exports often use, only to suggest a `--map` when a field is missing.
HINTS: dict[str, tuple[str, ...]] = {
    "id": ("response_id", "response", "responseid", "submission_id", "token"),
    "score": ("nps", "rating", "csat", "ces", "answer", "value"),
}
SURVEYS = ("nps", "csat", "ces")
_INTEGER = re.compile(r"[+-]?\d{1,18}")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_TAG_SPLIT = re.compile(r"[,;]")


class ColumnsError(ValueError):
    """The file's columns or the `--map` options cannot work; the message names the fix."""


def _plain(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().casefold())


def parse_maps(maps: Sequence[str]) -> dict[str, str]:
    """`--map COLUMN=FIELD` options as {field: column}."""
    chosen: dict[str, str] = {}
    for option in maps:
        column, equals, target = option.rpartition("=")
        column, target = column.strip(), target.strip()
        if not equals or not column or not target:
            raise ColumnsError(
                f"--map {option!r}: write COLUMN=FIELD, e.g. --map 'Response ID=id' "
                f"(fields: {', '.join(FIELDS)})"
            )
        field = _plain(target)
        if field not in FIELDS:
            close = difflib.get_close_matches(field, FIELDS, n=1)
            hint = f" — did you mean {close[0]}?" if close else ""
            raise ColumnsError(f"--map {option!r}: no field {target!r}{hint} (fields: {', '.join(FIELDS)})")
        if field in chosen:
            raise ColumnsError(
                f"--map {option!r}: {field} is already fed by column {chosen[field]!r} — map one column to it"
            )
        chosen[field] = column
    return chosen


@dataclass(frozen=True)
class Columns:
    """Where each mapped field is in a row (by index), and the file's other columns, which are
    kept with the response's raw payload as extra fields are for /feedback."""

    index: dict[str, int]
    extra: dict[str, int]
    survey: str | None

    def payload(self, cells: Sequence[str]) -> dict[str, Any]:
        """The row as the intake's JSON payload; an empty cell is a field not sent."""
        count = len(cells)
        payload: dict[str, Any] = {}
        customer: dict[str, Any] = {}
        for field, at in self.index.items():
            if at >= count:
                continue
            cell = cells[at]
            if not cell.strip():
                continue
            if field == "score":
                payload["score"] = int(cell) if _INTEGER.fullmatch(cell.strip()) else cell
            elif field == "customer_value":
                text = cell.strip()
                customer["value"] = float(text) if _NUMBER.fullmatch(text) else cell
            elif field == "tags":
                payload["tags"] = [tag.strip() for tag in _TAG_SPLIT.split(cell) if tag.strip()]
            elif field == "survey":
                payload["survey"] = cell.strip().casefold()
            elif field.startswith("customer_"):
                customer[field.removeprefix("customer_")] = cell
            else:
                payload[field] = cell
        if "survey" not in payload and self.survey is not None:
            payload["survey"] = self.survey
        if customer:
            payload["customer"] = customer
        extra = {name: cells[at] for name, at in self.extra.items() if at < count and cells[at]}
        if extra:
            payload["csv"] = extra
        return payload


def resolve(header: Sequence[str], maps: Mapping[str, str], survey: str | None, source: str) -> Columns:
    """Match the header to the fields: `--map` first, then each field's default names. Missing
    required columns are named with the columns found and the `--map` that would fix it."""
    names = [name.strip() for name in header]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0].removeprefix("\ufeff")
    by_plain: dict[str, int] = {}
    for at, name in enumerate(names):
        by_plain.setdefault(_plain(name), at)
    index: dict[str, int] = {}
    for field, column in maps.items():
        at = by_plain.get(_plain(column))
        if at is None:
            raise ColumnsError(
                f"--map {column}={field}: {source} has no column {column!r} — its columns are: "
                f"{_listing(names)}"
            )
        index[field] = at
    taken = set(index.values())
    for field in FIELDS:
        if field in index:
            continue
        for name in (field, *ALIASES.get(field, ())):
            at = by_plain.get(name)
            if at is not None and at not in taken:
                index[field] = at
                taken.add(at)
                break
    missing = [field for field in REQUIRED if field not in index]
    if "survey" not in index and survey is None:
        missing.append("survey")
    if missing:
        raise ColumnsError(_missing(missing, names, taken, source))
    extra = {name: at for at, name in enumerate(names) if at not in taken and name}
    return Columns(index=index, extra=extra, survey=survey)


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:30])
    return shown + (f" and {len(names) - 30} more" if len(names) > 30 else "") if names else "(none)"


def _missing(missing: list[str], names: list[str], taken: set[int], source: str) -> str:
    free = [name for at, name in enumerate(names) if at not in taken]
    fixes = []
    for field in missing:
        if field == "survey":
            fixes.append("--survey nps (or csat, ces) when every row is of one survey")
            continue
        hinted = [n for n in free if _plain(n) in HINTS.get(field, ())]
        close = difflib.get_close_matches(field, [_plain(n) for n in free], n=1, cutoff=0.6)
        column = next((n for n in free if close and _plain(n) == close[0]), hinted[0] if hinted else "COLUMN")
        fixes.append(f"--map '{column}={field}'")
    return (
        f"{source}: no column for {', '.join(missing)} — its columns are: {_listing(names)}; "
        f"name them with {' '.join(fixes)}"
    )
