"""Certification (计量) has a ceiling: a contract's certified total never exceeds its committed
amount, and a milestone's certified amount never exceeds its share of the committed amount at its
reported progress (weight share × percent) unless finance states a reason, kept on the
milestone. Certification and progress can't predate the contract."""

from decimal import Decimal
from functools import partial
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.auth.models import Role
from tests.factories import (
    Keys,
    concurrently,
    make_contract,
    make_contractor,
    make_key,
    make_milestone,
    make_programme,
    make_project,
)


def _certify(client: TestClient, keys: Keys, milestone_id: int, amount: str, **extra: str) -> Any:
    return client.post(
        f"/api/v1/milestones/{milestone_id}/certification",
        json={"certified_amount": amount, "certified_on": "2023-06-30", **extra},
        headers=keys.finance,
    )


def _contract_with_two_milestones(
    client: TestClient, keys: Keys, session: Session
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A 1,000,000.00 contract with milestones weighted 1 and 3: shares of 250,000.00 and
    750,000.00; the first reported at 10%, the second at 100%."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("2000000.00"))
    contract = make_contract(client, keys, project.id, "HT-CERT", "1000000.00")
    first = make_milestone(
        client,
        keys,
        project.id,
        "开工",
        "1",
        "2023-03-01",
        progress=[("10", "2023-06-01")],
        contract_id=contract["id"],
    )
    second = make_milestone(
        client,
        keys,
        project.id,
        "主体完工",
        "3",
        "2023-12-01",
        progress=[("100", "2023-06-01")],
        contract_id=contract["id"],
    )
    return contract, first, second


def test_a_milestone_is_certified_up_to_its_share_at_its_progress(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, first, _ = _contract_with_two_milestones(client, keys, session)

    within = _certify(client, keys, first["id"], "25000.00")
    assert within.status_code == 200, within.text
    assert within.json()["certified_amount"] == "25000.00"
    assert within.json()["certification_reason"] is None

    above = _certify(client, keys, first["id"], "25000.01")
    assert above.status_code == 409
    assert above.headers["content-type"] == "application/problem+json"
    assert above.json()["type"].endswith("/certification-ceiling")
    assert above.json()["ceiling"] == "25000.00"
    unchanged = client.get(f"/api/v1/milestones/{first['id']}", headers=keys.viewer).json()
    assert unchanged["certified_amount"] == "25000.00"


def test_finance_certifies_above_the_share_with_a_reason_kept_on_the_milestone(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, first, _ = _contract_with_two_milestones(client, keys, session)
    reason = "按合同约定支付材料预付款，经监理确认（测试）"

    certified = _certify(client, keys, first["id"], "200000.00", reason=reason)

    assert certified.status_code == 200, certified.text
    read = client.get(f"/api/v1/milestones/{first['id']}", headers=keys.viewer).json()
    assert (read["certified_amount"], read["certification_reason"]) == ("200000.00", reason)


def test_the_contract_certified_total_never_exceeds_committed_even_with_a_reason(
    client: TestClient, keys: Keys, session: Session
) -> None:
    contract, first, second = _contract_with_two_milestones(client, keys, session)
    assert _certify(client, keys, second["id"], "750000.00").status_code == 200

    over = _certify(client, keys, first["id"], "250000.01", reason="提前计量（测试）")
    assert over.status_code == 409
    assert over.json()["ceiling"] == "250000.00"
    assert (
        _certify(client, keys, first["id"], "250000.00", reason="提前计量（测试）").status_code
        == 200
    )

    # A price change order raises the committed amount, and with it the ceiling.
    change = client.post(
        f"/api/v1/contracts/{contract['id']}/change-orders",
        json={
            "kind": "price",
            "delta": "100000.00",
            "document_no": "变更-1",
            "approved_on": "2023-06-15",
            "reason": "增项（测试）",
        },
        headers=keys.admin,
    )
    assert change.status_code == 201, change.text
    assert _certify(client, keys, second["id"], "825000.00").status_code == 200


def test_a_milestone_created_certified_is_held_to_the_same_ceiling(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("2000000.00"))
    contract = make_contract(client, keys, project.id, "HT-NEW", "1000000.00")
    body = {
        "project_id": project.id,
        "contract_id": contract["id"],
        "code": "开工",
        "name": "开工",
        "weight": "1",
        "planned_date": "2023-03-01",
        "certified_amount": "1.00",
        "certified_on": "2023-03-01",
    }

    refused = client.post("/api/v1/milestones", json=body, headers=keys.admin)
    assert refused.status_code == 409, refused.text
    assert refused.json()["ceiling"] == "0.00"
    listed = client.get(
        "/api/v1/milestones", params={"project_id": project.id}, headers=keys.viewer
    ).json()
    assert listed["items"] == []

    body["certification_reason"] = "预付款（测试）"
    created = client.post("/api/v1/milestones", json=body, headers=keys.admin)
    assert created.status_code == 201, created.text
    assert created.json()["certification_reason"] == "预付款（测试）"


def test_progress_and_certification_cannot_predate_the_contract(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("2000000.00"))
    contract = make_contract(
        client, keys, project.id, "HT-LATE", "1000000.00", signed_on="2023-05-01"
    )
    milestone = make_milestone(
        client, keys, project.id, "开工", "1", "2023-06-01", contract_id=contract["id"]
    )

    early = client.post(
        f"/api/v1/milestones/{milestone['id']}/progress",
        json={"percent_complete": "50", "as_of": "2023-04-30"},
        headers=keys.contractor,
    )
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "as_of"
    history = client.get(
        f"/api/v1/milestones/{milestone['id']}/progress", headers=keys.viewer
    ).json()
    assert history == []

    certified = client.post(
        f"/api/v1/milestones/{milestone['id']}/certification",
        json={"certified_amount": "0.00", "certified_on": "2023-04-30"},
        headers=keys.finance,
    )
    assert certified.status_code == 422
    assert certified.json()["errors"][0]["field"] == "certified_on"


def test_shares_that_do_not_divide_exactly_are_compared_exactly(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000.00"))
    contract = make_contract(client, keys, project.id, "HT-THIRDS", "300.00")
    thirds = [
        make_milestone(
            client,
            keys,
            project.id,
            f"M{n}",
            "1",
            "2023-06-01",
            progress=[("100", "2023-06-01")],
            contract_id=contract["id"],
        )
        for n in range(3)
    ]
    for milestone in thirds:
        certified = _certify(client, keys, milestone["id"], "100.00")
        assert certified.status_code == 200, certified.text


def test_the_ceiling_takes_the_progress_reported_by_the_certification_date(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000.00"))
    contract = make_contract(client, keys, project.id, "HT-ASOF", "100.00")
    milestone = make_milestone(
        client,
        keys,
        project.id,
        "完工",
        "1",
        "2023-06-01",
        progress=[("100", "2023-07-01")],
        contract_id=contract["id"],
    )
    early = _certify(client, keys, milestone["id"], "100.00")  # dated 2023-06-30
    assert early.status_code == 409 and early.json()["ceiling"] == "0.00"
    later = client.post(
        f"/api/v1/milestones/{milestone['id']}/certification",
        json={"certified_amount": "100.00", "certified_on": "2023-07-01"},
        headers=keys.finance,
    )
    assert later.status_code == 200, later.text


def test_a_blank_reason_is_no_reason(client: TestClient, keys: Keys, session: Session) -> None:
    _, first, _ = _contract_with_two_milestones(client, keys, session)
    for blank in (" ", "\u3000"):
        response = _certify(client, keys, first["id"], "200000.00", reason=blank)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "reason"


def test_a_decrease_never_takes_committed_below_what_is_certified(
    client: TestClient, keys: Keys, session: Session
) -> None:
    contract, _, second = _contract_with_two_milestones(client, keys, session)
    assert _certify(client, keys, second["id"], "750000.00").status_code == 200
    change = {
        "kind": "price",
        "document_no": "变更-减",
        "approved_on": "2023-07-01",
        "reason": "核减（测试）",
    }
    url = f"/api/v1/contracts/{contract['id']}/change-orders"
    refused = client.post(url, json={**change, "delta": "-250000.01"}, headers=keys.admin)
    assert refused.status_code == 409
    assert (refused.json()["committed"], refused.json()["certified"]) == ("749999.99", "750000.00")
    allowed = client.post(url, json={**change, "delta": "-250000.00"}, headers=keys.admin)
    assert allowed.status_code == 201, allowed.text


def test_two_certifications_at_once_never_exceed_committed(
    committed_app: FastAPI, engine: Engine
) -> None:
    with Session(engine, expire_on_commit=False) as s:
        _, item = make_programme(s)
        contractor = make_contractor(s)
        _, admin = make_key(s, Role.admin)
        _, finance = make_key(s, Role.finance)
        s.commit()
    client = TestClient(committed_app)
    admin_headers = {"Authorization": f"Bearer {admin}"}
    finance_headers = {"Authorization": f"Bearer {finance}"}

    def certify(milestone_id: int) -> int:
        response = TestClient(committed_app).post(
            f"/api/v1/milestones/{milestone_id}/certification",
            json={"certified_amount": "1000.00", "certified_on": "2023-06-30", "reason": "预付"},
            headers=finance_headers,
        )
        status: int = response.status_code
        return status

    for round_no in range(10):
        with Session(engine, expire_on_commit=False) as s:
            project = make_project(s, item, estimate=Decimal("5000.00"))
            s.commit()
        contract = client.post(
            "/api/v1/contracts",
            json={
                "project_id": project.id,
                "contractor_id": contractor.id,
                "contract_no": f"HT-RACE-{round_no}",
                "title": "t",
                "amount": "1000.00",
                "signed_on": "2023-01-01",
            },
            headers=admin_headers,
        ).json()
        ids = [
            client.post(
                "/api/v1/milestones",
                json={
                    "project_id": project.id,
                    "contract_id": contract["id"],
                    "code": f"M{n}",
                    "name": "m",
                    "weight": "1",
                    "planned_date": "2023-06-01",
                },
                headers=admin_headers,
            ).json()["id"]
            for n in range(2)
        ]
        statuses = concurrently([partial(certify, i) for i in ids])
        assert sorted(statuses) == [200, 409], (round_no, statuses)
