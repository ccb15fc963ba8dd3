"""The ledger exported as CSV and XLSX: every matching entry, the same amounts and sum as the
JSON list, Chinese intact, formulas neutralised, the caller's scope applied, streamed.

The `client` app's sessions run on the test's rolled-back connection, and so does the export's
streaming read (SessionFactory.lookup hands out that connection): it sees the test's data.
test_streams_through_its_own_connection reads committed data through a pooled connection.
"""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, col

from app.auth.models import Role
from app.funding.models import FundingSource, ProjectFunding
from app.ledger.models import Disbursement, ProjectBalance
from app.timeutil import utcnow
from tests.factories import (
    Keys,
    make_contract,
    make_contractor,
    make_key,
    make_programme,
    make_project,
    payment,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAYEES = {
    "L-1": "青铜峡市第二中学",
    "L-2": '=HYPERLINK("x")',
    "L-3": "+1",
    "L-4": "-2",
    "L-5": "@SUM(A1)",
    "L-6": "\tx",
}


def _rows(response: Any) -> list[dict[str, str]]:
    """The CSV body as dicts by heading; fails unless it starts with a UTF-8 BOM."""
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def _json_list(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    response = client.get("/api/v1/disbursements", params={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _money(value: Any) -> Decimal:
    """A number cell read back by openpyxl (int or float) as the exact amount it stands for."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


@pytest.fixture
def ledger(client: TestClient, keys: Keys, session: Session) -> dict[str, Any]:
    """Two projects: six payments on the test contractor's contract (odd payees), one reversed
    in part; one payment on another contractor's project."""
    _, item = make_programme(session)
    own = make_project(session, item, estimate=Decimal("10000000.00"), code="EXP-OWN")
    other = make_project(session, item, estimate=Decimal("10000000.00"), code="EXP-OTHER")
    other_contractor = make_contractor(session, name="另一家（测试）")
    session.commit()
    contracts = {}
    for project, contractor_id in ((own, keys.contractor_id), (other, other_contractor.id)):
        response = client.post(
            "/api/v1/contracts",
            json={
                "project_id": project.id,
                "contractor_id": contractor_id,
                "contract_no": f"SG-{project.code}",
                "title": "施工（测试）",
                "amount": "5000000.00",
                "signed_on": "2023-01-01",
            },
            headers=keys.admin,
        )
        assert response.status_code == 201, response.text
        contracts[project.code] = response.json()["id"]
    ids = {}
    for number, (voucher, payee) in enumerate(PAYEES.items(), 1):
        response = client.post(
            "/api/v1/disbursements",
            json={
                **payment(own.id, f"{number}000.{number}0", voucher, paid_on=f"2023-0{number}-15"),
                "payee": payee,
                "contract_id": contracts["EXP-OWN"],
                "memo": "城关第九小学主体工程进度款（测试）",
            },
            headers=keys.finance,
        )
        assert response.status_code == 201, response.text
        ids[voucher] = response.json()["id"]
    reversal = client.post(
        f"/api/v1/disbursements/{ids['L-1']}/reversals",
        json={"amount": "5.00", "reason": "多付，冲回（测试）", "reversed_on": "2023-07-01"},
        headers=keys.finance,
    )
    assert reversal.status_code == 201, reversal.text
    response = client.post(
        "/api/v1/disbursements",
        json={
            **payment(other.id, "777.77", "X-1", payee="别人的收款单位"),
            "contract_id": contracts["EXP-OTHER"],
        },
        headers=keys.finance,
    )
    assert response.status_code == 201, response.text
    return {"own": own, "other": other, "ids": ids, "reversal": reversal.json()["id"]}


def test_csv_bom_chinese_injection_and_the_json_figures(
    client: TestClient, keys: Keys, ledger: dict[str, Any]
) -> None:
    response = client.get("/api/v1/disbursements?format=csv", headers=keys.finance)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="disbursements-')
    assert "filename*=UTF-8''disbursements-" in disposition
    assert b"\r\n" in response.content
    rows = _rows(response)
    listed = _json_list(client, keys.finance)
    assert [int(r["id"]) for r in rows] == [e["id"] for e in listed["items"]]
    assert [r["amount"] for r in rows] == [e["amount"] for e in listed["items"]]
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal(listed["sum"])
    by_voucher = {r["voucher_no"]: r for r in rows}
    assert by_voucher["L-1"]["payee"] == "青铜峡市第二中学"
    assert by_voucher["L-1"]["project_code"] == "EXP-OWN"
    assert by_voucher["L-1"]["project_name"] == "测试项目"
    assert by_voucher["L-1"]["memo"] == "城关第九小学主体工程进度款（测试）"
    assert by_voucher["L-1"]["funding_source_name"] == "县级财政"
    assert by_voucher["L-1"]["contract_no"] == "SG-EXP-OWN"
    assert by_voucher["L-1"]["amount"] == "1000.10"
    assert by_voucher["L-1"]["paid_on"] == "2023-01-15"
    assert [by_voucher[v]["payee"] for v in ("L-2", "L-3", "L-4", "L-5", "L-6")] == [
        '\'=HYPERLINK("x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
    ]
    (reversal,) = [r for r in rows if r["kind"] == "reversal"]
    assert reversal["amount"] == "-5.00"
    assert reversal["reverses_id"] == str(ledger["ids"]["L-1"])
    assert reversal["reason"] == "多付，冲回（测试）"
    assert reversal["voucher_no"] == ""
    assert reversal["created_at"].endswith("Z")


def _inert(text: str) -> str:
    """The CSV rule for text a spreadsheet would run as a formula."""
    return "'" + text if text[:1] and text[0] in "=+-@\t\r" else text


def test_every_cell_matches_the_json_list(client: TestClient, keys: Keys, session: Session) -> None:
    """Amounts to the fen (reversals of a few fen included), dates, timestamps and text as the
    JSON list has them; empty cells where there is no budget line, contract, memo or reason;
    formula-like text neutralised in every text column, the project's and budget line's names
    included; commas, quotes and line breaks quoted."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("2000000000.00"), code="EXP-CELLS")
    project.name = "@城关第九小学改扩建（测试）"
    session.add(project)
    unplanned = make_project(session, item, estimate=Decimal("1000.00"), code="EXP-NO-LINES")
    line = client.post(
        f"/api/v1/projects/{project.id}/budget-lines",
        json={
            "code": "ZL-01",
            "name": '-其他费用, 含"监理"',
            "cost_category": "other",
            "estimate": "1500000000.00",
        },
        headers=keys.admin,
    )
    assert line.status_code == 201, line.text
    contract = make_contract(client, keys, project.id, "+HT-2023,01", "1500000000.00")
    posted = {}
    for voucher, body in {
        "C-1": {
            **payment(project.id, "1234.50", "C-1", paid_on="2023-01-15", payee="青铜峡市第二中学"),
            "budget_line_id": line.json()["id"],
            "contract_id": contract["id"],
            "memo": '主体工程进度款, 第"2"期',
        },
        "C-2": payment(unplanned.id, "0.05", "C-2", paid_on="2023-02-01", payee='=HYPERLINK("x")'),
        "=C-3": {
            **payment(project.id, "999999999.99", "=C-3", payee="宁夏某公司\n第二行"),
            "budget_line_id": line.json()["id"],
            "memo": "\t缩进的摘要",
        },
        "C-4": payment(unplanned.id, "100.00", "C-4", paid_on="2023-06-30", payee="-2"),
    }.items():
        response = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
        assert response.status_code == 201, response.text
        posted[voucher] = response.json()["id"]
    for voucher, reversal in {
        "C-2": {"reason": "=全额冲回", "reversed_on": "2023-07-01"},
        "C-1": {"amount": "5.00", "reason": "多付，冲回", "reversed_on": "2023-07-02"},
    }.items():
        response = client.post(
            f"/api/v1/disbursements/{posted[voucher]}/reversals",
            json=reversal,
            headers=keys.finance,
        )
        assert response.status_code == 201, response.text
    # A timestamp on a whole second is written without a fraction, as the JSON list writes it.
    session.execute(
        sa.update(Disbursement)
        .where(col(Disbursement.id) == posted["C-4"])
        .values(created_at=datetime(2023, 6, 30, 8, 0, tzinfo=UTC))
    )
    session.commit()

    response = client.get("/api/v1/disbursements?format=csv", headers=keys.finance)
    assert response.status_code == 200, response.text
    rows = _rows(response)
    listed = _json_list(client, keys.finance)["items"]
    assert [int(r["id"]) for r in rows] == [e["id"] for e in listed]
    assert len(rows) == 6
    lines = {line.json()["id"]: ("ZL-01", '\'-其他费用, 含"监理"')}
    contracts = {contract["id"]: "'+HT-2023,01"}
    projects = {
        project.id: ("EXP-CELLS", "'@城关第九小学改扩建（测试）"),
        unplanned.id: ("EXP-NO-LINES", "测试项目"),
    }
    for row, entry in zip(rows, listed, strict=True):
        assert row == {
            "id": str(entry["id"]),
            "kind": entry["kind"],
            "paid_on": entry["paid_on"],
            "project_code": projects[entry["project_id"]][0],
            "project_name": projects[entry["project_id"]][1],
            "budget_line_code": lines.get(entry["budget_line_id"], ("", ""))[0],
            "budget_line_name": lines.get(entry["budget_line_id"], ("", ""))[1],
            "contract_no": contracts.get(entry["contract_id"], ""),
            "amount": entry["amount"],
            "payee": _inert(entry["payee"]),
            "voucher_no": _inert(entry["voucher_no"] or ""),
            "funding_source": entry["funding_source"],
            "funding_source_name": "县级财政",
            "memo": _inert(entry["memo"] or ""),
            "reverses_id": str(entry["reverses_id"] or ""),
            "reason": _inert(entry["reason"] or ""),
            "created_at": entry["created_at"],
        }
    amounts = [r["amount"] for r in rows]
    assert amounts == ["1234.50", "0.05", "999999999.99", "100.00", "-0.05", "-5.00"]
    assert rows[3]["created_at"] == "2023-06-30T08:00:00Z"
    assert all(r["created_at"].endswith("Z") for r in rows)
    assert '"宁夏某公司\n第二行"' in response.content.decode("utf-8-sig")


def test_xlsx_number_cells_sum_to_the_json_sum(
    client: TestClient, keys: Keys, ledger: dict[str, Any]
) -> None:
    response = client.get("/api/v1/disbursements", params={"format": "xlsx"}, headers=keys.viewer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert int(response.headers["content-length"]) == len(response.content)
    assert 'filename="disbursements-' in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    (sheet,) = book.worksheets
    assert sheet.title == "Ledger"
    assert sheet.freeze_panes == "A2"
    heading = [c.value for c in sheet[1]]
    assert all(c.font.bold for c in sheet[1])
    amount_column = heading.index("amount") + 1
    cells = [row[amount_column - 1] for row in sheet.iter_rows(min_row=2)]
    listed = _json_list(client, keys.viewer)
    assert len(cells) == listed["total"]
    assert all(c.data_type == "n" and c.number_format == "#,##0.00" for c in cells)
    assert [_money(c.value) for c in cells] == [Decimal(e["amount"]) for e in listed["items"]]
    assert sum(_money(c.value) for c in cells) == Decimal(listed["sum"])
    payees = [row[heading.index("payee")].value for row in sheet.iter_rows(min_row=2)]
    assert '=HYPERLINK("x")' in payees and "青铜峡市第二中学" in payees
    paid_on = sheet.cell(row=2, column=heading.index("paid_on") + 1).value
    assert paid_on == datetime(2023, 1, 15)
    assert sheet.column_dimensions["E"].width == 36  # project_name


def test_chinese_headings(client: TestClient, keys: Keys, ledger: dict[str, Any]) -> None:
    response = client.get("/api/v1/disbursements?format=csv&lang=zh", headers=keys.finance)
    heading = response.content.decode("utf-8-sig").split("\r\n")[0].split(",")
    for name in ("支付日期", "项目编号", "金额（元）", "收款单位", "凭证号", "资金来源", "摘要"):
        assert name in heading
    book = load_workbook(
        io.BytesIO(
            client.get("/api/v1/disbursements?format=xlsx&lang=zh", headers=keys.finance).content
        )
    )
    assert book.worksheets[0].title == "支付台账"
    assert [c.value for c in book.worksheets[0][1]] == heading


def test_accept_header_and_bad_format(
    client: TestClient, keys: Keys, ledger: dict[str, Any]
) -> None:
    as_csv = client.get("/api/v1/disbursements", headers={**keys.finance, "Accept": "text/csv"})
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    as_xlsx = client.get("/api/v1/disbursements", headers={**keys.finance, "Accept": XLSX})
    assert as_xlsx.headers["content-type"] == XLSX
    preferred = client.get(
        "/api/v1/disbursements",
        headers={**keys.finance, "Accept": "application/json, text/csv;q=0.5"},
    )
    assert preferred.headers["content-type"] == "application/json"
    # ?format= wins over Accept.
    explicit = client.get(
        "/api/v1/disbursements?format=json", headers={**keys.finance, "Accept": "text/csv"}
    )
    assert explicit.json()["total"] == 8
    refused = client.get("/api/v1/disbursements?format=pdf", headers=keys.finance)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in refused.json()["errors"]] == ["format"]
    assert client.get("/api/v1/disbursements?format=csv").status_code == 401


def test_a_contractor_exports_its_own_payments_only(
    client: TestClient, keys: Keys, ledger: dict[str, Any]
) -> None:
    rows = _rows(client.get("/api/v1/disbursements?format=csv", headers=keys.contractor))
    assert {r["project_code"] for r in rows} == {"EXP-OWN"}
    assert len(rows) == len(PAYEES) + 1
    assert "X-1" not in {r["voucher_no"] for r in rows}
    finance = _rows(client.get("/api/v1/disbursements?format=csv", headers=keys.finance))
    assert "X-1" in {r["voucher_no"] for r in finance}


def test_filters_and_sort_apply_and_the_page_does_not(
    client: TestClient, keys: Keys, ledger: dict[str, Any]
) -> None:
    def vouchers(**params: Any) -> list[str]:
        response = client.get(
            "/api/v1/disbursements", params={"format": "csv", **params}, headers=keys.finance
        )
        assert response.status_code == 200, response.text
        return [r["voucher_no"] for r in _rows(response)]

    assert vouchers(project_id=ledger["other"].id) == ["X-1"]
    assert vouchers(**{"from": "2023-03-01", "to": "2023-05-31"}) == ["L-3", "L-4", "L-5"]
    assert vouchers(kind="reversal") == [""]
    assert vouchers(voucher_no="L-2") == ["L-2"]
    assert len(vouchers(funding_source="县级财政")) == 8
    assert vouchers(funding_source="central_budget", kind="payment") == []
    assert vouchers(sort="-amount", project_id=ledger["own"].id)[:2] == ["L-6", "L-5"]
    assert len(vouchers(limit=1, offset=3)) == 8
    refused = client.get("/api/v1/disbursements?format=csv&sort=payee", headers=keys.finance)
    assert refused.status_code == 422


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_exported_ledger_imports_as_already_posted(
    client: TestClient, keys: Keys, session: Session, lang: str
) -> None:
    """Export headings are those the CSV import reads: re-importing posts nothing twice."""
    _, item = make_programme(session)
    project = make_project(session, item, code="EXP-ROUND")
    for n, payee in enumerate(("平罗县城关第九小学", "宁夏某设备供应商（测试）")):
        posted = client.post(
            "/api/v1/disbursements",
            json={**payment(project.id, f"{n + 1}234.50", f"RT-{n}", payee=payee), "memo": "摘要"},
            headers=keys.finance,
        )
        assert posted.status_code == 201, posted.text
    exported = client.get(
        "/api/v1/disbursements",
        params={"format": "csv", "lang": lang, "project_id": project.id},
        headers=keys.finance,
    )
    imported = client.post(
        "/api/v1/disbursements/import",
        content=exported.content,
        headers={**keys.finance, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    assert (imported.json()["posted"], imported.json()["already_posted"]) == (0, 2)


def test_an_empty_export_has_its_heading(client: TestClient, keys: Keys) -> None:
    response = client.get("/api/v1/disbursements?format=csv&voucher_no=none", headers=keys.admin)
    assert response.content.decode("utf-8-sig").startswith("id,kind,paid_on,")
    assert _rows(response) == []
    book = load_workbook(
        io.BytesIO(
            client.get(
                "/api/v1/disbursements?format=xlsx&voucher_no=none", headers=keys.admin
            ).content
        )
    )
    assert book.worksheets[0].max_row == 1


def test_thousands_of_entries_stream_completely(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("900000000.00"), code="EXP-BULK")
    first = client.post(
        "/api/v1/disbursements", json=payment(project.id, "0.01", "BULK-0"), headers=keys.finance
    )
    assert first.status_code == 201, first.text
    entry = first.json()
    count = 3000
    amounts = [Decimal(n) * Decimal("1.01") for n in range(1, count)]
    county = session.execute(
        sa.select(col(FundingSource.id)).where(col(FundingSource.code) == "county")
    ).scalar_one()
    now = utcnow()
    # Core inserts, and the running balances moved to match (the ledger tests reconcile them).
    session.execute(
        sa.insert(Disbursement),
        [
            {
                "programme_id": entry["programme_id"],
                "project_id": project.id,
                "funding_source_id": county,
                "kind": "payment",
                "amount": amount,
                "paid_on": date(2023, 6, 29 + n % 2),
                "payee": f"供货商{n}",
                "voucher_no": f"BULK-{n}",
                "created_at": now,
            }
            for n, amount in enumerate(amounts, 1)
        ],
    )
    added = sum(amounts, Decimal(0))
    session.execute(
        sa.update(ProjectBalance)
        .where(col(ProjectBalance.project_id) == project.id)
        .values(
            disbursed=ProjectBalance.disbursed + added,
            payments=ProjectBalance.payments + len(amounts),
        )
    )
    session.execute(
        sa.update(ProjectFunding)
        .where(
            col(ProjectFunding.project_id) == project.id,
            col(ProjectFunding.funding_source_id) == county,
        )
        .values(disbursed=ProjectFunding.disbursed + added)
    )
    session.commit()
    response = client.get(
        "/api/v1/disbursements",
        params={"format": "csv", "project_id": project.id, "sort": "-amount"},
        headers=keys.finance,
    )
    rows = _rows(response)
    assert len(rows) == count
    assert rows[0]["voucher_no"] == f"BULK-{count - 1}"
    assert rows[-1]["voucher_no"] == "BULK-0"
    assert len({r["id"] for r in rows}) == count
    listed = _json_list(client, keys.finance, project_id=project.id)
    assert (
        sum(Decimal(r["amount"]) for r in rows) == Decimal(listed["sum"]) == added + Decimal("0.01")
    )


@pytest.fixture
def committed(committed_app: FastAPI, engine: Engine) -> dict[str, Any]:
    with Session(engine, expire_on_commit=False) as s:
        _, item = make_programme(s)
        project = make_project(s, item, estimate=Decimal("1000000.00"), code="EXP-COMMIT")
        _, key = make_key(s, Role.finance)
        s.commit()
    return {
        "client": TestClient(committed_app),
        "project": project,
        "headers": {"Authorization": f"Bearer {key}"},
    }


def test_streams_through_its_own_connection(committed: dict[str, Any]) -> None:
    """After the request's session has closed, on the real engine (server-side cursor on
    PostgreSQL), committed entries stream; a write right after is not held up."""
    client, headers, project = committed["client"], committed["headers"], committed["project"]
    for n in range(3):
        posted = client.post(
            "/api/v1/disbursements",
            json=payment(project.id, f"{n + 1}00.00", f"C-{n}", payee="平罗县城关第九小学"),
            headers=headers,
        )
        assert posted.status_code == 201, posted.text
    rows = _rows(client.get("/api/v1/disbursements?format=csv", headers=headers))
    assert [(r["voucher_no"], r["amount"], r["payee"]) for r in rows] == [
        ("C-0", "100.00", "平罗县城关第九小学"),
        ("C-1", "200.00", "平罗县城关第九小学"),
        ("C-2", "300.00", "平罗县城关第九小学"),
    ]
    book = load_workbook(
        io.BytesIO(client.get("/api/v1/disbursements?format=xlsx", headers=headers).content)
    )
    assert book.worksheets[0].max_row == 4
    after = client.post(
        "/api/v1/disbursements", json=payment(project.id, "1.00", "C-3"), headers=headers
    )
    assert after.status_code == 201, after.text
