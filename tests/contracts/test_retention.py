"""Paying against a contract: committed = price + change orders; until the retention is
released (the defects period after 竣工验收 ends, or finance releases it early) payments stop
at committed × (1 − retention); after it, at committed. Contractors see their own only."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from app.timeutil import add_months, business_today
from tests.factories import Keys, if_match, make_contract, make_programme, make_project, payment


@pytest.fixture
def contract(client: TestClient, keys: Keys, session: Session) -> Any:
    """A 1,000,000.00 contract (3% retention) on a blocking project of 2,000,000.00."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("2000000.00"), code="CT-1")
    client.patch(
        f"/api/v1/projects/{project.id}",
        json={"budget_policy": "block"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{project.id}")},
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


def test_retention_holds_until_acceptance_and_its_defects_period(
    client: TestClient, keys: Keys, contract: Any
) -> None:
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
    # Accepted long ago: the 12-month defects period ended on 2025-08-30.
    assert (
        accepted.json()["payable_now"],
        accepted.json()["retention_held"],
        accepted.json()["retention_due_on"],
        accepted.json()["retention_release_date"],
    ) == ("30000.00", "0.00", "2025-08-30", "2025-08-30")
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
    price = client.patch(
        url, json={"amount": "1.00"}, headers={**keys.admin, **if_match(client, keys, url)}
    )
    assert price.status_code == 422 and price.json()["errors"][0]["field"] == "amount"


def test_retention_is_rounded_half_away_from_zero(
    client: TestClient, keys: Keys, session: Session
) -> None:
    """3% of 100,001.50 is 3,000.045: 四舍五入 holds 3,000.05 (half to even would hold 3,000.04)."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("200000.00"), code="CT-RND")
    contract = make_contract(client, keys, project.id, "SG-RND", "100001.50")
    assert (contract["retention_held"], contract["payable_limit"]) == ("3000.05", "97001.45")


def _today(settings: Settings) -> date:
    return business_today(settings.business_timezone)


def test_retention_stays_held_during_the_defects_period(
    client: TestClient, keys: Keys, contract: Any, settings: Settings
) -> None:
    accepted_on = _today(settings) - timedelta(days=10)
    assert _pay(client, keys, contract, "970000.00", "V-1").status_code == 201
    url = f"/api/v1/contracts/{contract['id']}"
    accepted = client.post(
        url + "/acceptance", json={"accepted_on": accepted_on.isoformat()}, headers=keys.admin
    )
    assert accepted.status_code == 200, accepted.text
    read = client.get(url, headers=keys.viewer).json()
    release = add_months(accepted_on, 12).isoformat()
    assert (
        read["payable_limit"],
        read["payable_now"],
        read["retention_planned"],
        read["retention_held"],
        read["retention_due_on"],
        read["retention_release_date"],
    ) == ("970000.00", "0.00", "30000.00", "30000.00", release, release)
    refused = _pay(client, keys, contract, "0.01", "V-2")
    assert refused.status_code == 409
    assert (refused.json()["retention_held"], refused.json()["retention_release_date"]) == (
        "30000.00",
        release,
    )
    assert f"until its release on {release}" in refused.json()["detail"]


def _refused_terms(client: TestClient, keys: Keys, contract: Any, **terms: object) -> Any:
    """The field a new contract with these terms is refused for (422)."""
    response = client.post(
        "/api/v1/contracts",
        json={
            **{k: contract[k] for k in ("project_id", "contractor_id", "title", "signed_on")},
            "contract_no": "SG-BAD",
            "amount": "1.00",
            **terms,
        },
        headers=keys.admin,
    )
    assert response.status_code == 422, response.text
    return response.json()["errors"][0]["field"]


def test_no_defects_period_releases_the_retention_at_acceptance(
    client: TestClient, keys: Keys, contract: Any, settings: Settings
) -> None:
    created = make_contract(
        client, keys, contract["project_id"], "SG-0M", "100000.00", defects_months=0
    )
    today = _today(settings).isoformat()
    accepted = client.post(
        f"/api/v1/contracts/{created['id']}/acceptance",
        json={"accepted_on": today},
        headers=keys.admin,
    ).json()
    assert (
        accepted["retention_held"],
        accepted["payable_now"],
        accepted["retention_release_date"],
    ) == ("0.00", "100000.00", today)
    assert _pay(client, keys, created, "100000.00", "V-0M").status_code == 201
    assert _refused_terms(client, keys, contract, defects_months=25) == "defects_months"


def test_a_contract_may_hold_no_retention(client: TestClient, keys: Keys, contract: Any) -> None:
    body = make_contract(
        client, keys, contract["project_id"], "SG-NONE", "200000.00", retention_rate="0"
    )
    assert (
        body["retention_rate"],
        body["retention_planned"],
        body["retention_held"],
        body["payable_limit"],
    ) == ("0.00", "0.00", "0.00", "200000.00")
    assert _pay(client, keys, body, "200000.00", "V-NONE").status_code == 201
    release = client.post(
        f"/api/v1/contracts/{body['id']}/retention-release",
        json={"released_on": "2023-06-01", "reason": "无质保金"},
        headers=keys.finance,
    )
    assert release.status_code == 409
    as_number = make_contract(
        client, keys, contract["project_id"], "SG-N2", "1.00", retention_rate=0
    )
    assert as_number["retention_rate"] == "0.00"
    assert _refused_terms(client, keys, contract, retention_rate="-0.01") == "retention_rate"


def test_finance_releases_the_retention_early_with_a_reason(
    client: TestClient, keys: Keys, contract: Any, settings: Settings
) -> None:
    today = _today(settings)
    url = f"/api/v1/contracts/{contract['id']}"
    assert _pay(client, keys, contract, "970000.00", "V-1").status_code == 201
    released_on = (today - timedelta(days=3)).isoformat()
    body = {"released_on": released_on, "reason": "以银行保函 BG-2026-018 替代质保金"}

    assert (
        client.post(url + "/retention-release", json=body, headers=keys.viewer).status_code == 403
    )
    assert (
        client.post(url + "/retention-release", json=body, headers=keys.contractor).status_code
        == 403
    )
    for bad, field in [
        ({**body, "released_on": (today + timedelta(days=1)).isoformat()}, "released_on"),
        ({**body, "released_on": "2023-02-28"}, "released_on"),
        ({"released_on": released_on}, "reason"),
        ({**body, "reason": ""}, "reason"),
    ]:
        refused = client.post(url + "/retention-release", json=bad, headers=keys.finance)
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["errors"][0]["field"] == field
    assert client.get(url, headers=keys.viewer).json()["retention_held"] == "30000.00"

    headers = {**keys.finance, "Idempotency-Key": "release-SG-01"}
    released = client.post(url + "/retention-release", json=body, headers=headers)
    assert released.status_code == 200, released.text
    retried = client.post(url + "/retention-release", json=body, headers=headers)
    assert (retried.status_code, retried.json()) == (200, released.json())
    assert retried.headers["idempotent-replayed"] == "true"
    other = client.post(
        url + "/retention-release", json={**body, "reason": "另一理由"}, headers=headers
    )
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    again = client.post(url + "/retention-release", json=body, headers=keys.finance)
    assert again.status_code == 409

    read = client.get(url, headers=keys.contractor).json()
    assert (
        read["retention_planned"],
        read["retention_held"],
        read["payable_now"],
        read["retention_release_date"],
        read["retention_due_on"],
        read["retention_release_reason"],
    ) == ("30000.00", "0.00", "30000.00", released_on, None, body["reason"])

    entries = client.get(
        "/api/v1/audit",
        params={
            "entity": "contract",
            "entity_id": str(contract["id"]),
            "action": "release_retention",
        },
        headers=keys.admin,
    ).json()["items"]
    assert [
        (e["before"]["retention_released_on"], e["after"]["retention_released_on"]) for e in entries
    ] == [(None, released_on)]
    assert entries[0]["after"]["retention_release_reason"] == body["reason"]
    assert entries[0]["actor_key_id"] == keys.ids["finance"]

    # As of the day before the release, the retention was still held.
    report_url = f"/api/v1/projects/{contract['project_id']}/report"
    before = client.get(
        report_url,
        params={"as_of": (today - timedelta(days=4)).isoformat()},
        headers=keys.finance,
    ).json()["contracts"][0]
    after = client.get(report_url, headers=keys.finance).json()["contracts"][0]
    assert (before["retention_held"], before["retention_release_date"]) == ("30000.00", None)
    assert (after["retention_held"], after["retention_release_date"]) == ("0.00", released_on)
    dues = client.get("/api/v1/reports/dues", headers=keys.finance).json()["retention"]
    assert [(d["retention_unpaid"], d["retention_held"], d["due_on"], d["due"]) for d in dues] == [
        ("30000.00", "0.00", released_on, True)
    ]
    for export in ("csv", "xlsx"):  # a row without 竣工验收
        assert (
            client.get(
                "/api/v1/reports/dues", params={"format": export}, headers=keys.finance
            ).status_code
            == 200
        )
    assert _pay(client, keys, contract, "30000.00", "V-2").status_code == 201
    assert client.get("/api/v1/reports/dues", headers=keys.finance).json()["retention"] == []
