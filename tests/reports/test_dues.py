"""Dues: what is certified and not yet paid, oldest certification covered first, overdue first;
and retention falling due when the defects period ends."""

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import Keys, make_programme, make_project, payment


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
            json={"certified_amount": amount, "certified_on": on},
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
    assert [
        (r["contract_no"], r["retention_held"], r["due_on"], r["due"]) for r in later["retention"]
    ] == [
        ("SG-D", "30000.00", "2024-06-30", True),
    ]
    other_view = client.get(
        "/api/v1/reports/dues", params={"as_of": "2024-07-01"}, headers=keys.viewer
    ).json()
    assert len(other_view["certified"]) == 1
