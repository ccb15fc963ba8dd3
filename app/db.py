"""The engine, the metadata's naming convention, and the one owner of every transaction.

A request (or a command) gets one session from the SessionFactory, and its UnitOfWork ends
that session's one transaction exactly once: it runs the steps queued for just before the
commit (the audit trail's entries), commits, then runs the steps queued for after it (e.g.
forgetting a revoked key); on any error it rolls back instead. Nothing else commits.
Services only add, flush and queue. What the two engines do differently is in app/engines/.
"""

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import Depends, Request, Response
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel

from app.config import Settings
from app.engines import rules
from app.engines.sqlite import Turn
from app.errors import DomainError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

Step = Callable[[Session], None]
_BEFORE_COMMIT = "before_commit"
_AFTER_COMMIT = "after_commit"


def normalise_url(url: str) -> str:
    """Route plain postgresql:// URLs through psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(settings: Settings) -> Engine:
    url = make_url(normalise_url(settings.database_url))
    return rules(url.get_backend_name()).create_engine(url, settings)


def before_commit(session: Session, step: Step) -> None:
    """Run `step` as this session's transaction is about to commit (once, however often it is
    queued)."""
    steps: list[Step] = session.info.setdefault(_BEFORE_COMMIT, [])
    if step not in steps:
        steps.append(step)


def after_commit(session: Session, step: Step) -> None:
    """Run `step` once this session's transaction has committed (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(step)


class CommitOutcomeUnknown(DomainError):
    """The connection was lost while the transaction was committing: it may have committed."""

    status, slug, title = 503, "commit-outcome-unknown", "Lost the database while committing"


class UnitOfWork:
    """One session and its one transaction, ended exactly once by `finish()`."""

    def __init__(self, session: Session, turn: Turn | None = None) -> None:
        self.session = session
        self.turn = turn
        self.finished = False

    def finish(self, *, failed: bool = False) -> None:
        """Commit (with the steps before and after it), or roll back if anything failed;
        then close the session. SQLite's other writers may go on once this returns."""
        if self.finished:
            return
        self.finished = True
        session = self.session
        try:
            if failed:
                session.rollback()
                return
            try:
                for step in session.info.pop(_BEFORE_COMMIT, []):
                    step(session)
                session.commit()
            except DBAPIError as exc:
                session.rollback()
                if exc.connection_invalidated:
                    raise CommitOutcomeUnknown(
                        "The connection to the database was lost while this request was "
                        "committing, so it may or may not have been applied. Look before "
                        "sending it again (a retry with the same Idempotency-Key is always "
                        "safe)."
                    ) from exc
                raise
            except BaseException:
                session.rollback()
                raise
            for step in session.info.pop(_AFTER_COMMIT, []):
                step(session)
        finally:
            session.info.clear()
            session.close()
            if self.turn is not None:
                self.turn.transaction_ended()


class SessionFactory:
    """Opens the sessions of requests and commands; tests pass a connection whose transaction
    they roll back (`join_savepoint`: each session works in a savepoint of it)."""

    def __init__(
        self, bind: Engine | Connection, *, join_savepoint: bool = False, write_wait_s: float = 30
    ) -> None:
        self.bind = bind
        self.rules = rules(bind.dialect.name)
        self.join_savepoint = join_savepoint
        own_engine = isinstance(bind, Engine) and not join_savepoint
        self.write_queue = (
            self.rules.write_queue(bind, wait_s=write_wait_s)
            if isinstance(bind, Engine) and own_engine
            else None
        )
        # Made once: a per-request Engine.execution_options() costs more than the query.
        self._write_bind: Engine | Connection = (
            bind.execution_options(**self.write_queue.bind_options())
            if isinstance(bind, Engine) and self.write_queue is not None
            else bind
        )
        self._read_bind: Engine | Connection = (
            bind.execution_options(**self.rules.read_options())
            if isinstance(bind, Engine) and own_engine
            else bind
        )

    def open(self, *, write: bool, turn: Turn | None = None) -> UnitOfWork:
        """A session and the transaction it will begin at its first statement (no I/O yet).
        A write on SQLite must hold a `turn` of the write queue."""
        session = Session(
            self._write_bind if write else self._read_bind,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint"
            if self.join_savepoint
            else "conditional_savepoint",
        )
        return UnitOfWork(session, turn)

    @contextmanager
    def begin(self, *, write: bool) -> Iterator[Session]:
        """One session, one transaction, outside a request (the command line, the seed)."""
        turn = self.write_queue.enter_blocking() if write and self.write_queue else None
        try:
            work = self.open(write=write, turn=turn)
            try:
                yield work.session
            except BaseException:
                work.finish(failed=True)
                raise
            work.finish()
        finally:
            if turn is not None:
                turn.leave()

    @contextmanager
    def lookup(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A connection for reads outside a request's transaction: the API key, read before
        it, and a streamed export, read after it. `snapshot`: every statement sees the
        database as the first one did."""
        if isinstance(self.bind, Connection):
            yield self.bind
            return
        with self.bind.connect() as connection:
            options = self.rules.lookup_options(snapshot=snapshot)
            if options:
                connection.execution_options(**options)
            yield connection


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# The request's unit of work, for a sync endpoint to end in its own worker thread.
_request_work: ContextVar[UnitOfWork | None] = ContextVar("request_work", default=None)


def ending_in_its_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A sync endpoint that ends its request's unit of work in its own worker thread when it
    returns a finished Response (nothing is left that could fail) or raises: no second trip
    through the event loop and the thread pool while SQLite's write turn is held. Measured:
    +12% payments a second on SQLite (bench/write_path.py, docs/PERFORMANCE.md). What is
    still a model to serialise is committed by get_session once it has been."""

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        work = _request_work.get()
        try:
            result = endpoint(*args, **kwargs)
        except BaseException:
            if work is not None:
                work.finish(failed=True)
            raise
        if work is not None and isinstance(result, Response):
            work.finish()
        return result

    return run


async def _finish(work: UnitOfWork, *, failed: bool) -> None:
    if work.finished:
        return
    if failed and not work.session.in_transaction():
        work.finish(failed=True)  # refused before any statement: nothing to roll back
        return
    # Shielded from cancellation, and not waiting for a free worker thread.
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(
            partial(work.finish, failed=failed), limiter=anyio.CapacityLimiter(1)
        )


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session. Its transaction commits once the endpoint has returned and its
    response is built (in the endpoint's own thread if it returned a Response: see
    ending_in_its_thread), and rolls back on any error. A write on SQLite first waits for its turn
    in the write queue, on the event loop, and gives it up once the transaction has ended."""
    factory: SessionFactory = request.app.state.session_factory
    write = request.method not in READ_METHODS
    turn = await factory.write_queue.enter() if write and factory.write_queue else None
    try:
        work = factory.open(write=write, turn=turn)
        _request_work.set(work)
        try:
            yield work.session
        except BaseException:
            await _finish(work, failed=True)
            raise
        await _finish(work, failed=False)
    finally:
        if turn is not None:
            turn.leave()


# scope="function": commit before the response is sent, so a 2xx means the data is durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
