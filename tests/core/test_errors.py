"""Every error is application/problem+json, and none is a stack trace."""

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from app.auth.dependencies import AdminDep
from app.auth.models import Role
from app.config import Settings
from app.main import create_app
from tests.factories import Keys, make_key

PROBLEM = "application/problem+json"


def _problem(response: Any) -> Any:
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == response.status_code
    return body


def test_unknown_route_is_a_404_problem(client: TestClient, keys: Keys) -> None:
    response = client.get("/api/v1/nothing-here", headers=keys.admin)
    assert response.status_code == 404
    problem = _problem(response)
    assert str(problem["type"]).endswith("/not-found")
    assert "/api/v1/nothing-here" in str(problem["detail"])


def test_wrong_method_is_a_405_problem(client: TestClient, keys: Keys) -> None:
    response = client.put("/api/v1/projects", headers=keys.admin, json={})
    assert response.status_code == 405
    assert str(_problem(response)["type"]).endswith("/method-not-allowed")
    assert "GET" in response.headers["allow"]


def test_malformed_json_is_a_422_problem(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/api/v1/projects",
        content='{"code": "X-1", "name": ',
        headers={**keys.admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    problem = _problem(response)
    assert "malformed JSON" in problem["errors"][0]["message"]


def test_unknown_field_is_refused_by_name(client: TestClient, keys: Keys, zl7: None) -> None:
    response = client.post(
        "/api/v1/projects/ZL7-6/budget-lines",
        json={
            "code": "ZL7-6-9",
            "name": "额外",
            "cost_category": "equipment",
            "estimate": "1.00",
            "id": 99,
        },
        headers=keys.admin,
    )
    assert response.status_code == 422
    problem = _problem(response)
    assert [(e["field"], e["type"]) for e in problem["errors"]] == [("id", "extra_forbidden")]


def test_each_bad_field_is_listed(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/api/v1/projects",
        json={
            "code": "",
            "name": "x",
            "plan_item_id": 0,
            "category": "palace",
            "original_estimate": "1",
        },
        headers=keys.admin,
    )
    assert response.status_code == 422
    fields = sorted(e["field"] for e in _problem(response)["errors"])
    assert fields == ["category", "code", "plan_item_id"]


def test_bad_query_parameter_is_named(client: TestClient, keys: Keys) -> None:
    response = client.get("/api/v1/projects", params={"limit": 501}, headers=keys.viewer)
    assert response.status_code == 422
    assert _problem(response)["errors"][0] == {
        "field": "limit",
        "location": "query",
        "message": "Input should be less than or equal to 500",
        "type": "less_than_equal",
    }


def test_unexpected_exception_is_a_500_problem_with_request_id_and_no_trace(
    app: FastAPI, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/api/v1/test-explodes")
    def explodes(actor: AdminDep) -> None:
        raise RuntimeError("secret internal detail")

    logging.getLogger("app").propagate = True
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        response = client.get("/api/v1/test-explodes", headers=keys.admin)
    assert response.status_code == 500
    problem = _problem(response)
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    request_id = str(problem["request_id"])
    assert response.headers["x-request-id"] == request_id
    logged = [r for r in caplog.records if r.name == "app.requests"]
    assert logged and request_id in logged[0].request_id  # type: ignore[attr-defined]
    assert "secret internal detail" in caplog.text


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


def test_unstorable_text_is_refused_everywhere(client: TestClient, keys: Keys, zl7: None) -> None:
    body = client.post(
        "/api/v1/sites",
        content='{"region": "平罗县", "name": "坏\\u0000校", "aliases": ["ok", "\\ud800"]}',
        headers={**keys.admin, "Content-Type": "application/json"},
    )
    assert body.status_code == 422
    assert sorted(e["field"] for e in body.json()["errors"]) == ["aliases.1", "name"]
    query = client.get("/api/v1/projects", params={"q": "a\x00b"}, headers=keys.viewer)
    assert query.status_code == 422 and query.json()["errors"][0]["field"] == "q"
    path = client.get("/api/v1/projects/ZL7%00", headers=keys.viewer)
    assert path.status_code == 422 and path.json()["errors"][0]["field"] == "ref"
    assert client.get("/api/v1/sites", params={"q": "坏"}, headers=keys.viewer).json()["total"] == 0


def test_a_connection_the_database_dropped_costs_one_503_then_requests_work(
    settings: Settings, engine: Engine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a server that drops connections: PostgreSQL")
    # An app with a pool of its own, and no key cache: every request looks its key up.
    app = create_app(settings.model_copy(update={"api_key_cache_seconds": 0}))
    pool: Engine = app.state.session_factory.bind
    unknown_key = {"Authorization": "Bearer ctk_viewer_not-a-key-anyone-holds"}
    try:
        with TestClient(app) as client:
            assert client.get("/api/v1/programmes", headers=unknown_key).status_code == 401
            with pool.connect() as pooled:  # the connection that request used, back in the pool
                pid = pooled.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with engine.connect() as admin:
                assert admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})").scalar()

            lost = client.get("/api/v1/programmes", headers=unknown_key)
            assert lost.status_code == 503
            assert lost.headers["retry-after"] == "1"
            assert _problem(lost)["type"] == "/problems/database-unavailable"
            # The pool has replaced its connections: the database answers again.
            assert client.get("/api/v1/programmes", headers=unknown_key).status_code == 401
    finally:
        pool.dispose()


def test_a_connection_lost_while_committing_says_the_outcome_is_unknown(
    settings: Settings, engine: Engine, committed_app: FastAPI
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a server that drops connections: PostgreSQL")
    with Session(engine) as session:
        _, key = make_key(session, Role.admin)
        session.commit()
    app = create_app(settings.model_copy(update={"api_key_cache_seconds": 0}))
    pool: Engine = app.state.session_factory.bind
    armed = True

    def drop_the_connection(session: OrmSession) -> None:
        # After the audit entry is queued, before COMMIT: the server goes away mid-commit.
        if armed and session.bind is pool:
            pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with engine.connect() as admin:
                admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")

    event.listen(OrmSession, "before_commit", drop_the_connection)
    try:
        with TestClient(app) as client:
            site = {"region": "平罗县", "name": "断线测试点", "kind": "primary"}
            lost = client.post(
                "/api/v1/sites", json=site, headers={"Authorization": f"Bearer {key}"}
            )
            assert lost.status_code == 503
            assert _problem(lost)["type"] == "/problems/commit-outcome-unknown"
            assert "retry-after" not in lost.headers  # look first: it may have been applied
            armed = False
            sites = client.get("/api/v1/sites", headers={"Authorization": f"Bearer {key}"})
            assert sites.status_code == 200
    finally:
        event.remove(OrmSession, "before_commit", drop_the_connection)
        pool.dispose()


def test_a_database_that_is_down_is_a_503_to_retry_not_a_500() -> None:
    # Nothing listens on port 1: every connection is refused before any SQL is sent.
    app = create_app(Settings(database_url="postgresql://postgres@127.0.0.1:1/none"))
    try:
        with TestClient(app) as client:
            down = client.get(
                "/api/v1/programmes", headers={"Authorization": "Bearer ctk_viewer_any"}
            )
        assert down.status_code == 503
        assert down.headers["retry-after"] == "1"
        assert _problem(down)["type"] == "/problems/database-unavailable"
    finally:
        app.state.session_factory.bind.dispose()
