"""PostgreSQL (psycopg 3): the production engine. Its own rules."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from app.config import Settings
from app.timeutil import UtcText


def create_engine(url: URL, settings: Settings) -> Engine:
    # No pre-ping: it costs every request a round trip. A connection the server has dropped
    # (a restart) fails its request with a 503 to retry (app.errors), and SQLAlchemy then
    # replaces every pooled connection older than the failure. Connections are renewed after
    # five minutes, below the idle timeouts of poolers and firewalls, so those don't.
    return sa.create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_recycle=300,
    )


def read_options() -> dict[str, Any]:
    """A read session sees one snapshot, so a report's statements agree with each other."""
    return {"isolation_level": "REPEATABLE READ"}


def lookup_options(*, snapshot: bool) -> dict[str, Any]:
    """A lookup outside the request's transaction: one snapshot if asked for, else autocommit
    (no BEGIN and ROLLBACK round trips around one SELECT)."""
    return {"isolation_level": "REPEATABLE READ" if snapshot else "AUTOCOMMIT"}


def claim_request(connection: Connection, key: int) -> bool:
    """Hold `key` for this transaction, or say at once that another transaction holds it
    (writers run side by side here: a retry must not wait for, then repeat, the first)."""
    return bool(
        connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar()
    )


def batch_cursor(driver_connection: Any) -> Any:
    """A server-side cursor: the rows come as they are fetched, not all at once."""
    return driver_connection.cursor(name="batches")


@compiles(UtcText, "postgresql")
def _utc_to_char(element: UtcText, compiler: SQLCompiler, **kw: Any) -> str:
    stamp = compiler.process(element.clauses, **kw)
    return f"to_char({stamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"


def write_queue(engine: Engine, *, wait_s: float) -> None:
    """Writers run side by side; row locks order them."""
    return None
