"""Importing a month of payments from a spreadsheet: all rows or none, Excel's encodings, errors
named by the spreadsheet's row and column, and the key checked before the file is read."""

import codecs
import io
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlmodel import Session, func, select

from app.config import Settings
from app.ledger.imports import MAX_ERRORS
from app.ledger.models import ProjectBalance
from app.main import create_app
from tests.factories import Keys, if_match, make_contract, make_programme, make_project, payment

HEAD_ZH = "项目编号,预算科目,金额,支付日期,收款单位,凭证号,资金来源,摘要\r\n"
HEAD_EN = "project,budget_line,amount,paid_on,payee,voucher_no,funding_source,memo\r\n"
# English headings without the optional memo column.
HEAD = "project,budget_line,amount,paid_on,payee,voucher_no,funding_source\r\n"


@pytest.fixture
def projects(session: Session) -> Any:
    _, item = make_programme(session)
    a = make_project(session, item, estimate=Decimal("1000000.00"), code="IMP-A")
    b = make_project(session, item, estimate=Decimal("50000.00"), code="IMP-B")
    return a, b


def _csv(head: str, *rows: str) -> str:
    return head + "".join(r + "\r\n" for r in rows)


MONTH = _csv(
    HEAD_ZH,
    'IMP-A,,"1,200,000.00",2023-06-05,宁夏某建设工程有限公司,记-06-001,县级财政,进度款（测试）',
    "IMP-A,,300000.50,2023/6/12,宁夏某建设工程有限公司,记-06-002,中央预算内投资,",
    'IMP-B,,49999.99,2023年6月20日,某设备供应商,记-06-003,自筹,"课桌凳，第一批"',
)
MONTH_OK = MONTH.replace('"1,200,000.00"', '"200,000.00"')


def _post(client: TestClient, keys: Keys, body: bytes, **params: Any) -> Any:
    return client.post(
        "/api/v1/disbursements/import",
        content=body,
        params=params,
        headers={**keys.finance, "Content-Type": "text/csv"},
    )


def _import(client: TestClient, keys: Keys, text: str, **params: Any) -> Any:
    return _post(client, keys, text.encode(), **params)


def _total(client: TestClient, keys: Keys) -> Any:
    listing = client.get("/api/v1/disbursements", headers=keys.viewer).json()
    return listing["total"], listing["sum"]


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8"),
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: text.encode("gb18030"),
    ],
    ids=["utf-8", "utf-8-bom", "gb18030"],
)
def test_a_month_imports_in_each_encoding(
    client: TestClient, keys: Keys, projects: Any, encode: Any
) -> None:
    response = _post(client, keys, encode(MONTH_OK))
    assert response.status_code == 201, response.text
    summary = response.json()
    assert (summary["rows"], summary["posted"], summary["already_posted"], summary["total"]) == (
        3,
        3,
        0,
        "550000.49",
    )
    assert [w["row"] for w in summary["warnings"]] == [4]  # 49999.99 of 50000.00
    entries = client.get(
        "/api/v1/disbursements", params={"sort": "voucher_no"}, headers=keys.viewer
    ).json()
    assert [
        (e["project_code"], e["amount"], e["paid_on"], e["funding_source"], e["memo"])
        for e in entries["items"]
    ] == [
        ("IMP-A", "200000.00", "2023-06-05", "county", "进度款（测试）"),
        ("IMP-A", "300000.50", "2023-06-12", "central_budget", None),
        ("IMP-B", "49999.99", "2023-06-20", "self_raised", "课桌凳，第一批"),
    ]


