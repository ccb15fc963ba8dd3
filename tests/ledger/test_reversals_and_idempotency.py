"""Reversals correct mistakes without editing history; Idempotency-Key makes retries safe."""

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import Keys, make_programme, make_project, payment


@pytest.fixture
def project(session: Session) -> Any:
    _, item = make_programme(session)
    return make_project(session, item, estimate=Decimal("1000000.00"))


def _pay(client: TestClient, keys: Keys, project: Any, amount: str, voucher: str) -> Any:
    response = client.post(
        "/api/v1/disbursements", json=payment(project.id, amount, voucher), headers=keys.finance
    )
    assert response.status_code == 201, response.text
    return response.json()


def _disbursed(client: TestClient, keys: Keys, project: Any) -> str:
    disbursed: str = client.get(f"/api/v1/projects/{project.id}", headers=keys.viewer).json()[
        "disbursed"
    ]
    return disbursed


def test_partial_then_full_reversal(client: TestClient, keys: Keys, project: Any) -> None:
    paid = _pay(client, keys, project, "1000.00", "V-1")
    url = f"/api/v1/disbursements/{paid['id']}/reversals"
    partial = client.post(
        url,
        json={"amount": "300.00", "reason": "多付", "reversed_on": "2023-07-01"},
        headers=keys.finance,
    )
    assert partial.status_code == 201, partial.text
    reversal = partial.json()
    assert (reversal["kind"], reversal["amount"], reversal["reverses_id"]) == (
        "reversal",
        "-300.00",
        paid["id"],
    )
    assert reversal["budget"]["disbursed"] == "700.00"
    assert _disbursed(client, keys, project) == "700.00"

    too_much = client.post(
        url,
        json={"amount": "700.01", "reason": "x", "reversed_on": "2023-07-01"},
        headers=keys.finance,
    )
    assert too_much.status_code == 409 and too_much.json()["left"] == "700.00"

    rest = client.post(
        url, json={"reason": "收款单位账号错误", "reversed_on": "2023-07-02"}, headers=keys.finance
    )
    assert rest.status_code == 201 and rest.json()["amount"] == "-700.00"
    assert _disbursed(client, keys, project) == "0.00"
    assert (
        client.get(f"/api/v1/disbursements/{paid['id']}", headers=keys.viewer).json()["reversed"]
        == "1000.00"
    )

    nothing_left = client.post(
        url, json={"reason": "again", "reversed_on": "2023-07-02"}, headers=keys.finance
    )
    assert nothing_left.status_code == 409

    of_a_reversal = client.post(
        f"/api/v1/disbursements/{reversal['id']}/reversals",
        json={"reason": "undo the undo", "reversed_on": "2023-07-03"},
        headers=keys.finance,
    )
    assert of_a_reversal.status_code == 409

    listing = client.get(
        "/api/v1/disbursements", params={"project_id": project.id}, headers=keys.viewer
    ).json()
    assert [e["amount"] for e in listing["items"]] == ["1000.00", "-300.00", "-700.00"]
    assert listing["sum"] == "0.00"


def test_reversal_dates_and_roles(client: TestClient, keys: Keys, project: Any) -> None:
    paid = _pay(client, keys, project, "10.00", "V-1")
    url = f"/api/v1/disbursements/{paid['id']}/reversals"
    early = client.post(
        url, json={"reason": "x", "reversed_on": "2023-06-29"}, headers=keys.finance
    )
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "reversed_on"
    viewer = client.post(
        url, json={"reason": "x", "reversed_on": "2023-07-01"}, headers=keys.viewer
    )
    assert viewer.status_code == 403
    missing = client.post(
        "/api/v1/disbursements/999999/reversals",
        json={"reason": "x", "reversed_on": "2023-07-01"},
        headers=keys.finance,
    )
    assert missing.status_code == 404
    assert _disbursed(client, keys, project) == "10.00"


def test_idempotent_retry_returns_the_first_response(
    client: TestClient, keys: Keys, project: Any
) -> None:
    headers = {**keys.finance, "Idempotency-Key": "6f1c2a9e-retry-1"}
    body = payment(project.id, "1234.56", "V-IDEM")
    first = client.post("/api/v1/disbursements", json=body, headers=headers)
    retry = client.post("/api/v1/disbursements", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["idempotent-replayed"] == "true"
    # The same amount written as a JSON number is the same request.
    as_number = client.post(
        "/api/v1/disbursements",
        content=(
            f'{{"project_id": {project.id}, "amount": 1234.56, "paid_on": "2023-06-30", '
            '"payee": "宁夏某建设工程有限公司（测试）", "voucher_no": "V-IDEM", '
            '"funding_source": "county"}'
        ),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert as_number.status_code == 201 and as_number.content == first.content

    changed = client.post(
        "/api/v1/disbursements", json={**body, "amount": "1234.57"}, headers=headers
    )
    assert changed.status_code == 422
    assert changed.json()["type"].endswith("/idempotency-key-reused")
    assert changed.json()["errors"][0]["field"] == "Idempotency-Key"

    listing = client.get(
        "/api/v1/disbursements", params={"project_id": project.id}, headers=keys.viewer
    ).json()
    assert (listing["total"], listing["sum"]) == (1, "1234.56")


def test_keys_are_scoped_to_the_caller(client: TestClient, keys: Keys, project: Any) -> None:
    body = payment(project.id, "1.00", "V-A")
    mine = client.post(
        "/api/v1/disbursements", json=body, headers={**keys.finance, "Idempotency-Key": "k-1"}
    )
    assert mine.status_code == 201
    # Another caller's key "k-1" is another request: here a duplicate voucher.
    theirs = client.post(
        "/api/v1/disbursements", json=body, headers={**keys.admin, "Idempotency-Key": "k-1"}
    )
    assert theirs.status_code == 409 and theirs.json()["type"].endswith("/duplicate-voucher")


def test_duplicate_voucher_without_a_key_is_409(
    client: TestClient, keys: Keys, project: Any
) -> None:
    body = payment(project.id, "99.00", "V-DUP")
    assert client.post("/api/v1/disbursements", json=body, headers=keys.finance).status_code == 201
    again = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
    assert again.status_code == 409
    assert "V-DUP" in again.json()["detail"]
    assert _disbursed(client, keys, project) == "99.00"


def test_refused_request_is_not_remembered(client: TestClient, keys: Keys, project: Any) -> None:
    headers = {**keys.finance, "Idempotency-Key": "k-refused"}
    refused = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "1.00", "V-R", funding_source="nowhere"),
        headers=headers,
    )
    assert refused.status_code == 422
    fixed = client.post(
        "/api/v1/disbursements", json=payment(project.id, "1.00", "V-R"), headers=headers
    )
    assert fixed.status_code == 201


def test_bad_idempotency_key_is_refused(client: TestClient, keys: Keys, project: Any) -> None:
    response = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "1.00", "V-K"),
        headers={**keys.finance, "Idempotency-Key": "has spaces in it"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
