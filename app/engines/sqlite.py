"""SQLite: the embedded engine. Its own rules, and the queue its writers wait in.

A connection runs in WAL mode with synchronous=FULL, foreign keys on and a busy timeout.
SQLite admits one writer at a time; a write transaction begins with BEGIN IMMEDIATE once the
WriteQueue has given it its turn, so writers wait in order instead of failing at commit or
sleeping in SQLite's busy handler (measured: steadier p99, no starved writer; see
docs/PERFORMANCE.md).
"""

import asyncio
import fcntl
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from app.audit.models import AuditEntry, AuditHead, chained
from app.config import Settings
from app.errors import DomainError
from app.timeutil import MonthStart, UtcText

# Execution option of a write session's bind: the WriteQueue whose turn it holds.
WRITE_QUEUE = "sqlite_write_queue"


def create_engine(url: URL, settings: Settings) -> Engine:
    on_disk = bool(url.database) and url.database != ":memory:"
    if on_disk:
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        # Room for every worker thread: writers wait in the WriteQueue, not for a connection.
        **({"pool_size": settings.db_pool_size, "max_overflow": 40} if on_disk else {}),
        connect_args={
            "check_same_thread": False,
            "timeout": settings.sqlite_busy_timeout_ms / 1000,
        },
    )

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun by the "begin" hook below, not by the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        queue = connection.get_execution_options().get(WRITE_QUEUE)
        if queue is not None:
            queue.take_file_lock()
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


def read_options() -> dict[str, Any]:
    """A SQLite read transaction is a snapshot already."""
    return {}


def lookup_options(*, snapshot: bool) -> dict[str, Any]:
    return {}


def claim_request(connection: Connection, key: int) -> bool:
    """Writers take turns: a retry waits for the first request and then finds its record."""
    return True


# The column writer (app/exports/service.py) writes SQLite's CSV: lines built in SQLite's
# SQL measured slower (its string functions, and the joins for the names, cost more than the
# Python writer saves; docs/PERFORMANCE.md).
CSV_LINES_IN_SQL = False


