"""Writing export records as CSV that spreadsheets open safely, or as JSON lines.

CSV cells that a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
carriage return: OWASP's CSV injection list) get a leading `'`, so customer text is shown, never
run. JSON lines need no such care: nothing evaluates them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def neutralised(text: str) -> str:
    """The cell as text a spreadsheet will not evaluate."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _cell(value: Any) -> str:
    """One CSV cell: empty for nothing, true/false, tags joined; numbers are left alone (a
    negative score cannot occur, and a number is not a formula), text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, list):
        value = ", ".join(str(item) for item in value)
    return neutralised(str(_plain(value)))


def write_csv(
    out: TextIO, columns: Sequence[str], rows: Iterable[dict[str, Any]], *, bom: bool = False
) -> int:
    """Header then one line per record (csv module quoting, CRLF as RFC 4180); returns the count."""
    if bom:
        out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([_cell(row[name]) for name in columns])
        count += 1
    return count


def write_jsonl(out: TextIO, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> int:
    """One JSON object per line, times in ISO 8601, text unescaped UTF-8; returns the count."""
    count = 0
    for row in rows:
        out.write(json.dumps({name: _plain(row[name]) for name in columns}, ensure_ascii=False))
        out.write("\n")
        count += 1
    return count
