"""Every write leaves a hash-chained audit entry; tampering with any entry is found."""

import hashlib
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from app.audit.models import canonical, entry_hash, hash_template
from app.audit.service import verify
from app.auth.models import Role
from tests.factories import Keys, guard_lifted, if_match, make_programme, make_project, payment


def _entries(client: TestClient, keys: Keys, **params: Any) -> list[Any]:
    body = client.get("/api/v1/audit", params={"limit": 500, **params}, headers=keys.admin).json()
    items: list[Any] = body["items"]
    return items


def test_every_write_leaves_an_entry(
    client: TestClient, keys: Keys, session: Session, zl7: None
) -> None:
    _, item = make_programme(session)
    writes: list[tuple[str, str, Any]] = []

    def write(entity: str, action: str, response: Any) -> Any:
        assert response.status_code in (200, 201, 204), response.text
        writes.append((entity, action, response.headers["x-request-id"]))
        return response

    project = write(
        "project",
        "create",
        client.post(
            "/api/v1/projects",
            json={
                "code": "AUD-1",
                "name": "审计测试",
                "plan_item_id": item.id,
                "category": "renovation",
                "original_estimate": "500000.00",
            },
            headers=keys.admin,
        ),
    ).json()
    write(
        "project",
        "update",
        client.patch(
            f"/api/v1/projects/{project['id']}",
            json={"budget_policy": "block"},
            headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{project['id']}")},
        ),
    )
    line = write(
        "budget_line",
        "create",
        client.post(
            f"/api/v1/projects/{project['id']}/budget-lines",
            json={
                "code": "L1",
                "name": "主体",
                "cost_category": "construction",
                "estimate": "400000.00",
            },
            headers=keys.admin,
        ),
    ).json()
    write(
        "budget_line",
        "update",
        client.patch(
            f"/api/v1/budget-lines/{line['id']}",
            json={"estimate": "450000.00"},
            headers={**keys.admin, **if_match(client, keys, f"/api/v1/budget-lines/{line['id']}")},
        ),
    )
    write(
        "site",
        "create",
        client.post(
            "/api/v1/sites", json={"region": "平罗县", "name": "审计小学"}, headers=keys.admin
        ),
    )
    key = write(
        "api_key",
        "create",
        client.post("/api/v1/keys", json={"name": "临时", "role": "viewer"}, headers=keys.admin),
    ).json()
    write("api_key", "revoke", client.delete(f"/api/v1/keys/{key['id']}", headers=keys.admin))
    write(
        "funding_source",
        "create",
        client.post(
            "/api/v1/funding-sources",
            json={"code": "lottery", "name": "彩票公益金"},
            headers=keys.admin,
        ),
    )
    write(
        "project_funding",
        "update",
        client.put(
            f"/api/v1/projects/{project['id']}/funding",
            json={"sources": [{"funding_source": "county", "planned": "500000.00"}]},
            headers={**keys.finance, **if_match(client, keys, f"/api/v1/projects/{project['id']}")},
        ),
    )
    paid = write(
        "disbursement",
        "post",
        client.post(
            "/api/v1/disbursements",
            json=payment(project["id"], "1000.00", "AUD-V1", budget_line_id=line["id"]),
            headers=keys.finance,
        ),
    ).json()
    write(
        "disbursement",
        "reverse",
        client.post(
            f"/api/v1/disbursements/{paid['id']}/reversals",
            json={"reason": "重复支付", "reversed_on": "2023-07-01", "voucher_no": "红字-01"},
            headers=keys.finance,
        ),
    )
    write(
        "project_revision",
        "revise",
        client.post(
            f"/api/v1/projects/{project['id']}/revisions",
            json={
                "new_estimate": "550000.00",
                "approved_on": "2023-08-01",
                "document_no": "审-1",
                "reason": "增项",
            },
            headers=keys.finance,
        ),
    )
    spare = write(
        "budget_line",
        "create",
        client.post(
            f"/api/v1/projects/{project['id']}/budget-lines",
            json={"code": "L2", "name": "临时", "cost_category": "other", "estimate": "1.00"},
            headers=keys.admin,
        ),
    ).json()
    write(
        "budget_line",
        "delete",
        client.delete(f"/api/v1/budget-lines/{spare['id']}", headers=keys.admin),
    )

    for entity, action, request_id in writes:
        found = _entries(client, keys, entity=entity, request_id=request_id)
        entry = next((e for e in found if e["action"] == action), None)
        assert entry is not None, (entity, action)
        assert entry["actor_name"].startswith("test ")
        assert entry["actor_key_id"] is not None
    payment_entry = _entries(client, keys, entity="disbursement", action="post")[0]
    assert payment_entry["after"]["amount"] == "1000.00"
    assert payment_entry["after"]["voucher_no"] == "AUD-V1"
    update = _entries(
        client, keys, entity="project", action="update", entity_id=str(project["id"])
    )[-1]
    assert (update["before"]["budget_policy"], update["after"]["budget_policy"]) == (
        "warn",
        "block",
    )
    key_entry = _entries(client, keys, entity="api_key", action="create", entity_id=str(key["id"]))[
        0
    ]
    assert "key_hash" not in key_entry["after"] and key["key"] not in str(key_entry)
    assert client.get("/api/v1/audit/verify", headers=keys.admin).json()["ok"] is True


