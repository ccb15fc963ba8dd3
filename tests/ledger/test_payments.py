"""Posting payments: exact amounts, budget policy, budget lines, vouchers, the append-only rule."""

import re
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import Keys, if_match, make_contract, make_programme, make_project, payment


@pytest.fixture
def project(session: Session) -> Any:
    """A project of 1,000,000.00 with the default policy: warn from 90%."""
    _, item = make_programme(session)
    return make_project(session, item, estimate=Decimal("1000000.00"))


def _project(client: TestClient, keys: Keys, ref: object) -> Any:
    return client.get(f"/api/v1/projects/{ref}", headers=keys.viewer).json()


def test_post_a_payment(client: TestClient, keys: Keys, project: Any) -> None:
    response = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "250000.10", "V-001"),
        headers=keys.finance,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/disbursements/{body['id']}"
    assert (body["kind"], body["amount"], body["voucher_no"], body["funding_source"]) == (
        "payment",
        "250000.10",
        "V-001",
        "county",
    )
    assert body["budget"] == {
        "project_id": project.id,
        "code": project.code,
        "original_estimate": "1000000.00",
        "revised_estimate": "1000000.00",
        "disbursed": "250000.10",
        "remaining": "749999.90",
        "financial_completion": "0.2500",
        "budget_policy": "warn",
        "warn_threshold": "0.90",
    }
    assert body["warnings"] == []
    read = _project(client, keys, project.id)
    assert read["disbursed"] == "250000.10"
    assert read["funding"] == [
        {
            "funding_source": "county",
            "name": "县级财政",
            "planned": "0.00",
            "disbursed": "250000.10",
        }
    ]
    one = client.get(response.headers["location"], headers=keys.viewer).json()
    assert one["amount"] == "250000.10" and one["reversed"] == "0.00"


def test_warn_policy_warns_near_and_over_the_estimate(
    client: TestClient, keys: Keys, project: Any
) -> None:
    first = client.post(
        "/api/v1/disbursements", json=payment(project.id, "899999.99", "V-1"), headers=keys.finance
    ).json()
    assert first["warnings"] == []
    near = client.post(
        "/api/v1/disbursements", json=payment(project.id, "0.01", "V-2"), headers=keys.finance
    ).json()
    assert [w["code"] for w in near["warnings"]] == ["near_budget"]
    assert near["warnings"][0]["share"] == "0.9000"
    over = client.post(
        "/api/v1/disbursements", json=payment(project.id, "100000.01", "V-3"), headers=keys.finance
    )
    assert over.status_code == 201
    assert [w["code"] for w in over.json()["warnings"]] == ["over_budget"]
    assert over.json()["budget"]["remaining"] == "-0.01"


