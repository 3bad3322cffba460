"""Rate-limiting what admins are told: one alert per problem per period, across processes."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import AdminAlert


class AdminAlerts:
    def __init__(self, database: Database) -> None:
        self.database = database

    def due(self, key: str, now: datetime, every: timedelta) -> bool:
        """True when nobody has alerted about `key` within `every`; the caller then sends it."""
        key = key[:200]
        try:
            with self.database.transaction() as session:
                row = session.scalar(select(AdminAlert).where(AdminAlert.key == key).with_for_update())
                if row is None:
                    session.add(AdminAlert(key=key, sent_at=now))
                    return True
                if row.sent_at <= now - every:
                    row.sent_at = now
                    return True
                return False
        except IntegrityError:  # another process inserted the same key first: it alerts
            return False
