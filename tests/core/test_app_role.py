"""The service runs as a PostgreSQL role with the least it needs (docs/postgresql-roles.sql,
docs/DEPLOYMENT.md): on a database migrated by its owner, that role can't update or delete a
ledger entry or create a table, and the ledger's tests pass connected as it."""

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from app import migrate

REPO = Path(__file__).resolve().parents[2]
ROLES_SCRIPT = REPO / "docs" / "postgresql-roles.sql"


def _conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def app_role_urls(database_url: str) -> Iterator[dict[str, str]]:
    """A database of its own, owned and migrated by an owner role, with the app's role made by
    the deployment script: the URLs of the owner, the app's role and a superuser on it."""
    run = make_url(database_url)
    if run.get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL roles: the suite runs on SQLite")
    suffix = uuid.uuid4().hex[:8]
    name, owner, app_role = (f"{run.database}_{kind}_{suffix}" for kind in ("lp", "owner", "app"))
    admin = sa.create_engine(run.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{owner}" LOGIN')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    superuser = run.set(database=name)
    try:
        migrate.upgrade(superuser.set(username=owner).render_as_string(hide_password=False))
        script = ROLES_SCRIPT.read_text(encoding="utf-8")
        script = script.replace("captrack_owner", owner).replace("captrack_app", app_role)
        with psycopg.connect(_conninfo(superuser), autocommit=True) as conn:
            conn.execute(script.encode())
        yield {
            "owner": superuser.set(username=owner).render_as_string(hide_password=False),
            "app": superuser.set(username=app_role).render_as_string(hide_password=False),
            "superuser": superuser.render_as_string(hide_password=False),
        }
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{app_role}"')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{owner}"')
        admin.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE disbursement SET memo = 'edited'",
        "DELETE FROM disbursement",
        "UPDATE audit_entry SET actor_name = 'someone else'",
        "DELETE FROM project_revision",
        "UPDATE alembic_version SET version_num = 'x'",
        "CREATE TABLE side_ledger (id integer)",
        "DROP TRIGGER disbursement_no_edit ON disbursement",
        "TRUNCATE idempotency_record",
    ],
)
def test_the_app_role_may_not_edit_the_record_or_the_schema(
    app_role_urls: dict[str, str], statement: str
) -> None:
    with (
        psycopg.connect(_conninfo(make_url(app_role_urls["app"]))) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement.encode())


def test_the_app_role_reads_appends_and_moves_balances(app_role_urls: dict[str, str]) -> None:
    with psycopg.connect(_conninfo(make_url(app_role_urls["app"]))) as conn:
        # The funding sources the migrations put in.
        assert conn.execute(b"SELECT count(*) FROM funding_source").fetchone() == (5,)
        conn.execute(b"UPDATE audit_head SET seq = seq")
        conn.execute(b"DELETE FROM idempotency_record")
        conn.rollback()


@pytest.mark.slow
def test_the_ledger_tests_pass_as_the_app_role(app_role_urls: dict[str, str]) -> None:
    env = {
        **os.environ,
        "TEST_DATABASE_URL": app_role_urls["app"],
        "TEST_DATABASE_PREMIGRATED": "1",
        "TEST_DATABASE_ADMIN_URL": app_role_urls["superuser"],
        "REQUIRE_POSTGRES": "1",
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/ledger"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed is not None and int(passed.group(1)) >= 100, run.stdout[-4000:]
    # Skipped as the app's role: only the export tests that arrange rows the API never writes.
    reasons = set(re.findall(r"SKIPPED \[\d+\] \S+: (.*)", run.stdout))
    assert reasons <= {"arranging rows the service never writes needs a role that may do so"}
