"""Milestones and progress: the history is kept, the latest report is the value, physical
completion is weighted, and a contractor reports on its own milestones only."""

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.auth.models import Role
from tests.factories import Keys, make_contractor, make_key, make_programme, make_project


@pytest.fixture
def site(client: TestClient, keys: Keys, session: Session) -> Any:
    """A project with a contract held by the test contractor, and two weighted milestones."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000000.00"), code="MS-1")
    contract = client.post(
        "/api/v1/contracts",
        json={
            "project_id": project.id,
            "contractor_id": keys.contractor_id,
            "contract_no": "SG-1",
            "title": "施工（测试）",
            "amount": "900000.00",
            "signed_on": "2023-01-10",
        },
        headers=keys.admin,
    ).json()
    milestones = [
        client.post(
            "/api/v1/milestones",
            json={
                "project_id": project.id,
                "contract_id": contract["id"],
                "code": code,
                "name": code,
                "weight": weight,
                "planned_date": planned,
            },
            headers=keys.admin,
        ).json()
        for code, weight, planned in [
            ("开工", "10", "2023-02-01"),
            ("主体完工", "30", "2023-10-31"),
        ]
    ]
    return {"project": project, "contract": contract, "milestones": milestones}


def _report(
    client: TestClient, headers: dict[str, str], milestone: Any, percent: str, as_of: str
) -> Any:
    return client.post(
        f"/api/v1/milestones/{milestone['id']}/progress",
        json={"percent_complete": percent, "as_of": as_of, "note": "现场进度（测试）"},
        headers=headers,
    )


def _budget(client: TestClient, keys: Keys, project: Any, as_of: str | None = None) -> Any:
    params = {"as_of": as_of} if as_of else {}
    return client.get(
        f"/api/v1/projects/{project.id}/budget", params=params, headers=keys.viewer
    ).json()


def test_progress_history_and_weighted_completion(
    client: TestClient, keys: Keys, site: Any
) -> None:
    start, structure = site["milestones"]
    assert _report(client, keys.contractor, start, "100", "2023-02-03").status_code == 201
    assert _report(client, keys.contractor, structure, "40", "2023-06-30").status_code == 201
    assert _report(client, keys.contractor, structure, "55.5", "2023-09-30").status_code == 201

    history = client.get(
        f"/api/v1/milestones/{structure['id']}/progress", headers=keys.viewer
    ).json()
    assert [(h["percent_complete"], h["as_of"]) for h in history] == [
        ("40.00", "2023-06-30"),
        ("55.50", "2023-09-30"),
    ]
    current = client.get(f"/api/v1/milestones/{structure['id']}", headers=keys.viewer).json()
    assert (current["percent_complete"], current["actual_date"]) == ("55.50", None)
    finished = client.get(f"/api/v1/milestones/{start['id']}", headers=keys.viewer).json()
    assert finished["actual_date"] == "2023-02-03"

    project = site["project"]
    # (10 × 100 + 30 × 55.5) / 40 = 66.625% → 0.6663 (four decimals, 四舍五入)
    assert _budget(client, keys, project)["physical_completion"] == "0.6663"
    assert _budget(client, keys, project, "2023-07-31")["physical_completion"] == "0.5500"
    assert _budget(client, keys, project, "2023-01-31")["physical_completion"] == "0.0000"


def test_a_late_report_of_an_earlier_date_is_history_not_the_value(
    client: TestClient, keys: Keys, site: Any
) -> None:
    structure = site["milestones"][1]
    _report(client, keys.contractor, structure, "60", "2023-09-30")
    _report(client, keys.contractor, structure, "45", "2023-08-31")
    current = client.get(f"/api/v1/milestones/{structure['id']}", headers=keys.viewer).json()
    assert current["percent_complete"] == "60.00"


def test_a_contractor_may_report_progress_and_nothing_else(
    client: TestClient, keys: Keys, site: Any
) -> None:
    structure = site["milestones"][1]
    for field, value in [("weight", "90"), ("planned_date", "2024-01-01"), ("code", "X")]:
        response = client.post(
            f"/api/v1/milestones/{structure['id']}/progress",
            json={"percent_complete": "50", "as_of": "2023-09-30", field: value},
            headers=keys.contractor,
        )
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]
    for bad in ["100.01", "-1", "abc", "50.555"]:
        response = _report(client, keys.contractor, structure, bad, "2023-09-30")
        assert (
            response.status_code == 422
            and response.json()["errors"][0]["field"] == "percent_complete"
        )
    assert (
        client.post(
            "/api/v1/milestones",
            json={
                "project_id": site["project"].id,
                "code": "交付使用",
                "name": "x",
                "weight": "1",
                "planned_date": "2024-09-01",
            },
            headers=keys.contractor,
        ).status_code
        == 403
    )
    assert _report(client, keys.viewer, structure, "50", "2023-09-30").status_code == 403
    assert _report(client, keys.finance, structure, "50", "2023-09-30").status_code == 403


def test_another_contractors_milestone_is_not_found(
    client: TestClient, keys: Keys, site: Any, session: Session
) -> None:
    other = make_contractor(session, name="另一家施工单位（测试）")
    _, other_key = make_key(session, Role.contractor, other.id)
    session.commit()
    headers = {"Authorization": f"Bearer {other_key}"}
    structure = site["milestones"][1]
    assert _report(client, headers, structure, "50", "2023-09-30").status_code == 404
    assert client.get(f"/api/v1/milestones/{structure['id']}", headers=headers).status_code == 404
    assert client.get("/api/v1/milestones", headers=headers).json()["total"] == 0
    assert client.get(f"/api/v1/projects/{site['project'].id}", headers=headers).status_code == 404
    mine = client.get("/api/v1/milestones", headers=keys.contractor).json()
    assert mine["total"] == 2


def test_milestone_rules(client: TestClient, keys: Keys, site: Any, zl7: None) -> None:
    project = site["project"]
    duplicate = client.post(
        "/api/v1/milestones",
        json={
            "project_id": project.id,
            "code": "开工",
            "name": "again",
            "weight": "1",
            "planned_date": "2023-02-01",
        },
        headers=keys.admin,
    )
    assert duplicate.status_code == 409
    zl7_1 = client.get("/api/v1/projects/ZL7-1", headers=keys.viewer).json()
    foreign_contract = client.post(
        "/api/v1/milestones",
        json={
            "project_id": zl7_1["id"],
            "contract_id": site["contract"]["id"],
            "code": "开工",
            "name": "x",
            "weight": "1",
            "planned_date": "2023-02-01",
        },
        headers=keys.admin,
    )
    assert (
        foreign_contract.status_code == 422
        and foreign_contract.json()["errors"][0]["field"] == "contract_id"
    )
    zero = client.post(
        "/api/v1/milestones",
        json={
            "project_id": project.id,
            "code": "交付使用",
            "name": "x",
            "weight": "0",
            "planned_date": "2024-09-01",
        },
        headers=keys.admin,
    )
    assert zero.status_code == 422 and zero.json()["errors"][0]["field"] == "weight"
    no_milestones = client.get(f"/api/v1/projects/{zl7_1['id']}/budget", headers=keys.viewer).json()
    assert no_milestones["physical_completion"] is None
