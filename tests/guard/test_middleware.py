"""Limits before work (app/guard): a body too large, or sent without a valid key, is refused
before any byte of it is read; a body too slow is a 408; writes per key and failed
authentications per address are limited; a key in the address is refused.

The body tests call the ASGI app directly with a `receive` that records every time the app
asks for a piece of the body: "not read" means it was never asked."""

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from app.config import Settings
from app.db import SessionFactory
from app.main import create_app
from tests.factories import Keys

MB = 1024 * 1024
SITE = {"region": "测试县", "name": "限流小学"}


def make_app(settings: Settings, connection: Connection, **changes: Any) -> FastAPI:
    return create_app(
        settings.model_copy(update=changes), SessionFactory(connection, join_savepoint=True)
    )


class BodyPieces:
    """A client's body, handed over a piece at a time, counting what the app asked for."""

    def __init__(self, pieces: int, size: int = 64 * 1024, *, stall_after: int | None = None):
        self.pieces, self.size, self.stall_after = pieces, size, stall_after
        self.asked = 0

    async def receive(self) -> dict[str, Any]:
        self.asked += 1
        if self.stall_after is not None and self.asked > self.stall_after:
            await asyncio.sleep(3600)  # a client that stopped sending
        more = self.asked < self.pieces
        return {"type": "http.request", "body": b"x" * self.size, "more_body": more}


def call(
    app: FastAPI,
    method: str,
    path: str,
    headers: dict[str, str],
    body: BodyPieces,
    client: tuple[str, int] = ("192.0.2.10", 40000),
    query: bytes = b"",
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One request through the whole ASGI app: its status, headers and problem body."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": client,
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, body.receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    raw = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], response_headers, json.loads(raw) if raw else {}


@pytest.fixture
def small(settings: Settings, connection: Connection) -> FastAPI:
    """An app whose JSON bodies may be 64 KB, read within half a second."""
    return make_app(settings, connection, max_body_bytes=64 * 1024, body_read_timeout_seconds=0.5)


def test_a_declared_body_over_the_limit_is_a_413_unread(app: FastAPI, keys: Keys) -> None:
    body = BodyPieces(pieces=800)
    headers = {**keys.admin, "Content-Type": "application/json", "Content-Length": str(50 * MB)}
    status, response_headers, problem = call(app, "POST", "/api/v1/sites", headers, body)
    assert status == 413
    assert response_headers["content-type"] == "application/problem+json"
    assert problem["type"] == "/problems/payload-too-large"
    assert problem["detail"] == f"The request body is larger than {MB} bytes."
    assert body.asked == 0


@pytest.mark.parametrize("key", [None, "Bearer ctk_adm_not-a-key", "Basic YWRtaW46YWRtaW4="])
def test_a_body_without_a_valid_key_is_the_401_of_any_route_unread(
    app: FastAPI, client: TestClient, key: str | None
) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(50 * MB)}
    if key:
        headers["Authorization"] = key
    body = BodyPieces(pieces=800)
    status, response_headers, problem = call(app, "POST", "/api/v1/sites", headers, body)
    assert status == 401
    assert response_headers["www-authenticate"] == "Bearer"
    assert body.asked == 0
    # The same answer the route's own guard gives a request without a body.
    route = client.get("/api/v1/sites", headers={"Authorization": key} if key else {})
    assert route.status_code == 401
    assert problem["type"] == route.json()["type"] == "/problems/unauthorized"
    assert problem["detail"] == route.json()["detail"]


