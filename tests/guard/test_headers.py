"""Every response carries the security headers; nothing under /api/ is cached unless the
route says how (reports: revalidated by ETag); pages keep their own policy; CORS is closed
unless origins are allowed."""

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from app.auth.dependencies import AdminDep
from app.config import Settings
from tests.auth.test_matrix import route_table
from tests.factories import Keys
from tests.guard.test_middleware import make_app

API_CSP = "default-src 'none'; frame-ancestors 'none'"


def _check(path: str, headers: dict[str, str]) -> list[str]:
    wrong = []
    expected = {
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
    }
    for name, value in expected.items():
        if headers.get(name) != value:
            wrong.append(f"{path}: {name} is {headers.get(name)!r}")
    csp = headers.get("content-security-policy", "")
    if "default-src 'none'" not in csp or "frame-ancestors 'none'" not in csp:
        wrong.append(f"{path}: content-security-policy is {csp!r}")
    if path.startswith("/api/") and headers.get("cache-control") not in (
        "no-store",
        "private, no-cache",
    ):
        wrong.append(f"{path}: cache-control is {headers.get('cache-control')!r}")
    return wrong


def test_every_route_answers_with_the_headers(app: FastAPI, client: TestClient, keys: Keys) -> None:
    wrong = []
    for method, template in sorted(route_table(app)):
        path = re.sub(r"\{[^}]+\}", "1", template)
        if path.endswith("/assets/1"):
            path = path.replace(
                "/assets/1", "/assets/app.js" if "dashboard" in path else "/assets/favicon.png"
            )
        for headers in ({}, keys.admin):
            response = client.request(method, path, json={}, headers=headers)
            assert response.status_code < 500, (method, path, response.text)
            wrong += _check(f"{method} {path} ({response.status_code})", dict(response.headers))
    assert wrong == []


def test_api_answers_load_nothing_and_are_not_stored(client: TestClient, keys: Keys) -> None:
    for response in (
        client.get("/api/v1/sites", headers=keys.viewer),
        client.get("/api/v1/sites"),
        client.get("/api/v1/no-such-thing", headers=keys.viewer),
        client.get("/openapi.json"),
    ):
        assert response.headers["content-security-policy"] == API_CSP
    assert client.get("/api/v1/sites", headers=keys.viewer).headers["cache-control"] == "no-store"
    assert client.get("/api/v1/keys/me", headers=keys.viewer).headers["cache-control"] == "no-store"


def test_reports_are_revalidated_by_their_etag(client: TestClient, keys: Keys, zl7: None) -> None:
    report = client.get("/api/v1/reports/portfolio", headers=keys.viewer)
    assert report.status_code == 200
    assert report.headers["cache-control"] == "private, no-cache"
    again = client.get(
        "/api/v1/reports/portfolio",
        headers={**keys.viewer, "If-None-Match": report.headers["etag"]},
    )
    assert again.status_code == 304
    assert again.headers["cache-control"] == "private, no-cache"


def test_pages_keep_their_own_policy(client: TestClient) -> None:
    dashboard = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in dashboard and "frame-ancestors 'none'" in dashboard
    for page in ("/docs", "/redoc"):
        policy = client.get(page).headers["content-security-policy"]
        assert policy.startswith("default-src 'none'; script-src 'self'"), page
        assert "connect-src 'self';" in policy and "frame-ancestors 'none'" in policy
    # Swagger UI's one inline script runs by its hash; no other inline script would.
    assert "'sha256-" in client.get("/docs").headers["content-security-policy"]
    assert "'sha256-" not in client.get("/redoc").headers["content-security-policy"]
    assert client.get("/").headers["x-frame-options"] == "DENY"


PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization",
}


def test_cors_is_closed_by_default(client: TestClient, keys: Keys) -> None:
    origin = {"Origin": "https://evil.example"}
    answer = client.get("/api/v1/sites", headers={**keys.viewer, **origin})
    assert answer.status_code == 200
    assert not [h for h in answer.headers if h.startswith("access-control-")]
    preflight = client.options("/api/v1/sites", headers={**origin, **PREFLIGHT})
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize("origin", ["https://dash.example.org", "https://evil.example"])
def test_cors_admits_the_allowed_origins_only(
    settings: Settings, connection: Connection, keys: Keys, origin: str
) -> None:
    app = make_app(
        settings,
        connection,
        cors_allow_origins="https://dash.example.org, http://127.0.0.1:5173",
    )
    allowed = origin == "https://dash.example.org"
    with TestClient(app) as client:
        preflight = client.options("/api/v1/sites", headers={"Origin": origin, **PREFLIGHT})
        answer = client.get("/api/v1/sites", headers={**keys.viewer, "Origin": origin})
    assert answer.status_code == 200
    if allowed:
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert answer.headers["access-control-allow-origin"] == origin
        assert "X-Request-ID" in answer.headers["access-control-expose-headers"]
    else:
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers
        assert "access-control-allow-origin" not in answer.headers


def test_a_500_carries_them_too(app: FastAPI, keys: Keys) -> None:
    @app.get("/api/v1/test-explodes")
    def explodes(actor: AdminDep) -> None:
        raise RuntimeError("unexpected")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/test-explodes", headers=keys.admin)
    assert response.status_code == 500
    assert _check("/api/v1/test-explodes", dict(response.headers)) == []
    assert response.headers["cache-control"] == "no-store"
    assert len(response.headers.get_list("x-request-id")) == 1
