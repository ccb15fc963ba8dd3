"""A query parameter a route does not read is a 422 naming it, on every route: a filter the
service does not know would otherwise answer for everything (app/routing.py)."""

import re
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import Keys, make_programme, make_project, payment

PROBLEM = "application/problem+json"


def _unknown(response: Any) -> list[str]:
    """The parameters a 422 problem names as unknown."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert all(e["location"] == "query" for e in body["errors"]), body
    return [e["field"] for e in body["errors"] if e["type"] == "unknown_parameter"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/projects?colour=red",  # a list
        "/api/v1/disbursements?colour=red",  # the ledger and its sum
        "/api/v1/disbursements?format=csv&colour=red",  # an export
        "/api/v1/disbursements?format=xlsx&colour=red",
        "/api/v1/reports/portfolio?colour=red",  # a report
        "/api/v1/reports/portfolio?format=csv&colour=red",
        "/api/v1/reports/dues?colour=red",
        "/api/v1/projects/ZL7-2B/report?colour=red",
        "/api/v1/projects/ZL7-2B/budget?colour=red",
        "/api/v1/audit?colour=red",
    ],
)
def test_an_unknown_parameter_is_a_422_naming_it(
    client: TestClient, keys: Keys, zl7: None, url: str
) -> None:
    response = client.get(url, headers=keys.admin)
    assert _unknown(response) == ["colour"]
    problem = response.json()
    assert problem["detail"] == "Unknown query parameter: colour"
    assert "this route takes" in problem["errors"][0]["message"]


def test_every_unknown_parameter_is_named_and_a_known_one_is_not(
    client: TestClient, keys: Keys
) -> None:
    response = client.get(
        "/api/v1/disbursements?project_id=1&payee_name=x&Project_id=2&limit=5",
        headers=keys.finance,
    )
    assert _unknown(response) == ["Project_id", "payee_name"]


def test_an_aliased_parameter_is_known_by_its_alias_only(client: TestClient, keys: Keys) -> None:
    """`from` is the ledger's filter; `since`, the name it has in the code, is not."""
    known = client.get("/api/v1/disbursements?from=2023-01-01", headers=keys.finance)
    assert known.status_code == 200, known.text
    response = client.get("/api/v1/disbursements?since=2023-01-01", headers=keys.finance)
    assert _unknown(response) == ["since"]


def test_a_write_with_an_unknown_parameter_changes_nothing(
    client: TestClient, keys: Keys, session: Session
) -> None:
    """`?dry_run=true` belongs to the import; on a payment it would not stop the payment."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000000.00"), code="QP-1")
    session.commit()
    response = client.post(
        "/api/v1/disbursements?dry_run=true",
        json=payment(project.id, "100.00", "QP-0001"),
        headers={**keys.finance, "Idempotency-Key": "qp-0001"},
    )
    assert _unknown(response) == ["dry_run"]
    listed = client.get(f"/api/v1/disbursements?project_id={project.id}", headers=keys.finance)
    assert listed.json()["total"] == 0
    assert listed.json()["sum"] == "0.00"
    # The key was not used up: the same request without the parameter posts the payment.
    response = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "100.00", "QP-0001"),
        headers={**keys.finance, "Idempotency-Key": "qp-0001"},
    )
    assert response.status_code == 201, response.text


def _operations(app: FastAPI) -> list[tuple[str, str, list[str]]]:
    """Every operation of the API with its documented query parameters."""
    out = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            out.append((method, re.sub(r"\{[^}]+\}", "1", path), names))
    return out


def test_every_documented_parameter_is_known(app: FastAPI, client: TestClient) -> None:
    """What OpenAPI documents, the check accepts (dependencies' parameters and aliases
    included). Sent without a key: the routes answer 401 (or their public answer), never
    an unknown parameter, and change nothing."""
    operations = _operations(app)
    assert any(names for _, _, names in operations)
    for method, path, names in operations:
        for name in names:
            response = client.request(method, path, params={name: "1"})
            if response.status_code == 422:
                assert _unknown(response) == [], (method, path, name)
        response = client.request(method, path, params={"no_such_parameter": "1"})
        assert _unknown(response) == ["no_such_parameter"], (method, path)
