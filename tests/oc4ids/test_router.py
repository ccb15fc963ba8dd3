"""GET /api/v1/exports/oc4ids: the programme as an OC4IDS 0.9 project package that the
standard's own schema accepts, whose budgets add up to the portfolio's revised total, as of a
date like every report, with amounts written as the exact decimals they are."""

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import Session

from app.db import SessionFactory
from app.demo.service import load_demo
from app.programmes.models import Programme
from app.projects.models import Category, Project
from tests.factories import (
    Keys,
    if_match,
    make_contract,
    make_milestone,
    make_programme,
    make_project,
    payment,
)
from tests.oc4ids.conftest import Oc4idsSchema

URL = "/api/v1/exports/oc4ids"
SEED_PROGRAMME = "PL-EDU-2021-2025"
CREDIT_CODE = "91350100M000100Y43"
BUILDER = "宁夏某路桥工程有限公司（测试）"
DESIGNER = "平罗县某设计院（测试）"


def _export(client: TestClient, keys: Keys, **params: str) -> tuple[dict[str, Any], bytes]:
    """The package (numbers read as exact decimals) and the raw body."""
    response = client.get(URL, params=params, headers=keys.viewer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return json.loads(response.content, parse_float=Decimal), response.content


def _valid(schema: Oc4idsSchema, raw: bytes) -> None:
    """The body as a consumer's JSON parser reads it passes the schema."""
    assert schema.errors(json.loads(raw)) == []


def _budget_total(package: dict[str, Any]) -> Decimal:
    return sum((p["budget"]["amount"]["amount"] for p in package["projects"]), Decimal(0))


def _portfolio_revised(client: TestClient, keys: Keys, programme: str, as_of: str) -> Decimal:
    report = client.get(
        "/api/v1/reports/portfolio",
        params={"programme": programme, "as_of": as_of},
        headers=keys.viewer,
    )
    assert report.status_code == 200, report.text
    return Decimal(report.json()["totals"]["revised_estimate"])


def _project(package: dict[str, Any], code: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        p for p in package["projects"] if p["identifiers"][0]["id"] == code
    ]
    assert len(found) == 1, code
    return found[0]


def test_the_standards_own_example_passes_the_validator(oc4ids_schema: Oc4idsSchema) -> None:
    """The validator itself: the worked example passes, a broken copy does not."""
    assert oc4ids_schema.errors(oc4ids_schema.example) == []
    broken = json.loads(json.dumps(oc4ids_schema.example))
    broken["projects"][0]["status"] = "underway"
    broken["publishedDate"] = "2018-12-10"
    assert len(oc4ids_schema.errors(broken)) == 2


def test_the_seed_is_a_valid_package(
    client: TestClient, keys: Keys, zl7: None, oc4ids_schema: Oc4idsSchema
) -> None:
    package, raw = _export(client, keys, programme=SEED_PROGRAMME)
    _valid(oc4ids_schema, raw)
    assert package["version"] == "0.9"
    assert package["publisher"] == {"name": "平罗县教育体育局"}
    assert package["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert package["uri"].endswith(f"?programme={SEED_PROGRAMME}&as_of={package['uri'][-10:]}")
    ids = [p["id"] for p in package["projects"]]
    assert ids == [f"oc4ids-xxxxxx-{code}" for code in
                   ("ZL7-1", "ZL7-2A", "ZL7-2B", "ZL7-3", "ZL7-4", "ZL7-5", "ZL7-6")]  # fmt: skip
    # 45400.40 万元, exactly: the figure the plan gives and the portfolio reports.
    assert _budget_total(package) == Decimal("454004000.00")
    assert b'"amount":57413600.00,' in raw

    first = _project(package, "ZL7-1")
    assert first["type"] == "construction" and first["sector"] == ["education"]
    assert first["status"] == "preparation"
    assert [site["description"] for site in first["locations"]] == [
        "平罗县第一幼儿园",
        "高庄幼儿园",
    ]
    assert first["publicAuthority"] == {
        "id": f"publicAuthority-{SEED_PROGRAMME}",
        "name": "平罗县教育体育局",
    }
    assert first["parties"] == [{**first["publicAuthority"], "roles": ["publicAuthority", "buyer"]}]
    assert _project(package, "ZL7-2A")["type"] == "expansion"
    assert _project(package, "ZL7-4")["type"] == "rehabilitation"
    equipment = _project(package, "ZL7-6")
    assert "type" not in equipment and "locations" not in equipment
    lines = equipment["budget"]["budgetBreakdowns"][-1]
    assert lines["id"] == "budgetLines"
    assert lines["budgetBreakdown"][2] == {
        "id": "ZL7-6-3",
        "description": "计算机 3463 台",
        "amount": {"amount": Decimal("16660000.00"), "currency": "CNY"},
    }
    # No payments and no milestones: financial progress 0%, no measure of physical progress.
    (financial,) = equipment["metrics"]
    assert financial["id"] == "financialProgress"
    assert financial["observations"][0]["measure"] == Decimal("0.00")


@pytest.mark.parametrize("as_of", ["2022-12-31", "2024-06-30", "2025-12-31"])
def test_the_seed_with_the_demo_story_is_a_valid_package(
    client: TestClient,
    keys: Keys,
    connection: Connection,
    zl7: None,
    oc4ids_schema: Oc4idsSchema,
    as_of: str,
) -> None:
    """The seed plus the demo's contracts, change orders, milestones, certifications,
    payments, a reversal, 竣工验收 and a 概算调整, seen at dates along the way."""
    with SessionFactory(connection, join_savepoint=True).begin(write=True) as writing:
        load_demo(session=writing, today=date(2026, 3, 1))
    package, raw = _export(client, keys, programme=SEED_PROGRAMME, as_of=as_of)
    _valid(oc4ids_schema, raw)
    assert _budget_total(package) == _portfolio_revised(client, keys, SEED_PROGRAMME, as_of)
    transactions = [
        t
        for project in package["projects"]
        for t in [
            *project.get("transactions", []),
            *(
                t
                for process in project.get("contractingProcesses", [])
                for t in process["summary"].get("transactions", [])
            ),
        ]
    ]
    assert transactions and all(t["date"][:10] <= as_of for t in transactions)
    ledger = client.get(
        "/api/v1/disbursements", params={"to": as_of, "limit": 1}, headers=keys.viewer
    ).json()
    assert len(transactions) == ledger["total"]
    assert sum(t["value"]["amount"] for t in transactions) == Decimal(ledger["sum"])


@pytest.fixture
def scenario(client: TestClient, keys: Keys, session: Session) -> tuple[Programme, Project]:
    """A project with a funding plan, a contract with a price and a duration change order,
    milestones with progress, a certification and 竣工验收, payments with and without the
    contract, a reversal and a 概算调整; beside it an equipment project with nothing."""
    programme, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("10000000.00"), code="OC-A")
    make_project(session, item, estimate=Decimal("500000.00"), category=Category.equipment)
    funding = client.put(
        f"/api/v1/projects/{project.id}/funding",
        json={
            "sources": [
                {"funding_source": "central_budget", "planned": "6000000.00"},
                {"funding_source": "county", "planned": "4000000.00"},
            ]
        },
        headers={**keys.finance, **if_match(client, keys, f"/api/v1/projects/{project.id}")},
    )
    assert funding.status_code == 200, funding.text
    builder = client.post(
        "/api/v1/contractors",
        json={"name": BUILDER, "credit_code": CREDIT_CODE},
        headers=keys.admin,
    )
    assert builder.status_code == 201, builder.text
    contract = make_contract(
        client,
        keys,
        project.id,
        "SG-01",
        "8000000.00",
        contractor_id=builder.json()["id"],
        planned_finish="2024-06-30",
    )
    for change in (
        {"kind": "price", "delta": "500000.00", "approved_on": "2023-05-01"},
        {"kind": "duration", "new_finish": "2024-12-31", "approved_on": "2024-03-01"},
    ):
        changed = client.post(
            f"/api/v1/contracts/{contract['id']}/change-orders",
            json={**change, "document_no": f"变更-{change['approved_on']}", "reason": "设计变更"},
            headers=keys.admin,
        )
        assert changed.status_code == 201, changed.text
    started = make_milestone(
        client, keys, project.id, "开工", "20", "2023-02-01",
        progress=[("100", "2023-02-10")], contract_id=contract["id"],
    )  # fmt: skip
    make_milestone(
        client, keys, project.id, "主体完工", "50", "2023-10-01",
        progress=[("50", "2023-06-30"), ("100", "2024-01-10")], contract_id=contract["id"],
    )  # fmt: skip
    make_milestone(
        client, keys, project.id, "竣工验收", "30", "2024-06-30",
        progress=[("100", "2024-07-15")], contract_id=contract["id"],
    )  # fmt: skip
    certified = client.post(
        f"/api/v1/milestones/{started['id']}/certification",
        json={"certified_amount": "1600000.00", "certified_on": "2023-02-15"},
        headers=keys.finance,
    )
    assert certified.status_code == 200, certified.text
    entries = {}
    for voucher, amount, paid_on, on_contract in (
        ("OC-P1", "1500000.00", "2023-02-20", True),
        ("OC-P2", "2000000.00", "2023-07-10", True),
        ("OC-P3", "0.10", "2023-03-01", False),
    ):
        body = payment(
            project.id,
            amount,
            voucher,
            paid_on=paid_on,
            payee=BUILDER if on_contract else DESIGNER,
            funding_source="central_budget" if on_contract else "county",
        )
        if on_contract:
            body["contract_id"] = contract["id"]
        paid = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
        assert paid.status_code == 201, paid.text
        entries[voucher] = paid.json()
    reversed_ = client.post(
        f"/api/v1/disbursements/{entries['OC-P2']['id']}/reversals",
        json={
            "amount": "300000.00",
            "reason": "多计工程量，冲回",
            "reversed_on": "2023-08-01",
            "voucher_no": "OC-R1",
        },
        headers=keys.finance,
    )
    assert reversed_.status_code == 201, reversed_.text
    revised = client.post(
        f"/api/v1/projects/{project.id}/revisions",
        json={
            "new_estimate": "10500000.00",
            "approved_on": "2023-09-01",
            "document_no": "平发改审发〔2023〕9号（测试）",
            "reason": "材料价格上涨",
        },
        headers=keys.finance,
    )
    assert revised.status_code == 201, revised.text
    accepted = client.post(
        f"/api/v1/contracts/{contract['id']}/acceptance",
        json={"accepted_on": "2024-07-20"},
        headers=keys.admin,
    )
    assert accepted.status_code == 200, accepted.text
    return programme, project


def test_a_programme_with_contracts_and_payments_is_a_valid_package(
    client: TestClient,
    keys: Keys,
    scenario: tuple[Programme, Project],
    oc4ids_schema: Oc4idsSchema,
) -> None:
    programme, _ = scenario
    package, raw = _export(client, keys, programme=programme.code, as_of="2025-01-31")
    _valid(oc4ids_schema, raw)
    assert len(package["projects"]) == 2
    assert _budget_total(package) == _portfolio_revised(client, keys, programme.code, "2025-01-31")
    project = _project(package, "OC-A")
    cny = "CNY"

    budget = project["budget"]
    assert budget["amount"] == {"amount": Decimal("10500000.00"), "currency": cny}
    assert budget["approvalDate"] == "2023-09-01T00:00:00+08:00"
    estimate, funding = budget["budgetBreakdowns"]
    assert [(b["id"], b["amount"]["amount"]) for b in estimate["budgetBreakdown"]] == [
        ("original", Decimal("10000000.00")),
        (estimate["budgetBreakdown"][1]["id"], Decimal("10500000.00")),
    ]
    assert [(b["id"], b["sourceParty"]["id"]) for b in funding["budgetBreakdown"]] == [
        ("central_budget", "funder-central_budget"),
        ("county", "funder-county"),
    ]

    parties = {party["id"]: party for party in project["parties"]}
    builder = parties[f"CN-SAMR-{CREDIT_CODE}"]
    assert builder["identifier"] == {"scheme": "CN-SAMR", "id": CREDIT_CODE, "legalName": BUILDER}
    assert builder["roles"] == ["supplier", "payee"]
    assert parties["funder-central_budget"]["roles"] == ["funder", "payer"]
    designer = [p for p in parties.values() if p["name"] == DESIGNER]
    assert [p["roles"] for p in designer] == [["payee"]]

    (process,) = project["contractingProcesses"]
    summary = process["summary"]
    assert process["id"] == "SG-01" and summary["status"] == "closed"
    assert summary["suppliers"] == [{"id": builder["id"], "name": BUILDER}]
    assert summary["contractValue"]["amount"] == Decimal("8000000.00")
    price, duration = summary["modifications"]
    assert (price["type"], price["oldContractValue"]["amount"]) == ("value", Decimal("8000000.00"))
    assert price["newContractValue"]["amount"] == Decimal("8500000.00")
    assert duration["type"] == "duration"
    # The change order replaced the finish the contract was signed with: not known any more.
    assert "oldContractPeriod" not in duration
    assert duration["newContractPeriod"] == {"endDate": "2024-12-31T00:00:00+08:00"}
    assert summary["contractPeriod"] == {
        "startDate": "2023-01-01T00:00:00+08:00",
        "endDate": "2024-12-31T00:00:00+08:00",
    }
    assert [(t["id"], t["value"]["amount"]) for t in summary["transactions"]] == [
        ("OC-P1", Decimal("1500000.00")),
        ("OC-P2", Decimal("2000000.00")),
        ("OC-R1", Decimal("-300000.00")),
    ]
    first = summary["transactions"][0]
    assert first["date"] == "2023-02-20T00:00:00+08:00"
    assert first["payer"] == {"id": "funder-central_budget", "name": "中央预算内投资"}
    assert first["payee"] == {"id": builder["id"], "name": BUILDER}
    (unattached,) = project["transactions"]
    assert unattached["id"] == "OC-P3" and unattached["payee"]["id"] == designer[0]["id"]
    # Every party referred to is listed.
    referred = [
        *summary["suppliers"],
        *(t[side] for t in (*summary["transactions"], unattached) for side in ("payer", "payee")),
        project["publicAuthority"] if "publicAuthority" in project else None,
    ]
    assert {ref["id"] for ref in referred if ref} <= set(parties)

    milestones = {m["id"]: m for m in project["milestones"]}
    assert milestones["开工"]["status"] == "met"
    assert milestones["开工"]["dateMet"] == "2023-02-10T00:00:00+08:00"
    assert milestones["开工"]["value"]["amount"] == Decimal("1600000.00")
    assert milestones["竣工验收"]["dueDate"] == "2024-06-30T00:00:00+08:00"
    assert project["completion"] == {"endDate": "2024-07-15T00:00:00+08:00"}
    metrics = {metric["id"]: metric["observations"][0] for metric in project["metrics"]}
    assert metrics["physicalProgress"]["measure"] == Decimal("100.00")
    # 1500000.00 + 2000000.00 + 0.10 − 300000.00 = 3200000.10 of 10500000.00
    assert metrics["financialProgress"]["value"]["amount"] == Decimal("3200000.10")
    assert metrics["financialProgress"]["measure"] == Decimal("30.48")

    # Amounts are JSON numbers with the exact digits, never a float's shortest form.
    assert b'"value":{"amount":0.10,"currency":"CNY"}' in raw
    assert b'"amount":10500000.00,' in raw and b"10500000.0," not in raw


def test_as_of_leaves_out_what_came_later(
    client: TestClient,
    keys: Keys,
    scenario: tuple[Programme, Project],
    oc4ids_schema: Oc4idsSchema,
) -> None:
    programme, _ = scenario
    package, raw = _export(client, keys, programme=programme.code, as_of="2023-06-30")
    _valid(oc4ids_schema, raw)
    assert package["uri"].endswith(f"programme={programme.code}&as_of=2023-06-30")
    assert _budget_total(package) == _portfolio_revised(client, keys, programme.code, "2023-06-30")
    project = _project(package, "OC-A")
    # The 概算调整 of 2023-09-01 not yet: the original estimate, no approval date.
    assert project["budget"]["amount"]["amount"] == Decimal("10000000.00")
    assert "approvalDate" not in project["budget"]
    assert len(project["budget"]["budgetBreakdowns"][0]["budgetBreakdown"]) == 1
    summary = project["contractingProcesses"][0]["summary"]
    assert summary["status"] == "active"
    assert summary["contractPeriod"] == {"startDate": "2023-01-01T00:00:00+08:00"}
    assert [m["type"] for m in summary["modifications"]] == ["value"]
    assert [t["id"] for t in summary["transactions"]] == ["OC-P1"]
    assert [t["id"] for t in project["transactions"]] == ["OC-P3"]
    milestones = {m["id"]: m for m in project["milestones"]}
    assert {code: m["status"] for code, m in milestones.items()} == {
        "开工": "met",
        "主体完工": "scheduled",
        "竣工验收": "scheduled",
    }
    assert "completion" not in project
    metrics = {metric["id"]: metric["observations"][0] for metric in project["metrics"]}
    # 开工 (20) done, 主体完工 (50) half done by then: 45%.
    assert metrics["physicalProgress"]["measure"] == Decimal("45.00")
    assert metrics["financialProgress"]["value"]["amount"] == Decimal("1500000.10")

    before_anything, raw = _export(client, keys, programme=programme.code, as_of="2022-12-31")
    _valid(oc4ids_schema, raw)
    assert "contractingProcesses" not in _project(before_anything, "OC-A")
    assert "transactions" not in _project(before_anything, "OC-A")


def test_staff_only(client: TestClient, keys: Keys, scenario: tuple[Programme, Project]) -> None:
    programme, _ = scenario
    for role in ("admin", "finance", "viewer"):
        allowed = client.get(URL, params={"programme": programme.code}, headers=keys.for_role(role))
        assert allowed.status_code == 200, (role, allowed.text)
    refused = client.get(URL, params={"programme": programme.code}, headers=keys.contractor)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert client.get(URL, params={"programme": programme.code}).status_code == 401


def test_refusals_name_the_parameter(
    client: TestClient, keys: Keys, scenario: tuple[Programme, Project], session: Session
) -> None:
    programme, _ = scenario
    unknown = client.get(URL, params={"programme": programme.code, "asof": "2023-01-01"},
                         headers=keys.viewer)  # fmt: skip
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["asof"]
    for params in ({"programme": "NO-SUCH"}, {"as_of": "2023-02-30"}):
        refused = client.get(URL, params=params, headers=keys.viewer)
        assert refused.status_code == 422, params
        assert [e["field"] for e in refused.json()["errors"]] == list(params)
    empty, _ = make_programme(session)
    nothing = client.get(URL, params={"programme": empty.code}, headers=keys.viewer)
    assert nothing.status_code == 404
    assert empty.code in nothing.json()["detail"]


def test_publication_settings(
    app: FastAPI,
    client: TestClient,
    keys: Keys,
    scenario: tuple[Programme, Project],
    oc4ids_schema: Oc4idsSchema,
) -> None:
    programme, _ = scenario
    app.state.settings = app.state.settings.model_copy(
        update={
            "oc4ids_prefix": "oc4ids-bu3kcz",
            "oc4ids_package_uri": "https://data.example.org/oc4ids",
            "oc4ids_publisher_name": "平罗县教育体育局计财股",
            "oc4ids_publisher_uri": "https://example.org/jtj",
            "oc4ids_license": "https://opendatacommons.org/licenses/pddl/1-0/",
            "oc4ids_publication_policy": "https://example.org/jtj/open-data",
        }
    )
    package, raw = _export(client, keys, programme=programme.code, as_of="2024-01-01")
    _valid(oc4ids_schema, raw)
    assert (
        package["uri"]
        == f"https://data.example.org/oc4ids?programme={programme.code}&as_of=2024-01-01"
    )
    assert package["publisher"] == {
        "name": "平罗县教育体育局计财股",
        "uri": "https://example.org/jtj",
    }
    assert package["license"] == "https://opendatacommons.org/licenses/pddl/1-0/"
    assert package["publicationPolicy"] == "https://example.org/jtj/open-data"
    assert _project(package, "OC-A")["id"] == "oc4ids-bu3kcz-OC-A"
