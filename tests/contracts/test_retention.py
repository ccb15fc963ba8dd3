"""Paying against a contract: committed = price + change orders; until 竣工验收 payments stop
at committed × (1 − retention); after it, at committed. Contractors see their own only."""

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import Keys, make_programme, make_project, payment


@pytest.fixture
def contract(client: TestClient, keys: Keys, session: Session) -> Any:
    """A 1,000,000.00 contract (3% retention) on a blocking project of 2,000,000.00."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("2000000.00"), code="CT-1")
    client.patch(
        f"/api/v1/projects/{project.id}",
        json={"budget_policy": "block"},
        headers={**keys.admin, "If-Match": "*"},
    )
    created = client.post(
        "/api/v1/contracts",
        json={
            "project_id": project.id,
            "contractor_id": keys.contractor_id,
            "contract_no": "SG-01",
            "title": "教学楼施工总承包（测试）",
            "amount": "1000000.00",
            "signed_on": "2023-03-01",
        },
        headers=keys.admin,
    )
    assert created.status_code == 201, created.text
    return created.json()


def _pay(client: TestClient, keys: Keys, contract: Any, amount: str, voucher: str) -> Any:
    body = {**payment(contract["project_id"], amount, voucher), "contract_id": contract["id"]}
    return client.post("/api/v1/disbursements", json=body, headers=keys.finance)


def test_retention_holds_until_acceptance(client: TestClient, keys: Keys, contract: Any) -> None:
    assert contract["retention_rate"] == "0.03"
    assert (contract["committed"], contract["payable_limit"], contract["retention_held"]) == (
        "1000000.00",
        "970000.00",
        "30000.00",
    )
    assert _pay(client, keys, contract, "970000.00", "V-1").status_code == 201
    cent = _pay(client, keys, contract, "0.01", "V-2")
    assert cent.status_code == 409
    problem = cent.json()
    assert problem["type"].endswith("/budget-exceeded") and problem["scope"] == "contract"
    assert (problem["payable_limit"], problem["would_be"]) == ("970000.00", "970000.01")

    url = f"/api/v1/contracts/{contract['id']}"
    accepted = client.post(
        url + "/acceptance", json={"accepted_on": "2024-08-30"}, headers=keys.admin
    )
    assert accepted.status_code == 200
    assert (accepted.json()["payable_now"], accepted.json()["retention_due_on"]) == (
        "30000.00",
        "2025-08-30",
    )
    assert _pay(client, keys, contract, "30000.00", "V-3").status_code == 201
    assert _pay(client, keys, contract, "0.01", "V-4").status_code == 409
    read = client.get(url, headers=keys.finance).json()
    assert (
        read["paid"],
        read["payable_now"],
        read["retention_held"],
        read["financial_completion"],
    ) == (
        "1000000.00",
        "0.00",
        "0.00",
        "1.0000",
    )


def test_change_orders_move_what_is_committed(
    client: TestClient, keys: Keys, contract: Any
) -> None:
    url = f"/api/v1/contracts/{contract['id']}/change-orders"
    order = client.post(
        url,
        json={
            "kind": "price",
            "delta": "200000.00",
            "document_no": "变更-01",
            "approved_on": "2023-07-20",
            "reason": "增加抗震构造柱",
        },
        headers=keys.admin,
    )
    assert order.status_code == 201, order.text
    longer = client.post(
        url,
        json={
            "kind": "duration",
            "new_finish": "2024-12-31",
            "document_no": "签证-02",
            "approved_on": "2023-08-01",
            "reason": "雨季停工",
        },
        headers=keys.admin,
    )
    assert longer.status_code == 201
    read = client.get(f"/api/v1/contracts/{contract['id']}", headers=keys.viewer).json()
    assert (read["committed"], read["payable_limit"], read["planned_finish"]) == (
        "1200000.00",
        "1164000.00",
        "2024-12-31",
    )
    assert _pay(client, keys, contract, "1164000.00", "V-1").status_code == 201
    history = client.get(url, headers=keys.viewer).json()
    assert [o["document_no"] for o in history] == ["变更-01", "签证-02"]
    bad = client.post(
        url,
        json={
            "kind": "scope",
            "delta": "5.00",
            "document_no": "X",
            "approved_on": "2023-08-01",
            "reason": "r",
        },
        headers=keys.admin,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "delta"


def test_reversal_gives_the_room_back(client: TestClient, keys: Keys, contract: Any) -> None:
    paid = _pay(client, keys, contract, "970000.00", "V-1").json()
    client.post(
        f"/api/v1/disbursements/{paid['id']}/reversals",
        json={
            "amount": "100.00",
            "reason": "扣回",
            "reversed_on": "2023-07-01",
            "voucher_no": "红字-01",
        },
        headers=keys.finance,
    )
    assert _pay(client, keys, contract, "100.00", "V-2").status_code == 201


def test_retention_is_at_most_three_percent(client: TestClient, keys: Keys, contract: Any) -> None:
    response = client.post(
        "/api/v1/contracts",
        json={
            "project_id": contract["project_id"],
            "contractor_id": keys.contractor_id,
            "contract_no": "SG-02",
            "title": "t",
            "amount": "1.00",
            "signed_on": "2023-03-01",
            "retention_rate": "0.05",
        },
        headers=keys.admin,
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "retention_rate"


def test_a_contract_of_another_project_is_refused(
    client: TestClient, keys: Keys, contract: Any, session: Session
) -> None:
    _, item = make_programme(session)
    other = make_project(session, item, code="CT-2")
    body = {**payment(other.id, "1.00", "V-X"), "contract_id": contract["id"]}
    response = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "contract_id"


def test_a_contractor_sees_its_own_project_contract_and_payments(
    client: TestClient, keys: Keys, contract: Any, zl7: None
) -> None:
    _pay(client, keys, contract, "1000.00", "V-1")
    zl7_1 = client.get("/api/v1/projects/ZL7-1", headers=keys.viewer).json()
    client.post(
        "/api/v1/disbursements", json=payment(zl7_1["id"], "5.00", "V-OTHER"), headers=keys.finance
    )

    projects = client.get("/api/v1/projects", headers=keys.contractor).json()
    assert [p["code"] for p in projects["items"]] == ["CT-1"]
    assert client.get("/api/v1/projects/ZL7-1", headers=keys.contractor).status_code == 404
    contracts = client.get("/api/v1/contracts", headers=keys.contractor).json()
    assert [c["contract_no"] for c in contracts["items"]] == ["SG-01"]
    payments = client.get("/api/v1/disbursements", headers=keys.contractor).json()
    assert [(p["voucher_no"], p["amount"]) for p in payments["items"]] == [("V-1", "1000.00")]
    assert payments["sum"] == "1000.00"
    forbidden = client.post(
        "/api/v1/disbursements",
        json=payment(contract["project_id"], "1.00", "V-C"),
        headers=keys.contractor,
    )
    assert forbidden.status_code == 403


def test_a_contract_changes_with_its_etag(client: TestClient, keys: Keys, contract: Any) -> None:
    url = f"/api/v1/contracts/{contract['id']}"
    etag = client.get(url, headers=keys.viewer).headers["etag"]
    assert client.patch(url, json={"status": "completed"}, headers=keys.admin).status_code == 428
    changed = client.patch(
        url,
        json={"status": "completed", "planned_finish": "2024-08-31"},
        headers={**keys.admin, "If-Match": etag},
    )
    assert changed.status_code == 200
    assert (changed.json()["status"], changed.json()["planned_finish"]) == (
        "completed",
        "2024-08-31",
    )
    stale = client.patch(url, json={"title": "改名"}, headers={**keys.admin, "If-Match": etag})
    assert stale.status_code == 412
    price = client.patch(url, json={"amount": "1.00"}, headers={**keys.admin, "If-Match": "*"})
    assert price.status_code == 422 and price.json()["errors"][0]["field"] == "amount"
