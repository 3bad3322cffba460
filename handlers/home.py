"""The App Home tab, published when someone opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.app.services import Services
from bot.slack.home import HOME_CASE_LIMIT, home_view


def register(app: App, services: Services) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], client: WebClient) -> None:
        user = event.get("user")
        if isinstance(user, str) and event.get("tab", "home") == "home":
            mine = services.queries.open_cases_of(user, limit=HOME_CASE_LIMIT)
            client.views_publish(user_id=user, view=home_view(mine.total, mine.cases))