def test_one_bad_row_posts_nothing_and_names_the_row(
    client: TestClient, keys: Keys, projects: Any
) -> None:
    bad = _csv(
        HEAD_EN,
        "IMP-A,,100.00,2023-06-01,甲公司,V-1,county,",
        "IMP-A,,100.001,2023-06-02,甲公司,V-2,county,",
        "IMP-X,,5.00,2023-06-03,乙公司,V-3,county,",
        "IMP-A,,5.00,2023-13-03,乙公司,V-4,县级财政,",
        "IMP-A,,5.00,2023-06-04,乙公司,V-1,nowhere,",
    )
    response = _post(client, keys, bad.encode())
    assert response.status_code == 422
    problem = response.json()
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [
        (3, "amount"),
        (4, "project"),
        (5, "paid_on"),
        (6, "voucher_no"),
    ]
    assert "nothing was posted" in problem["detail"]
    assert _total(client, keys) == (0, "0.00")


def test_budget_policy_applies_row_by_row(client: TestClient, keys: Keys, projects: Any) -> None:
    _, b = projects
    client.patch(
        f"/api/v1/projects/{b.id}",
        json={"budget_policy": "block"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{b.id}")},
    )
    over = _csv(
        HEAD_EN,
        "IMP-B,,30000.00,2023-06-01,甲公司,V-1,county,",
        "IMP-B,,30000.00,2023-06-02,甲公司,V-2,county,",
    )
    response = _post(client, keys, over.encode())
    assert response.status_code == 422
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(3, "amount")]
    assert _total(client, keys) == (0, "0.00")


def test_dry_run_writes_nothing(client: TestClient, keys: Keys, projects: Any) -> None:
    audit_before = client.get("/api/v1/audit", headers=keys.admin).json()["total"]
    response = _post(client, keys, MONTH_OK.encode("gb18030"), dry_run="true")
    assert response.status_code == 200
    summary = response.json()
    assert (summary["dry_run"], summary["posted"], summary["entries"]) == (True, 3, [])
    assert summary["message"].startswith("would post 3 payments")
    assert _total(client, keys) == (0, "0.00")
    assert client.get("/api/v1/audit", headers=keys.admin).json()["total"] == audit_before


def test_reimport_is_a_no_op_that_says_so(client: TestClient, keys: Keys, projects: Any) -> None:
    assert _post(client, keys, MONTH_OK.encode()).status_code == 201
    again = _post(client, keys, MONTH_OK.encode("gb18030"))
    assert again.status_code == 200
    summary = again.json()
    assert (summary["posted"], summary["already_posted"]) == (0, 3)
    assert summary["message"] == "nothing new: all 3 vouchers in this file are already posted"
    assert _total(client, keys) == (3, "550000.49")
    changed = _post(client, keys, MONTH_OK.replace("300000.50", "300000.51").encode())
    assert changed.status_code == 422
    assert [(e["row"], e["field"]) for e in changed.json()["errors"]] == [(3, "voucher_no")]


def test_duplicate_voucher_in_the_file(client: TestClient, keys: Keys, projects: Any) -> None:
    twice = _csv(
        HEAD_EN, "IMP-A,,1.00,2023-06-01,甲,V-1,county,", "IMP-A,,2.00,2023-06-01,甲,V-1,county,"
    )
    response = _post(client, keys, twice.encode())
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == "voucher V-1 is also on row 2"


def test_missing_columns_and_unreadable_files(
    client: TestClient, keys: Keys, projects: Any
) -> None:
    no_amount = _post(
        client,
        keys,
        "project,paid_on,payee,voucher_no,funding_source\r\nIMP-A,2023-06-01,甲,V,county\r\n".encode(),
    )
    assert no_amount.status_code == 422
    assert [(e["row"], e["field"]) for e in no_amount.json()["errors"]] == [(1, "amount")]
    binary = _post(client, keys, b"\xff\xfe\x00\x81\x30\x81" * 10)
    assert binary.status_code == 422
    empty = _post(client, keys, HEAD_EN.encode())
    assert empty.status_code == 422


