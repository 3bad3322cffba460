"""Responses carrying a theme, written straight into the database (hundreds in one INSERT), for
the "You said, we did" tests: the audience is read from `feedback` and `theme_tags` alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bot.domain.vocabulary import Category, ThemeSource
from storage.db import Database
from storage.models import Feedback, ThemeTag


def seed(
    database: Database,
    theme: str,
    customers: list[dict[str, Any]],
    now: datetime,
    department: str = "support",
) -> None:
    """One detractor response per entry: `id`, `name`, `email`, `contact_ok`, `category`."""
    rows = []
    for n, c in enumerate(customers):
        rows.append(
            {
                "external_id": c.get("external_id", f"seed-{theme}-{c.get('id') or c.get('email')}-{n}"),
                "survey": "nps",
                "score": 3,
                "category": c.get("category", Category.DETRACTOR),
                "department": c.get("department", department),
                "customer_id": c.get("id"),
                "customer_name": c.get("name"),
                "customer_email": c.get("email"),
                "contact_ok": c.get("contact_ok"),
                "language": c.get("language", "en"),
                "tags": [theme],
                "raw": {},
                "received_at": now - timedelta(minutes=len(customers) - n),
                "updated_at": now,
                "revision": 1,
            }
        )
    with database.connection() as connection:
        ids = list(
            connection.execute(insert(Feedback.__table__).returning(Feedback.__table__.c.id), rows).scalars()
        )
        connection.execute(
            insert(ThemeTag.__table__),
            [
                {
                    "feedback_id": i,
                    "theme": theme.casefold(),
                    "source": ThemeSource.TAG,
                    "department": r["department"],
                    "category": r["category"],
                    "received_at": r["received_at"],
                }
                for i, r in zip(ids, rows, strict=True)
            ],
        )


def customers(n: int, prefix: str = "c") -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}-{i}", "name": f"Customer {i}", "email": f"{prefix}{i}@example.com"}
        for i in range(n)
    ]
