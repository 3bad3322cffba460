"""Promoter follow-ups in storage, on SQLite and PostgreSQL: presses racing on real threads
record one row per (response, action) and owe one coalesced edit of the notice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.domain.vocabulary import DeliveryKind, DeliveryStatus, PromoterAction
from storage.models import Delivery, PromoterFollowUp
from storage.promoter_follow_ups import PromoterFollowUps
from tests.factories import feedback_and_triage
from tests.support.race import race


def test_racing_presses_record_the_action_once_and_owe_one_edit(database, repository, policy, clock):
    outcome = repository.record_feedback(*feedback_and_triage(policy, score=10), clock())
    assert outcome.case_id is None
    feedback_id = outcome.feedback_id
    store = PromoterFollowUps(database)
    now = clock()

    def press(n: int) -> bool:
        action = PromoterAction.THANKED if n % 2 else PromoterAction.REFERENCE
        return store.press(feedback_id, action, f"U0P{n}", now, lambda _last: now + timedelta(seconds=5))[1]

    new = race(8, press)
    assert sum(new) == 2  # one winner per action
    with database.transaction() as session:
        rows = session.scalar(select(func.count()).select_from(PromoterFollowUp))
        refreshes = session.scalar(
            select(func.count()).where(
                Delivery.kind == DeliveryKind.NOTICE_REFRESH, Delivery.status == DeliveryStatus.PENDING
            )
        )
    assert rows == 2 and refreshes == 1
    firsts = {f.action: f.user_id for f in store.follow_ups(feedback_id)}
    assert set(firsts) == {PromoterAction.THANKED, PromoterAction.REFERENCE}
