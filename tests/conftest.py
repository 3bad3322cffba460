from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.devkit.local_stack import LocalStack
from bot.devkit.simulator import SlackSimulator
from bot.domain.policy import Policy
from bot.policy_file import load_policy
from storage.db import Database
from storage.migrate import upgrade
from storage.repository import Repository
from tests.support.clock import FakeClock
from tests.support.databases import empty_tables, postgres_database

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'closeloop.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    yield from postgres_database()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """Every test using this runs twice: on SQLite and on PostgreSQL, each freshly emptied."""
    url = str(request.getfixturevalue(f"{request.param}_url"))
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