def test_refused_writes_leave_no_entry(client: TestClient, keys: Keys, session: Session) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("10.00"))
    before = client.get("/api/v1/audit", headers=keys.admin).json()["total"]
    client.patch(
        f"/api/v1/projects/{project.id}",
        json={"budget_policy": "block"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{project.id}")},
    )
    refused = client.post(
        "/api/v1/disbursements", json=payment(project.id, "10.01", "V-X"), headers=keys.finance
    )
    assert refused.status_code == 409
    after = client.get("/api/v1/audit", headers=keys.admin).json()["total"]
    assert after == before + 1  # the policy change only


def test_only_admins_read_the_trail(client: TestClient, keys: Keys) -> None:
    for role in ("finance", "viewer", "contractor"):
        assert client.get("/api/v1/audit", headers=keys.for_role(role)).status_code == 403
        assert client.get("/api/v1/audit/verify", headers=keys.for_role(role)).status_code == 403


@pytest.fixture
def trail(client: TestClient, keys: Keys, session: Session) -> list[Any]:
    """A few real entries to tamper with."""
    _, item = make_programme(session)
    project = make_project(session, item)
    for i in range(3):
        client.post(
            "/api/v1/disbursements",
            json=payment(project.id, f"{i + 1}.00", f"T-{i}"),
            headers=keys.finance,
        )
    entries = _entries(client, keys)
    assert verify(session=session).ok
    return sorted(entries, key=lambda e: e["seq"])


def test_editing_an_entry_is_found(
    client: TestClient, keys: Keys, session: Session, trail: list[Any]
) -> None:
    target = next(e for e in trail if e["entity"] == "disbursement")
    with guard_lifted(session.connection()):  # as someone past the database's own refusal
        session.connection().execute(
            text(
                "UPDATE audit_entry SET after = REPLACE(after, '\"1.00\"', '\"100.00\"')"
                " WHERE id = :id"
            ),
            {"id": target["id"]},
        )
    result = client.get("/api/v1/audit/verify", headers=keys.admin).json()
    assert result == {
        "ok": False,
        "entries": result["entries"],
        "first_broken": target["id"],
        "detail": result["detail"],
    }
    assert "does not match its hash" in result["detail"]


def test_a_forged_hash_is_found(
    client: TestClient, keys: Keys, session: Session, trail: list[Any]
) -> None:
    target = trail[-2]
    with guard_lifted(session.connection()):
        session.connection().execute(
            text("UPDATE audit_entry SET hash = :h WHERE id = :id"),
            {"h": "f" * 64, "id": target["id"]},
        )
    result = client.get("/api/v1/audit/verify", headers=keys.admin).json()
    assert result["ok"] is False and result["first_broken"] == target["id"]


def test_deleting_entries_is_found(
    client: TestClient, keys: Keys, session: Session, trail: list[Any]
) -> None:
    last = trail[-1]
    with guard_lifted(session.connection()):
        session.connection().execute(
            text("DELETE FROM audit_entry WHERE id = :id"), {"id": last["id"]}
        )
    tail_cut = client.get("/api/v1/audit/verify", headers=keys.admin).json()
    assert tail_cut["ok"] is False and tail_cut["first_broken"] is None
    assert "missing" in tail_cut["detail"]
    with guard_lifted(session.connection()):
        session.connection().execute(
            text("DELETE FROM audit_entry WHERE id = :id"), {"id": trail[0]["id"]}
        )
    head_cut = client.get("/api/v1/audit/verify", headers=keys.admin).json()
    assert head_cut["ok"] is False and head_cut["first_broken"] == trail[1]["id"]


@pytest.mark.parametrize("request_id", [None, "req-1"])
def test_the_hash_template_is_the_canonical_encoding(request_id: str | None) -> None:
    """PostgreSQL hashes template + previous hash + seq: that must be exactly the text
    verify() (and SQLite's append) hash, whatever the content (quotes, Chinese, control
    characters)."""
    fields = {
        "at": datetime(2026, 11, 30, 8, 0, 0, 123456, tzinfo=UTC),
        "actor_key_id": 7,
        "actor_name": '财务 "一"\n\t',
        "actor_role": "finance",
        "action": "post",
        "entity": "disbursement",
        "entity_id": "42",
        "before": None,
        "after": canonical({"memo": '}\u0000"prev_hash":', "amount": Decimal("1.10")}),
        "request_id": request_id,
    }
    before_prev, before_seq = hash_template(fields)
    prev, seq = "ab" * 32, 123456789
    whole = canonical({**fields, "prev_hash": prev, "seq": seq})
    assert before_prev + prev + before_seq + str(seq) + "}" == whole
    assert (
        entry_hash({**fields, "prev_hash": prev, "seq": seq})
        == hashlib.sha256(whole.encode()).hexdigest()
    )


def test_an_entry_past_the_head_is_found(
    client: TestClient, keys: Keys, session: Session, trail: list[Any]
) -> None:
    last = trail[-1]
    session.connection().execute(
        text(
            "INSERT INTO audit_entry (seq, at, actor_name, actor_role, action, entity, "
            "entity_id, prev_hash, hash) SELECT seq + 1, at, actor_name, actor_role, action, "
            "entity, entity_id, hash, :h FROM audit_entry WHERE id = :id"
        ),
        {"h": "e" * 64, "id": last["id"]},
    )
    result = client.get("/api/v1/audit/verify", headers=keys.admin).json()
    assert result["ok"] is False
    assert "not on the chain" in result["detail"]


def test_the_canonical_encoding_is_fixed() -> None:
    """Every entry's hash is taken over this text: a change to it would break every chain
    already written. Sorted keys at every depth, no spaces, Chinese as itself, decimals as
    written, dates in ISO 8601, instants in UTC to the microsecond, tuples as lists."""
    china = timezone(timedelta(hours=8))
    value = {
        "b": [Decimal("1.10"), date(2023, 6, 30), (1, None)],
        "a": {"z": True, "y": datetime(2023, 6, 30, 8, 0, tzinfo=china), "x": "县级财政"},
        "c": Decimal("-0.05"),
        "role": Role.finance,
    }
    assert canonical(value) == (
        '{"a":{"x":"县级财政","y":"2023-06-30T00:00:00.000000+00:00","z":true},'
        '"b":["1.10","2023-06-30",[1,null]],"c":"-0.05","role":"finance"}'
    )
    with pytest.raises(TypeError, match="set has no canonical encoding"):
        canonical({"a": {1, 2}})
