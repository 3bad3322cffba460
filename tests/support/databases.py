"""Test databases: a migrated SQLite file and a migrated, throwaway PostgreSQL database.

PostgreSQL is required when CI is set: a CI run that silently skipped half the storage tests
would be green and wrong.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base

POSTGRES_ADMIN_URL = os.environ.get(
    "CLOSELOOP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# Children before parents, so DELETE never trips a foreign key; new tables are included by themselves.
TABLES = tuple(table.name for table in reversed(Base.metadata.sorted_tables))


def postgres_database() -> Iterator[str]:
    name = f"closeloop_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}".strip()
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so PostgreSQL tests must run)", pytrace=False)
        pytest.skip(message)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    url = f"{base}/{name}"
    upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(url: str) -> None:
    database = Database(url)
    try:
        with database.engine.begin() as connection:
            if database.is_postgres:
                connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            else:
                for table in TABLES:
                    connection.execute(text(f"DELETE FROM {table}"))
    finally:
        database.dispose()