def test_block_policy_refuses_the_cent_too_many(
    client: TestClient, keys: Keys, project: Any
) -> None:
    client.patch(
        f"/api/v1/projects/{project.id}",
        json={"budget_policy": "block"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{project.id}")},
    )
    ok = client.post(
        "/api/v1/disbursements", json=payment(project.id, "1000000.00", "V-1"), headers=keys.finance
    )
    assert ok.status_code == 201
    assert [w["code"] for w in ok.json()["warnings"]] == ["near_budget"]
    refused = client.post(
        "/api/v1/disbursements", json=payment(project.id, "0.01", "V-2"), headers=keys.finance
    )
    assert refused.status_code == 409
    problem = refused.json()
    assert refused.headers["content-type"] == "application/problem+json"
    assert problem["type"].endswith("/budget-exceeded")
    assert (problem["estimate"], problem["disbursed"], problem["would_be"], problem["over_by"]) == (
        "1000000.00",
        "1000000.00",
        "1000000.01",
        "0.01",
    )
    listing = client.get(
        "/api/v1/disbursements", params={"project_id": project.id}, headers=keys.viewer
    ).json()
    assert (listing["total"], listing["sum"]) == (1, "1000000.00")


def test_budget_line_required_and_checked(client: TestClient, keys: Keys, zl7: None) -> None:
    zl7_6 = _project(client, keys, "ZL7-6")
    books = next(line for line in zl7_6["budget_lines"] if line["name"] == "图书")
    missing = client.post(
        "/api/v1/disbursements",
        json=payment(zl7_6["id"], "1000.00", "ZL7-6-1"),
        headers=keys.finance,
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "budget_line_id"
    other = _project(client, keys, "ZL7-1")
    wrong = client.post(
        "/api/v1/disbursements",
        json=payment(other["id"], "1000.00", "ZL7-1-1", budget_line_id=books["id"]),
        headers=keys.finance,
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "budget_line_id"

    client.patch(
        f"/api/v1/budget-lines/{books['id']}",
        json={"budget_policy": "block"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/budget-lines/{books['id']}")},
    )
    # 图书: 55.62 万元 = 556200.00; the project has room, the line does not.
    full = client.post(
        "/api/v1/disbursements",
        json=payment(zl7_6["id"], "556200.00", "ZL7-6-2", budget_line_id=books["id"]),
        headers=keys.finance,
    )
    assert full.status_code == 201
    assert full.json()["budget_line"] == {
        "budget_line_id": books["id"],
        "code": "ZL7-6-6",
        "estimate": "556200.00",
        "disbursed": "556200.00",
        "remaining": "0.00",
        "financial_completion": "1.0000",
    }
    assert [w["code"] for w in full.json()["warnings"]] == ["line_near_budget"]
    over_line = client.post(
        "/api/v1/disbursements",
        json=payment(zl7_6["id"], "0.01", "ZL7-6-3", budget_line_id=books["id"]),
        headers=keys.finance,
    )
    assert over_line.status_code == 409
    assert over_line.json()["scope"] == "budget_line"


def test_voucher_is_unique_within_the_programme(
    client: TestClient, keys: Keys, project: Any, session: Session
) -> None:
    first = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "10.00", "记-2023-06-0012"),
        headers=keys.finance,
    )
    again = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "10.00", "记-2023-06-0012"),
        headers=keys.finance,
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("/duplicate-voucher")
    assert again.json()["existing_id"] == first.json()["id"]
    _, other_item = make_programme(session)
    elsewhere = make_project(session, other_item)
    same_voucher_other_programme = client.post(
        "/api/v1/disbursements",
        json=payment(elsewhere.id, "10.00", "记-2023-06-0012"),
        headers=keys.finance,
    )
    assert same_voucher_other_programme.status_code == 201


@pytest.mark.parametrize(
    "typed", [" VCX-1", "VCX-1 ", "vcx-1", "VCX\uff0d1", "\u3000ＶＣＸ－１\u3000", "Vcx-1\n"]
)
def test_a_voucher_is_one_voucher_however_it_is_typed(
    client: TestClient, keys: Keys, project: Any, typed: str
) -> None:
    first = client.post(
        "/api/v1/disbursements", json=payment(project.id, "10.00", "VCX-1"), headers=keys.finance
    )
    assert first.status_code == 201, first.text
    again = client.post(
        "/api/v1/disbursements", json=payment(project.id, "10.00", typed), headers=keys.finance
    )
    assert again.status_code == 409, again.text
    assert again.json()["existing_id"] == first.json()["id"]
    assert f"entry {first.json()['id']}" in again.json()["detail"]
    listed = client.get("/api/v1/disbursements", params={"voucher_no": typed}, headers=keys.viewer)
    assert [e["voucher_no"] for e in listed.json()["items"]] == ["VCX-1"]
    assert _project(client, keys, project.id)["disbursed"] == "10.00"


def test_a_voucher_is_stored_normalised(client: TestClient, keys: Keys, project: Any) -> None:
    posted = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "10.00", "\u3000记－2023－0012 "),
        headers=keys.finance,
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["voucher_no"] == "记-2023-0012"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "0"),
        ("amount", "-5.00"),
        ("amount", "1.001"),
        ("paid_on", "2999-01-01"),
        ("paid_on", "2023-02-30"),
        ("funding_source", "彩票公益金"),
        ("project_id", 999999),
        ("contract_id", 5),
        ("voucher_no", ""),
        ("payee", ""),
        # Blank once trimmed, invisible or too long once normalised: refused, never stored.
        ("voucher_no", "   "),
        ("voucher_no", "VCX\u200b-1"),
        ("voucher_no", "\ufeffVCX-1"),
        ("voucher_no", "VCX\u2028-1"),
        ("voucher_no", "V" * 65),
        ("payee", " \t "),
        ("funding_source", "  "),
        ("memo", "   "),
    ],
)
def test_bad_payments_are_refused_by_field(
    client: TestClient, keys: Keys, project: Any, field: str, value: object
) -> None:
    body = {**payment(project.id, "10.00", "V-BAD"), field: value}
    response = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert client.get("/api/v1/disbursements", headers=keys.viewer).json()["total"] == 0


