"""Dates and parties of a payment: not before its contract was signed nor before its programme's
period (less the preparatory months the programme allows); on a contract, to its contractor
unless a reason is given and shown; nothing paid or reversed on a cancelled project."""

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import Keys, make_contract, make_programme, make_project, payment


def _post(client: TestClient, keys: Keys, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/disbursements", json=body, headers=keys.finance)


def _disbursed(client: TestClient, keys: Keys, project_id: int | None) -> str:
    response = client.get(
        "/api/v1/disbursements", params={"project_id": project_id}, headers=keys.finance
    )
    assert response.status_code == 200, response.text
    total: str = response.json()["sum"]
    return total


def _field(response: Any) -> str:
    field: str = response.json()["errors"][0]["field"]
    return field


def test_a_payment_on_a_contract_is_not_dated_before_its_signing(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000.00"))
    contract = make_contract(client, keys, project.id, "HT-S", "500.00", signed_on="2023-05-01")
    body = {
        **payment(project.id, "10.00", "S-1", paid_on="2023-04-30"),
        "contract_id": contract["id"],
    }

    early = _post(client, keys, body)
    assert early.status_code == 422
    assert _field(early) == "paid_on" and "2023-05-01" in early.json()["detail"]
    assert _disbursed(client, keys, project.id) == "0.00"

    assert _post(client, keys, {**body, "paid_on": "2023-05-01"}).status_code == 201


def test_a_payment_to_someone_other_than_the_contractor_needs_a_reason_shown_in_the_entry(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000.00"))
    contract = make_contract(client, keys, project.id, "HT-P", "500.00")
    other = {
        **payment(project.id, "10.00", "P-1", payee="平罗县农民工工资专户"),
        "contract_id": contract["id"],
    }

    refused = _post(client, keys, other)
    assert refused.status_code == 422 and _field(refused) == "payee"
    assert _disbursed(client, keys, project.id) == "0.00"

    blank = _post(client, keys, {**other, "payee_differs_reason": "\u3000"})
    assert blank.status_code == 422 and _field(blank) == "payee_differs_reason"
    reason = "代发农民工工资，依《保障农民工工资支付条例》"
    posted = _post(client, keys, {**other, "payee_differs_reason": reason})
    assert posted.status_code == 201, posted.text
    entry = client.get(f"/api/v1/disbursements/{posted.json()['id']}", headers=keys.viewer)
    assert entry.json()["payee_differs_reason"] == reason

    # The contractor's name however it is typed (full-width letters, case, spaces) is the
    # contractor, and then a reason is refused as misleading.
    same = {
        **payment(project.id, "10.00", "P-2", payee=" 宁夏某建设工程有限公司（测试） "),
        "contract_id": contract["id"],
    }
    assert _post(client, keys, {**same, "payee_differs_reason": reason}).status_code == 422
    plain = _post(client, keys, same)
    assert plain.status_code == 201, plain.text
    assert plain.json()["payee_differs_reason"] is None
    assert _disbursed(client, keys, project.id) == "20.00"


def test_nothing_is_paid_or_reversed_on_a_cancelled_project(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000.00"))
    paid = _post(client, keys, payment(project.id, "10.00", "C-1"))
    assert paid.status_code == 201
    url = f"/api/v1/projects/{project.id}"
    etag = client.get(url, headers=keys.admin).headers["etag"]
    cancelled = client.patch(
        url, json={"status": "cancelled"}, headers={**keys.admin, "If-Match": etag}
    )
    assert cancelled.status_code == 200, cancelled.text

    refused = _post(client, keys, payment(project.id, "10.00", "C-2"))
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/project-cancelled")
    assert refused.json()["status"] == 409
    assert (
        refused.json()["project_status"] == "cancelled" and "cancelled" in refused.json()["detail"]
    )
    reversal = client.post(
        f"/api/v1/disbursements/{paid.json()['id']}/reversals",
        json={"reason": "退回（测试）", "reversed_on": "2023-07-01", "voucher_no": "红冲-1"},
        headers=keys.finance,
    )
    assert reversal.status_code == 409
    assert reversal.json()["project_status"] == "cancelled"
    assert _disbursed(client, keys, project.id) == "10.00"


def test_a_payment_is_not_dated_before_the_programme_unless_preparatory_spending_is_allowed(
    client: TestClient, keys: Keys, session: Session
) -> None:
    programme, item = make_programme(session)  # 2021–2025
    project = make_project(session, item, estimate=Decimal("1000.00"))

    for paid_on in ("2020-12-31", "0001-01-01", "1899-12-31"):
        refused = _post(client, keys, payment(project.id, "10.00", "E-1", paid_on=paid_on))
        assert refused.status_code == 422, (paid_on, refused.text)
        assert _field(refused) == "paid_on"
    assert (
        _post(client, keys, payment(project.id, "10.00", "E-1", paid_on="2021-01-01")).status_code
        == 201
    )

    url = f"/api/v1/programmes/{programme.code}"
    read = client.get(url, headers=keys.viewer)
    assert read.json()["preparatory_months"] == 0
    stale = client.patch(
        url, json={"preparatory_months": 6}, headers={**keys.admin, "If-Match": '"x"'}
    )
    assert stale.status_code == 412
    changed = client.patch(
        url,
        json={"preparatory_months": 6},
        headers={**keys.admin, "If-Match": read.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["preparatory_months"] == 6
    assert client.patch(url, json={"preparatory_months": 6}, headers=keys.viewer).status_code == 403
    etag = changed.headers["etag"]
    for unchanged in ({}, {"preparatory_months": 6}):
        same = client.patch(url, json=unchanged, headers={**keys.admin, "If-Match": etag})
        assert same.status_code == 200 and same.headers["etag"] == etag
    null = client.patch(
        url, json={"preparatory_months": None}, headers={**keys.admin, "If-Match": etag}
    )
    assert null.status_code == 422 and _field(null) == "preparatory_months"

    assert (
        _post(client, keys, payment(project.id, "10.00", "E-2", paid_on="2020-07-01")).status_code
        == 201
    )
    too_early = _post(client, keys, payment(project.id, "10.00", "E-3", paid_on="2020-06-30"))
    assert too_early.status_code == 422 and _field(too_early) == "paid_on"
    assert _disbursed(client, keys, project.id) == "20.00"


def test_a_reversal_is_not_dated_before_its_payment(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000.00"))
    paid = _post(client, keys, payment(project.id, "10.00", "R-1", paid_on="2023-06-30"))
    reversal = client.post(
        f"/api/v1/disbursements/{paid.json()['id']}/reversals",
        json={"reason": "退回（测试）", "reversed_on": "2023-06-29", "voucher_no": "红冲-2"},
        headers=keys.finance,
    )
    assert reversal.status_code == 422 and _field(reversal) == "reversed_on"
    assert _disbursed(client, keys, project.id) == "10.00"
