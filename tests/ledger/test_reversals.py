"""Reversals correct mistakes without editing history."""

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
        json={
            "amount": "300.00",
            "reason": "多付",
            "reversed_on": "2023-07-01",
            "voucher_no": "红字-01",
        },
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
        json={
            "amount": "700.01",
            "reason": "x",
            "reversed_on": "2023-07-01",
            "voucher_no": "红字-02",
        },
        headers=keys.finance,
    )
    assert too_much.status_code == 409 and too_much.json()["left"] == "700.00"

    rest = client.post(
        url,
        json={"reason": "收款单位账号错误", "reversed_on": "2023-07-02", "voucher_no": "红字-03"},
        headers=keys.finance,
    )
    assert rest.status_code == 201 and rest.json()["amount"] == "-700.00"
    assert _disbursed(client, keys, project) == "0.00"
    assert (
        client.get(f"/api/v1/disbursements/{paid['id']}", headers=keys.viewer).json()["reversed"]
        == "1000.00"
    )

    nothing_left = client.post(
        url,
        json={"reason": "again", "reversed_on": "2023-07-02", "voucher_no": "红字-04"},
        headers=keys.finance,
    )
    assert nothing_left.status_code == 409

    of_a_reversal = client.post(
        f"/api/v1/disbursements/{reversal['id']}/reversals",
        json={"reason": "undo the undo", "reversed_on": "2023-07-03", "voucher_no": "红字-05"},
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
        url,
        json={"reason": "x", "reversed_on": "2023-06-29", "voucher_no": "红字-06"},
        headers=keys.finance,
    )
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "reversed_on"
    viewer = client.post(
        url,
        json={"reason": "x", "reversed_on": "2023-07-01", "voucher_no": "红字-07"},
        headers=keys.viewer,
    )
    assert viewer.status_code == 403
    missing = client.post(
        "/api/v1/disbursements/999999/reversals",
        json={"reason": "x", "reversed_on": "2023-07-01", "voucher_no": "红字-08"},
        headers=keys.finance,
    )
    assert missing.status_code == 404
    assert _disbursed(client, keys, project) == "10.00"


def test_duplicate_voucher_without_a_key_is_409(
    client: TestClient, keys: Keys, project: Any
) -> None:
    body = payment(project.id, "99.00", "V-DUP")
    assert client.post("/api/v1/disbursements", json=body, headers=keys.finance).status_code == 201
    again = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
    assert again.status_code == 409
    assert "V-DUP" in again.json()["detail"]
    assert _disbursed(client, keys, project) == "99.00"


def test_a_reversal_carries_its_own_voucher_number(
    client: TestClient, keys: Keys, project: Any
) -> None:
    paid = _pay(client, keys, project, "1000.00", "V-1")
    url = f"/api/v1/disbursements/{paid['id']}/reversals"
    body = {"amount": "100.00", "reason": "多付", "reversed_on": "2023-07-01"}
    keyless = client.post(url, json=body, headers=keys.finance)
    assert keyless.status_code == 422
    assert [e["field"] for e in keyless.json()["errors"]] == ["voucher_no"]
    first = client.post(url, json={**body, "voucher_no": "红字-0001"}, headers=keys.finance)
    assert first.status_code == 201, first.text
    assert first.json()["voucher_no"] == "红字-0001"
    # The same keyless reversal sent twice: the second is refused, naming the first.
    again = client.post(url, json={**body, "voucher_no": " 红字－0001"}, headers=keys.finance)
    assert again.status_code == 409, again.text
    assert again.json()["type"].endswith("/duplicate-voucher")
    assert again.json()["existing_id"] == first.json()["id"]
    assert _disbursed(client, keys, project) == "900.00"
    # One number space with payments: a reversal can't take a payment's voucher, nor the reverse.
    taken = client.post(url, json={**body, "voucher_no": "v-1"}, headers=keys.finance)
    assert taken.status_code == 409 and taken.json()["existing_id"] == paid["id"]
    clash = client.post(
        "/api/v1/disbursements", json=payment(project.id, "5.00", "红字-0001"), headers=keys.finance
    )
    assert clash.status_code == 409 and clash.json()["existing_id"] == first.json()["id"]
    assert _disbursed(client, keys, project) == "900.00"
