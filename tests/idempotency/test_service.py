"""Idempotency-Key: a retry returns the first response instead of acting twice; keys are the
caller's own; a refused request is not remembered; a malformed key is refused."""

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Keys, payment


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
