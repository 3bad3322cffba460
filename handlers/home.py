"""The App Home tab: opening it asks for a fresh view, which the outbox publishes (paced with
every other publish, bot.outbox.home_publisher); from then on changes to what it shows refresh it.
The buttons in it are the case messages' own, answered by their usual listeners."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.app.home import HomeTab


def register(app: App, home: HomeTab) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        user = event.get("user")
        if isinstance(user, str) and user and event.get("tab", "home") == "home":
            home.opened(user)
