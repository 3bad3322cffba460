"""The App Home's rows on SQLite and PostgreSQL: which Homes a change owes, coalescing, leases
(one publisher per Home, across threads), a change during a publish, the month's figures worked
out by hand, the queue's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.domain.records import CloseDetails
from storage.home_store import HomeStore
from storage.models import Case, HomeTab, Kudos, TurnaroundRow
from storage.repository import Repository
from tests.factories import feedback_and_triage
from tests.support.race import race

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CLOSE = CloseDetails("resolved", "phone", "Product bug", "Workaround given", "Sorted.", True)
pytestmark = pytest.mark.backends("sqlite", "postgresql")


def new_case(repository: Repository, policy, n: int, at: datetime = NOW, **overrides) -> int:
    data, decide = feedback_and_triage(policy, id=f"home-{n}", customer={"id": f"cus-{n}"}, **overrides)
    outcome = repository.record_feedback(data, decide, at)
    assert outcome.case_id is not None
    return outcome.case_id


def row(store: HomeStore, user: str) -> HomeTab | None:
    with store.database.transaction() as session:
        found = session.get(HomeTab, user)
        if found is not None:
            session.expunge(found)
        return found


def publish(store: HomeStore, user: str, now: datetime, shown=(), departments=()) -> None:
    lease = store.lease(user, now, now + timedelta(seconds=30))
    assert lease is not None
    store.record_shown(lease, list(shown), list(departments))
    assert store.published(lease, now, now + timedelta(seconds=2))


def test_a_change_owes_the_homes_showing_the_case_its_owner_and_its_queue(database, policy):
    repository, store = Repository(database), HomeStore(database)
    shown, waiting = new_case(repository, policy, 1), new_case(repository, policy, 2)
    for person in ("U0ALICE", "U0BOB", "U0CAROL", "U0OMAR"):
        store.opened(person, NOW)
    publish(store, "U0ALICE", NOW, [repository.get_case(shown)])  # her Home shows case 1
    publish(store, "U0BOB", NOW, departments=["support"])  # his lists support's queue
    publish(store, "U0CAROL", NOW)  # hers shows neither
    publish(store, "U0OMAR", NOW, departments=["billing"])
    due = NOW + timedelta(seconds=2)

    assert store.owe_for_case(repository.get_case(waiting), due) == 1  # unclaimed in support: Bob
    assert row(store, "U0BOB").due_at == due and row(store, "U0ALICE").due_at is None
    claimed = repository.claim(shown, "U0CAROL", NOW).case
    assert store.owe_for_case(claimed, due) == 3  # Alice showed it, Carol owns it, Bob's queue had it
    assert row(store, "U0OMAR").due_at is None
    # Maya's claim takes case 2 out of support's queue: Bob's count moves; Maya never opened Home.
    assert store.owe_for_case(repository.claim(waiting, "U0MAYA", NOW).case, due) == 1
    assert row(store, "U0MAYA") is None


def test_changes_coalesce_and_a_change_during_a_publish_stays_owed(database, policy):
    store = HomeStore(database)
    store.opened("U0ALICE", NOW)
    publish(store, "U0ALICE", NOW)
    first, later = NOW + timedelta(seconds=2), NOW + timedelta(seconds=5)
    store.owe(["U0ALICE"], first)
    store.owe(["U0ALICE"], later)  # a later change keeps the first one's time: one publish for both
    assert row(store, "U0ALICE").due_at == first
    assert store.due(NOW, 10) == [] and store.due(first, 10) == ["U0ALICE"]

    lease = store.lease("U0ALICE", first, first + timedelta(seconds=30))
    assert lease is not None and store.lease("U0ALICE", first, first + timedelta(seconds=30)) is None
    store.owe(["U0ALICE"], first + timedelta(seconds=2))  # a change after the publisher read the rows
    assert store.published(lease, first, first + timedelta(seconds=2))
    assert row(store, "U0ALICE").due_at == first + timedelta(seconds=2)  # so it is published again

    lease = store.lease("U0ALICE", later, later + timedelta(seconds=30))
    assert lease is not None and store.published(lease, later, later + timedelta(seconds=2))
    assert row(store, "U0ALICE").due_at is None and row(store, "U0ALICE").published_at == later


def test_a_lost_lease_changes_nothing(database):
    store = HomeStore(database)
    store.opened("U0ALICE", NOW)
    mine = store.lease("U0ALICE", NOW, NOW + timedelta(seconds=30))
    later = NOW + timedelta(seconds=31)  # it ran out: someone else takes it
    theirs = store.lease("U0ALICE", later, later + timedelta(seconds=30))
    assert mine is not None and theirs is not None
    assert not store.published(mine, later, later)
    store.failed(mine, "late", None)
    assert row(store, "U0ALICE").lease_until == theirs.until and row(store, "U0ALICE").failures == 0


def test_one_publisher_per_home_across_threads(database):
    store = HomeStore(database)
    for n in range(5):
        store.opened(f"U{n}", NOW)
    leases = race(10, lambda i: store.lease(f"U{i % 5}", NOW, NOW + timedelta(seconds=30)))
    taken = [lease.user for lease in leases if lease is not None]
    assert sorted(taken) == [f"U{n}" for n in range(5)]


def test_a_case_that_changed_while_the_home_was_rendered_owes_it_again(database, policy):
    repository, store = Repository(database), HomeStore(database)
    case_id = new_case(repository, policy, 1)
    read = repository.get_case(case_id)
    repository.claim(case_id, "U0BOB", NOW)  # after the render read it, before the rows said so
    store.opened("U0ALICE", NOW)
    lease = store.lease("U0ALICE", NOW, NOW + timedelta(seconds=30))
    store.record_shown(lease, [read], ["support"])
    assert store.published(lease, NOW, NOW + timedelta(seconds=2))
    assert row(store, "U0ALICE").due_at == NOW + timedelta(seconds=2)


def test_month_figures_worked_out_by_hand(database, policy):
    repository, store = Repository(database), HomeStore(database)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    took = [1, 2, 4, 10]  # hours to close: median (2 + 4) / 2 = 3 h
    ids = []
    for n, hours in enumerate(took):
        opened = start + timedelta(days=n + 1)
        case_id = new_case(repository, policy, n, at=opened)
        repository.claim(case_id, "U0ALICE", opened)
        assert repository.close(
            case_id, "U0ALICE", CLOSE, opened + timedelta(hours=hours), expected_owner="U0ALICE"
        ).applied
        ids.append(case_id)
    before = new_case(repository, policy, 9, at=start - timedelta(days=3))  # closed last month
    repository.claim(before, "U0ALICE", start - timedelta(days=3))
    repository.close(before, "U0ALICE", CLOSE, start - timedelta(days=2), expected_owner="U0ALICE")
    someone_else = new_case(repository, policy, 10, at=start + timedelta(days=2))
    repository.claim(someone_else, "U0BOB", start + timedelta(days=2))
    repository.close(someone_else, "U0BOB", CLOSE, start + timedelta(days=3), expected_owner="U0BOB")
    with database.transaction() as session:
        session.add_all(
            [
                Kudos(case_id=ids[0], user_id="U0BOB", given_at=start + timedelta(days=5)),
                Kudos(case_id=ids[1], user_id="U0BOB", given_at=start + timedelta(days=5)),
                Kudos(case_id=before, user_id="U0BOB", given_at=start - timedelta(days=1)),  # last month
                Kudos(case_id=someone_else, user_id="U0ALICE", given_at=start + timedelta(days=5)),
            ]
        )
        feedback_id = session.scalar(select(Case.feedback_id).where(Case.id == ids[0]))
        session.add(
            TurnaroundRow(
                earlier_case_id=ids[0],
                later_feedback_id=feedback_id,
                owner_id="U0ALICE",
                from_score=3,
                to_score=9,
                at=start + timedelta(days=6),
            )
        )
    figures = store.month_figures("U0ALICE", start, start + timedelta(days=20))
    assert (figures.closed, figures.kudos, figures.won_back) == (4, 2, 1)
    assert figures.median_close_seconds == pytest.approx(3 * 3600, abs=1)
    nobody = store.month_figures("U0NOBODY", start, start + timedelta(days=20))
    assert (nobody.closed, nobody.median_close_seconds, nobody.kudos, nobody.won_back) == (0, None, 0, 0)


def test_the_queue_lists_the_first_due_to_be_claimed_first(database, policy):
    repository, store = Repository(database), HomeStore(database)
    old, urgent, undated = (new_case(repository, policy, n) for n in range(3))
    with database.transaction() as session:
        for case_id, due in (
            (old, NOW + timedelta(hours=5)),
            (urgent, NOW + timedelta(minutes=5)),
            (undated, None),
        ):
            session.get(Case, case_id).claim_due_at = due
    claimed = new_case(repository, policy, 3)
    repository.claim(claimed, "U0ALICE", NOW)
    total, cases = store.unclaimed(["support"], 10)
    assert total == 3 and [case.id for case in cases] == [urgent, old, undated]
    assert store.unclaimed(["billing"], 10) == (0, []) and store.unclaimed([], 10) == (0, [])
    assert store.open_cases_of("U0ALICE", 10)[0] == 1


def test_people_who_stopped_opening_home_are_forgotten(database, policy):
    repository, store = Repository(database), HomeStore(database)
    case_id = new_case(repository, policy, 1)
    store.opened("U0OLD", NOW - timedelta(days=40))
    store.opened("U0NEW", NOW)
    publish(store, "U0OLD", NOW, [repository.get_case(case_id)], ["support"])
    assert store.forget_idle(NOW - timedelta(days=30)) == 1
    assert row(store, "U0OLD") is None and row(store, "U0NEW") is not None
    assert store.owe_for_case(repository.get_case(case_id), NOW) == 0


def test_changes_owing_overlapping_homes_at_once_all_count(database):
    store = HomeStore(database)
    people = [f"U{n:02d}" for n in range(12)]
    for person in people:
        store.opened(person, NOW)
        publish(store, person, NOW)  # nothing owed now
    before = {person: row(store, person).owed_seq for person in people}
    named = {i: (people[i:] + people[:i])[: 6 + i % 6] for i in range(8)}  # each in another order
    earliest = {p: NOW + timedelta(seconds=min(i for i in named if p in named[i])) for p in people}

    def owe_all(i: int) -> int:
        return sum(store.owe(named[i], NOW + timedelta(seconds=i)) for _ in range(5))

    owed = race(8, owe_all)
    assert (
        sum(owed)
        == sum(row(store, p).owed_seq - before[p] for p in people)
        == 5 * sum(6 + i % 6 for i in range(8))
    )
    assert {p: row(store, p).due_at for p in people} == earliest  # the earliest time asked for is kept
