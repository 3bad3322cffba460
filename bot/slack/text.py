"""Making outside text safe and short enough for Slack.

`&`, `<` and `>` are control characters in mrkdwn: unescaped customer text could ping a channel
(`<!channel>`) or disguise a link. Every string that did not come from our own code passes
through `escape` before it reaches a Slack message, modal or fallback text.
"""

from __future__ import annotations

from collections.abc import Callable

CUT_MARKER = "… [cut: {shown:,} of {total:,} characters shown]"


def escape(text: str | None) -> str:
    if not text:
        return ""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str | None, limit: int, render: Callable[[str], str] = escape) -> str:
    """The longest prefix of `text` whose rendering (escaped, quoted, ...) plus a cut marker fits
    in `limit` characters. Cutting the raw text, not the rendered one, never splits an entity
    like `&amp;`; measuring the rendered one accounts for escaping and quote marks growing it."""
    raw = text or ""
    rendered = render(raw)
    if len(rendered) <= limit:
        return rendered
    total = len(raw)
    budget = limit - len(CUT_MARKER.format(shown=total, total=total))
    low, high = 0, min(len(raw), budget)
    while low < high:
        middle = (low + high + 1) // 2
        if len(render(raw[:middle].rstrip())) <= budget:
            low = middle
        else:
            high = middle - 1
    return render(raw[:low].rstrip()) + CUT_MARKER.format(shown=low, total=total)


def escaped_excerpt(text: str | None, limit: int) -> str:
    return fit(text, limit)


def quoted_excerpt(text: str | None, limit: int) -> str:
    """Escaped and block-quoted, within `limit` including the quote marks."""
    return fit(text, limit, lambda part: quote(escape(part)))


def quote(text: str) -> str:
    """Block-quote already escaped text line by line (mrkdwn `>` only quotes one line)."""
    return "\n".join(f">{line}" for line in text.split("\n"))


def plain(text: str, limit: int) -> str:
    """For plain_text fields (headers, options): no escaping needed, only a hard cap."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def duration(seconds: float) -> str:
    """'2 h 14 min' — precise enough to celebrate, short enough for a headline."""
    minutes = max(0, int(seconds // 60))
    if minutes < 1:
        return "under a minute"
    days, remainder = divmod(minutes, 24 * 60)
    hours, minutes = divmod(remainder, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def slack_date(moment_epoch: float, fallback: str, *, tokens: str = "{date_short_pretty} {time}") -> str:
    """Slack renders this in each reader's own time zone; `fallback` shows where it cannot."""
    return f"<!date^{int(moment_epoch)}^{tokens}|{escape(fallback)}>"


def escaped_pieces(text: str | None, limit: int) -> list[str]:
    """All of `text`, escaped, in pieces of at most `limit` characters each (one per section).

    Cut in the raw text, so no entity (`&amp;`) is ever split, and at the last line break or
    space of a piece where there is one in its second half, so words stay whole."""
    raw = text or ""
    pieces: list[str] = []
    start = 0
    while start < len(raw):
        size, end = 0, start
        while end < len(raw) and size + len(escape(raw[end])) <= limit:
            size += len(escape(raw[end]))
            end += 1
        if end < len(raw):
            gap = max(raw.rfind("\n", start, end), raw.rfind(" ", start, end))
            if gap > start + (end - start) // 2:
                end = gap + 1
        piece = escape(raw[start:end])
        if piece.strip():
            pieces.append(piece)
        start = end
    return pieces
