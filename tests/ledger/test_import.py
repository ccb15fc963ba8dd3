"""Importing a month of payments from a spreadsheet: all rows or none, Excel's encodings, errors
named by the spreadsheet's row and column, and the key checked before the file is read."""

import codecs
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.ledger.models import ProjectBalance
from tests.factories import Keys, make_programme, make_project

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
        headers={**keys.admin, "If-Match": "*"},
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


def test_size_limit(client: TestClient, keys: Keys, projects: Any, app: Any) -> None:
    app.state.settings = app.state.settings.model_copy(update={"import_max_bytes": 2048})
    response = _post(
        client, keys, (HEAD_EN + "IMP-A,,1.00,2023-06-01,甲,V,county,\r\n" * 100).encode()
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


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
