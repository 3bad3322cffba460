"""The theme spike alert's renderer: one post in the department's channel naming the cases.

It reads the alert as it stands at sending time (`ThemeAlertReader`, storage's `ThemeStore`), so
the named cases' links are those of their messages by then. `with_theme_alerts` adds it to a
registry; the wiring hands that to the outbox worker."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Protocol

from bot.domain.themes import ThemeAlert, labels
from bot.domain.vocabulary import DeliveryKind
from bot.outbox.renderers import Draft, Moot, Renderer, Rendering
from bot.outbox.sender import Post
from bot.slack.themes_report import theme_alert_message

THEME_ALERT_KINDS = frozenset({DeliveryKind.THEME_ALERT})
DEFAULT_WITHIN = timedelta(hours=24)  # how an alert reads if the policy dropped its rule meanwhile


class ThemeAlertReader(Protocol):
    def alert(self, delivery_id: int, within: timedelta) -> ThemeAlert | None: ...


def with_theme_alerts(renderers: Mapping[str, Renderer], reader: ThemeAlertReader) -> Mapping[str, Renderer]:
    def alert(draft: Draft) -> Rendering:
        rule = draft.policy.alerts.theme_spike
        found = reader.alert(draft.delivery.id, rule.within if rule is not None else DEFAULT_WITHIN)
        if found is None:
            return Moot("a later alert of the same theme took its place")
        shown = labels(draft.policy.themes).get(found.theme, found.theme)
        links = {case.id: draft.link_of(case) for case in found.cases}
        message = theme_alert_message(found, shown, draft.policy, links)
        return Post(draft.policy.department_of(found).channel, message)

    return MappingProxyType(
        {**renderers, DeliveryKind.THEME_ALERT: Renderer(alert, after_case_message=False)}
    )
