"""`/loop leaderboard`: per person, loops closed, won back, median time to close, kudos,
recognitions and promoter follow-ups; and, in the footer, the promoters nobody thanked within a week.

People appear as mentions only; no customer text is shown. The top `SHOWN` people each get a
line (one section per line, far inside the 50 blocks and 3,000 characters of a section)."""

from __future__ import annotations

from typing import Any

from bot.domain.leaderboard import Leaderboard, Standing
from bot.domain.scoring import score_label
from bot.domain.vocabulary import Survey
from bot.slack import kit
from bot.slack.text import duration

SHOWN = 20
MEDALS = ("🥇", "🥈", "🥉")
PERIOD_WORDS = {"week": "the last 7 days", "month": "the last 30 days", "quarter": "the last 90 days"}


def _figures(standing: Standing) -> str:
    parts = [f"*{standing.closed}* closed", f"💚 {standing.won_back} won back"]
    if standing.median_close_seconds is not None:
        parts.append(f"median {duration(standing.median_close_seconds)} to close")
    parts += [f"👏 {standing.kudos}", f"🏅 {standing.recognitions}"]
    if standing.promoters:
        parts.append(f"🙏 {standing.promoters} promoter follow-up{'s' if standing.promoters != 1 else ''}")
    return " · ".join(parts)


def leaderboard_answer(board: Leaderboard) -> dict[str, Any]:
    words = PERIOD_WORDS[board.period]
    blocks: list[dict[str, Any]] = [kit.section(f"*🏆 Leaderboard — {words}* (UTC, up to now)")]
    shown = board.standings[:SHOWN]
    if not shown:
        blocks.append(kit.section("_Nobody closed a loop or followed up a promoter in this period yet._"))
    for rank, standing in enumerate(shown, start=1):
        place = MEDALS[rank - 1] if rank <= len(MEDALS) else f"{rank}."
        blocks.append(kit.section(f"{place} <@{standing.user_id}> — {_figures(standing)}"))
    more = len(board.standings) - len(shown)
    if more > 0:
        blocks.append(kit.context(f"…and {more} more {'people' if more != 1 else 'person'}."))
    blocks.append(kit.divider())
    if board.missed_total == 0:
        blocks.append(kit.context("🙏 Every promoter noticed in this period was followed up within a week."))
    else:
        lines = [
            f"• {score_label(Survey(m.survey), m.score)} in <#{m.channel}>, noticed "
            f"<!date^{int(m.noticed_at.timestamp())}^{{date_short}}|{m.noticed_at:%Y-%m-%d}>"
            for m in board.missed
        ]
        extra = board.missed_total - len(board.missed)
        if extra > 0:
            lines.append(f"…and {extra} more.")
        plural = "s" if board.missed_total != 1 else ""
        title = f"*😶 {board.missed_total} missed thank-you{plural}*: promoters nobody followed up in a week"
        blocks.append(kit.section(title + "\n" + "\n".join(lines)))
    text = f"Leaderboard for {words}: {len(board.standings)} people, {board.missed_total} missed thank-yous"
    return {"text": text, "blocks": blocks}
