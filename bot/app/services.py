"""What listeners may use, handed to each handler module's `register` by the wiring module: use
cases and queries, never a store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.app.cases import CaseActions
from bot.app.escalations import EscalationActions
from bot.app.intake import IntakeService
from bot.app.leaderboard import LeaderboardQuery
from bot.app.promoters import PromoterActions
from bot.app.queries import CaseQueries
from bot.app.recognition import RecognitionActions
from bot.app.shipped import ShippedActions
from bot.app.slack_events import SlackEventLog
from bot.app.tell_customer import TellCustomer
from bot.domain.policy import Policy


@dataclass(frozen=True)
class Services:
    policy: Policy
    intake: IntakeService
    cases: CaseActions
    escalations: EscalationActions
    queries: CaseQueries
    slack_events: SlackEventLog
    recognition: RecognitionActions
    promoters: PromoterActions
    leaderboard: LeaderboardQuery
    clock: Callable[[], datetime]
    tell_customer: TellCustomer | None = None  # the close form goes on to the follow-up form
    shipped: ShippedActions | None = None  # `/loop shipped <theme>`: "You said, we did"
