"""Test data, made through the services so it obeys the same rules as the API."""

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Connection
from sqlmodel import Session

from app.auth.actor import CLI_ACTOR
from app.auth.models import Role
from app.contractors.models import Contractor
from app.keys import service as key_service
from app.keys.schemas import ApiKeyCreate
from app.programmes import service as programme_service
from app.programmes.models import PlanItem, Programme
from app.programmes.schemas import PlanItemCreate, ProgrammeCreate
from app.projects import service as project_service
from app.projects.models import Category, Project
from app.projects.schemas import ProjectCreate

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

_seq = itertools.count(1)


@contextmanager
def guard_lifted(connection: Connection) -> Iterator[None]:
    """Write what the service never writes (an entry edited, every row cleared) past the
    triggers that refuse it (migrations/versions/20261206_append_only.py), for this
    transaction only: on PostgreSQL as a replica would (a superuser's right; a test run as the
    app's own role is skipped here), on SQLite with the triggers dropped and made again."""
    if connection.dialect.name == "postgresql":
        if connection.exec_driver_sql("SHOW is_superuser").scalar() != "on":
            pytest.skip("arranging rows the service never writes needs a role that may do so")
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        try:
            yield
        finally:
            connection.exec_driver_sql("SET LOCAL session_replication_role = origin")
        return
    triggers = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    ).all()
    for name, _ in triggers:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        for _, sql in triggers:
            connection.exec_driver_sql(sql)


@dataclass
class Keys:
    """Authorization headers per role, and the plaintext keys."""

    admin: dict[str, str]
    finance: dict[str, str]
    contractor: dict[str, str]
    viewer: dict[str, str]
    ids: dict[str, int]
    contractor_id: int

    def for_role(self, role: str) -> dict[str, str]:
        headers: dict[str, str] = getattr(self, role)
        return headers


def make_contractor(session: Session, name: str = "宁夏某建设工程有限公司（测试）") -> Contractor:
    contractor = Contractor(name=name)
    session.add(contractor)
    session.flush()
    return contractor


def make_key(session: Session, role: Role, contractor_id: int | None = None) -> tuple[int, str]:
    row, plaintext = key_service.create_key(
        session=session,
        actor=CLI_ACTOR,
        data=ApiKeyCreate(name=f"test {role.value}", role=role, contractor_id=contractor_id),
        key_prefix="ctk",
    )
    assert row.id is not None
    return row.id, plaintext


def make_keys(session: Session) -> Keys:
    contractor = make_contractor(session)
    assert contractor.id is not None
    headers: dict[str, dict[str, str]] = {}
    ids: dict[str, int] = {}
    for role in Role:
        key_id, plaintext = make_key(
            session, role, contractor.id if role is Role.contractor else None
        )
        headers[role.value] = {"Authorization": f"Bearer {plaintext}"}
        ids[role.value] = key_id
    session.commit()
    return Keys(**headers, ids=ids, contractor_id=contractor.id)


def make_programme(session: Session, code: str | None = None) -> tuple[Programme, PlanItem]:
    n = next(_seq)
    programme = programme_service.create_programme(
        session=session,
        actor=CLI_ACTOR,
        data=ProgrammeCreate(
            code=code or f"TEST-PROG-{n}",
            name=f"测试规划 {n}",
            region=f"测试县{n}",
            start_year=2021,
            end_year=2025,
        ),
    )
    return programme, make_plan_item(session, programme)


def make_plan_item(
    session: Session, programme: Programme, code: str = "专栏1", name: str = "测试专栏"
) -> PlanItem:
    item = programme_service.create_plan_item(
        session=session,
        actor=CLI_ACTOR,
        programme=programme,
        data=PlanItemCreate(code=code, name=name),
    )
    session.commit()
    return item


def make_project(
    session: Session,
    plan_item: PlanItem,
    *,
    estimate: Decimal = Decimal("1000000.00"),
    code: str | None = None,
    category: Category = Category.new_build,
) -> Project:
    assert plan_item.id is not None
    project = project_service.create_project(
        session=session,
        actor=CLI_ACTOR,
        data=ProjectCreate(
            code=code or f"T-{next(_seq)}",
            name="测试项目",
            plan_item_id=plan_item.id,
            category=category,
            original_estimate=estimate,
        ),
    )
    session.commit()
    return project


def payment(
    project_id: int | None,
    amount: str,
    voucher_no: str,
    *,
    paid_on: str = "2023-06-30",
    funding_source: str = "county",
    budget_line_id: int | None = None,
    payee: str = "宁夏某建设工程有限公司（测试）",
) -> dict[str, object]:
    """A payment body as finance staff would post it."""
    body: dict[str, object] = {
        "project_id": project_id,
        "amount": amount,
        "paid_on": paid_on,
        "payee": payee,
        "voucher_no": voucher_no,
        "funding_source": funding_source,
    }
    if budget_line_id is not None:
        body["budget_line_id"] = budget_line_id
    return body


def make_contract(
    client: "TestClient",
    keys: Keys,
    project_id: int | None,
    contract_no: str,
    amount: str,
    *,
    signed_on: str = "2023-01-01",
    payment_term_days: int = 30,
    **terms: object,
) -> dict[str, Any]:
    """A contract with the test contractor, made through the API; `terms` such as
    retention_rate or defects_months."""
    response = client.post(
        "/api/v1/contracts",
        json={
            "project_id": project_id,
            "contractor_id": keys.contractor_id,
            "contract_no": contract_no,
            "title": f"施工合同 {contract_no}（测试）",
            "amount": amount,
            "signed_on": signed_on,
            "payment_term_days": payment_term_days,
            **terms,
        },
        headers=keys.admin,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def make_milestone(
    client: "TestClient",
    keys: Keys,
    project_id: int | None,
    code: str,
    weight: str,
    planned_date: str,
    *,
    progress: Sequence[tuple[str, str]] = (),
    contract_id: int | None = None,
) -> dict[str, Any]:
    """A milestone made through the API, with its progress reports (percent, as_of)."""
    body: dict[str, Any] = {
        "project_id": project_id,
        "code": code,
        "name": code,
        "weight": weight,
        "planned_date": planned_date,
    }
    if contract_id is not None:
        body["contract_id"] = contract_id
    response = client.post("/api/v1/milestones", json=body, headers=keys.admin)
    assert response.status_code == 201, response.text
    milestone: dict[str, Any] = response.json()
    for percent, as_of in progress:
        reported = client.post(
            f"/api/v1/milestones/{milestone['id']}/progress",
            json={"percent_complete": percent, "as_of": as_of},
            headers=keys.admin,
        )
        assert reported.status_code in (200, 201), reported.text
    return milestone


def concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def if_match(client: "TestClient", keys: Keys, url: str) -> dict[str, str]:
    """The If-Match header a write to the object at `url` sends: its ETag as read now."""
    read = client.get(url, headers=keys.admin)
    assert read.status_code == 200, read.text
    return {"If-Match": read.headers["ETag"]}