def test_size_limit(keys: Keys, projects: Any, app: Any, settings: Settings) -> None:
    small = create_app(
        settings.model_copy(update={"import_max_bytes": 2048}), app.state.session_factory
    )
    rows = (HEAD_EN + "IMP-A,,1.00,2023-06-01,甲,V,county,\r\n" * 100).encode()
    with TestClient(small) as client:
        response = _post(client, keys, rows)
        streamed = client.post(
            "/api/v1/disbursements/import",
            content=iter([rows[:1024], rows[1024:]]),  # chunked: no Content-Length
            headers={**keys.finance, "Content-Type": "text/csv"},
        )
        assert client.get("/api/v1/disbursements", headers=keys.viewer).json()["total"] == 0
    for refused in (response, streamed):
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"
        assert "larger than 2048 bytes" in refused.json()["detail"]


def test_who_may_import(client: TestClient, keys: Keys, projects: Any) -> None:
    response = client.post(
        "/api/v1/disbursements/import",
        content=MONTH_OK.encode(),
        headers={**keys.viewer, "Content-Type": "text/csv"},
    )
    assert response.status_code == 403


def test_csv_row_numbers_count_blank_lines(client: TestClient, keys: Keys, project: Any) -> None:
    text = (
        HEAD + "REV-A,,1.00,2023-06-01,甲,V-1,county\r\n\r\nREV-A,,abc,2023-06-01,甲,V-2,county\r\n"
    )
    response = _import(client, keys, text)
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(4, "amount")]


def test_csv_control_characters_are_a_row_error(
    client: TestClient, keys: Keys, project: Any
) -> None:
    response = _import(client, keys, HEAD + "REV-A\x00,,1.00,2023-06-01,甲,V-1,county\r\n")
    assert response.status_code == 422
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(2, "project")]


def test_csv_errors_name_the_spreadsheet_column(client: TestClient, keys: Keys, zl7: None) -> None:
    response = _import(client, keys, HEAD + "ZL7-6,,1.00,2023-06-01,甲,V-1,county\r\n")
    assert response.status_code == 422
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(2, "budget_line")]


def test_a_dry_run_writes_nothing_at_all(
    client: TestClient, keys: Keys, project: Any, session: Session
) -> None:
    response = _import(
        client, keys, HEAD + "REV-A,,1.00,2023-06-01,甲,V-1,county\r\n", dry_run="true"
    )
    assert response.status_code == 200
    balances = session.exec(select(func.count()).select_from(ProjectBalance)).one()
    assert balances == 0


