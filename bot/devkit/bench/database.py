"""The database the bench fills and empties: refuse one that holds anything, bring it to the
current schema, empty it between phases, and leave it as it was found."""

from __future__ import annotations

from sqlalchemy import MetaData, inspect, text

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base

REFUSAL = (
    "closeloop bench fills and empties the database it is given: pass an empty one, "
    "e.g. createdb closeloop_bench"
)
# Children before parents, so DELETE never trips a foreign key.
TABLES = tuple(table.name for table in reversed(Base.metadata.sorted_tables))


class DatabaseNotEmpty(RuntimeError):
    pass


class BenchDatabase:
    """`prepare()` before the bench, `empty()` between phases, `finish()` at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.database: Database | None = None
        self._created_schema = False

    def problem(self) -> str | None:
        """Why the bench must not use this database (it holds rows, or tables of something else)."""
        probe = Database(self.url)
        try:
            names = set(inspect(probe.engine).get_table_names())
            foreign = sorted(names - set(TABLES) - {"alembic_version"})
            if foreign:
                return f"{REFUSAL} (it has other tables: {', '.join(foreign[:5])})"
            with probe.engine.connect() as connection:
                used = [
                    name
                    for name in TABLES
                    if name in names and connection.execute(text(f"SELECT 1 FROM {name} LIMIT 1")).first()
                ]
            return f"{REFUSAL} (it has rows in {', '.join(used)})" if used else None
        finally:
            probe.dispose()

    def prepare(self) -> Database:
        problem = self.problem()
        if problem:
            raise DatabaseNotEmpty(problem)
        probe = Database(self.url)
        try:
            self._created_schema = "cases" not in inspect(probe.engine).get_table_names()
        finally:
            probe.dispose()
        upgrade(self.url)
        self.database = Database(self.url)
        return self.database

    @property
    def db(self) -> Database:
        if self.database is None:
            raise RuntimeError("prepare() first")
        return self.database

    def empty(self) -> None:
        """Delete every row (the bot must be stopped: TRUNCATE waits for its locks)."""
        with self.db.engine.begin() as connection:
            if self.db.is_postgres:
                connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            else:
                for name in TABLES:
                    connection.execute(text(f"DELETE FROM {name}"))

    def finish(self) -> None:
        """Drop the schema if the bench made it, else leave it empty as it was given."""
        if self.database is None:
            return
        try:
            if self._created_schema:
                reflected = MetaData()
                reflected.reflect(self.db.engine, only=[*TABLES, "alembic_version"])
                reflected.drop_all(self.db.engine)
            else:
                self.empty()
        finally:
            self.db.dispose()
            self.database = None
