"""A contract's dates are events that happened, and its change orders fall within its life; a
price decrease never takes the committed amount below what is already paid on it."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import Keys, make_contract, make_programme, make_project, payment


def _change(client: TestClient, keys: Keys, contract_id: int, **body: str) -> Any:
    return client.post(
        f"/api/v1/contracts/{contract_id}/change-orders",
        json={"kind": "price", "document_no": "变更-1", "reason": "调整（测试）", **body},
        headers=keys.admin,
    )


def _contract_read(client: TestClient, keys: Keys, contract_id: int) -> Any:
    return client.get(f"/api/v1/contracts/{contract_id}", headers=keys.viewer).json()


def test_a_decrease_never_takes_committed_below_what_is_paid(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000.00"))
    contract = make_contract(client, keys, project.id, "HT-CO", "100.00")
    paid = client.post(
        "/api/v1/disbursements",
        json={**payment(project.id, "90.00", "CO-1"), "contract_id": contract["id"]},
        headers=keys.finance,
    )
    assert paid.status_code == 201, paid.text

    refused = _change(client, keys, contract["id"], delta="-500.00", approved_on="2023-07-01")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/commitment-below-paid-or-certified")
    assert (refused.json()["committed"], refused.json()["paid"]) == ("-400.00", "90.00")
    assert _contract_read(client, keys, contract["id"])["committed"] == "100.00"

    to_paid = _change(client, keys, contract["id"], delta="-10.00", approved_on="2023-07-01")
    assert to_paid.status_code == 201, to_paid.text
    read = _contract_read(client, keys, contract["id"])
    assert (read["committed"], read["financial_completion"]) == ("90.00", "1.0000")


def test_change_orders_fall_within_the_contract_life(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000.00"))
    contract = make_contract(client, keys, project.id, "HT-LIFE", "100.00", signed_on="2023-03-01")
    tomorrow = (date.today() + timedelta(days=2)).isoformat()

    for approved_on in ("2023-02-28", tomorrow, "0001-01-01"):
        response = _change(client, keys, contract["id"], delta="5.00", approved_on=approved_on)
        assert response.status_code == 422, (approved_on, response.text)
        assert response.json()["errors"][0]["field"] == "approved_on"
    early_finish = client.post(
        f"/api/v1/contracts/{contract['id']}/change-orders",
        json={
            "kind": "duration",
            "new_finish": "2023-01-01",
            "document_no": "延期-1",
            "approved_on": "2023-04-01",
            "reason": "工期调整（测试）",
        },
        headers=keys.admin,
    )
    assert early_finish.status_code == 422
    assert early_finish.json()["errors"][0]["field"] == "new_finish"
    listed = client.get(
        f"/api/v1/contracts/{contract['id']}/change-orders", headers=keys.viewer
    ).json()
    assert listed == []


def test_a_contract_signed_in_the_future_or_before_1900_is_refused(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000.00"))
    for signed_on in ((date.today() + timedelta(days=2)).isoformat(), "1899-12-31"):
        response = client.post(
            "/api/v1/contracts",
            json={
                "project_id": project.id,
                "contractor_id": keys.contractor_id,
                "contract_no": "HT-FUTURE",
                "title": "施工（测试）",
                "amount": "100.00",
                "signed_on": signed_on,
            },
            headers=keys.admin,
        )
        assert response.status_code == 422, (signed_on, response.text)
        assert response.json()["errors"][0]["field"] == "signed_on"
    listed = client.get(
        "/api/v1/contracts", params={"project_id": project.id}, headers=keys.viewer
    ).json()
    assert listed["items"] == []
