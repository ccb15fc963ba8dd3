"""Loading the seed again never undoes an administrator: it reports, and `update` applies."""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from app.db import SessionFactory
from seed import DEFAULT_SEED
from seed.loader import SeedResult, load_file
from tests.factories import Keys, payment

KEPT = "(kept; run seed --update to apply)"


def _patch(client: TestClient, keys: Keys, path: str, body: dict[str, Any]) -> dict[str, Any]:
    etag = client.get(path, headers=keys.admin).headers.get("ETag")
    headers = {**keys.admin, "If-Match": etag} if etag else keys.admin
    response = client.patch(path, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _seed(connection: Connection, path: Path = DEFAULT_SEED, update: bool = False) -> SeedResult:
    """Load as `python -m app seed` does: one unit of work, its audit entries written."""
    with SessionFactory(connection, join_savepoint=True).begin(write=True) as session:
        return load_file(session=session, path=path, update=update)


def _audit_total(client: TestClient, keys: Keys) -> int:
    return int(client.get("/api/v1/audit", headers=keys.admin).json()["total"])


def _administrator_changes(client: TestClient, keys: Keys) -> int:
    """An administrator's edits after the first load; returns ZL7-6's line 计算机's id."""
    _patch(
        client,
        keys,
        "/api/v1/projects/ZL7-2B",
        {"status": "implementation", "budget_policy": "block", "site_count": 2},
    )
    _patch(client, keys, "/api/v1/sites/城关第六小学", {"aliases": ["六小"]})
    lines = client.get("/api/v1/projects/ZL7-6", headers=keys.admin).json()["budget_lines"]
    computers = next(line for line in lines if line["name"] == "计算机")
    _patch(
        client,
        keys,
        f"/api/v1/budget-lines/{computers['id']}",
        {"estimate": "16000000.00", "unit": "套"},
    )
    return int(computers["id"])


def test_loading_again_keeps_what_an_administrator_changed(
    client: TestClient, keys: Keys, connection: Connection, zl7: None
) -> None:
    _administrator_changes(client, keys)
    audited = _audit_total(client, keys)

    result = _seed(connection)

    assert not result.changed
    assert sorted(result.report) == sorted(
        [
            f"ZL7-2B status: database implementation, seed preparation {KEPT}",
            f"ZL7-2B site_count: database 2, seed 1 {KEPT}",
            f"ZL7-2B budget_policy: database block, seed warn {KEPT}",
            f"site 城关第六小学 aliases: database [六小], seed [城关六小] {KEPT}",
            f"ZL7-6 budget line ZL7-6-3 unit: database 套, seed 台 {KEPT}",
            f"ZL7-6 budget line ZL7-6-3 estimate: database 16000000.00, seed 16660000.00 {KEPT}",
        ]
    )
    zl7_2b = client.get("/api/v1/projects/ZL7-2B", headers=keys.viewer).json()
    assert (zl7_2b["status"], zl7_2b["budget_policy"], zl7_2b["site_count"]) == (
        "implementation",
        "block",
        2,
    )
    site = client.get("/api/v1/sites/城关第六小学", headers=keys.viewer).json()
    assert site["aliases"] == ["六小"]
    assert _audit_total(client, keys) == audited


def test_update_applies_the_file_through_the_audited_services(
    client: TestClient, keys: Keys, connection: Connection, zl7: None
) -> None:
    line_id = _administrator_changes(client, keys)
    etag = client.get("/api/v1/projects/ZL7-2B", headers=keys.admin).headers["ETag"]
    audited = _audit_total(client, keys)

    result = _seed(connection, update=True)

    assert result.updated == {"budget lines": 1, "projects": 1, "sites": 1}
    assert "ZL7-2B budget_policy: database block, seed warn (updated)" in result.report
    zl7_2b = client.get("/api/v1/projects/ZL7-2B", headers=keys.viewer)
    assert zl7_2b.json()["budget_policy"] == "warn"
    assert zl7_2b.json()["status"] == "preparation"
    assert zl7_2b.headers["ETag"] != etag  # an edit based on the earlier read is now refused
    line = client.get(f"/api/v1/budget-lines/{line_id}", headers=keys.viewer).json()
    assert (line["estimate"], line["unit"]) == ("16660000.00", "台")
    # The seed adds its alias back and keeps the one an administrator added.
    site = client.get("/api/v1/sites/城关第六小学", headers=keys.viewer).json()
    assert site["aliases"] == ["六小", "城关六小"]

    entries = client.get("/api/v1/audit", headers=keys.admin).json()
    assert entries["total"] == audited + 3
    project_entry = next(e for e in entries["items"] if e["entity"] == "project")
    assert project_entry["actor_name"] == "command line: seed zl7.toml"
    assert project_entry["action"] == "update"
    assert project_entry["before"]["budget_policy"] == "block"
    assert project_entry["after"]["budget_policy"] == "warn"
    assert client.get("/api/v1/audit/verify", headers=keys.admin).json()["ok"] is True

    again = _seed(connection)
    assert _audit_total(client, keys) == audited + 3
    assert again.summary() == "nothing to change: the register already holds this file"


def test_a_seed_never_changes_an_estimate_the_ledger_has_locked(
    client: TestClient, keys: Keys, connection: Connection, zl7: None, tmp_path: Path
) -> None:
    zl7_2b = client.get("/api/v1/projects/ZL7-2B", headers=keys.viewer).json()
    paid = client.post(
        "/api/v1/disbursements",
        json=payment(zl7_2b["id"], "1500000.00", "2023-06-记-0012"),
        headers={**keys.finance, "Idempotency-Key": "reseed-locked-1"},
    )
    assert paid.status_code == 201, paid.text
    changed = tmp_path / "zl7.toml"
    changed.write_text(
        DEFAULT_SEED.read_text(encoding="utf-8").replace(
            'estimate_wan = "6721.6"', 'estimate_wan = "7000"'
        ),
        encoding="utf-8",
    )
    result = _seed(connection, changed, update=True)
    assert not result.changed
    assert result.report == [
        "ZL7-2B original_estimate: database 67216000.00, seed 70000000.00 "
        "(kept: locked by the project's payments or 概算调整)"
    ]
    assert result.summary() == "nothing changed; 1 difference with the database kept"


def test_what_an_administrator_deleted_is_not_created_again(
    client: TestClient, keys: Keys, connection: Connection, zl7: None
) -> None:
    assert client.delete("/api/v1/projects/ZL7-4", headers=keys.admin).status_code == 204
    lines = client.get("/api/v1/projects/ZL7-6", headers=keys.admin).json()["budget_lines"]
    books = next(line for line in lines if line["code"] == "ZL7-6-6")
    deleted = client.delete(f"/api/v1/budget-lines/{books['id']}", headers=keys.admin)
    assert deleted.status_code == 204
    audited = _audit_total(client, keys)

    kept = _seed(connection)
    assert not kept.changed
    assert [line.split(": deleted ")[0] for line in kept.report] == [
        "ZL7-4",
        "ZL7-6 budget line ZL7-6-6",
    ]
    assert all(line.endswith(f", not created again {KEPT}") for line in kept.report)
    assert client.get("/api/v1/projects/ZL7-4", headers=keys.viewer).status_code == 404
    assert _audit_total(client, keys) == audited

    again = _seed(connection, update=True)
    assert again.created == {"budget lines": 1, "projects": 1}
    assert all(line.endswith(", created again") for line in again.report)
    assert client.get("/api/v1/projects/ZL7-4", headers=keys.viewer).status_code == 200
    zl7_6 = client.get("/api/v1/projects/ZL7-6", headers=keys.viewer).json()
    assert [line["code"] for line in zl7_6["budget_lines"]][-1] == "ZL7-6-6"
    assert _seed(connection).report == []


def test_a_renamed_site_is_found_by_the_names_it_kept(
    client: TestClient, keys: Keys, connection: Connection, zl7: None
) -> None:
    _patch(client, keys, "/api/v1/sites/城关第六小学", {"name": "城关六小南校区"})
    kept = _seed(connection)
    assert kept.report == [
        f"site 城关第六小学 name: database 城关六小南校区, seed 城关第六小学 {KEPT}"
    ]
    found = client.get("/api/v1/sites", params={"q": "城关六小"}, headers=keys.viewer).json()
    assert [(s["name"], s["aliases"]) for s in found["items"]] == [("城关六小南校区", ["城关六小"])]

    _seed(connection, update=True)
    site = client.get("/api/v1/sites/城关第六小学", headers=keys.viewer).json()
    assert site["aliases"] == ["城关六小", "城关六小南校区"]
    assert [p["code"] for p in site["projects"]] == ["ZL7-2A", "ZL7-5"]


def test_a_seed_finds_its_records_by_code_however_typed(
    client: TestClient, keys: Keys, connection: Connection, zl7: None, tmp_path: Path
) -> None:
    typed = tmp_path / "zl7-lower.toml"
    text = DEFAULT_SEED.read_text(encoding="utf-8")
    typed.write_text(
        text.replace('code = "ZL7-', 'code = "zl7-').replace("PL-EDU-", "pl-edu-"),
        encoding="utf-8",
    )
    projects = client.get("/api/v1/projects", headers=keys.viewer).json()["total"]
    audited = _audit_total(client, keys)

    result = _seed(connection, typed, update=True)

    assert not result.changed and result.report == []
    assert client.get("/api/v1/projects", headers=keys.viewer).json()["total"] == projects
    assert client.get("/api/v1/programmes", headers=keys.viewer).json()["total"] == 1
    assert _audit_total(client, keys) == audited
