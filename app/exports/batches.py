"""Reading very many rows as the database driver returns them, for exports."""

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Select


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


def driver_query(connection: Connection, query: Select[Any]) -> tuple[Any, str, Any]:
    """The database driver's own connection and a SELECT as it takes it (driver_statement),
    in the connection's transaction (begun if need be)."""
    statement, parameters = driver_statement(connection, query)
    if not connection.in_transaction():
        connection.begin()
    driver = connection.connection.driver_connection
    assert driver is not None
    return driver, statement, parameters


def driver_batches(
    connection: Connection, query: Select[Any], *, size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """A SELECT's rows as the database driver returns them, `size` at a time, in the
    connection's transaction.

    SQLAlchemy makes no Row and converts no value, so the values are the driver's own (on
    SQLite, dates and timestamps are text; a TypeDecorator's result processing doesn't run).
    Parameters are bound as SQLAlchemy binds them."""
    driver, statement, parameters = driver_query(connection, query)
    # A server-side cursor where the driver has one (PostgreSQL): rows come as they are fetched.
    streams = connection.dialect.supports_server_side_cursors
    cursor = driver.cursor(name="batches") if streams else driver.cursor()
    try:
        cursor.execute(statement, parameters)
        while batch := cursor.fetchmany(size):
            yield batch
    finally:
        cursor.close()
