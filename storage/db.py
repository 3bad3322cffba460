"""Engine and session factory. Built on demand by the wiring module, never at import time."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

_POSTGRES_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+[a-z0-9_]+)?://", re.IGNORECASE)


def normalise_url(url: str) -> str:
    """Let admins write the usual `postgresql://` URL, or one copied from another app with a driver
    in it (`postgresql+psycopg2://`, `+asyncpg`), and still get psycopg 3, the driver installed."""
    return _POSTGRES_SCHEME.sub("postgresql+psycopg://", url, count=1)


def unreachable(error: BaseException) -> str | None:
    """One line when `error` means the database cannot be used right now (down, restarting, a
    dropped connection, a locked SQLite file), else None: such errors pass by themselves, so
    callers answer 503 or log a warning instead of a traceback."""
    if isinstance(error, OperationalError | InterfaceError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        return f"{type(error).__name__}: {reason[0][:200] if reason else 'no detail'}"
    return None


def log_failure(logger: logging.Logger, what: str, error: BaseException) -> None:
    """A background job failed: a warning when the database is unreachable (every interval until
    it is back, and a traceback each time would bury everything else), else the traceback."""
    reason = unreachable(error)
    if reason is None:
        logger.error("%s failed; it runs again at the next interval", what, exc_info=error)
    else:
        logger.warning("%s skipped: the database is unreachable (%s)", what, reason)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module so `_sqlite_begin` can say IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """Take the write lock up front: a deferred transaction that reads, then writes, fails at once
    with SQLITE_BUSY when another writer got in between, instead of waiting its turn."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


POOL_SIZE = 10  # connections a process keeps open to PostgreSQL ...
MAX_OVERFLOW = 10  # ... and may open beyond them at a peak


class Database:
    """Owns the engine; one short transaction per operation via `transaction()` (ORM) or
    `connection()` (Core, where the ORM costs more than it gives).

    With PostgreSQL each process holds up to `pool_size + max_overflow` connections: size it to
    the threads that use the database (see the README, "Running in production")."""

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int = POOL_SIZE, max_overflow: int = MAX_OVERFLOW
    ) -> None:
        self.url = normalise_url(url)
        kwargs: dict[str, Any] = {"echo": echo}
        if self.url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection in a transaction, committed on success."""
        with self.engine.begin() as connection:
            yield connection

    @staticmethod
    def session_on(connection: Connection) -> Session:
        """An ORM session inside `connection`'s transaction, which stays the caller's to commit
        (the session's own commit only flushes; its rollback rolls the whole transaction back)."""
        return Session(bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False)

    def dispose(self) -> None:
        self.engine.dispose()
