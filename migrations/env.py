"""Alembic environment: the URL comes from the caller or DATABASE_URL; batch mode on SQLite."""

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlalchemy.types import TypeDecorator

from app.config import Settings
from app.db import make_engine, normalise_url
from app.models import metadata

config = context.config


def _url() -> str:
    return normalise_url(config.get_main_option("sqlalchemy.url") or Settings().database_url)


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Migrations name plain column types (BIGINT fen, timestamptz), never app classes, so an
    old migration keeps working whatever later happens to the code."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl_instance
        if type(impl).__name__ == "DateTime":
            return f"sa.DateTime(timezone={impl.timezone!r})"
        return f"sa.{impl!r}"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=True,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        literal_binds=True,
        compare_type=True,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _configure(connectable)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(Settings(database_url=_url()))
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