def test_import_checks_the_key_before_reading_the_file(client: TestClient, app: Any) -> None:
    app.state.settings = app.state.settings.model_copy(update={"import_max_bytes": 2048})
    response = client.post(
        "/api/v1/disbursements/import", content=b"x" * 4096, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 401


# Vouchers and payees a spreadsheet would run as formulas, or that only look alike.
AWKWARD_VOUCHERS = ["-2023-0012", "+V1", "=V2", "@V3", "'V4", "'=V5", "记 2023 06", "ＶＸ－7"]
AWKWARD_PAYEES = [
    '=HYPERLINK("x")',
    "+86 宁夏",
    "-某公司",
    "@某供应商",
    "'引号公司",
    "'=x",
    "\t制表公司",
    "宁夏 某 公司，全角ＡＢＣ",
]


@pytest.fixture
def awkward_ledger(client: TestClient, keys: Keys, session: Session) -> Any:
    """Payments with awkward vouchers and payees on a project with budget lines and a
    contract, and a reversal whose voucher starts with '-'."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000000.00"), code="RT-1")
    line = client.post(
        f"/api/v1/projects/{project.id}/budget-lines",
        json={"code": "RT-1-1", "name": "图书", "cost_category": "other", "estimate": "900000.00"},
        headers=keys.admin,
    )
    assert line.status_code == 201, line.text
    contract = make_contract(client, keys, project.id, "=HT-1", "500000.00")
    paid = []
    for number, (voucher, payee) in enumerate(zip(AWKWARD_VOUCHERS, AWKWARD_PAYEES, strict=True)):
        body = {
            **payment(
                project.id,
                f"{number + 1}000.50",
                voucher,
                payee=payee,
                budget_line_id=line.json()["id"],
            ),
            "memo": "=摘要" if number % 2 else None,
        }
        if number % 3 == 0:
            body["contract_id"] = contract["id"]
            body["payee_differs_reason"] = "=代付（测试）"
        response = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
        assert response.status_code == 201, response.text
        paid.append(response.json())
    reversal = client.post(
        f"/api/v1/disbursements/{paid[0]['id']}/reversals",
        json={
            "amount": "0.50",
            "reason": "多付",
            "reversed_on": "2023-07-01",
            "voucher_no": "-红字-1",
        },
        headers=keys.finance,
    )
    assert reversal.status_code == 201, reversal.text
    return project


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_export_reimports_as_already_posted(
    client: TestClient, keys: Keys, awkward_ledger: Any, fmt: str, lang: str
) -> None:
    before = _total(client, keys)
    assert before == (9, "36003.50")
    exported = client.get(
        "/api/v1/disbursements", params={"format": fmt, "lang": lang}, headers=keys.finance
    )
    assert exported.status_code == 200, exported.text
    imported = _post(client, keys, exported.content)
    assert imported.status_code == 200, imported.text
    summary = imported.json()
    assert (summary["posted"], summary["already_posted"]) == (0, 9)
    assert sorted(summary["skipped_vouchers"]) == sorted([*AWKWARD_VOUCHERS[:7], "VX-7", "-红字-1"])
    assert _total(client, keys) == before


def test_an_import_undoes_exactly_the_exports_protection(
    client: TestClient, keys: Keys, project: Any
) -> None:
    text = HEAD + "REV-A,,1.00,2023-06-01,'=甲,'-2023-0012,county\r\n"
    posted = _import(client, keys, text)
    assert posted.status_code == 201, posted.text
    entry = client.get("/api/v1/disbursements", headers=keys.viewer).json()["items"][0]
    assert (entry["payee"], entry["voucher_no"]) == ("=甲", "-2023-0012")
    # A ' a person typed before anything else is theirs: it stays.
    kept = _import(client, keys, HEAD + "REV-A,,1.00,2023-06-01,'甲,'V-2,county\r\n")
    assert kept.status_code == 201, kept.text
    listed = client.get("/api/v1/disbursements", params={"voucher_no": "'V-2"}, headers=keys.viewer)
    assert [e["payee"] for e in listed.json()["items"]] == ["'甲"]


@pytest.mark.parametrize("typed", ["vcx-1", " VCX-1", "VCX－1"])
def test_an_imported_voucher_is_one_voucher_however_it_is_typed(
    client: TestClient, keys: Keys, project: Any, typed: str
) -> None:
    first = _import(client, keys, HEAD + "REV-A,,1.00,2023-06-01,甲,VCX-1,county\r\n")
    assert first.status_code == 201, first.text
    again = _import(client, keys, HEAD + f"REV-A,,1.00,2023-06-01,甲,{typed},county\r\n")
    assert again.status_code == 200, again.text
    assert (again.json()["posted"], again.json()["already_posted"]) == (0, 1)
    assert _total(client, keys) == (1, "1.00")


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("REV-A,,1.00,2023-06-01,甲,VCX\u200b-1,county", "voucher_no"),
        ("REV-A,,1.00,2023-06-01,甲,\u3000,county", "voucher_no"),
        ("REV-A,,1.00,2023-06-01,\u3000 ,V-1,county", "payee"),
    ],
)
def test_blank_or_invisible_identifiers_are_row_errors(
    client: TestClient, keys: Keys, project: Any, row: str, field: str
) -> None:
    response = _import(client, keys, HEAD + row + "\r\n")
    assert response.status_code == 422, response.text
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(2, field)]
    assert _total(client, keys) == (0, "0.00")


def test_budget_lines_by_code_or_name(client: TestClient, keys: Keys, zl7: None) -> None:
    text = _csv(
        HEAD,
        "ＺＬ７－６,图书,1.00,2023-06-01,甲,V-1,county",
        "ZL7-6,zl7-6-5,2.00,2023-06-01,甲,V-2,county",
        "ZL7-6,报刊,3.00,2023-06-01,甲,V-3,county",
    )
    refused = _import(client, keys, text)
    assert refused.status_code == 422
    assert [(e["row"], e["field"]) for e in refused.json()["errors"]] == [(4, "budget_line")]
    response = _import(client, keys, text.rsplit("ZL7-6,报刊", 1)[0])
    assert response.status_code == 201, response.text
    entries = client.get(
        "/api/v1/disbursements", params={"sort": "voucher_no"}, headers=keys.viewer
    ).json()["items"]
    lines = client.get("/api/v1/projects/ZL7-6", headers=keys.viewer).json()["budget_lines"]
    codes = {line["id"]: line["code"] for line in lines}
    assert [codes[e["budget_line_id"]] for e in entries] == ["ZL7-6-6", "ZL7-6-5"]


def test_a_multipart_upload(client: TestClient, keys: Keys, projects: Any) -> None:
    response = client.post(
        "/api/v1/disbursements/import",
        files={"file": ("2023-06.csv", MONTH_OK.encode("gb18030"), "text/csv")},
        headers=keys.finance,
    )
    assert response.status_code == 201, response.text
    assert response.json()["posted"] == 3
    no_file = client.post(
        "/api/v1/disbursements/import",
        files={"other": ("x.csv", MONTH_OK.encode(), "text/csv")},
        headers=keys.finance,
    )
    assert no_file.status_code == 422
    assert [e["field"] for e in no_file.json()["errors"]] == ["file"]
    assert _total(client, keys) == (3, "550000.49")


def test_an_xlsx_file(client: TestClient, keys: Keys, projects: Any) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["项目编号", "金额", "支付日期", "收款单位", "凭证号", "资金来源"])
    sheet.append(["IMP-A", 1234.5, date(2023, 6, 5), "+某公司", "X-1", "县级财政"])
    # Text cells are text: a leading ' comes off only in CSV, where the exporter puts one.
    sheet.append(["IMP-B", "0.10", "2023-06-06", "'=乙", "X-2", "county"])
    body = io.BytesIO()
    book.save(body)
    response = _post(client, keys, body.getvalue())
    assert response.status_code == 201, response.text
    assert response.json()["total"] == "1234.60"
    payees = [
        e["payee"] for e in client.get("/api/v1/disbursements", headers=keys.viewer).json()["items"]
    ]
    assert sorted(payees) == ["'=乙", "+某公司"]
    damaged = _post(client, keys, b"PK\x03\x04" + b"\x00" * 100)
    assert damaged.status_code == 422
    assert [e["field"] for e in damaged.json()["errors"]] == ["file"]


def _xlsx(*rows: list[Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["项目编号", "金额", "支付日期", "收款单位", "凭证号", "资金来源"])
    for row in rows:
        sheet.append(row)
    body = io.BytesIO()
    book.save(body)
    return body.getvalue()


def _with_cell_text(workbook: bytes, old: str, new: str, *, every: bool = False) -> bytes:
    """The workbook with a cell's stored text replaced in its first sheet's XML (the first
    occurrence, or every one)."""
    source, target = zipfile.ZipFile(io.BytesIO(workbook)), io.BytesIO()
    with zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert old.encode() in data
                data = data.replace(old.encode(), new.encode(), -1 if every else 1)
            out.writestr(item, data)
    return target.getvalue()


def test_an_xlsx_number_cell_is_the_amount_it_shows_or_refused(
    client: TestClient, keys: Keys, projects: Any
) -> None:
    """Excel keeps numbers as doubles: a cell that shows a two-decimal amount is that amount
    exactly; a cell whose double is no such amount (a formula's 0.1 + 0.2) is refused, never
    rounded."""
    # openpyxl writes 0.3; Excel writes such a formula's value with 17 digits, as here.
    workbook = _xlsx(["IMP-A", 0.3, "2023-06-05", "甲", "F-1", "county"])
    inexact = _post(
        client, keys, _with_cell_text(workbook, "<v>0.3</v>", "<v>0.30000000000000004</v>")
    )
    assert inexact.status_code == 422, inexact.text
    assert [(e["row"], e["field"]) for e in inexact.json()["errors"]] == [(2, "amount")]
    assert _total(client, keys) == (0, "0.00")

    exact = _post(
        client,
        keys,
        _xlsx(
            ["IMP-A", 999999.99, "2023-06-05", "甲", "F-2", "county"],
            ["IMP-B", 0.07, "2023-06-05", "乙", "F-3", "county"],
            ["IMP-B", 49999.93, "2023-06-05", "乙", "F-4", "county"],
        ),
    )
    assert exact.status_code == 201, exact.text
    assert _total(client, keys) == (3, "1049999.99")


def test_an_xlsx_table_is_read_from_a1_of_the_first_worksheet(
    client: TestClient, keys: Keys, projects: Any
) -> None:
    """A chart sheet before the worksheet, a table from column C with an empty row in it,
    whole numbers for a project id and a voucher: rows and columns are Excel's, and 20230012
    is the voucher 20230012, not 20230012.0."""
    a, _b = projects
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    book.create_chartsheet("图表", 0)
    table = [
        ["项目编号", "金额", "支付日期", "收款单位", "凭证号", "资金来源"],
        [a.id, 1500, datetime(2023, 6, 5), "甲", 20230012, "county"],
        [],
        ["IMP-B", 12.5, "2023-06-06", "乙", "X-2", "county"],
        ["IMP-Z", 1, "2023-06-07", "丙", "X-3", "county"],
    ]
    for row_no, row in enumerate(table, start=1):
        for column_no, value in enumerate(row, start=3):
            sheet.cell(row=row_no, column=column_no, value=value)
    body = io.BytesIO()
    book.save(body)
    refused = _post(client, keys, body.getvalue())
    assert refused.status_code == 422, refused.text
    assert [(e["row"], e["field"]) for e in refused.json()["errors"]] == [(5, "project")]
    sheet.delete_rows(5)
    body = io.BytesIO()
    book.save(body)
    posted = _post(client, keys, body.getvalue())
    assert posted.status_code == 201, posted.text
    entries = client.get(
        "/api/v1/disbursements", params={"sort": "paid_on"}, headers=keys.viewer
    ).json()["items"]
    assert [(e["project_code"], e["amount"], e["paid_on"], e["voucher_no"]) for e in entries] == [
        ("IMP-A", "1500.00", "2023-06-05", "20230012"),
        ("IMP-B", "12.50", "2023-06-06", "X-2"),
    ]
    # The heading row is the sheet's first, as a CSV's is its first line.
    sheet.insert_rows(1)
    body = io.BytesIO()
    book.save(body)
    lower = _post(client, keys, body.getvalue())
    assert lower.status_code == 422, lower.text
    assert {e["row"] for e in lower.json()["errors"]} == {1}


def _far_cell_workbook() -> bytes:
    """A chart sheet, then a worksheet with a heading row, one payment, and one cell at
    Z200000: a few KB that the reader would hold as a grid of 5,200,000 cells."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    book.create_chartsheet("图表", 0)
    sheet.append(["项目编号", "金额", "支付日期", "收款单位", "凭证号", "资金来源"])
    sheet.append(["IMP-A", 1, "2023-06-05", "甲", "FAR-1", "county"])
    sheet.cell(row=200_000, column=26, value="x")
    body = io.BytesIO()
    book.save(body)
    return body.getvalue()


@pytest.mark.parametrize("prefixed", [False, True], ids=["plain", "namespace-prefixed"])
def test_an_xlsx_sheet_too_large_to_hold_is_refused_before_it_is_read(
    client: TestClient, keys: Keys, projects: Any, prefixed: bool
) -> None:
    workbook = _far_cell_workbook()
    assert len(workbook) < 20_000
    if prefixed:
        for old, new in ((b"<c ", b"<x:c "), (b"</c>", b"</x:c>"), (b"<row ", b"<x:row ")):
            workbook = _with_cell_text(workbook, old.decode(), new.decode(), every=True)
        workbook = _with_cell_text(workbook, "</row>", "</x:row>", every=True)
        workbook = _with_cell_text(
            workbook,
            "<worksheet ",
            '<worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ',
        )
    response = _post(client, keys, workbook)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["file"]
    assert "5,200,000 cells" in response.json()["detail"]
    assert _total(client, keys) == (0, "0.00")


def test_an_xlsx_sheet_without_cell_references_is_read_in_order(
    client: TestClient, keys: Keys, projects: Any
) -> None:
    """References are optional in the format: cells without one follow the cell before."""
    workbook = _xlsx(
        ["IMP-A", 1500, "2023-06-05", "甲", "NR-1", "county"],
        ["IMP-B", 12.5, "2023-06-06", "乙", "NR-2", "county"],
    )
    for column in "ABCDEF":
        for row in (1, 2, 3):
            workbook = _with_cell_text(workbook, f' r="{column}{row}"', "")
    response = _post(client, keys, workbook)
    assert response.status_code == 201, response.text
    assert (response.json()["posted"], response.json()["total"]) == (2, "1512.50")


def test_the_errors_reported_are_the_first_rows_errors(
    client: TestClient, keys: Keys, projects: Any
) -> None:
    """At most MAX_ERRORS are listed: those of the first bad rows, in row order, whatever
    kind of error each is."""
    rows = ["IMP-Z,,1.00,2023-06-01,甲,E-1,county"]
    rows += [f"IMP-A,,1.00,2023-06-01,甲\x07,E-{n},county" for n in range(2, MAX_ERRORS + 100)]
    response = _import(client, keys, _csv(HEAD, *rows))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert len(errors) == MAX_ERRORS
    assert (errors[0]["row"], errors[0]["field"]) == (2, "project")
    assert [e["row"] for e in errors] == list(range(2, MAX_ERRORS + 2))
    assert {e["field"] for e in errors[1:]} == {"payee"}


@pytest.mark.parametrize("body", [b"", codecs.BOM_UTF8])
def test_an_empty_body_says_so(client: TestClient, keys: Keys, projects: Any, body: bytes) -> None:
    response = _post(client, keys, body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"].startswith("the body is empty")
    assert [e["field"] for e in problem["errors"]] == ["file"]


@pytest.mark.parametrize(
    ("head", "named"),
    [
        ("project,amount,paid_on,payee,voucher_no,funding_source,payee", "payee"),
        ("project,amount,paid_on,payee,voucher_no,funding_source,收款单位", "payee"),
    ],
)
def test_a_heading_twice_is_refused(
    client: TestClient, keys: Keys, projects: Any, head: str, named: str
) -> None:
    text = head + "\r\nIMP-A,1.00,2023-06-01,甲,V-1,county,乙\r\n"
    response = _import(client, keys, text)
    assert response.status_code == 422
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(1, named)]
    assert _total(client, keys) == (0, "0.00")


def _zip(**members: bytes) -> bytes:
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return body.getvalue()


def _empty_workbook() -> bytes:
    body = io.BytesIO()
    Workbook().save(body)
    return body.getvalue()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_zip(**{"hello.txt": b"not a workbook"}), "text/csv"),
        (_zip(**{"[Content_Types].xml": b"<Types"}), "text/csv"),
        (_empty_workbook(), "text/csv"),
        (b"--x\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--x--\r\n", "multipart/form-data"),
        (b"garbage", "multipart/form-data; boundary=x"),
        (b"--x\r\n\r\n", "multipart/form-data; boundary=x"),
    ],
    ids=["zip", "broken-xlsx", "empty-xlsx", "no-boundary", "garbage-form", "cut-form"],
)
def test_damaged_files_are_a_422_never_a_500(
    client: TestClient, keys: Keys, projects: Any, body: bytes, content_type: str
) -> None:
    response = client.post(
        "/api/v1/disbursements/import",
        content=body,
        headers={**keys.finance, "Content-Type": content_type},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert _total(client, keys) == (0, "0.00")
