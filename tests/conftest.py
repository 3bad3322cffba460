"""Shared fixtures, the database backends each test runs on, and the hypothesis profiles.

Backends. `database_url` (and what is built on it: `database`, `repository`, `stack`) is
parametrized by `pytest_generate_tests` below, so each test gets the backends it needs:

- a test that uses `stack` (the real bot end to end: Slack flows, rendering, intake HTTP,
  permissions, deadline flows, fuzzing...) runs on SQLite only. What it checks does not depend
  on the database; the storage code underneath is run on both by the storage tests.
- a test that uses `database_url`, `database` or `repository` without `stack` (storage,
  deadline storage, concurrency, migrations) runs on SQLite and on PostgreSQL.
- `@pytest.mark.backends("sqlite", "postgresql")` on a test, or as a module's `pytestmark`,
  says explicitly. Use it on an end-to-end test whose point is a backend behaviour: real
  threads racing, a unique-key conflict, a row lock (`FOR UPDATE`, `SKIP LOCKED`).

Test ids name the backend (`[sqlite]`, `[postgresql]`), and PostgreSQL tests carry the
`postgres` marker. PostgreSQL is skipped when no server answers, except under CI, where it fails
(tests/support/databases.py). Tests that start real processes carry the `process` marker;
`-m "not process"` leaves them out of a quick local run.

Hypothesis profiles. "ci" is thorough (hypothesis's default 100 examples, and each test's own
count from `tests.support.examples.examples`); "dev" tries a fifth as many. The profile is "ci"
when the CI environment variable is set and "dev" otherwise; HYPOTHESIS_PROFILE overrides both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

from bot.devkit.local_stack import LocalStack
from bot.devkit.simulator import SlackSimulator
from bot.domain.policy import Policy
from bot.policy_file import load_policy
from storage.db import Database
from storage.migrate import upgrade
from storage.repository import Repository
from tests.support.clock import FakeClock
from tests.support.databases import empty_tables, postgres_database
from tests.support.examples import CI_DEFAULT

BACKENDS = ("sqlite", "postgresql")

settings.register_profile("ci", max_examples=CI_DEFAULT, print_blob=True)
settings.register_profile("dev", max_examples=CI_DEFAULT // 5)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that needs a database on its backends (see the module docstring)."""
    if "database_url" not in metafunc.fixturenames or "backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None:
        backends = marker.args
        unknown = set(backends) - set(BACKENDS)
        assert backends and not unknown, f"@pytest.mark.backends takes some of {BACKENDS}, not {unknown}"
    elif "stack" in metafunc.fixturenames:
        backends = ("sqlite",)
    else:
        backends = BACKENDS
    metafunc.parametrize("backend", backends)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(item, "callspec", None)
        on_postgres = params is not None and "postgresql" in params.params.values()
        if on_postgres or "postgresql_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'closeloop.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    yield from postgres_database()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, backend: str) -> str:
    """The backend's test database, freshly emptied; `backend` comes from pytest_generate_tests."""
    url = str(request.getfixturevalue(f"{backend}_url"))
    empty_tables(url)
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def repository(database: Database) -> Repository:
    return Repository(database)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(Path(__file__).parent.parent / "bot" / "examples" / "policy.yml")


@pytest.fixture
def raw_policy() -> dict:
    """The example policy as parsed YAML, for tests that change one field and check the error."""
    return yaml.safe_load((Path(__file__).parent.parent / "bot" / "examples" / "policy.yml").read_text())


@pytest.fixture
def stack(database_url: str, policy: Policy, clock: FakeClock) -> Iterator[LocalStack]:
    """The real bot on a port-0 HTTP server, talking to a simulated Slack on another port-0 server.

    Any Block Kit violation the simulator saw fails the test, even if the bot ignored the error.
    """
    simulator = SlackSimulator(
        bot_token="xoxb-test", signing_secret="test-signing-secret", clock=clock.timestamp
    )
    with LocalStack(policy=policy, database_url=database_url, clock=clock, simulator=simulator) as local:
        yield local
        local.settle()
        assert simulator.violations == [], "the bot sent Slack something it would reject"
