"""The Alembic migrations and the models describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool

from storage.db import normalise_url
from storage.migrate import downgrade, pending, upgrade
from storage.models import Base


def test_migrations_match_the_models(database_url):
    engine = create_engine(normalise_url(database_url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
    current, head = pending(database_url)
    assert current == head


def test_upgrade_from_empty_and_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    assert pending(url)[0] is None
    upgrade(url)
    engine = create_engine(url)
    assert {"feedback", "cases", "case_events", "deliveries"} <= set(inspect(engine).get_table_names())
    downgrade(url, "base")
    assert "cases" not in inspect(engine).get_table_names()
    upgrade(url)
    assert pending(url)[0] == pending(url)[1]
    engine.dispose()
