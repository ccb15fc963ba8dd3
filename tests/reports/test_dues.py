"""Dues: what is certified and not yet paid, oldest certification covered first, overdue first;
and retention falling due when the defects period ends."""

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import (
    Keys,
    make_contract,
    make_milestone,
    make_programme,
    make_project,
    payment,
)

# Certified ahead of reported progress (the ceiling is tested in tests/milestones).
ADVANCE = "按合同约定支付预付款（测试）"


def test_dues_and_retention(client: TestClient, keys: Keys, session: Session) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("2000000.00"), code="DUE-1")
    contract = client.post(
        "/api/v1/contracts",
        json={
            "project_id": project.id,
            "contractor_id": keys.contractor_id,
            "contract_no": "SG-D",
            "title": "施工（测试）",
            "amount": "1000000.00",
            "signed_on": "2023-01-01",
            "payment_term_days": 30,
        },
        headers=keys.admin,
    ).json()

    def milestone(code: str, amount: str, on: str) -> Any:
        created = client.post(
            "/api/v1/milestones",
            json={
                "project_id": project.id,
                "contract_id": contract["id"],
                "code": code,
                "name": code,
                "weight": "1",
                "planned_date": on,
            },
            headers=keys.admin,
        ).json()
        certified = client.post(
            f"/api/v1/milestones/{created['id']}/certification",
            json={"certified_amount": amount, "certified_on": on, "reason": ADVANCE},
            headers=keys.finance,
        )
        assert certified.status_code == 200, certified.text
        return created

    first = milestone("开工", "100000.00", "2023-05-01")
    second = milestone("主体完工", "50000.00", "2023-08-01")
    paid = client.post(
        "/api/v1/disbursements",
        json={
            **payment(project.id, "120000.00", "D-1", paid_on="2023-05-20"),
            "contract_id": contract["id"],
        },
        headers=keys.finance,
    )
    assert paid.status_code == 201

    report = client.get(
        "/api/v1/reports/dues", params={"as_of": "2023-09-15"}, headers=keys.finance
    ).json()
    assert [
        (d["milestone_id"], d["unpaid"], d["due_on"], d["overdue_days"])
        for d in report["certified"]
    ] == [
        (second["id"], "30000.00", "2023-08-31", 15),
    ]
    assert (report["certified_unpaid_total"], report["overdue_total"]) == ("30000.00", "30000.00")
    assert [d["certification_reason"] for d in report["certified"]] == [ADVANCE]
    assert first["id"] not in [d["milestone_id"] for d in report["certified"]]
    before_due = client.get(
        "/api/v1/reports/dues", params={"as_of": "2023-08-15"}, headers=keys.finance
    ).json()
    assert [(d["overdue_days"], d["unpaid"]) for d in before_due["certified"]] == [(0, "30000.00")]
    assert before_due["overdue_total"] == "0.00"

    client.post(
        f"/api/v1/contracts/{contract['id']}/acceptance",
        json={"accepted_on": "2023-06-30"},
        headers=keys.admin,
    )
    later = client.get(
        "/api/v1/reports/dues", params={"as_of": "2024-07-01"}, headers=keys.contractor
    ).json()
    # Released when the defects period ended: unpaid and payable, no longer held back.
    assert [
        (r["contract_no"], r["retention_unpaid"], r["retention_held"], r["due_on"], r["due"])
        for r in later["retention"]
    ] == [
        ("SG-D", "30000.00", "0.00", "2024-06-30", True),
    ]
    held = client.get(
        "/api/v1/reports/dues", params={"as_of": "2024-06-29"}, headers=keys.finance
    ).json()
    assert [(r["retention_unpaid"], r["retention_held"], r["due"]) for r in held["retention"]] == [
        ("30000.00", "30000.00", False)
    ]
    other_view = client.get(
        "/api/v1/reports/dues", params={"as_of": "2024-07-01"}, headers=keys.viewer
    ).json()
    assert len(other_view["certified"]) == 1


def test_dues_as_of_a_date_ignore_later_payments_and_future_certifications(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("2000000.00"), code="DUE-2")
    contract = make_contract(client, keys, project.id, "SG-D2", "1000000.00")
    milestone = make_milestone(
        client, keys, project.id, "主体完工", "1", "2023-12-01", contract_id=contract["id"]
    )
    certified = client.post(
        f"/api/v1/milestones/{milestone['id']}/certification",
        json={"certified_amount": "400000.00", "certified_on": "2023-12-15", "reason": ADVANCE},
        headers=keys.finance,
    )
    assert certified.status_code == 200, certified.text

    def unpaid() -> list[str]:
        report = client.get(
            "/api/v1/reports/dues", params={"as_of": "2024-03-01"}, headers=keys.finance
        ).json()
        return [d["unpaid"] for d in report["certified"] if d["contract_no"] == "SG-D2"]

    assert unpaid() == ["400000.00"]
    paid_later = client.post(
        "/api/v1/disbursements",
        json={
            **payment(project.id, "150000.00", "D2-V1", paid_on="2024-06-01"),
            "contract_id": contract["id"],
        },
        headers=keys.finance,
    )
    assert paid_later.status_code == 201, paid_later.text
    assert unpaid() == ["400000.00"]  # paid after 2024-03-01: not yet, as of then
    now = client.get("/api/v1/reports/dues", headers=keys.finance).json()
    assert [d["unpaid"] for d in now["certified"] if d["contract_no"] == "SG-D2"] == ["250000.00"]
    future = client.post(
        "/api/v1/milestones",
        json={
            "project_id": project.id,
            "code": "竣工验收",
            "name": "竣工验收",
            "weight": "1",
            "planned_date": "2030-01-01",
            "certified_amount": "1.00",
            "certified_on": "9999-12-30",
        },
        headers=keys.admin,
    )
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "certified_on"
