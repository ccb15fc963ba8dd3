"""A contract number is one number however it is typed: NFKC, trimmed, compared without case,
invisible characters refused. Contracts and milestones name their project (and contract) by
the code or number a read shows, as well as by id."""

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import Keys, make_programme, make_project


@pytest.fixture
def project(session: Session) -> Any:
    _, item = make_programme(session)
    return make_project(session, item, estimate=Decimal("2000000.00"), code="CN-1")


def _contract(client: TestClient, keys: Keys, project: Any, number: str) -> Any:
    return client.post(
        "/api/v1/contracts",
        json={
            "project_id": project.id,
            "contractor_id": keys.contractor_id,
            "contract_no": number,
            "title": "教学楼施工总承包（测试）",
            "amount": "1000000.00",
            "signed_on": "2023-03-01",
        },
        headers=keys.admin,
    )


def test_a_contract_number_is_stored_normalised(
    client: TestClient, keys: Keys, project: Any
) -> None:
    created = _contract(client, keys, project, "\u3000ＳＧ－01 ")
    assert created.status_code == 201, created.text
    assert created.json()["contract_no"] == "SG-01"


@pytest.mark.parametrize("typed", ["sg-01", " SG-01", "SG\uff0d01", "ＳＧ－０１"])
def test_the_same_number_typed_otherwise_is_refused(
    client: TestClient, keys: Keys, project: Any, typed: str
) -> None:
    first = _contract(client, keys, project, "SG-01")
    assert first.status_code == 201, first.text
    again = _contract(client, keys, project, typed)
    assert again.status_code == 409, again.text
    assert str(first.json()["id"]) in again.json()["detail"]
    listed = client.get("/api/v1/contracts", headers=keys.viewer).json()
    assert [c["contract_no"] for c in listed["items"]] == ["SG-01"]


@pytest.mark.parametrize("number", ["   ", "SG\u200b-01", "SG-01\u00ad"])
def test_a_blank_or_invisible_number_is_refused(
    client: TestClient, keys: Keys, project: Any, number: str
) -> None:
    response = _contract(client, keys, project, number)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["contract_no"]
    assert client.get("/api/v1/contracts", headers=keys.viewer).json()["total"] == 0


def test_a_contract_and_a_milestone_name_their_project_and_contract_by_code(
    client: TestClient, keys: Keys, project: Any
) -> None:
    contract = client.post(
        "/api/v1/contracts",
        json={
            "project_id": "CN-1",
            "contractor_id": keys.contractor_id,
            "contract_no": "SG-02",
            "title": "教学楼施工总承包（测试）",
            "amount": "1000000.00",
            "signed_on": "2023-03-01",
        },
        headers=keys.admin,
    )
    assert contract.status_code == 201, contract.text
    assert contract.json()["project_id"] == project.id
    milestone = client.post(
        "/api/v1/milestones",
        json={
            "project_id": "CN-1",
            "contract_id": "sg－02",
            "code": "主体完工",
            "name": "主体完工",
            "weight": "40",
            "planned_date": "2023-12-31",
        },
        headers=keys.admin,
    )
    assert milestone.status_code == 201, milestone.text
    assert (milestone.json()["project_id"], milestone.json()["contract_id"]) == (
        project.id,
        contract.json()["id"],
    )


@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        ("/api/v1/contracts", "project_id", {"project_id": "CN-404"}),
        ("/api/v1/milestones", "project_id", {"project_id": "CN-404"}),
        ("/api/v1/milestones", "contract_id", {"project_id": "CN-1", "contract_id": "SG-404"}),
    ],
)
def test_an_unknown_code_in_a_write_is_refused_naming_its_field(
    client: TestClient, keys: Keys, project: Any, path: str, field: str, body: dict[str, str]
) -> None:
    bases: dict[str, dict[str, object]] = {
        "/api/v1/contracts": {
            "contractor_id": keys.contractor_id,
            "contract_no": "SG-03",
            "title": "t",
            "amount": "1.00",
            "signed_on": "2023-03-01",
        },
        "/api/v1/milestones": {
            "code": "开工",
            "name": "开工",
            "weight": "10",
            "planned_date": "2023-12-31",
        },
    }
    response = client.post(path, json={**bases[path], **body}, headers=keys.admin)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_contract_names_its_contractor_by_credit_code(
    client: TestClient, keys: Keys, project: Any
) -> None:
    contractor = client.post(
        "/api/v1/contractors",
        json={"name": "宁夏某建设工程有限公司（信用代码）", "credit_code": "91350100M000100Y43"},
        headers=keys.admin,
    )
    assert contractor.status_code == 201, contractor.text
    body = {
        "project_id": "CN-1",
        "contract_no": "SG-CC",
        "title": "施工（测试）",
        "amount": "100.00",
        "signed_on": "2023-03-01",
    }
    unknown = client.post(
        "/api/v1/contracts",
        json={**body, "contractor_id": "91350100MA0000000X"},
        headers=keys.admin,
    )
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["contractor_id"]
    created = client.post(
        "/api/v1/contracts",
        json={**body, "contractor_id": "91350100m000100y43"},
        headers=keys.admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["contractor_id"] == contractor.json()["id"]
