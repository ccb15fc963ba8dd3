"""Writes accept what reads show: a client that knows only codes posts a contract, a milestone
and a payment with the project's code, the budget line's code, the contract's number and the
contractor's 统一社会信用代码, as GET and the import accept them."""

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import Keys, make_programme, make_project, payment


def _ok(response: Any) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


def _field(response: Any) -> str:
    assert response.status_code == 422, response.text
    field: str = response.json()["errors"][0]["field"]
    return field


def test_a_client_that_knows_only_codes_records_a_contract_a_milestone_and_a_payment(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000000.00"), code="REF-1")
    line = _ok(
        client.post(
            f"/api/v1/projects/{project.id}/budget-lines",
            json={
                "code": "REF-1-1",
                "name": "主体",
                "cost_category": "construction",
                "estimate": "500000.00",
            },
            headers=keys.admin,
        )
    )
    contractor = _ok(
        client.post(
            "/api/v1/contractors",
            json={"name": "宁夏某建设工程有限公司（编码）", "credit_code": "91350100M000100Y43"},
            headers=keys.admin,
        )
    )
    contract = _ok(
        client.post(
            "/api/v1/contracts",
            json={
                "project": "REF-1",
                "contractor": "91350100M000100Y43",
                "contract_no": "SG-REF",
                "title": "施工（测试）",
                "amount": "400000.00",
                "signed_on": "2023-01-01",
            },
            headers=keys.admin,
        )
    )
    assert (contract["project_id"], contract["contractor_id"]) == (project.id, contractor["id"])

    milestone = _ok(
        client.post(
            "/api/v1/milestones",
            json={
                "project": "REF-1",
                "contract": "SG-REF",
                "code": "开工",
                "name": "开工",
                "weight": "1",
                "planned_date": "2023-03-01",
            },
            headers=keys.admin,
        )
    )
    assert (milestone["project_id"], milestone["contract_id"]) == (project.id, contract["id"])

    body = payment(None, "1000.00", "REF-V1", payee="宁夏某建设工程有限公司（编码）")
    del body["project_id"]
    posted = _ok(
        client.post(
            "/api/v1/disbursements",
            json={**body, "project": "REF-1", "budget_line": "REF-1-1", "contract": "SG-REF"},
            headers=keys.finance,
        )
    )
    assert (posted["project_id"], posted["budget_line_id"], posted["contract_id"]) == (
        project.id,
        line["id"],
        contract["id"],
    )
    assert posted["budget_line"]["disbursed"] == "1000.00"


def test_a_reference_given_twice_or_not_found_is_a_422_naming_it_and_nothing_is_written(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000000.00"), code="REF-2")
    other = make_project(session, item, estimate=Decimal("1000000.00"), code="REF-3")
    base = payment(None, "10.00", "REF-V2")
    del base["project_id"]

    def post(**refs: Any) -> Any:
        return client.post("/api/v1/disbursements", json={**base, **refs}, headers=keys.finance)

    assert _field(post()) == "project_id"
    assert _field(post(project_id=project.id, project="REF-2")) == "project"
    assert _field(post(project="NO-SUCH")) == "project"
    assert _field(post(project="REF-2", budget_line="NO-SUCH")) == "budget_line"
    assert _field(post(project="REF-2", contract="NO-SUCH")) == "contract"
    contract = client.post(
        "/api/v1/contracts",
        json={
            "project": "REF-3",
            "contractor_id": keys.contractor_id,
            "contract_no": "SG-OTHER",
            "title": "t",
            "amount": "100.00",
            "signed_on": "2023-01-01",
        },
        headers=keys.admin,
    )
    assert contract.status_code == 201, contract.text
    # Another project's contract number is not this project's contract.
    assert _field(post(project="REF-2", contract="SG-OTHER")) == "contract"
    assert (
        _field(
            client.post(
                "/api/v1/contracts",
                json={
                    "project": "REF-2",
                    "contractor": "91350100M000100Y43",
                    "contract_no": "SG-X",
                    "title": "t",
                    "amount": "100.00",
                    "signed_on": "2023-01-01",
                },
                headers=keys.admin,
            )
        )
        == "contractor"
    )
    for project_id in (project.id, other.id):
        listed = client.get(
            "/api/v1/disbursements", params={"project_id": project_id}, headers=keys.finance
        ).json()
        assert listed["items"] == []
