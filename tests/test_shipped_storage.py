"""'You said, we did' rows on SQLite and PostgreSQL: one row per (theme, customer) whatever
confirms, twice or in two threads at once; the pace is a slot taken in the database; a
`sending` row whose lease ran out is uncertain, not resent; the summary is owed once."""

from __future__ import annotations

import threading
from datetime import timedelta

from bot.domain.policy import Policy
from bot.domain.shipped import audience
from bot.domain.vocabulary import DeliveryKind, MessageStatus
from storage.db import Database
from storage.models import Delivery
from storage.shipped import ShippedStore
from tests.support.clock import FakeClock
from tests.support.shipped_seed import customers, seed

SECOND = timedelta(seconds=1)


def _announce(store: ShippedStore, policy: Policy, clock: FakeClock, author: str = "U0MAYA"):
    found, told = store.candidates("export")
    return store.announce(
        theme="export", label="export", note="Fixed.", author=author,
        audience=audience(policy.outer_loop, found, told), now=clock(),
    )  # fmt: skip


def test_a_second_confirmation_queues_nobody_and_the_audience_counts_each_customer_once(
    database, policy, clock
):
    people = customers(30)
    seed(database, "export", [*people, *people[:5]], clock())  # five customers answered twice
    store = ShippedStore(database)
    first = _announce(store, policy, clock)
    assert (first.queued, first.already) == (30, 0)
    found, told = store.candidates("export")
    who = audience(policy.outer_loop, found, told)
    assert len(found) == 35 and who.told == 30 and who.recipients == []
    again = store.announce(
        theme="export",
        label="export",
        note="x",
        author="U0MAYA",
        audience=audience(policy.outer_loop, found, set()),
        now=clock(),
    )  # fmt: skip  — an audience computed before the first was written: the unique key holds
    assert (again.id, again.queued, again.already) == (None, 0, 30)


def test_two_confirmations_at_once_tell_each_customer_once(database_url, policy, clock):
    database = Database(database_url)
    seed(database, "export", customers(200), clock())
    store = ShippedStore(database)
    barrier = threading.Barrier(2)
    results = []

    def confirm(author: str) -> None:
        found, told = store.candidates("export")
        who = audience(policy.outer_loop, found, told)
        barrier.wait()
        results.append(
            store.announce(theme="export", label="export", note="n", author=author, audience=who, now=clock())
        )

    threads = [threading.Thread(target=confirm, args=(a,)) for a in ("U0MAYA", "U0OMAR")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.queued for r in results) == 200
    assert sum(r.already for r in results) == 200  # what one wrote, the other left alone
    database.dispose()


def test_the_pace_is_a_slot_in_the_database_and_a_dead_send_is_uncertain(database, policy, clock):
    seed(database, "export", customers(3), clock())
    store = ShippedStore(database)
    announced = _announce(store, policy, clock)
    lease = timedelta(seconds=40)
    first = store.lease_next(clock(), lease, SECOND)
    assert not isinstance(first, float) and first is not None
    wait = store.lease_next(clock(), lease, SECOND)
    assert wait == 1.0  # the next slot is a second away, whichever process asks
    assert store.mark_sending(first.id, first.lease_until, clock(), "<m1@x>")
    clock.advance(seconds=1)
    second = store.lease_next(clock(), lease, SECOND)
    assert not isinstance(second, float) and second is not None and second.id != first.id
    assert store.mark_sending(second.id, second.lease_until, clock(), "<m2@x>")
    store.mark_sent(second.id, clock())
    clock.advance(seconds=60)  # the first's process died mid-send: its lease has run out
    assert store.find_interrupted(clock()) == 1
    third = store.lease_next(clock(), lease, SECOND)
    assert not isinstance(third, float) and third is not None and third.id not in (first.id, second.id)
    assert store.lease_next(clock(), lease, SECOND) is None  # nothing else is pending
    assert store.settle(clock()) == []  # the third is still leased
    assert store.mark_sending(third.id, third.lease_until, clock(), "<m3@x>")
    store.mark_failed(third.id, "550 no such user")
    assert store.settle(clock()) == [announced.id]
    assert store.settle(clock()) == []  # once
    assert store.counts(announced.id) == {
        MessageStatus.SENT: 1,
        MessageStatus.UNCERTAIN: 1,
        MessageStatus.FAILED: 1,
    }
    with database.transaction() as session:
        (delivery,) = session.query(Delivery).filter(Delivery.kind == DeliveryKind.SHIPPED_SUMMARY).all()
    summary = store.summary(delivery.id)
    assert summary is not None and summary.department == "support"
    assert (summary.tally.told, summary.tally.uncertain, summary.tally.failed) == (1, 1, 1)


