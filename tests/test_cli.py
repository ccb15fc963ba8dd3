"""The command line, run as a separate process against a database of its own."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import SessionFactory, make_engine
from app.main import create_app
from tests.factories import guard_lifted

ROOT = Path(__file__).resolve().parent.parent


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_seed_and_keys(scratch_url: str) -> None:
    assert run_cli(scratch_url, "migrate").returncode == 0
    first = run_cli(scratch_url, "seed")
    assert first.returncode == 0, first.stderr
    assert "created 7 projects" in first.stdout
    again = run_cli(scratch_url, "seed")
    assert "nothing to change" in again.stdout

    created = run_cli(scratch_url, "keys", "create", "--role", "admin", "--name", "系统管理员")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("ctk_adm_") and " " not in key

    # No key cache: a revocation from the command line takes effect at once (with the cache,
    # within API_KEY_CACHE_SECONDS; tests/auth/test_key_cache.py).
    app = create_app(
        Settings(database_url=scratch_url, api_key_cache_seconds=0),
        SessionFactory(make_engine(Settings(database_url=scratch_url))),
    )
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {key}"}
        listing = client.get("/api/v1/projects", headers=headers).json()
        assert listing["total"] == 7
        assert client.get("/readyz").status_code == 200

        listed = run_cli(scratch_url, "keys", "list")
        assert "系统管理员" in listed.stdout and key not in listed.stdout
        key_id = listed.stdout.splitlines()[1].split("\t")[0]
        revoked = run_cli(scratch_url, "keys", "revoke", key_id)
        assert revoked.returncode == 0
        assert client.get("/api/v1/projects", headers=headers).status_code == 401


def test_a_restart_keeps_an_administrators_changes(scratch_url: str) -> None:
    """The README's start command seeds on every start: that must undo nothing."""
    assert run_cli(scratch_url, "migrate").returncode == 0
    assert run_cli(scratch_url, "seed").returncode == 0
    created = run_cli(scratch_url, "keys", "create", "--role", "admin", "--name", "系统管理员")
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    app = create_app(
        Settings(database_url=scratch_url),
        SessionFactory(make_engine(Settings(database_url=scratch_url))),
    )
    with TestClient(app) as client:
        etag = client.get("/api/v1/projects/ZL7-2B", headers=headers).headers["ETag"]
        patched = client.patch(
            "/api/v1/projects/ZL7-2B",
            json={"budget_policy": "block"},
            headers={**headers, "If-Match": etag},
        )
        assert patched.status_code == 200, patched.text
        audited = client.get("/api/v1/audit", headers=headers).json()["total"]

        restart = run_cli(scratch_url, "seed")
        assert restart.returncode == 0, restart.stderr
        assert restart.stdout.splitlines() == [
            "ZL7-2B budget_policy: database block, seed warn (kept; run seed --update to apply)",
            "zl7.toml: nothing changed; 1 difference with the database kept "
            "(run seed --update to apply)",
        ]
        project = client.get("/api/v1/projects/ZL7-2B", headers=headers)
        assert project.json()["budget_policy"] == "block"
        assert project.headers["ETag"] != etag
        assert client.get("/api/v1/audit", headers=headers).json()["total"] == audited

        update = run_cli(scratch_url, "seed", "--update")
        assert update.returncode == 0, update.stderr
        assert update.stdout.splitlines() == [
            "ZL7-2B budget_policy: database block, seed warn (updated)",
            "zl7.toml: updated 1 projects",
        ]
        assert (
            client.get("/api/v1/projects/ZL7-2B", headers=headers).json()["budget_policy"] == "warn"
        )
        last = client.get("/api/v1/audit", headers=headers).json()
        assert last["total"] == audited + 1
        assert last["items"][0]["actor_name"] == "command line: seed zl7.toml"
        assert (
            last["items"][0]["before"]["budget_policy"],
            last["items"][0]["after"]["budget_policy"],
        ) == ("block", "warn")

        again = run_cli(scratch_url, "seed")
        assert again.stdout.splitlines() == [
            "zl7.toml: nothing to change: the register already holds this file"
        ]
        assert client.get("/api/v1/audit", headers=headers).json()["total"] == audited + 1


def test_contractor_key_needs_a_contractor(scratch_url: str) -> None:
    run_cli(scratch_url, "migrate")
    refused = run_cli(scratch_url, "keys", "create", "--role", "contractor", "--name", "施工单位")
    assert refused.returncode == 2
    assert "contractor_id" in refused.stderr


def test_seed_asks_for_migrations_on_postgresql(scratch_url: str) -> None:
    if scratch_url.startswith("sqlite"):
        pytest.skip("SQLite is migrated in place by seed and serve")
    refused = run_cli(scratch_url, "seed")
    assert refused.returncode == 2
    assert "python -m app migrate" in refused.stderr


def test_bad_seed_file_writes_nothing(scratch_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[programme]\ncode = "X-1"\nname = "坏"\n', encoding="utf-8")
    assert run_cli(scratch_url, "migrate").returncode == 0
    result = run_cli(scratch_url, "seed", str(bad))
    assert result.returncode == 2
    assert "region" in result.stderr


@pytest.mark.parametrize("path", ["/healthz", "/docs", "/openapi.json"])
def test_open_endpoints(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200


def test_docs_and_openapi_describe_the_api(client: TestClient) -> None:
    assert "swagger-ui" in client.get("/docs").text
    spec = client.get("/openapi.json").json()
    assert {t["name"] for t in spec["tags"]} >= {"projects", "sites", "programmes", "keys"}
    project_example = spec["components"]["schemas"]["ProjectCreate"]["examples"][0]
    assert project_example["code"] == "ZL7-2B"
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_readyz_is_503_before_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app(
        Settings(database_url=url), SessionFactory(make_engine(Settings(database_url=url)))
    )
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert client.get("/healthz").status_code == 200


def test_audit_verify_and_reconcile(scratch_url: str) -> None:
    import json

    import sqlalchemy as sa

    assert run_cli(scratch_url, "migrate").returncode == 0
    assert run_cli(scratch_url, "seed").returncode == 0
    verified = run_cli(scratch_url, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] is True and report["entries"] >= 7 + 6 + 19
    assert run_cli(scratch_url, "ledger", "reconcile").returncode == 0
    assert "removed 0" in run_cli(scratch_url, "idempotency", "purge").stdout

    engine = sa.create_engine(scratch_url)
    with engine.begin() as conn, guard_lifted(conn):  # as someone past the database's refusal
        target = conn.execute(
            sa.text("SELECT id FROM audit_entry WHERE entity = 'project' ORDER BY seq LIMIT 1")
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE audit_entry SET actor_name = 'someone else' WHERE id = :id"),
            {"id": target},
        )
    engine.dispose()
    broken = run_cli(scratch_url, "audit", "verify")
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["first_broken"] == target
