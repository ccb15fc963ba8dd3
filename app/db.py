"""Engine, metadata naming convention and the per-request session.

SQLite: WAL, synchronous=FULL, foreign keys, a busy timeout, and write transactions that
begin with BEGIN IMMEDIATE so two writers queue instead of failing at commit.
PostgreSQL: psycopg 3.
"""

import asyncio
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from weakref import WeakKeyDictionary

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, Select, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel

from app.config import Settings
from app.errors import DomainError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

# Execution option of a write session's bind: the SQLite "begin" hook takes the write turn
# that the session's unit of work put in _write_turn, then begins with BEGIN IMMEDIATE.
SQLITE_WRITE_TURN = "sqlite_write_turn"


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
        on_disk = bool(parsed.database) and parsed.database != ":memory:"
        # Room for every worker thread: writers wait at the write gate, not for a connection.
        pool_args: dict[str, Any] = (
            {"pool_size": settings.db_pool_size, "max_overflow": 40} if on_disk else {}
        )
        engine = create_engine(
            url,
            **pool_args,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    # No pre-ping: it costs every request a round trip. A connection the server has dropped
    # (a restart) fails its request with a 503 to retry (app.errors), and SQLAlchemy then
    # replaces every pooled connection older than the failure. Connections are renewed after
    # five minutes, below the idle timeouts of poolers and firewalls, so those don't.
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_recycle=300,
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
        # The audit chain hashes in SQL (app/audit/service.py); PostgreSQL has sha256().
        dbapi_connection.create_function("sha256_hex", 1, _sha256_hex, deterministic=True)

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(SQLITE_WRITE_TURN):
            turn = _write_turn.get()
            if turn is not None and turn.take():
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
        connection.exec_driver_sql("BEGIN")


def _sha256_hex(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


class WriteQueue:
    """Where SQLite write transactions wait their turn: a lock shared by the threads of this
    process, then an flock on a file beside the database shared by every process (uvicorn
    workers, the CLI). SQLite admits one writer at a time anyway; waiting in a queue is fairer
    and far steadier under load than SQLite's busy handler, which sleeps and retries."""

    def __init__(self, database: str | None) -> None:
        self.local = threading.Lock()
        self._fd: int | None = None
        if database and database != ":memory:":
            self._fd = os.open(f"{database}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)

    def acquire_shared(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release_shared(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


class WriteTurn:
    """One write transaction's turn in the WriteQueue, taken when the transaction issues its
    first statement and given back after commit or rollback; used once. A request that
    passed the write gate already holds the process's turn and only takes the cross-process
    one."""

    def __init__(self, queue: WriteQueue, *, gated: bool) -> None:
        self._queue = queue
        self._gated = gated
        self._held = False
        self._spent = False

    def take(self) -> bool:
        """Take the turn (once); False once it has been given back."""
        if self._held:
            return True
        if self._spent:
            return False
        if not self._gated:
            self._queue.local.acquire()
        try:
            self._queue.acquire_shared()
        except BaseException:
            if not self._gated:
                self._queue.local.release()
            raise
        self._held = True
        return True

    def give_back(self) -> None:
        self._spent = True
        if self._held:
            self._held = False
            self._queue.release_shared()
            if not self._gated:
                self._queue.local.release()


# The write turn of the unit of work this context opened last (SQLite). Only connections of
# a write session's bind (SQLITE_WRITE_TURN) take it: a key lookup in the same context doesn't.
_write_turn: ContextVar[WriteTurn | None] = ContextVar("write_turn", default=None)


class WriteBusy(DomainError):
    status, slug, title = 503, "write-busy", "Too many writes waiting"


class CommitOutcomeUnknown(DomainError):
    """The connection was lost while the transaction was committing: it may have committed."""

    status, slug, title = 503, "commit-outcome-unknown", "Lost the database while committing"


class UnitOfWork:
    """One session and its one transaction, ended exactly once: committed, or rolled back if
    anything failed; then the session is closed and SQLite's write turn given back."""

    def __init__(self, session: Session, turn: WriteTurn | None) -> None:
        self.session = session
        self._turn = turn
        self.finished = False

    def finish(self, *, failed: bool = False) -> None:
        if self.finished:
            return
        self.finished = True
        try:
            if failed:
                self.session.rollback()
            else:
                try:
                    self.session.commit()
                except DBAPIError as exc:
                    self.session.rollback()
                    if exc.connection_invalidated:
                        raise CommitOutcomeUnknown(
                            "The connection to the database was lost while this request was "
                            "committing, so it may or may not have been applied. Look before "
                            "sending it again (a retry with the same Idempotency-Key is always "
                            "safe)."
                        ) from exc
                    raise
                except BaseException:
                    self.session.rollback()
                    raise
        except BaseException:
            self._close()
            raise
        # The transaction is over: SQLite's next writer needn't wait for the session to close.
        self._give_back()
        self._close()

    def _give_back(self) -> None:
        if self._turn is not None:
            self._turn.give_back()

    def _close(self) -> None:
        try:
            self.session.close()
        finally:
            self._give_back()


class SessionFactory:
    """Opens sessions for requests; tests swap in one bound to a rolled-back connection.

    On SQLite, a write session begins with BEGIN IMMEDIATE after taking its turn at the
    process's write lock (see WriteTurn).
    """

    def __init__(
        self, bind: Engine | Connection, *, join_savepoint: bool = False, write_wait_s: float = 30
    ) -> None:
        self.bind = bind
        self.join_savepoint = join_savepoint
        self.write_wait_s = write_wait_s
        self._write_queue = (
            WriteQueue(bind.url.database)
            if isinstance(bind, Engine) and is_sqlite(bind) and not join_savepoint
            else None
        )
        self._gate_waiters = ThreadPoolExecutor(max_workers=64, thread_name_prefix="write-gate")
        self._gates: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )
        # Created once: a per-request Engine.execution_options() costs more than the query.
        self._write_bind = (
            bind.execution_options(**{SQLITE_WRITE_TURN: True})
            if self._write_queue is not None
            else bind
        )
        # PostgreSQL reads see one snapshot, so a report's statements agree with each other
        # (a SQLite read transaction is a snapshot already).
        self._read_bind = (
            bind.execution_options(isolation_level="REPEATABLE READ")
            if isinstance(bind, Engine) and not is_sqlite(bind)
            else bind
        )

    async def enter_gate(self) -> bool:
        """Wait for this process's SQLite write turn before the request takes a worker thread
        or a pooled connection, so waiting writers can't starve the one that holds the turn.
        Returns whether the turn is held (False where there is no queue: PostgreSQL, tests);
        if so, leave_gate() must follow. Writers of one event loop queue on an asyncio lock,
        in order and without a thread; the first of the queue then takes the process's lock,
        which other loops' requests and the process's other writers share."""
        if self._write_queue is None:
            return False
        deadline = time.monotonic() + self.write_wait_s
        queue = self._gates.get(asyncio.get_running_loop())
        if queue is None:
            queue = self._gates.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        try:
            async with asyncio.timeout(self.write_wait_s):
                await queue.acquire()
        except TimeoutError:
            raise self._busy() from None
        try:
            lock = self._write_queue.local
            if not lock.acquire(blocking=False):
                await self._wait_for(lock, max(0.0, deadline - time.monotonic()))
        except BaseException:
            queue.release()
            raise
        return True

    def leave_gate(self) -> None:
        assert self._write_queue is not None
        self._write_queue.local.release()
        self._gates[asyncio.get_running_loop()].release()

    async def _wait_for(self, lock: threading.Lock, timeout: float) -> None:
        """Wait in a helper thread for a lock another thread holds."""
        future = self._gate_waiters.submit(lock.acquire, True, timeout)
        try:
            acquired = await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            # The client went away: give the turn back if it arrives after all.
            def release_late(done: Future[bool]) -> None:
                if done.result():
                    lock.release()

            future.add_done_callback(release_late)
            raise
        if not acquired:
            raise self._busy()

    def _busy(self) -> WriteBusy:
        return WriteBusy(
            f"the database has been busy with other writes for {self.write_wait_s:g} s; "
            "retry (with the same Idempotency-Key)"
        )

    def open(self, *, write: bool, gated: bool = False) -> "UnitOfWork":
        """A new session and the transaction it will begin. Opening does no I/O: the
        connection (and on SQLite the write turn) is taken by the first statement."""
        turn = None
        bind = self.bind
        if write and self._write_queue is not None:
            turn = WriteTurn(self._write_queue, gated=gated)
            _write_turn.set(turn)
            bind = self._write_bind
        elif not write:
            bind = self._read_bind
        session = Session(
            bind,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint"
            if self.join_savepoint
            else "conditional_savepoint",
        )
        return UnitOfWork(session, turn)

    @contextmanager
    def begin(self, *, write: bool, gated: bool = False) -> Iterator[Session]:
        """One session, one transaction: commit on success, roll back on any error."""
        work = self.open(write=write, gated=gated)
        try:
            yield work.session
        except BaseException:
            work.finish(failed=True)
            raise
        work.finish()

    @contextmanager
    def lookup(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A connection for reads outside the request's own transaction: the API key, read
        before it (so that a write transaction starts, and takes SQLite's write turn, only when
        the request's work begins; on PostgreSQL in autocommit: no BEGIN and ROLLBACK round
        trips around one SELECT), and a streamed export, read after it has ended.

        `snapshot`: every statement sees the database as the first one did (REPEATABLE READ on
        PostgreSQL; a SQLite transaction always does)."""
        if isinstance(self.bind, Connection):
            yield self.bind
            return
        with self.bind.connect() as connection:
            if not is_sqlite(connection):
                level = "REPEATABLE READ" if snapshot else "AUTOCOMMIT"
                connection.execution_options(isolation_level=level)
            yield connection


def driver_statement(connection: Connection, query: Select[Any]) -> tuple[str, Any]:
    """A SELECT as the database driver takes it: its SQL text and its parameters, bound as
    SQLAlchemy binds them (a TypeDecorator's bind processing included)."""
    dialect = connection.dialect
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    for name, value in values.items():
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            values[name] = process(value)
    parameters: Any = (
        [values[name] for name in compiled.positiontup or ()] if compiled.positional else values
    )
    return compiled.string, parameters


def driver_batches(
    connection: Connection, query: Select[Any], *, size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """A SELECT's rows as the database driver returns them, `size` at a time, in the
    connection's transaction: through a server-side cursor on PostgreSQL, fetchmany on SQLite.

    For reading very many rows: SQLAlchemy makes no Row and converts no value, so the values
    are the driver's own (on SQLite, dates and timestamps are text; a TypeDecorator's result
    processing doesn't run). Parameters are bound as SQLAlchemy binds them."""
    statement, parameters = driver_statement(connection, query)
    if not connection.in_transaction():
        connection.begin()
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor() if is_sqlite(connection) else driver.cursor(name="driver_batches")
    try:
        cursor.execute(statement, parameters)
        while batch := cursor.fetchmany(size):
            yield batch
    finally:
        cursor.close()


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# The request's unit of work, for the route to end in the endpoint's own thread.
_request_work: ContextVar[UnitOfWork | None] = ContextVar("request_work", default=None)


def finish_request_work(*, failed: bool) -> None:
    """End the request's unit of work here and now: called by the route (app.routing) in the
    endpoint's worker thread, so that a write commits, and gives SQLite's write turn back,
    without a second trip through the thread pool. The dependency still ends what this
    doesn't."""
    work = _request_work.get()
    if work is not None:
        work.finish(failed=failed)


async def _finish(work: UnitOfWork, *, failed: bool) -> None:
    if work.finished:
        return
    if failed and not work.session.in_transaction():
        work.finish(failed=True)  # nothing was begun (refused before any work): no I/O
        return
    # Shielded, and not waiting for a free worker thread (as FastAPI ends sync dependencies).
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(
            partial(work.finish, failed=failed), limiter=anyio.CapacityLimiter(1)
        )


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session. Its transaction commits once the endpoint has succeeded, and
    rolls back on any error; the route may end it earlier, in the endpoint's thread. A write
    first passes the write gate (SQLite), and leaves it once its transaction has ended."""
    factory: SessionFactory = request.app.state.session_factory
    write = request.method not in READ_METHODS
    gated = write and await factory.enter_gate()
    try:
        work = factory.open(write=write, gated=gated)
        _request_work.set(work)
        try:
            yield work.session
        except BaseException:
            await _finish(work, failed=True)
            raise
        await _finish(work, failed=False)
    finally:
        if gated:
            factory.leave_gate()


# scope="function": commit before the response is sent, so a 2xx means the data is durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
