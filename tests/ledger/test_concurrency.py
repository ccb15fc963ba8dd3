"""Real concurrent requests against a database that really commits: the budget check and the
insert can't interleave, and one Idempotency-Key never pays twice."""

from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from app.audit.service import verify
from app.auth.models import Role
from app.ledger.models import Disbursement
from app.ledger.service import reconcile
from app.projects.models import Project
from tests.factories import concurrently, make_key, make_programme, make_project, payment


@pytest.fixture
def world(committed_app: FastAPI, engine: Engine) -> dict[str, Any]:
    with Session(engine, expire_on_commit=False) as s:
        _, item = make_programme(s)
        _, key = make_key(s, Role.finance)
        s.commit()
        return {"app": committed_app, "item": item, "headers": {"Authorization": f"Bearer {key}"}}


def _post(app: FastAPI, headers: dict[str, str], body: dict[str, object]) -> Any:
    response = TestClient(app).post("/api/v1/disbursements", json=body, headers=headers)
    return response.status_code, response.content


def test_two_payments_that_together_exceed_a_blocking_budget(
    world: dict[str, Any], engine: Engine
) -> None:
    app, headers = world["app"], world["headers"]
    for round_no in range(50):
        with Session(engine, expire_on_commit=False) as s:
            project = make_project(s, world["item"], estimate=Decimal("100.00"))
            project.budget_policy = "block"
            s.add(project)
            s.commit()
            project_id = project.id
        bodies = [payment(project_id, "60.00", f"R{round_no}-{v}") for v in ("a", "b")]
        results = concurrently([partial(_post, app, headers, body) for body in bodies])
        statuses = sorted(status for status, _ in results)
        assert statuses == [201, 409], (round_no, results)
        with Session(engine, expire_on_commit=False) as s:
            paid = s.exec(
                select(func.count())
                .select_from(Disbursement)
                .where(Disbursement.project_id == project_id)
            ).one()
            assert paid == 1
    with Session(engine, expire_on_commit=False) as s:
        assert reconcile(session=s) == []
        assert verify(session=s).ok


def test_concurrent_payments_on_one_project_all_count(
    world: dict[str, Any], engine: Engine
) -> None:
    app, headers = world["app"], world["headers"]
    with Session(engine, expire_on_commit=False) as s:
        project = make_project(s, world["item"], estimate=Decimal("1000.00"))
        project_id = project.id
    bodies = [payment(project_id, "1.01", f"C-{i}") for i in range(24)]
    results = concurrently([partial(_post, app, headers, body) for body in bodies])
    assert [status for status, _ in results] == [201] * 24
    listing = (
        TestClient(app)
        .get("/api/v1/disbursements", params={"project_id": project_id}, headers=headers)
        .json()
    )
    assert (listing["total"], listing["sum"]) == (24, "24.24")
    read = TestClient(app).get(f"/api/v1/projects/{project_id}", headers=headers).json()
    assert read["disbursed"] == "24.24"
    with Session(engine, expire_on_commit=False) as s:
        assert reconcile(session=s) == []
        # 24 writers chained onto one audit head: no gap, no fork.
        assert verify(session=s).ok


def test_concurrent_payments_on_many_projects_keep_one_audit_chain(
    world: dict[str, Any], engine: Engine
) -> None:
    """Payments on different projects don't wait for each other's project lock: they meet
    only at the audit chain's head, which must still come out gapless and unforked."""
    app, headers = world["app"], world["headers"]
    with Session(engine, expire_on_commit=False) as s:
        projects = [make_project(s, world["item"], estimate=Decimal("1000.00")) for _ in range(8)]
        ids = [p.id for p in projects]
    bodies = [payment(ids[i % 8], "1.00", f"M-{i}") for i in range(32)]
    results = concurrently([partial(_post, app, headers, body) for body in bodies])
    assert [status for status, _ in results] == [201] * 32
    with Session(engine, expire_on_commit=False) as s:
        assert reconcile(session=s) == []
        assert verify(session=s).ok


def test_one_idempotency_key_fifty_concurrent_posts(world: dict[str, Any], engine: Engine) -> None:
    app = world["app"]
    with Session(engine, expire_on_commit=False) as s:
        project = make_project(s, world["item"], estimate=Decimal("1000000.00"))
        project_id = project.id
    headers = {**world["headers"], "Idempotency-Key": "one-key-fifty-posts"}
    body = payment(project_id, "4321.09", "IDEM-50")
    results = concurrently([partial(_post, app, headers, body) for _ in range(50)])
    completed = [content for status, content in results if status == 201]
    in_flight = [status for status, _ in results if status != 201]
    assert completed, results
    assert all(content == completed[0] for content in completed)
    assert set(in_flight) <= {409}
    # Once the first has finished, a retry is answered from the record, identically.
    status, content = _post(app, headers, body)
    assert (status, content) == (201, completed[0])
    with Session(engine, expire_on_commit=False) as s:
        entries = s.exec(
            select(func.count())
            .select_from(Disbursement)
            .where(Disbursement.project_id == project_id)
        ).one()
        assert entries == 1
        project_row = s.get(Project, project_id)
        assert project_row is not None
        assert reconcile(session=s) == []


def test_two_payments_on_one_contract_cannot_pass_its_limit_together(
    world: dict[str, Any], engine: Engine
) -> None:
    from app.contracts.models import Contract
    from tests.factories import make_contractor

    app, headers = world["app"], world["headers"]
    with Session(engine, expire_on_commit=False) as s:
        project = make_project(s, world["item"], estimate=Decimal("1000000.00"))
        project.budget_policy = "block"
        contractor = make_contractor(s)
        assert project.id is not None and contractor.id is not None
        contract = Contract(
            project_id=project.id,
            contractor_id=contractor.id,
            contract_no="SG-C",
            title="t",
            amount=Decimal("100.00"),
            signed_on=date(2023, 1, 1),
        )
        s.add_all([project, contract])
        s.commit()
        project_id, contract_id = project.id, contract.id
    for round_no in range(20):
        bodies = [
            {
                **payment(project_id, "2.00" if round_no else "60.00", f"K{round_no}-{v}"),
                "contract_id": contract_id,
            }
            for v in ("a", "b")
        ]
        concurrently([partial(_post, app, headers, body) for body in bodies])
    with Session(engine) as s:
        paid = s.exec(
            select(func.sum(Disbursement.amount)).where(Disbursement.contract_id == contract_id)
        ).one()
        # The limit before 竣工验收 is 100.00 × 0.97 = 97.00, whatever the interleaving.
        assert paid is not None and Decimal(paid) <= Decimal("97.00")
        assert reconcile(session=s) == []
