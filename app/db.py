"""Engine, metadata naming convention and the per-request session.

SQLite: WAL, synchronous=FULL, foreign keys, a busy timeout, and write transactions that
begin with BEGIN IMMEDIATE so two writers queue instead of failing at commit.
PostgreSQL: psycopg 3.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from app.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

# Execution option that asks the SQLite "begin" hook for BEGIN IMMEDIATE.
SQLITE_IMMEDIATE = "sqlite_begin_immediate"


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def normalise_url(url: str) -> str:
    """Route plain postgresql:// URLs through psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(settings: Settings) -> Engine:
    url = normalise_url(settings.database_url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size
    )


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" hook below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class SessionFactory:
    """Opens sessions for requests; tests swap in one bound to a rolled-back connection.

    On SQLite, write transactions also queue on a lock inside the process before BEGIN
    IMMEDIATE: SQLite admits one writer at a time anyway, and a queue is fairer and far
    steadier under load than its busy handler's sleep-and-retry.
    """

    def __init__(self, bind: Engine | Connection, *, join_savepoint: bool = False) -> None:
        self.bind = bind
        self.join_savepoint = join_savepoint
        self._write_lock = threading.Lock() if is_sqlite(bind) and not join_savepoint else None

    @contextmanager
    def begin(self, *, write: bool) -> Iterator[Session]:
        """One session, one transaction: commit on success, roll back on any error."""
        session = Session(
            self.bind,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint"
            if self.join_savepoint
            else "conditional_savepoint",
        )
        lock = self._write_lock if write else None
        if lock is not None:
            lock.acquire()
        try:
            if lock is not None:
                session.connection(execution_options={SQLITE_IMMEDIATE: True})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            if lock is not None:
                lock.release()


def get_session(request: Request) -> Iterator[Session]:
    factory: SessionFactory = request.app.state.session_factory
    with factory.begin(write=request.method not in ("GET", "HEAD", "OPTIONS")) as session:
        yield session


# scope="function": commit before the response is sent, so a 2xx means the data is durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