def test_who_may_post(client: TestClient, keys: Keys, project: Any) -> None:
    for role, expected in [("viewer", 403), ("contractor", 403), ("admin", 201), ("finance", 201)]:
        response = client.post(
            "/api/v1/disbursements",
            json=payment(project.id, "1.00", f"V-{role}"),
            headers=keys.for_role(role),
        )
        assert response.status_code == expected, role


def test_the_ledger_is_append_only(client: TestClient, keys: Keys, project: Any) -> None:
    entry = client.post(
        "/api/v1/disbursements", json=payment(project.id, "10.00", "V-1"), headers=keys.finance
    ).json()
    url = f"/api/v1/disbursements/{entry['id']}"
    for method in ("PATCH", "PUT", "DELETE"):
        response = client.request(method, url, json={"amount": "1.00"}, headers=keys.admin)
        assert response.status_code == 405, method
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(url, headers=keys.viewer).json()["amount"] == "10.00"


def test_list_filters_and_exact_sum(client: TestClient, keys: Keys, project: Any) -> None:
    amounts = ["0.10", "0.20", "333333.33", "0.07"]
    for i, amount in enumerate(amounts):
        client.post(
            "/api/v1/disbursements",
            json=payment(
                project.id,
                amount,
                f"V-{i}",
                paid_on=f"2023-0{i + 1}-15",
                funding_source="central_budget" if i % 2 else "县级财政",
            ),
            headers=keys.finance,
        )
    everything = client.get(
        "/api/v1/disbursements", params={"project_id": project.id}, headers=keys.viewer
    ).json()
    assert (everything["total"], everything["sum"]) == (4, "333333.70")
    spring = client.get(
        "/api/v1/disbursements",
        params={
            "project_id": project.id,
            "from": "2023-02-01",
            "to": "2023-03-31",
            "sort": "-amount",
        },
        headers=keys.viewer,
    ).json()
    assert [e["amount"] for e in spring["items"]] == ["333333.33", "0.20"]
    assert spring["sum"] == "333333.53"
    central = client.get(
        "/api/v1/disbursements", params={"funding_source": "中央预算内投资"}, headers=keys.viewer
    ).json()
    assert central["sum"] == "0.27"
    by_voucher = client.get(
        "/api/v1/disbursements", params={"voucher_no": "V-2"}, headers=keys.viewer
    ).json()
    assert [e["amount"] for e in by_voucher["items"]] == ["333333.33"]
    paged = client.get(
        "/api/v1/disbursements", params={"limit": 1, "offset": 3}, headers=keys.viewer
    ).json()
    assert len(paged["items"]) == 1 and paged["sum"] == "333333.70"


def test_contractor_sees_no_payments_without_contracts(
    client: TestClient, keys: Keys, project: Any
) -> None:
    entry = client.post(
        "/api/v1/disbursements", json=payment(project.id, "10.00", "V-1"), headers=keys.finance
    ).json()
    assert client.get("/api/v1/disbursements", headers=keys.contractor).json()["total"] == 0
    assert (
        client.get(f"/api/v1/disbursements/{entry['id']}", headers=keys.contractor).status_code
        == 404
    )


