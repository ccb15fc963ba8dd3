"""The database itself refuses to edit the record: a direct UPDATE or DELETE of a ledger entry,
a 概算调整, a progress report, a change order or an audit entry fails on each engine with the
trigger's message, whoever sends it; a certification can't be cleared, edited in place or
deleted with its milestone. The rows the service does move (balances, the chain's head, a
milestone's progress) still move."""

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tests.factories import (
    Keys,
    make_contract,
    make_milestone,
    make_programme,
    make_project,
    payment,
)

APPEND_ONLY = (
    "disbursement",
    "project_revision",
    "milestone_progress",
    "change_order",
    "audit_entry",
)


@pytest.fixture
def record(client: TestClient, keys: Keys, session: Session) -> dict[str, Any]:
    """One row of each kind, written through the API: a payment, a revision, a contract with a
    change order and a milestone with progress and a certification, and their audit entries."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("2000000.00"))
    contract = make_contract(client, keys, project.id, "HT-GUARD", "1000000.00")
    paid = client.post(
        "/api/v1/disbursements", json=payment(project.id, "100.00", "GUARD-1"), headers=keys.finance
    )
    assert paid.status_code == 201, paid.text
    revised = client.post(
        f"/api/v1/projects/{project.id}/revisions",
        json={
            "new_estimate": "2100000.00",
            "approved_on": "2023-06-01",
            "document_no": "调概-GUARD",
            "reason": "材料价格上涨",
        },
        headers=keys.finance,
    )
    assert revised.status_code == 201, revised.text
    changed = client.post(
        f"/api/v1/contracts/{contract['id']}/change-orders",
        json={
            "kind": "price",
            "delta": "1000.00",
            "document_no": "变更-GUARD",
            "approved_on": "2023-06-15",
            "reason": "增项（测试）",
        },
        headers=keys.admin,
    )
    assert changed.status_code == 201, changed.text
    milestone = make_milestone(
        client,
        keys,
        project.id,
        "完工",
        "1",
        "2023-06-01",
        progress=[("100", "2023-06-01")],
        contract_id=contract["id"],
    )
    certified = client.post(
        f"/api/v1/milestones/{milestone['id']}/certification",
        json={"certified_amount": "1000.00", "certified_on": "2023-06-30"},
        headers=keys.finance,
    )
    assert certified.status_code == 200, certified.text
    return {"project_id": project.id, "milestone_id": milestone["id"]}


def _refused(connection: Connection, statement: str, **params: Any) -> str:
    """The database's refusal of `statement`, with the transaction still usable afterwards."""
    with pytest.raises(IntegrityError) as refused, connection.begin_nested():
        connection.execute(sa.text(statement), params)
    return str(refused.value.orig)


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_a_direct_update_or_delete_of_the_record_is_refused(
    table: str, connection: Connection, record: dict[str, Any]
) -> None:
    rows = connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    assert rows >= 1
    message = f"{table} rows are append-only: never updated or deleted"

    assert message in _refused(connection, f"UPDATE {table} SET id = id")
    assert message in _refused(connection, f"DELETE FROM {table}")

    assert connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == rows


def test_postgresql_refuses_truncating_the_record(
    connection: Connection, record: dict[str, Any]
) -> None:
    if connection.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    for table in APPEND_ONLY:
        refusal = _refused(connection, f"TRUNCATE {table} CASCADE")
        assert f"{table} rows are append-only" in refusal


def test_a_certification_is_never_cleared_edited_in_place_or_deleted(
    connection: Connection, record: dict[str, Any]
) -> None:
    milestone = record["milestone_id"]

    cleared = _refused(
        connection,
        "UPDATE milestone SET certified_amount = NULL, certified_on = NULL, "
        "version = version + 1 WHERE id = :id",
        id=milestone,
    )
    assert "a milestone certification is never cleared" in cleared
    in_place = _refused(
        connection,
        "UPDATE milestone SET certified_amount = certified_amount * 2 WHERE id = :id",
        id=milestone,
    )
    assert "a milestone certification changes only with the milestone version" in in_place
    deleted = _refused(connection, "DELETE FROM milestone WHERE id = :id", id=milestone)
    assert "a certified milestone is never deleted" in deleted


def test_what_the_service_moves_still_moves(
    client: TestClient, keys: Keys, connection: Connection, record: dict[str, Any]
) -> None:
    """Balances, the audit chain's head and a milestone's progress are updated in place; a
    certification is replaced by finance through the API (its version moves)."""
    connection.execute(
        sa.text("UPDATE project_balance SET payments = payments WHERE project_id = :id"),
        {"id": record["project_id"]},
    )
    connection.execute(sa.text("UPDATE audit_head SET seq = seq"))
    recertified = client.post(
        f"/api/v1/milestones/{record['milestone_id']}/certification",
        json={"certified_amount": "2000.00", "certified_on": "2023-07-01"},
        headers=keys.finance,
    )
    assert recertified.status_code == 200, recertified.text
    assert recertified.json()["certified_amount"] == "2000.00"
    progressed = client.post(
        f"/api/v1/milestones/{record['milestone_id']}/progress",
        json={"percent_complete": "100", "as_of": "2023-07-02"},
        headers=keys.admin,
    )
    assert progressed.status_code in (200, 201), progressed.text