def test_a_lease_run_out_before_sending_is_not_used(database, policy, clock):
    """A process slow between its lease and the send (users.info, a GC pause) must not send on a
    lease that ran out: another may have taken the row for a crashed send meanwhile."""
    seed(database, "export", customers(1), clock())
    store = ShippedStore(database)
    _announce(store, policy, clock)
    got = store.lease_next(clock(), timedelta(seconds=40), SECOND)
    assert not isinstance(got, float) and got is not None
    clock.advance(seconds=41)
    assert not store.mark_sending(got.id, got.lease_until, clock(), "<late@x>")


def test_processes_sending_at_once_share_one_pace_and_one_lease_per_customer(database_url, policy, clock):
    """Four threads (as four processes) ask for the next customer at the same instants: each
    second, exactly one of them gets one, and no customer is leased twice."""
    database = Database(database_url)
    seed(database, "export", customers(6), clock())
    store = ShippedStore(database)
    _announce(store, policy, clock)
    leased: list[int] = []
    lock = threading.Lock()

    def ask(barrier: threading.Barrier) -> None:
        barrier.wait()
        for _ in range(5):
            got = store.lease_next(clock(), timedelta(seconds=40), SECOND)
            if got is not None and not isinstance(got, float):
                with lock:
                    leased.append(got.id)

    for second in range(1, 6):
        barrier = threading.Barrier(4)
        threads = [threading.Thread(target=ask, args=(barrier,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(leased) == second, leased  # one slot a second, whoever asks
        clock.advance(seconds=1)
    assert len(set(leased)) == 5
    database.dispose()


def test_a_new_confirmation_takes_again_a_customer_whose_mail_failed_but_not_an_uncertain_one(
    database, policy, clock
):
    seed(database, "export", customers(3), clock())
    store = ShippedStore(database)
    first = _announce(store, policy, clock)
    lease = timedelta(seconds=40)
    fates = []
    for fate in ("failed", "uncertain", "sent"):
        got = store.lease_next(clock(), lease, SECOND)
        assert got is not None and not isinstance(got, float)
        assert store.mark_sending(got.id, got.lease_until, clock(), f"<{fate}@x>")
        if fate == "sent":
            store.mark_sent(got.id, clock())
        else:
            store.mark_failed(
                got.id, "421 try later" if fate == "failed" else "lost", uncertain=fate == "uncertain"
            )
        fates.append((fate, got.customer))
        clock.advance(seconds=1)
    found, told = store.candidates("export")
    told_ids = {customer for fate, customer in fates if fate != "failed"}
    assert told == told_ids | {f"email:c{c.removeprefix('id:c-')}@example.com" for c in told_ids}
    who = audience(policy.outer_loop, found, told)
    assert [r.customer for r in who.recipients] == [fates[0][1]]
    again = store.announce(
        theme="export", label="export", note="Now.", author="U0OMAR", audience=who, now=clock()
    )
    assert (again.queued, again.already) == (1, 0)
    retaken = store.lease_next(clock(), lease, SECOND)
    assert retaken is not None and not isinstance(retaken, float)
    assert (retaken.customer, retaken.announcement_id, retaken.note, retaken.attempts) == (
        fates[0][1],
        again.id,
        "Now.",
        0,
    )
    # The failure stays with the first announcement (its summary still says one could not go).
    assert store.counts(first.id) == {"failed": 1, "uncertain": 1, "sent": 1}
    assert store.counts(again.id) == {"pending": 1}


def test_one_mailbox_is_queued_once_per_theme_whatever_key_the_audience_used(database, policy, clock):
    """Two confirmations whose audiences were read before either wrote, one knowing the customer
    by id and the other by address only: the unique (theme, lower(address)) key holds."""
    seed(database, "export", [{"id": "c-42", "name": "Dana", "email": "dana@example.com"}], clock())
    store = ShippedStore(database)
    by_id = audience(policy.outer_loop, *store.candidates("export"))
    seed(database, "export", [{"name": "Dana", "email": " DANA@example.com"}], clock() + SECOND)
    found, _ = store.candidates("export")
    by_address = audience(policy.outer_loop, [found[0]], set())
    assert [r.customer for r in by_address.recipients] == ["email:dana@example.com"]
    first = store.announce(
        theme="export", label="export", note="n", author="U0MAYA", audience=by_id, now=clock()
    )
    second = store.announce(
        theme="export", label="export", note="n", author="U0OPS", audience=by_address, now=clock()
    )
    assert (first.queued, second.id, second.queued, second.already) == (1, None, 0, 1)
