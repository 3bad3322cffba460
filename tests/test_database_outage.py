"""The database goes away under a running bot: survey tools get a 503 they retry (never a 500),
nothing half-stored, and the background jobs log one warning line each, not a traceback."""

from __future__ import annotations

import json
import logging
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from bot.devkit.local_stack import LocalStack
from storage.db import normalise_url
from storage.migrate import upgrade
from tests.factories import payload
from tests.support.databases import POSTGRES_ADMIN_URL, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def doomed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """(a database URL of its own, a function that takes that database away)."""
    if request.param == "sqlite":
        path = tmp_path / "doomed.sqlite3"
        url = f"sqlite:///{path}"
        upgrade(url)

        def remove_file() -> None:  # a folder where the file was: SQLite cannot open it
            for leftover in tmp_path.glob("doomed.sqlite3*"):
                leftover.unlink()
            path.mkdir()

        yield url, remove_file
        shutil.rmtree(path, ignore_errors=True)
        return
    databases = postgres_database()
    url = next(databases)
    name = url.rpartition("/")[2]

    def drop() -> None:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    yield url, drop
    databases.close()


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_intake_answers_503_and_background_jobs_warn_while_the_database_is_gone(
    doomed, policy, clock, caplog
):
    url, take_away = doomed
    with LocalStack(policy=policy, database_url=url, clock=clock) as stack:
        assert stack.post_feedback(payload(id="before")).status == 202
        stack.settle()
        take_away()
        stack.runtime.database.engine.dispose()  # connections already open would outlive the file
        caplog.clear()
        caplog.set_level(logging.WARNING)

        answer = stack.post_feedback(payload(id="during"))
        assert answer.status == 503, answer.body
        assert answer.body == {
            "error": "unavailable",
            "detail": "the database is unreachable; send it again later",
        }
        assert get(f"{stack.server.url}/healthz")[0] == 503
        counted = stack.runtime.metrics.registry.get_sample_value
        assert counted("closeloop_intake_requests_total", {"result": "unavailable"}) == 1

        stack.runtime.outbox_queue.request_sweep()
        stack.settle()
        stack.runtime.sweep_deadlines()
        stack.runtime.housekeeping()

    logged = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert all(level == logging.WARNING for level, _ in logged), logged
    assert not any(r.exc_info for r in caplog.records), "a traceback was logged"
    said = "\n".join(message for _, message in logged)
    assert "POST /feedback answered 503: the database is unreachable (OperationalError" in said
    for job in ("outbox sweep", "deadline sweep", "housekeeping"):
        assert f"{job} skipped: the database is unreachable" in said


def test_a_503_carries_retry_after(doomed, policy, clock):
    url, take_away = doomed
    with LocalStack(policy=policy, database_url=url, clock=clock) as stack:
        take_away()
        stack.runtime.database.engine.dispose()
        request = urllib.request.Request(
            f"{stack.server.url}/feedback",
            data=json.dumps(payload()).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {stack.intake_token}"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 503 and refused.value.headers["Retry-After"] == "30"


@pytest.mark.parametrize(
    ("written", "used"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg2://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///closeloop.sqlite3", "sqlite:///closeloop.sqlite3"),
    ],
)
def test_a_postgresql_url_copied_from_another_app_uses_the_installed_driver(written, used):
    assert normalise_url(written) == used