def test_totals_beyond_the_largest_single_amount_are_reported_not_a_500(
    client: TestClient, keys: Keys, project: Any
) -> None:
    """One amount is at most 999999999999.99; a warned total of two of them is not refused
    when it is reported back (each response, the budget, the ledger's sum, the reports)."""
    largest = "999999999999.99"
    for number in (1, 2):
        posted = client.post(
            "/api/v1/disbursements",
            json=payment(project.id, largest, f"V-MAX-{number}"),
            headers=keys.finance,
        )
        assert posted.status_code == 201, posted.text
    assert posted.json()["budget"]["disbursed"] == "1999999999999.98"
    assert posted.json()["budget"]["remaining"] == "-1999998999999.98"
    # The published schema admits what is reported.
    figures = client.get("/openapi.json").json()["components"]["schemas"]["ProjectFigures"]
    for name in ("disbursed", "remaining"):
        pattern = figures["properties"][name]["pattern"]
        assert re.fullmatch(pattern, posted.json()["budget"][name]), (name, pattern)

    budget = client.get(f"/api/v1/projects/{project.id}/budget", headers=keys.viewer)
    assert budget.status_code == 200 and budget.json()["disbursed"] == "1999999999999.98"
    ledger = client.get("/api/v1/disbursements", headers=keys.viewer)
    assert ledger.status_code == 200 and ledger.json()["sum"] == "1999999999999.98"
    report = client.get(f"/api/v1/projects/{project.id}/report", headers=keys.viewer)
    assert report.status_code == 200 and report.json()["disbursed"] == "1999999999999.98"
    portfolio = client.get("/api/v1/reports/portfolio", headers=keys.viewer)
    assert portfolio.status_code == 200
    assert portfolio.json()["totals"]["disbursed"] == "1999999999999.98"
    # A client still can't send an amount beyond the largest one.
    too_much = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "1000000000000.00", "V-MAX-3"),
        headers=keys.finance,
    )
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "amount"


def _by_code(voucher: str, **refs: object) -> dict[str, object]:
    body: dict[str, object] = {
        "project_id": "ZL7-6",
        "budget_line_id": "ZL7-6-6",
        "amount": "100.00",
        "paid_on": "2023-06-30",
        "payee": "某图书供应商（测试）",
        "voucher_no": voucher,
        "funding_source": "county",
    }
    return {**body, **refs}


def test_a_payment_names_its_project_line_and_contract_as_reads_show_them(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    project = _project(client, keys, "ZL7-6")
    lines = {line["code"]: line["id"] for line in project["budget_lines"]}
    contract = make_contract(client, keys, project["id"], "HT-6-1", "1000000.00")
    response = client.post(
        "/api/v1/disbursements",
        json=_by_code("V-CODE-1", contract_id="ht－6－1", payee="宁夏某建设工程有限公司（测试）"),
        headers=keys.finance,
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert (entry["project_id"], entry["budget_line_id"], entry["contract_id"]) == (
        project["id"],
        lines["ZL7-6-6"],
        contract["id"],
    )
    by_name = client.post(
        "/api/v1/disbursements",
        json=_by_code("V-CODE-2", budget_line_id="图书"),
        headers=keys.finance,
    )
    assert by_name.status_code == 201, by_name.text
    assert by_name.json()["budget_line_id"] == lines["ZL7-6-6"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("project_id", "ZL7-99"), ("budget_line_id", "ZL7-6-99"), ("contract_id", "HT-NONE")],
)
def test_an_unknown_code_is_refused_naming_its_field(
    client: TestClient, keys: Keys, zl7: None, field: str, value: str
) -> None:
    response = client.post(
        "/api/v1/disbursements", json=_by_code("V-CODE-X", **{field: value}), headers=keys.finance
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert client.get("/api/v1/disbursements", headers=keys.viewer).json()["total"] == 0
