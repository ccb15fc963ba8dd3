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

from app.auth.actor import Actor
from app.auth.models import Role
from app.contracts.models import Contract
from app.exports.dependencies import Lang
from app.exports.service import csv_chunks
from app.exports.tables import ColumnBatches, Sheet
from app.funding.models import FundingSource
from app.inputs import identifier_key
from app.labels import ENTRY_KIND
from app.ledger import balances
from app.ledger.exports import LEDGER_COLUMNS, _batches, ledger_export_query
from app.ledger.models import Disbursement
from app.ledger.service import SORTS, LedgerFilters
from app.params import parse_sort
from app.projects.models import BudgetLine, Project
from app.timeutil import utcnow
from tests.factories import (
    Keys,
    guard_lifted,
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
                "payee_differs_reason": "代发农民工工资（测试）",
            },
            headers=keys.finance,
        )
        assert response.status_code == 201, response.text
        ids[voucher] = response.json()["id"]
    reversal = client.post(
        f"/api/v1/disbursements/{ids['L-1']}/reversals",
        json={
            "amount": "5.00",
            "reason": "多付，冲回（测试）",
            "reversed_on": "2023-07-01",
            "voucher_no": "红字-01",
        },
        headers=keys.finance,
    )
    assert reversal.status_code == 201, reversal.text
    response = client.post(
        "/api/v1/disbursements",
        json={
            **payment(other.id, "777.77", "X-1", payee="另一家（测试）"),
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
    assert reversal["voucher_no"] == "红字-01"
    assert reversal["created_at"].endswith("Z")


def _reverse(
    client: TestClient, keys: Keys, posted: dict[str, int], reversals: dict[str, Any]
) -> None:
    """Post each reversal (a body by the voucher of the payment it reverses)."""
    for voucher, reversal in reversals.items():
        response = client.post(
            f"/api/v1/disbursements/{posted[voucher]}/reversals",
            json=reversal,
            headers=keys.finance,
        )
        assert response.status_code == 201, response.text


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
            "payee_differs_reason": "代发农民工工资（测试）",
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
    _reverse(
        client,
        keys,
        posted,
        {
            "C-2": {"reason": "=全额冲回", "reversed_on": "2023-07-01", "voucher_no": "红字-02"},
            "C-1": {
                "amount": "5.00",
                "reason": "多付，冲回",
                "reversed_on": "2023-07-02",
                "voucher_no": "红字-03",
            },
        },
    )
    # A timestamp on a whole second is written without a fraction, as the JSON list writes it.
    with guard_lifted(session.connection()):
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
            "payee_differs_reason": _inert(entry["payee_differs_reason"] or ""),
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
    # The entry kinds are words too, in CSV and XLSX (and the import reads them back).
    kinds = [row["类型"] for row in _rows(response)]
    assert set(kinds) == {"支付", "红字冲销"}
    column = heading.index("类型")
    assert [row[column].value for row in book.worksheets[0].iter_rows(min_row=2)] == kinds


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
    assert vouchers(kind="reversal") == ["红字-01"]
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
    # Core inserts, and the balances moved to match (the ledger tests reconcile them).
    entries = [
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
    ]
    session.execute(sa.insert(Disbursement), entries)
    balances.move(session.connection(), entries)
    added = sum(amounts, Decimal(0))
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


# Text that CSV and COPY both treat specially: separators, quotes, line breaks (alone, first,
# last), formula starts, backslashes (COPY's escape character) and Chinese.
AWKWARD = [
    "a,b",
    'say "hi"',
    "line1\nline2",
    "cr\rinside",
    "\rCR first",
    "\tTab first",
    "=1+1",
    "+86 电话",
    "-负数开头",
    "@SUM(A1)",
    "back\\slash \\n, not a line break",
    "tab\tinside",
    "ends with a line break\r\n",
    '"',
    "\\.",
    "宁夏某建设工程有限公司（测试）",
]


def _voucher(text: str) -> dict[str, str]:
    """A voucher number written straight into a row, with the key its column holds."""
    return {"voucher_no": text, "voucher_key": identifier_key(text)}


@pytest.fixture
def awkward(client: TestClient, keys: Keys, session: Session) -> dict[str, Any]:
    """Entries whose every text column (names included) is awkward; amounts from -max to max,
    sub-元 reversals; empty strings and NULLs; whole-second and fractional timestamps. Two
    projects: one with the test contractor's contract, one that the contractor can't see."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("999999999999.99"), code="AWK-1")
    plain = make_project(session, item, estimate=Decimal("999999999999.99"), code="AWK-0")
    hidden = make_project(session, item, estimate=Decimal("999999999999.99"), code="AWK-2")
    line = client.post(
        f"/api/v1/projects/{project.id}/budget-lines",
        json={"code": "BL-1", "name": "x", "cost_category": "other", "estimate": "1.00"},
        headers=keys.admin,
    )
    assert line.status_code == 201, line.text
    contract = make_contract(client, keys, project.id, "HT-1", "999999999999.99")
    plain_contract = make_contract(client, keys, plain.id, "HT-0", "999999999999.99")
    posted: dict[str, int] = {}
    amounts = ["0.05", "0.50", "1234.50", "99999999.99", "0.01", "100.00"]
    for number, payee in enumerate(AWKWARD):
        # Every third on the project without budget lines; every other on a contract.
        lined = bool(number % 3)
        body = {
            **payment(
                project.id if lined else plain.id,
                amounts[number % len(amounts)],
                f"AWK-{number:02d}",
                paid_on=f"2023-{number % 12 + 1:02d}-{number % 28 + 1:02d}",
                payee=payee,
                budget_line_id=line.json()["id"] if lined else None,
            ),
            "memo": AWKWARD[-1 - number],
        }
        if number % 2:
            body["contract_id"] = (contract if lined else plain_contract)["id"]
            if payee != "宁夏某建设工程有限公司（测试）":
                body["payee_differs_reason"] = AWKWARD[number // 2]
        response = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
        assert response.status_code == 201, response.text
        posted[body["voucher_no"]] = response.json()["id"]  # type: ignore[index]
    response = client.post(
        "/api/v1/disbursements",
        json={
            **payment(hidden.id, "999999999999.99", "AWK-H", paid_on="2022-12-31", payee="别人的"),
            "memo": None,
        },
        headers=keys.finance,
    )
    assert response.status_code == 201, response.text
    posted["AWK-H"] = response.json()["id"]
    _reverse(
        client,
        keys,
        posted,
        {
            "AWK-00": {
                "reason": "=全额冲回",
                "reversed_on": "2023-12-01",
                "voucher_no": "红字-04",
            },  # -0.05
            "AWK-01": {
                "reason": "含,逗号\n和换行",
                "reversed_on": "2023-12-02",
                "voucher_no": "红字-05",
            },  # -0.50
            "AWK-02": {
                "amount": "5.00",
                "reason": '"引号"',
                "reversed_on": "2023-12-03",
                "voucher_no": "红字-06",
            },
            # The reversals' sum is -999999999999.99, the most a JSON sum can be (-max).
            "AWK-H": {
                "amount": "999999999994.44",
                "reason": "-",
                "reversed_on": "2023-12-04",
                "voucher_no": "红字-07",
            },
        },
    )
    # What the API doesn't take but a column can hold: awkward vouchers and names, empty
    # strings (not NULL), control characters COPY escapes; times on a whole second or not.
    changes: list[tuple[Any, int | None, dict[str, Any]]] = [
        (Disbursement, posted["AWK-04"], {**_voucher("=V,1"), "memo": ""}),
        (Disbursement, posted["AWK-05"], {**_voucher('+V"2"'), "memo": "\x08\x0b\x0c\x1f"}),
        (Disbursement, posted["AWK-06"], {**_voucher("\tV-3"), "payee": ""}),
        (Disbursement, posted["AWK-07"], {"memo": "\\b\\f\\v\\\\"}),
        (Project, project.id, {"code": "-AWK,1", "name": '=项目"名"\n第二行'}),
        (BudgetLine, line.json()["id"], {"code": "@BL,1", "name": "\r预算\t科目\\"}),
        (Contract, contract["id"], {"contract_no": '+HT,"1"'}),
        (FundingSource, None, {"code": "=county", "name": "县级,财政\n（测试）"}),
    ]
    with guard_lifted(session.connection()):
        for table, row_id, values in changes:
            where = (
                col(FundingSource.code) == "county" if row_id is None else col(table.id) == row_id
            )
            session.execute(sa.update(table).where(where).values(**values))
        # A whole second, a quarter second and one microsecond past a second, in turn.
        for number, entry_id in enumerate(posted.values()):
            stamp = datetime(2023, 6, 30, 8, 0, number, (0, 250_000, 1)[number % 3], tzinfo=UTC)
            session.execute(
                sa.update(Disbursement)
                .where(col(Disbursement.id) == entry_id)
                .values(created_at=stamp)
            )
    session.commit()
    return {"project": project, "line": line.json()["id"], "contract": contract["id"]}


def _expected_csv(
    client: TestClient, headers: dict[str, str], params: dict[str, Any], session: Session
) -> bytes:
    """The export as the csv module writes the JSON list's entries (the same filters and
    order), with the names, and the prefix of text a spreadsheet would run as a formula."""
    listed = _json_list(client, headers, **params)["items"]
    assert len(listed) < 500

    def by_id(*columns: Any) -> dict[Any, Any]:
        rows = session.execute(sa.select(*columns)).all()
        return {row[0]: row[1] if len(row) == 2 else tuple(row[1:]) for row in rows}

    projects = by_id(Project.id, Project.code, Project.name)
    lines = by_id(BudgetLine.id, BudgetLine.code, BudgetLine.name)
    contracts = by_id(Contract.id, Contract.contract_no)
    sources = by_id(FundingSource.code, FundingSource.name)
    stored = by_id(
        Disbursement.id,
        Disbursement.kind,
        Disbursement.project_id,
        Disbursement.budget_line_id,
        Disbursement.contract_id,
        Disbursement.payee,
        Disbursement.voucher_no,
        Disbursement.memo,
        Disbursement.payee_differs_reason,
        Disbursement.reason,
    )
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    zh = params.get("lang") == "zh"
    writer.writerow([c.zh if zh else c.en for c in LEDGER_COLUMNS])
    for item in listed:
        # Text as stored: the JSON list is read through the same database.
        kind, project_id, line_id, contract_id, payee, voucher, memo, differs, reason = stored[
            item["id"]
        ]
        line_code, line_name = lines.get(line_id, (None, None))
        source_code = item["funding_source"]
        writer.writerow(
            [
                item["id"],
                ENTRY_KIND[kind] if zh else kind,  # in Chinese, the kind's word
                item["paid_on"],
                _inert(projects[project_id][0]),
                _inert(projects[project_id][1]),
                line_code and _inert(line_code),
                line_name and _inert(line_name),
                contract_id and _inert(contracts[contract_id]),
                item["amount"],
                _inert(payee),
                voucher and _inert(voucher),
                _inert(source_code),
                _inert(sources[source_code]),
                memo and _inert(memo),
                differs and _inert(differs),
                item["reverses_id"],
                reason and _inert(reason),
                item["created_at"],
            ]
        )
    return b"\xef\xbb\xbf" + text.getvalue().encode("utf-8")


def _python_writer_csv(
    client: TestClient, actor: Actor, filters: LedgerFilters, order: str | None, lang: Lang
) -> bytes:
    """The same export through the column-batch writer (the path XLSX, and SQLite's CSV,
    take), for the byte-for-byte comparison with what PostgreSQL writes."""
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    sort = parse_sort(order, SORTS, default="paid_on")
    query = ledger_export_query(actor=actor, filters=filters, sort=sort)
    sheet = Sheet(
        name="",
        name_zh="",
        columns=LEDGER_COLUMNS,
        rows=ColumnBatches(_batches(factory, query, lang)),
    )
    return b"".join(csv_chunks([sheet], lang=lang))


@pytest.mark.parametrize(
    "role, params",
    [
        ("finance", {}),
        ("contractor", {}),
        ("viewer", {"lang": "zh"}),
        ("finance", {"sort": "-amount"}),
        ("finance", {"sort": "voucher_no,-paid_on"}),
        ("finance", {"sort": "-created_at"}),
        ("finance", {"kind": "reversal", "sort": "amount"}),
        ("finance", {"from": "2023-03-01", "to": "2023-08-31"}),
        ("finance", {"funding_source": "县级,财政\n（测试）"}),
        ("contractor", {"budget_line": True, "sort": "-paid_on"}),
        ("finance", {"contract": True}),
        ("finance", {"voucher_no": "=V,1"}),
    ],
)
def test_awkward_text_is_written_byte_for_byte_as_the_csv_module_would(
    client: TestClient,
    keys: Keys,
    session: Session,
    awkward: dict[str, Any],
    role: str,
    params: dict[str, Any],
) -> None:
    """On either engine (PostgreSQL writes the lines in SQL), the export's bytes are those of
    the csv module writing the JSON list's entries, and those of the column-batch writer."""
    params = dict(params)
    if params.pop("budget_line", False):
        params["budget_line_id"] = awkward["line"]
    if params.pop("contract", False):
        params["contract_id"] = awkward["contract"]
    headers = keys.for_role(role)
    response = client.get(
        "/api/v1/disbursements", params={"format": "csv", **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    expected = _expected_csv(client, headers, params, session)
    assert response.content == expected
    assert len(_rows(response)) == len(_json_list(client, headers, **params)["items"]) > 0

    actor = Actor(
        key_id=keys.ids[role],
        name=role,
        role=Role(role),
        contractor_id=keys.contractor_id if role == "contractor" else None,
    )
    filters = LedgerFilters(
        project_id=params.get("project_id"),
        budget_line_id=params.get("budget_line_id"),
        contract_id=params.get("contract_id"),
        funding_source=params.get("funding_source"),
        voucher_no=params.get("voucher_no"),
        kind=params.get("kind"),
        since=date.fromisoformat(params["from"]) if "from" in params else None,
        until=date.fromisoformat(params["to"]) if "to" in params else None,
    )
    lang = Lang(params.get("lang", "en"))
    assert response.content == _python_writer_csv(client, actor, filters, params.get("sort"), lang)
