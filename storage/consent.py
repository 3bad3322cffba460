"""A customer's word on being written to (`customer.contact_ok`), kept per customer, not per response.

One customer is their customer id or their e-mail address lower-cased: either matches, so a
response carrying only the address and one carrying the id and that address are one customer.
A response that says false (or true) sets every stored response of that customer to it, the
latest word winning; one that says nothing takes the word stored before. So `contact_ok` on any
response, and on the case snapshot built from it, is the customer's: the single follow-up, its
button, `/loop shipped` and the re-check before sending all read the same answer, unchanged.
Both columns are indexed (`ix_feedback_customer_id`, `ix_feedback_customer_email_lower`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.engine import Connection

from storage.models import Feedback

FEEDBACK = Feedback.__table__


def _same_customer(customer_id: str | None, email: str | None) -> ColumnElement[bool] | None:
    matches = []
    if customer_id and customer_id.strip():
        matches.append(FEEDBACK.c.customer_id == customer_id)
    if email and email.strip():
        matches.append(func.lower(FEEDBACK.c.customer_email) == email.strip().lower())
    return or_(*matches) if matches else None


def stored_word(connection: Connection, customer_id: str | None, email: str | None) -> bool | None:
    """What the customer said last on any stored response; None when they never said."""
    match = _same_customer(customer_id, email)
    if match is None:
        return None
    found = connection.execute(
        select(FEEDBACK.c.contact_ok)
        .where(match, FEEDBACK.c.contact_ok.is_not(None))
        .order_by(FEEDBACK.c.updated_at.desc(), FEEDBACK.c.id.desc())
        .limit(1)
    ).first()
    return None if found is None else bool(found[0])


def word_params(customer_id: str | None, email: str | None) -> dict[str, str | None]:
    """The bound values of `STORED_WORD` (None matches nothing)."""
    return {
        "word_customer_id": customer_id if customer_id and customer_id.strip() else None,
        "word_email": email.strip().lower() if email and email.strip() else None,
    }


# `stored_word` as a scalar subquery, for the intake's INSERT (no statement of its own).
STORED_WORD = (
    select(FEEDBACK.c.contact_ok)
    .where(
        FEEDBACK.c.contact_ok.is_not(None),
        or_(
            FEEDBACK.c.customer_id == bindparam("word_customer_id"),
            func.lower(FEEDBACK.c.customer_email) == bindparam("word_email"),
        ),
    )
    .order_by(FEEDBACK.c.updated_at.desc(), FEEDBACK.c.id.desc())
    .limit(1)
    .scalar_subquery()
)


def spread_word(connection: Connection, customer_id: str | None, email: str | None, said: bool) -> None:
    """The customer said `said`: every stored response of theirs now says it."""
    match = _same_customer(customer_id, email)
    if match is None:
        return
    connection.execute(
        update(FEEDBACK)
        .where(match, or_(FEEDBACK.c.contact_ok.is_(None), FEEDBACK.c.contact_ok != said))
        .values(contact_ok=said)
    )


def inherit_word(connection: Connection, feedback_ids: Sequence[int]) -> None:
    """Responses written without a word (an import carries none) take their customer's stored
    word, in one set-based UPDATE per chunk."""
    other = FEEDBACK.alias("other")
    same = and_(
        other.c.contact_ok.is_not(None),
        or_(
            other.c.customer_id == FEEDBACK.c.customer_id,
            func.lower(other.c.customer_email) == func.lower(FEEDBACK.c.customer_email),
        ),
    )
    word = (
        select(other.c.contact_ok)
        .where(same)
        .order_by(other.c.updated_at.desc(), other.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    for start in range(0, len(feedback_ids), 500):
        chunk = list(feedback_ids[start : start + 500])
        connection.execute(
            update(FEEDBACK)
            .where(FEEDBACK.c.id.in_(chunk), FEEDBACK.c.contact_ok.is_(None), exists().where(same))
            .values(contact_ok=word)
        )
