"""PostgreSQL (psycopg 3): the production engine. Its own rules."""

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import (
    Connection,
    Engine,
    Numeric,
    Select,
    String,
    Text,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from app.audit.models import (
    FROM_HEAD,
    HASHED,
    AuditEntry,
    AuditHead,
    chained,
    hash_template,
)
from app.config import Settings
from app.exports.batches import driver_query
from app.exports.service import CHUNK_BYTES, CSV_UNSAFE_START
from app.timeutil import MonthStart, UtcText


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


# From this many rows, `insert_rows` copies them in (COPY … FROM STDIN) instead of sending an
# INSERT a row: psycopg's executemany sends one statement a row (pipelined), which for an
# import's 100,000 entries and their audit entries kept the import waiting on the server
# (docs/PERFORMANCE.md).
COPY_FROM_ROWS = 100


def insert_rows(connection: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows that all name the same columns, in this transaction: from COPY_FROM_ROWS
    rows, by COPY, each value in its column's stored form. A constraint the rows
    break is an IntegrityError either way, a lost connection a DBAPIError."""
    if len(rows) < COPY_FROM_ROWS:
        connection.execute(table.insert(), rows)
        return
    dialect = connection.dialect
    names = list(rows[0])
    processors = [table.c[name].type.bind_processor(dialect) for name in names]
    quote = dialect.identifier_preparer.quote
    statement = (
        f"COPY {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(map(quote, names))}) FROM STDIN"
    )
    driver: Any = connection.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                # Each value in its stored form, as an INSERT would bind it (money as fen).
                copy.write_row(
                    [
                        value if process is None or value is None else process(value)
                        for process, value in zip(
                            processors, map(row.__getitem__, names), strict=True
                        )
                    ]
                )
    except psycopg.Error as exc:
        error: Any = exc
        # As SQLAlchemy would raise it from an INSERT: a broken constraint an IntegrityError,
        # a lost server a DBAPIError that says the connection is gone.
        raise sa.exc.DBAPIError.instance(
            statement,
            None,
            exc,
            psycopg.Error,
            connection_invalidated=dialect.is_disconnect(error, driver, None),
        ) from exc


def new_ids(connection: Connection, table: sa.Table, count: int) -> list[int]:
    """`count` ids for new rows of a table with a serial `id`, taken from its sequence now
    (so rows copied in know their ids without reading them back)."""
    sequence = func.pg_get_serial_sequence(table.name, "id")
    return list(
        connection.execute(
            sa.select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        ).scalars()
    )


def upsert(table: sa.Table) -> Any:
    """The INSERT that takes ON CONFLICT DO UPDATE (the same clause on either engine)."""
    return postgresql_insert(table)


@compiles(UtcText, "postgresql")
def _utc_to_char(element: UtcText, compiler: SQLCompiler, **kw: Any) -> str:
    stamp = compiler.process(element.clauses, **kw)
    return f"to_char({stamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"


@compiles(MonthStart, "postgresql")
def _date_trunc_month(element: MonthStart, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(date_trunc('month', {compiler.process(element.clauses, **kw)}) AS DATE)"


_audit_entries = AuditEntry.__table__  # type: ignore[attr-defined]
_audit_head = AuditHead.__table__  # type: ignore[attr-defined]
_CONTENT = [name for name in HASHED if name not in FROM_HEAD] + ["request_id"]


def _append_audit_entry() -> Any:
    """One entry chained onto the head and the head moved to it, in one statement: the head
    is locked, the entry's text assembled from its template and the head's seq and hash,
    SHA-256 taken, the entry inserted and the head moved. Writers run side by side here and
    all of them queue on the head's lock, so the fewer round trips under it, the more
    payments a second: 1.4-1.55x the posting rate of reading the head, hashing in Python,
    then inserting and moving it (docs/PERFORMANCE.md)."""
    head = (
        sa.select(_audit_head.c.seq, _audit_head.c.hash)
        .where(_audit_head.c.id == 1)
        .with_for_update()
        .cte("head")
    )
    seq = head.c.seq + 1
    text_ = (
        sa.bindparam("before_prev", type_=Text)
        + head.c.hash
        + sa.bindparam("before_seq", type_=Text)
        + cast(seq, Text)
        + literal_column("'}'", Text)
    )
    digest = func.encode(func.sha256(func.convert_to(text_, literal_column("'UTF8'"))), "hex")
    content = [sa.bindparam(name, type_=_audit_entries.c[name].type) for name in _CONTENT]
    appended = (
        sa.insert(_audit_entries)
        .from_select(
            ["seq", *_CONTENT, "prev_hash", "hash"],
            sa.select(seq, *content, head.c.hash, digest),
        )
        .returning(_audit_entries.c.seq, _audit_entries.c.hash)
        .cte("appended")
    )
    # Only `id = 1` here: after waiting for the lock, PostgreSQL re-finds the head's latest
    # version by that condition alone (a condition on its old values would skip it).
    return (
        sa.update(_audit_head)
        .where(_audit_head.c.id == 1)
        .values(
            seq=sa.select(appended.c.seq).scalar_subquery(),
            hash=sa.select(appended.c.hash).scalar_subquery(),
        )
    )


_APPEND_AUDIT_ENTRY = _append_audit_entry()


_HEAD_FOR_UPDATE = (
    sa.select(_audit_head.c.seq, _audit_head.c.hash).where(_audit_head.c.id == 1).with_for_update()
)
_MOVE_HEAD = (
    _audit_head.update()
    .where(_audit_head.c.id == 1)
    .values(seq=sa.bindparam("head_seq"), hash=sa.bindparam("head_hash"))
)
# From this many entries in one transaction (an import's), the head is locked once and the
# entries hashed here (`chained`): one statement an entry, each hashing in the database under
# the head's lock, measured 10.4 s for 20,000 entries; locking once and hashing here, 1.4 s.
MANY_AUDIT_ENTRIES = 100


def append_audit_entries(connection: Connection, contents: list[dict[str, Any]]) -> None:
    """Chain entries onto the audit trail's head, each in one statement (pipelined), hashing
    in the database the text that hash_template and the head make: the same text
    entry_hash hashes. Many entries at once: lock the head, chain them (`chained`), insert
    them together, move the head, as on SQLite."""
    if len(contents) >= MANY_AUDIT_ENTRIES:
        seq, prev_hash = connection.execute(_HEAD_FOR_UPDATE).one()
        rows, seq, prev_hash = chained(contents, seq=seq, prev_hash=prev_hash)
        insert_rows(connection, _audit_entries, rows)
        connection.execute(_MOVE_HEAD, {"head_seq": seq, "head_hash": prev_hash})
        return
    templated = []
    for content in contents:
        before_prev, before_seq = hash_template(content)
        templated.append({**content, "before_prev": before_prev, "before_seq": before_seq})
    connection.execute(_APPEND_AUDIT_ENTRY, templated)


def write_queue(engine: Engine, *, wait_s: float) -> None:
    """Writers run side by side; row locks order them."""
    return None


# The ledger's CSV export, written by the database: each row's whole line is built in SQL by
# the CSV writer's rules (app/exports/service.py) and read with COPY … TO STDOUT. The server
# formats the text, and the client reads one value a row through the COPY protocol instead of
# building a row of Python values and formatting each. Measured 1.5-1.6× the rows per second
# of the column writer SQLite uses, with the same bytes (docs/PERFORMANCE.md). COPY's text
# format, not its CSV format: CSV format ends lines with `\n` alone, quotes an empty string
# (the writer leaves it bare) and a value that is just `\.`, and a line break inside a quoted
# field is indistinguishable from a line's end. In text format a value's `\`, line breaks,
# tab, backspace, form feed and vertical tab come backslash-escaped, so the only bare `\n`
# bytes are the ends of lines: each becomes `\r\n`, then the escapes are undone.
CSV_LINES_IN_SQL = True
# Codes written into the SQL: driver_statement binds plain parameters, not an IN list's.
_FORMULA_STARTS: list[ColumnElement[int]] = [
    literal_column(str(ord(start))) for start in CSV_UNSAFE_START
]
_NEEDS_QUOTES = ',"\r\n'
# fen × the numeric 0.01 is exact and has two decimals.
_YUAN_PER_FEN = literal(Decimal("0.01"), Numeric(3, 2))

# COPY TO's escapes in text format (it never writes octal or hex ones).
_COPY_ESCAPE = re.compile(rb"\\[\\bfnrtv]")
_UNESCAPED = {
    b"\\\\": b"\\",
    b"\\b": b"\b",
    b"\\f": b"\f",
    b"\\n": b"\n",
    b"\\r": b"\r",
    b"\\t": b"\t",
    b"\\v": b"\v",
}


def text_cell(value: Any) -> ColumnElement[str]:
    """A TEXT cell: `'` before a formula's start, quoted (its quotes doubled) if it holds a
    comma, a quote or a line break; NULL is empty."""
    # ascii() (the first character's code) and strpos() measured cheaper than regular
    # expressions: these run for most cells of a million rows.
    inert = case((func.ascii(value).in_(_FORMULA_STARTS), literal("'") + value), else_=value)
    quoted = case(
        (
            or_(*(func.strpos(value, character) > 0 for character in _NEEDS_QUOTES)),
            literal('"') + func.replace(inert, '"', '""', type_=String) + literal('"'),
        ),
        else_=inert,
    )
    return func.coalesce(quoted, "", type_=String)


def int_cell(value: Any) -> ColumnElement[str]:
    """An INT cell; NULL is empty."""
    return func.coalesce(cast(value, Text), "", type_=String)


def fen_cell(fen: Any) -> ColumnElement[str]:
    """Integer fen as money is written (fen_text): 123450 → `1234.50`, -5 → `-0.05`. The
    product with the numeric 0.01 is exact, never a float, and its text has two decimals."""
    return cast(fen * _YUAN_PER_FEN, Text)


def date_cell(value: Any) -> ColumnElement[str]:
    """A date as its ISO text, whatever the server's DateStyle."""
    return func.to_char(value, "YYYY-MM-DD", type_=String)


def utc_cell(value: Any) -> ColumnElement[str]:
    """A UTCDateTime as utc_texts_iso writes it: `2026-11-30T08:00:00.250000Z`, a whole
    second without its fraction (`2026-11-30T08:00:00Z`)."""
    iso = func.replace(UtcText(value), " ", "T", type_=String) + literal("Z")
    return func.replace(iso, ".000000Z", "Z", type_=String)


def csv_line(cells: list[ColumnElement[str]]) -> ColumnElement[str]:
    """Cells joined into one line (its `\\r\\n` comes from copy_lines)."""
    line = cells[0]
    for cell in cells[1:]:
        line = line + literal(",") + cell
    return line


def _as_csv(block: bytes, encoding: str) -> bytes:
    """Whole lines of COPY text output as the CSV writer's UTF-8 lines."""
    if encoding != "utf-8":
        block = block.decode(encoding).encode("utf-8")
    block = block.replace(b"\n", b"\r\n")
    if b"\\" in block:
        block = _COPY_ESCAPE.sub(lambda escape: _UNESCAPED[escape.group()], block)
    return block


def copy_lines(connection: Connection, query: Select[Any]) -> Iterator[bytes]:
    """The lines of a query whose one column is a CSV line (csv_line), in chunks of about
    CHUNK_BYTES of whole lines, read with COPY in the connection's transaction."""
    driver, statement, parameters = driver_query(connection, query)
    encoding = driver.info.encoding
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY ({statement}) TO STDOUT", parameters) as copy,
    ):
        pending: list[Any] = []
        size = 0
        # Each piece COPY sends is one row.
        for row in copy:
            pending.append(row)
            size += len(row)
            if size >= CHUNK_BYTES:
                yield _as_csv(b"".join(pending), encoding)
                pending.clear()
                size = 0
        if pending:
            yield _as_csv(b"".join(pending), encoding)
