"""Turnarounds: a detractor whose loop was closed comes back as a promoter.

The guides call a detractor won back the most valuable outcome there is, so it is celebrated and
credited to the person who followed up. What counts is decided here, free of storage and Slack:
storage finds the candidates and records each turnaround once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.records import EventRecord
from bot.domain.vocabulary import Category, EventKind

SYSTEM_CLOSER = "closeloop"  # the actor of a case that closed itself (no person is credited)
WON_BACK_NOTE = "won back: the customer's new score is {score}"
CLOSED_ITSELF_NOTE = "closed by closeloop: the customer's new score is {score}, no follow-up is needed"


def is_turnaround(before: str, after: str) -> bool:
    """Only detractor to promoter: a passive who becomes a promoter was never at risk."""
    return before == Category.DETRACTOR and after == Category.PROMOTER


def won_back_note(score: int) -> str:
    return WON_BACK_NOTE.format(score=score)


def closed_itself_note(score: int) -> str:
    return CLOSED_ITSELF_NOTE.format(score=score)


def followed_up_at(contacted_at: datetime | None, closed_at: datetime | None, fallback: datetime) -> datetime:
    """The month the announcement names: the owner's contact, or the close when none was logged."""
    return contacted_at or closed_at or fallback


def won_back_from(events: Sequence[EventRecord]) -> int | None:
    """The detractor score the case's customer turned promoter from, read off the intake's
    updates of its response ("score": [before, after], "category": [before, after]); None when
    it never went from detractor to promoter (Close as won back is then refused)."""
    turned: int | None = None
    for event in events:
        if event.kind != EventKind.FEEDBACK_UPDATED:
            continue
        category, score = event.details.get("category"), event.details.get("score")
        if category and score and category[0] == Category.DETRACTOR and turned is None:
            turned = int(score[0])
        if category and category[1] == Category.DETRACTOR:
            turned = None  # back to a detractor since: not won back (yet)
    return turned
