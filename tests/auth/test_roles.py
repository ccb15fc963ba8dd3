"""Who may do what: every route declares its roles, and keys are checked on every call."""

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.auth.dependencies import ROLE_GUARD_ATTR
from app.config import Settings
from app.main import create_app
from tests.factories import Keys

# The pages and their assets hold no data: the dashboard reads the API with the user's key.
PUBLIC_PATHS = {
    "/healthz",
    "/readyz",
    "/docs",
    "/redoc",
    "/docs/assets/{name}",
    "/",
    "/dashboard/assets/{name}",
}


def _guards(dependant: object) -> list[frozenset[str]]:
    found = []
    call = getattr(dependant, "call", None)
    if call is not None and hasattr(call, ROLE_GUARD_ATTR):
        found.append(getattr(call, ROLE_GUARD_ATTR))
    for sub in getattr(dependant, "dependencies", []):
        found.extend(_guards(sub))
    return found


def _api_routes(app: FastAPI) -> list[Any]:
    return [r for r in iter_route_contexts(app.routes) if isinstance(r.original_route, APIRoute)]


def unguarded_routes(app: FastAPI) -> list[str]:
    return [f"{sorted(r.methods)} {r.path}" for r in _api_routes(app) if not _guards(r.dependant)]


def test_every_route_declares_its_roles(settings: Settings) -> None:
    app = create_app(settings)
    assert len(_api_routes(app)) > 10
    assert unguarded_routes(app) == []
    public = {r.path for r in _api_routes(app) if frozenset() in _guards(r.dependant)}
    assert public == PUBLIC_PATHS


def test_the_walk_catches_a_route_without_a_guard(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/api/v1/forgotten")
    def forgotten() -> None: ...

    assert unguarded_routes(app) == ["['GET'] /api/v1/forgotten"]


def test_no_key_is_401(client: TestClient, zl7: None) -> None:
    response = client.get("/api/v1/projects")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_key_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/projects", headers={"Authorization": "Bearer ctk_adm_nope"})
    assert response.status_code == 401


def test_revoked_key_is_401(client: TestClient, keys: Keys, session: Session) -> None:
    assert client.get("/api/v1/projects", headers=keys.finance).status_code == 200
    revoked = client.delete(f"/api/v1/keys/{keys.ids['finance']}", headers=keys.admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    response = client.get("/api/v1/projects", headers=keys.finance)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_viewer_reads_but_cannot_write(client: TestClient, keys: Keys, zl7: None) -> None:
    assert client.get("/api/v1/projects/ZL7-1", headers=keys.viewer).status_code == 200
    attempts = [
        client.patch(
            "/api/v1/projects/ZL7-1",
            json={"status": "cancelled"},
            headers={**keys.viewer, "If-Match": "*"},
        ),
        client.delete("/api/v1/projects/ZL7-1", headers=keys.viewer),
        client.post(
            "/api/v1/sites", json={"region": "平罗县", "name": "新学校"}, headers=keys.viewer
        ),
        client.post("/api/v1/keys", json={"name": "x", "role": "admin"}, headers=keys.viewer),
    ]
    assert [r.status_code for r in attempts] == [403, 403, 403, 403]
    assert all(r.headers["content-type"] == "application/problem+json" for r in attempts)
    project = client.get("/api/v1/projects/ZL7-1", headers=keys.viewer).json()
    assert project["status"] == "preparation"


def test_finance_cannot_manage_keys(client: TestClient, keys: Keys) -> None:
    assert client.get("/api/v1/keys", headers=keys.finance).status_code == 403


def test_contractor_sees_no_project_without_a_contract(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    listing = client.get("/api/v1/projects", headers=keys.contractor).json()
    assert listing["total"] == 0 and listing["items"] == []
    assert client.get("/api/v1/projects/ZL7-1", headers=keys.contractor).status_code == 404
    site = client.get("/api/v1/sites", params={"q": "陶乐中学"}, headers=keys.contractor).json()
    assert site["items"][0]["projects"] == []
