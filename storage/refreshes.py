"""An edit of a posted message that presses keep asking for (kudos on a shout-out, follow-ups on a
promoter notice): at most one owed and untried at a time, rendered from the rows as they are
when it is sent, so a burst of presses becomes one edit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.domain.vocabulary import DeliveryKind, DeliveryStatus
from storage.models import Delivery


def owe_refresh(
    session: Session,
    kind: DeliveryKind,
    of_message: tuple[ColumnElement[bool], ...],
    new: Callable[[], Delivery],
    due: Callable[[datetime | None], datetime],
) -> None:
    """Add `new()` unless a refresh of this message (`of_message` picks its deliveries) is owed and
    not yet tried: that one will show this press too. One being tried may already have read the
    rows, so a press meanwhile owes another. `due(last sent)` spaces them out."""
    refreshes = (*of_message, Delivery.kind == kind)
    owed = session.scalar(
        select(func.count()).where(
            *refreshes, Delivery.status == DeliveryStatus.PENDING, Delivery.attempts == 0
        )
    )
    if owed:
        return
    last_sent = session.scalar(
        select(func.max(Delivery.sent_at)).where(*refreshes, Delivery.status == DeliveryStatus.SENT)
    )
    refresh = new()
    refresh.retry_at = due(last_sent)
    session.add(refresh)
