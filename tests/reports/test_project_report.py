"""The project report against a hand-computed example (PRODUCT.md, Reports: definitions)."""

from datetime import date
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import Keys, make_programme, make_project, payment


def test_a_hand_computed_project(client: TestClient, keys: Keys, session: Session) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000000.00"), code="EV-1")
    client.patch(
        f"/api/v1/projects/{project.id}",
        json={"planned_start": "2023-01-01"},
        headers={**keys.admin, "If-Match": "*"},
    )
    contract = client.post(
        "/api/v1/contracts",
        json={
            "project_id": project.id,
            "contractor_id": keys.contractor_id,
            "contract_no": "EV-C",
            "title": "t",
            "amount": "800000.00",
            "signed_on": "2023-02-01",
        },
        headers=keys.admin,
    ).json()
    client.post(
        f"/api/v1/contracts/{contract['id']}/change-orders",
        json={
            "kind": "price",
            "delta": "100000.00",
            "document_no": "CO-1",
            "approved_on": "2023-06-01",
            "reason": "增项",
        },
        headers=keys.admin,
    )
    m1, m2 = (
        client.post(
            "/api/v1/milestones",
            json={
                "project_id": project.id,
                "code": code,
                "name": code,
                "weight": weight,
                "planned_date": planned,
            },
            headers=keys.admin,
        ).json()
        for code, weight, planned in [("开工", "1", "2023-03-01"), ("主体完工", "3", "2023-07-01")]
    )
    for milestone, percent, on in [(m1, "100", "2023-03-05"), (m2, "50", "2023-06-30")]:
        client.post(
            f"/api/v1/milestones/{milestone['id']}/progress",
            json={"percent_complete": percent, "as_of": on},
            headers=keys.admin,
        )
    client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "300000.00", "EV-1", paid_on="2023-04-01"),
        headers=keys.finance,
    )
    client.post(
        f"/api/v1/projects/{project.id}/revisions",
        json={
            "new_estimate": "1200000.00",
            "approved_on": "2023-05-01",
            "document_no": "R-1",
            "reason": "r",
        },
        headers=keys.finance,
    )

    def report(as_of: str) -> Any:
        response = client.get(
            f"/api/v1/projects/{project.id}/report", params={"as_of": as_of}, headers=keys.viewer
        )
        assert response.status_code == 200, response.text
        return response.json()

    r = report("2023-06-30")
    # PV: 开工 done (1) + 主体完工 pro rata 121 of 122 days (3 × 121/122), over 4 → 485/488 of 1.2M
    expected = {
        "original_estimate": "1000000.00",
        "revised_estimate": "1200000.00",
        "committed": "900000.00",
        "uncommitted": "300000.00",
        "disbursed": "300000.00",
        "remaining": "900000.00",
        "budget_variance": "900000.00",
        "budget_variance_pct": "0.7500",
        "financial_completion": "0.2500",
        "physical_completion": "0.6250",
        "planned_completion": "0.9939",
        "bac": "1200000.00",
        "pv": "1192622.95",
        "ev": "750000.00",
        "ac": "300000.00",
        "cv": "450000.00",
        "sv": "-442622.95",
        "cpi": "2.5000",
        "spi": "0.6289",
        "eac": "480000.00",
        "vac": "720000.00",
    }
    assert {k: r[k] for k in expected} == expected
    assert r["flags"] == {
        "over_budget": False,
        "forecast_over": False,
        "needs_revision": False,
        "behind_schedule": True,
    }

    early = report("2023-04-30")  # before the revision, the change order and 主体完工's report
    assert (early["revised_estimate"], early["committed"], early["disbursed"]) == (
        "1000000.00",
        "800000.00",
        "300000.00",
    )
    assert early["physical_completion"] == "0.2500"  # only 开工 (1 of 4) reported by then
    assert early["ev"] == "250000.00"

    before_anything = report("2022-12-31")
    assert (
        before_anything["ac"],
        before_anything["cpi"],
        before_anything["eac"],
        before_anything["vac"],
    ) == (
        "0.00",
        None,
        None,
        None,
    )
    assert before_anything["spi"] is None and before_anything["pv"] == "0.00"
    assert date.fromisoformat(before_anything["as_of"]) == date(2022, 12, 31)
