"""Remembering which Slack events were handled, across processes (an INSERT is the lock)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import SlackEvent


class SeenEvents:
    def __init__(self, database: Database) -> None:
        self.database = database

    def first_sighting(self, event_id: str, now: datetime) -> bool:
        """True exactly once per event id, whichever process or retry asks first."""
        try:
            with self.database.transaction() as session:
                session.add(SlackEvent(event_id=event_id[:100], received_at=now))
        except IntegrityError:
            return False
        return True

    def forget_before(self, moment: datetime) -> int:
        """Slack stops retrying after minutes; a day's memory is plenty."""
        with self.database.transaction() as session:
            return session.execute(delete(SlackEvent).where(SlackEvent.received_at < moment)).rowcount  # type: ignore[attr-defined]