def insert_rows(connection: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows that all name the same columns: the driver's executemany, one prepared
    statement run for each row in this process (no server to wait on; through the driver
    directly, an import of 100,000 rows was 3 % faster, within reach of the noise)."""
    connection.execute(table.insert(), rows)


def new_ids(connection: Connection, table: sa.Table, count: int) -> list[int]:
    """`count` ids for new rows of a table with an integer `id`: the next ones after the
    highest. This transaction is the database's only writer until it commits."""
    highest = connection.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
    return list(range(highest + 1, highest + 1 + count))


def upsert(table: sa.Table) -> Any:
    """The INSERT that takes ON CONFLICT DO UPDATE (the same clause on either engine)."""
    return sqlite_insert(table)


@compiles(UtcText, "sqlite")
def _stored_text(element: UtcText, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite stores a UTCDateTime as its UTC text already."""
    return compiler.process(element.clauses, **kw)


@compiles(MonthStart, "sqlite")
def _start_of_month(element: MonthStart, compiler: SQLCompiler, **kw: Any) -> str:
    """A date is stored as its ISO text; so is the first of its month."""
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


_audit_entries = AuditEntry.__table__  # type: ignore[attr-defined]
_audit_head = AuditHead.__table__  # type: ignore[attr-defined]
_HEAD = sa.select(_audit_head.c.seq, _audit_head.c.hash).where(_audit_head.c.id == 1)
_MOVE_HEAD = (
    _audit_head.update()
    .where(_audit_head.c.id == 1)
    .values(seq=sa.bindparam("head_seq"), hash=sa.bindparam("head_hash"))
)


def append_audit_entries(connection: Connection, contents: list[dict[str, Any]]) -> None:
    """Chain entries onto the audit trail's head. This transaction is SQLite's only writer:
    read the head, chain the entries (`chained`), insert them, move the head."""
    seq, prev_hash = connection.execute(_HEAD).one()
    rows, seq, prev_hash = chained(contents, seq=seq, prev_hash=prev_hash)
    insert_rows(connection, _audit_entries, rows)
    connection.execute(_MOVE_HEAD, {"head_seq": seq, "head_hash": prev_hash})


class WriteBusy(DomainError):
    status, slug, title = 503, "write-busy", "Too many writes waiting"


class WriteQueue:
    """Where this database's write transactions wait their turn: first, writers of one event
    loop queue on an asyncio lock (in order, holding no worker thread or connection); then
    this process's lock, shared with its other loops and with writers outside a request; then,
    when the transaction begins, an flock on a file beside the database, shared with every
    other process (uvicorn workers, the command line)."""

    def __init__(self, database: str | None, *, wait_s: float) -> None:
        self.wait_s = wait_s
        self._process = threading.Lock()
        self._loops: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )
        self._helpers = ThreadPoolExecutor(max_workers=64, thread_name_prefix="write-queue")
        on_disk = bool(database) and database != ":memory:"
        self._file = (
            os.open(f"{database}.write-lock", os.O_RDWR | os.O_CREAT, 0o600) if on_disk else None
        )
        # Only the holder of the process's turn touches the file lock.
        self._file_held = False

    def bind_options(self) -> dict[str, Any]:
        """Execution options of the bind whose transactions take this queue's turns."""
        return {WRITE_QUEUE: self}

    async def enter(self) -> "Turn":
        """Wait for a turn from a request on the event loop."""
        deadline = time.monotonic() + self.wait_s
        loop_lock = self._loops.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        try:
            async with asyncio.timeout(self.wait_s):
                await loop_lock.acquire()
        except TimeoutError:
            raise self._busy() from None
        try:
            if not self._process.acquire(blocking=False):
                await self._wait_in_helper(max(0.0, deadline - time.monotonic()))
        except BaseException:
            loop_lock.release()
            raise
        return Turn(self, loop_lock)

    def enter_blocking(self) -> "Turn":
        """Wait for a turn outside the event loop (the command line, a worker thread)."""
        if not self._process.acquire(timeout=self.wait_s):
            raise self._busy()
        return Turn(self, None)

    def take_file_lock(self) -> None:
        """Called as the turn's transaction begins: wait for the other processes' writers."""
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_EX)
            self._file_held = True

    def release_file_lock(self) -> None:
        """Called once the turn's transaction has ended."""
        if self._file_held and self._file is not None:
            self._file_held = False
            fcntl.flock(self._file, fcntl.LOCK_UN)

    def leave(self, loop_lock: asyncio.Lock | None) -> None:
        self.release_file_lock()
        self._process.release()
        if loop_lock is not None:
            loop_lock.release()

    async def _wait_in_helper(self, timeout: float) -> None:
        """Wait for the process's lock in a helper thread (another loop or thread holds it)."""
        future = self._helpers.submit(self._process.acquire, True, timeout)
        try:
            acquired = await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            # The client went away: give the turn back if it arrives after all.
            def release_late(done: Future[bool]) -> None:
                if done.result():
                    self._process.release()

            future.add_done_callback(release_late)
            raise
        if not acquired:
            raise self._busy()

    def _busy(self) -> WriteBusy:
        return WriteBusy(
            f"the database has been busy with other writes for {self.wait_s:g} s; "
            "retry (with the same Idempotency-Key)"
        )


class Turn:
    """One write transaction's turn in the queue; `leave()` once, after it has ended."""

    def __init__(self, queue: WriteQueue, loop_lock: asyncio.Lock | None) -> None:
        self.queue = queue
        self._loop_lock = loop_lock

    def transaction_ended(self) -> None:
        """The transaction has committed or rolled back: other processes may write."""
        self.queue.release_file_lock()

    def leave(self) -> None:
        """Give the turn to the next writer (on the event loop that entered, if any)."""
        self.queue.leave(self._loop_lock)


def write_queue(engine: Engine, *, wait_s: float) -> WriteQueue | None:
    """The queue this database's writers wait in."""
    return WriteQueue(engine.url.database, wait_s=wait_s)