def test_a_chunked_body_is_refused_once_it_passes_the_limit(
    small: FastAPI, keys: Keys, client: TestClient
) -> None:
    body = BodyPieces(pieces=800, size=16 * 1024)  # 12.5 MB if it were all read
    headers = {**keys.admin, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    status, _, problem = call(small, "POST", "/api/v1/sites", headers, body)
    assert status == 413
    assert problem["detail"] == f"The request body is larger than {64 * 1024} bytes."
    assert body.asked == 5  # 80 KB: one piece past 64 KB, and no more
    assert client.get("/api/v1/sites", headers=keys.viewer).json()["total"] == 0


def test_a_body_that_stops_arriving_is_a_408(small: FastAPI, keys: Keys) -> None:
    body = BodyPieces(pieces=4, size=1024, stall_after=1)
    headers = {**keys.admin, "Content-Type": "application/json", "Content-Length": "4096"}
    status, response_headers, problem = call(small, "POST", "/api/v1/sites", headers, body)
    assert status == 408
    assert response_headers["content-type"] == "application/problem+json"
    assert problem["detail"] == "The request body did not arrive within 0.5 seconds."


def test_a_body_within_the_limits_is_read_as_before(small: FastAPI, keys: Keys) -> None:
    with TestClient(small) as client:
        created = client.post("/api/v1/sites", json=SITE, headers=keys.admin)
        assert created.status_code == 201, created.text
        padded = client.post(
            "/api/v1/sites",
            content=json.dumps({**SITE, "name": "x"}) + " " * (60 * 1024),
            headers={**keys.admin, "Content-Type": "application/json"},
        )
        assert padded.status_code == 201, padded.text


@pytest.fixture
def limited(settings: Settings, connection: Connection) -> Iterator[TestClient]:
    app = make_app(
        settings, connection, write_rate_limit="3/minute", auth_failure_rate_limit="3/minute"
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_writes_per_key_are_limited(limited: TestClient, keys: Keys) -> None:
    for n in range(3):
        site = limited.post("/api/v1/sites", json={**SITE, "name": f"限流{n}"}, headers=keys.admin)
        assert site.status_code == 201, site.text
    refused = limited.post("/api/v1/sites", json={**SITE, "name": "限流3"}, headers=keys.admin)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert refused.json()["retry_after"] == retry_after
    assert "writes with this key" in refused.json()["detail"]
    # Nothing was written; reads go on; another key still writes.
    sites = limited.get("/api/v1/sites", params={"q": "限流"}, headers=keys.admin).json()
    assert sorted(s["name"] for s in sites["items"]) == ["限流0", "限流1", "限流2"]
    other = limited.post("/api/v1/sites", json={**SITE, "name": "另一"}, headers=keys.finance)
    assert other.status_code != 429


def test_failed_authentications_per_address_are_limited(
    limited: TestClient, keys: Keys, settings: Settings, connection: Connection
) -> None:
    # Failures counted from the route's guard (no body) and the request guard (a body) alike.
    assert limited.get("/api/v1/sites").status_code == 401
    wrong = {"Authorization": "Bearer ctk_adm_guess"}
    assert limited.get("/api/v1/sites", headers=wrong).status_code == 401
    assert limited.post("/api/v1/sites", json=SITE, headers=wrong).status_code == 401
    for headers in (wrong, keys.viewer):  # a right guess now gets the same answer
        refused = limited.get("/api/v1/sites", headers=headers)
        assert refused.status_code == 429
        assert "failed authentications" in refused.json()["detail"]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
    app = make_app(settings, connection, auth_failure_rate_limit="3/minute")
    elsewhere = TestClient(app, client=("198.51.100.7", 50000))
    assert elsewhere.get("/api/v1/sites", headers=keys.viewer).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"api_key": "ctk_adm_secret-in-the-address"},
        {"access_token": "ctk_adm_secret-in-the-address"},
        {"token": "anything"},
        {"q": "ctk_adm_secret-in-the-address"},
    ],
)
def test_a_key_in_the_address_is_refused(
    client: TestClient, keys: Keys, query: dict[str, str]
) -> None:
    for headers in ({}, keys.viewer):
        response = client.get("/api/v1/sites", params=query, headers=headers)
        assert response.status_code == 400
        problem = response.json()
        assert problem["type"] == "/problems/key-in-address"
        assert "Authorization: Bearer" in problem["detail"]
        assert "secret-in-the-address" not in response.text


def test_the_api_document_says_what_the_guard_may_answer(app: FastAPI) -> None:
    spec = app.openapi()
    operations = [
        (path, method, operation)
        for path, methods in spec["paths"].items()
        if path.startswith("/api/")
        for method, operation in methods.items()
    ]
    assert operations
    for path, method, operation in operations:
        statuses = set(operation["responses"])
        assert {"400", "401", "429"} <= statuses, (method, path)
        if "requestBody" in operation:
            assert {"408", "413"} <= statuses, (method, path)
    assert "429" not in spec["paths"]["/healthz"]["get"]["responses"]
