"""Test fixtures: one migrated database per run, one rolled-back transaction per test.

The engine is chosen by TEST_DATABASE_URL (default: a fresh SQLite file). Point it at
PostgreSQL to run the same suite there; if that server is unreachable the run is skipped
with the reason, unless REQUIRE_POSTGRES=1 (CI), which makes it an error.

TEST_DATABASE_PREMIGRATED=1 runs against a database already at head, as a role that can't
migrate it (the app's least-privilege role: tests/core/test_app_role.py); fixtures that must
clear committed rows then connect through TEST_DATABASE_ADMIN_URL.
"""

import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app import migrate
from app.config import Settings
from app.db import SessionFactory, make_engine, normalise_url
from app.main import create_app
from app.models import metadata
from app.projects.models import Project
from tests.factories import Keys, guard_lifted, make_keys, make_programme, make_project


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    return normalise_url(url)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # The suite writes and fails authentication far faster than any client may: the limits
    # themselves are tested with apps of their own (tests/guard/).
    return Settings(
        database_url=database_url,
        log_level="WARNING",
        write_rate_limit="100000/minute",
        auth_failure_rate_limit="100000/minute",
    )


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    if engine.dialect.name == "postgresql":
        try:
            with engine.connect():
                pass
        except Exception as exc:  # unreachable server: skip, or fail where it is required
            engine.dispose()
            url = make_url(settings.database_url).render_as_string(hide_password=True)
            reason = f"PostgreSQL at {url} is not reachable ({type(exc).__name__})"
            if os.environ.get("REQUIRE_POSTGRES") == "1":
                pytest.fail(reason)
            pytest.skip(reason)
    if os.environ.get("TEST_DATABASE_PREMIGRATED") != "1":
        # A clean slate: whatever an earlier run left behind goes, then the real migrations run.
        migrate.downgrade(settings.database_url, "base")
        migrate.upgrade(settings.database_url, "head")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def admin_engine(engine: Engine) -> Iterator[Engine]:
    """The engine that may clear every table: the run's own, unless the run is as a role that
    may not (TEST_DATABASE_ADMIN_URL)."""
    url = os.environ.get("TEST_DATABASE_ADMIN_URL")
    if not url:
        yield engine
        return
    admin = sa.create_engine(normalise_url(url))
    yield admin
    admin.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One transaction per test, rolled back at the end, whatever the app committed."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """A session for arranging test data inside the test's transaction."""
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as s:
        yield s


@pytest.fixture
def app(settings: Settings, connection: Connection) -> FastAPI:
    """The real app; each request gets its own session and savepoint on the test's connection."""
    return create_app(settings, SessionFactory(connection, join_savepoint=True))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def keys(session: Session) -> Keys:
    """One API key per role, as Authorization headers."""
    return make_keys(session)


@pytest.fixture
def zl7(session: Session) -> None:
    """The 专栏7 programme loaded from the real seed file."""
    from seed import DEFAULT_SEED
    from seed.loader import load_file

    load_file(session=session, path=DEFAULT_SEED)
    session.commit()


@pytest.fixture
def project(session: Session) -> Project:
    """A project of 1,000,000.00 coded REV-A, in a programme of its own. A test module that needs
    another project defines its own `project`."""
    _, item = make_programme(session)
    return make_project(session, item, estimate=Decimal("1000000.00"), code="REV-A")


@pytest.fixture
def committed_app(settings: Settings, engine: Engine, admin_engine: Engine) -> Iterator[FastAPI]:
    """The app on the real engine: requests really commit. Afterwards every row goes, and the
    reference rows the migrations put in (funding sources, the audit chain's head) come back."""
    sources = metadata.tables["funding_source"]
    head = metadata.tables["audit_head"]
    with engine.connect() as conn:
        kept_sources = [dict(r._mapping) for r in conn.execute(sources.select())]
        kept_head = [dict(r._mapping) for r in conn.execute(head.select())]
    yield create_app(settings, SessionFactory(engine))
    with admin_engine.begin() as conn, guard_lifted(conn):
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        conn.execute(sources.insert(), kept_sources)
        conn.execute(head.insert(), kept_head)


@pytest.fixture
def scratch_url(database_url: str, tmp_path: Path, engine: sa.Engine) -> Iterator[str]:
    """A database of its own, on the same engine as the rest of the run."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"captrack_mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or "sqlite (temporary file)"
    shown = make_url(url).render_as_string(hide_password=True) if "://" in url else url
    return f"database: {shown}"


DATA = Path(__file__).parent / "data"
