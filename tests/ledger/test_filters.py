"""The ledger's `payee` (exact) and `q` (payee, memo or voucher number contains) filters pick
the same entries in the list, its sum, and its CSV and XLSX exports; the caller's scope and
the other filters still apply."""

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from tests.factories import Keys, make_contract, make_programme, make_project, payment

LEDGER = "/api/v1/disbursements"
NINTH = "平罗县城关第九小学"
BUILDER = "宁夏某建设工程有限公司（测试）"
# voucher: (payee, memo, amount)
ENTRIES = {
    "F-1": (NINTH, "主体工程进度款", "1000.10"),
    "2023-06-记-0012": (BUILDER, "设备款 100%_全额", "2000.20"),
    "F-3": (BUILDER + "第二分公司", "附属工程进度款", "3000.30"),
    "abc-777": ("ABC Supplies", "路径 a\\b", "4000.40"),
}


@pytest.fixture
def ledger(client: TestClient, keys: Keys, session: Session) -> dict[str, Any]:
    """Four payments on one project, the first reversed in part (a reversal keeps the payee
    and has no memo or voucher), and one payment to the same builder on the test contractor's
    contract on another project."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("10000000.00"), code="FLT-1")
    own = make_project(session, item, estimate=Decimal("10000000.00"), code="FLT-OWN")
    ids = {}
    for voucher, (payee, memo, amount) in ENTRIES.items():
        response = client.post(
            LEDGER,
            json={**payment(project.id, amount, voucher, payee=payee), "memo": memo},
            headers=keys.finance,
        )
        assert response.status_code == 201, response.text
        ids[voucher] = response.json()["id"]
    reversal = client.post(
        f"{LEDGER}/{ids['F-1']}/reversals",
        json={
            "amount": "5.00",
            "reason": "多付，冲回（测试）",
            "reversed_on": "2023-07-01",
            "voucher_no": "F-1-红冲",
        },
        headers=keys.finance,
    )
    assert reversal.status_code == 201, reversal.text
    ids["reversal"] = reversal.json()["id"]
    contract = make_contract(client, keys, own.id, "HT-FLT", "100000.00")
    response = client.post(
        LEDGER,
        json={**payment(own.id, "500.00", "F-OWN", payee=BUILDER), "contract_id": contract["id"]},
        headers=keys.finance,
    )
    assert response.status_code == 201, response.text
    ids["F-OWN"] = response.json()["id"]
    return {"project": project, "own": own, "ids": ids}


def _picked(client: TestClient, headers: dict[str, str], **params: Any) -> tuple[list[int], str]:
    """The ids the filters pick and their sum, the same in the JSON list (whose sum counts
    every match, not the page), the CSV and the XLSX export."""
    first = client.get(LEDGER, params={**params, "limit": 1}, headers=headers)
    assert first.status_code == 200, first.text
    listed = client.get(LEDGER, params={**params, "limit": 500}, headers=headers).json()
    ids = [e["id"] for e in listed["items"]]
    assert listed["total"] == first.json()["total"] == len(ids)
    assert Decimal(listed["sum"]) == sum((Decimal(e["amount"]) for e in listed["items"]), Decimal())
    assert first.json()["sum"] == listed["sum"]

    exported = client.get(LEDGER, params={**params, "format": "csv"}, headers=headers)
    assert exported.status_code == 200, exported.text
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"), newline="")))
    assert [int(r["id"]) for r in rows] == ids
    assert sum((Decimal(r["amount"]) for r in rows), Decimal()) == Decimal(listed["sum"])

    book = client.get(LEDGER, params={**params, "format": "xlsx"}, headers=headers)
    assert book.status_code == 200, book.text
    sheet = load_workbook(io.BytesIO(book.content)).worksheets[0]
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == ids
    return ids, listed["sum"]


def test_payee_is_exact(client: TestClient, keys: Keys, ledger: dict[str, Any]) -> None:
    ids = ledger["ids"]
    assert _picked(client, keys.finance, payee=NINTH) == ([ids["F-1"], ids["reversal"]], "995.10")
    # Not the payee whose name starts with it, nor a part of it.
    assert _picked(client, keys.finance, payee=BUILDER, project_id=ledger["project"].id) == (
        [ids["2023-06-记-0012"]],
        "2000.20",
    )
    assert _picked(client, keys.finance, payee="城关第九") == ([], "0.00")
    assert _picked(client, keys.finance, payee="abc supplies") == ([], "0.00")


@pytest.mark.parametrize(
    ("q", "vouchers"),
    [
        ("城关第九", ["F-1", "reversal"]),  # payee
        ("进度款", ["F-1", "F-3"]),  # memo
        ("记-0012", ["2023-06-记-0012"]),  # voucher number
        ("abc", ["abc-777"]),  # any case: payee and voucher
        ("ABC-7", ["abc-777"]),
        ("%_", ["2023-06-记-0012"]),  # wildcards are text
        ("_", ["2023-06-记-0012"]),
        ("%", ["2023-06-记-0012"]),
        ("\\", ["abc-777"]),
        ("无此内容", []),
    ],
)
def test_q_finds_text_in_payee_memo_or_voucher(
    client: TestClient, keys: Keys, ledger: dict[str, Any], q: str, vouchers: list[str]
) -> None:
    ids, _ = _picked(client, keys.finance, q=q, project_id=ledger["project"].id)
    assert ids == [ledger["ids"][v] for v in vouchers]


def test_filters_combine_and_the_scope_still_applies(
    client: TestClient, keys: Keys, ledger: dict[str, Any]
) -> None:
    ids = ledger["ids"]
    everyone = _picked(client, keys.finance, payee=BUILDER)
    assert everyone == ([ids["2023-06-记-0012"], ids["F-OWN"]], "2500.20")
    # A contractor sees the payments on its own contract only, whatever it searches for.
    assert _picked(client, keys.contractor, payee=BUILDER) == ([ids["F-OWN"]], "500.00")
    assert _picked(client, keys.contractor, q="记") == ([], "0.00")
    assert _picked(client, keys.finance, q="工程", kind="reversal") == ([], "0.00")
    assert _picked(client, keys.finance, q="工程", kind="payment", to="2023-06-30") == (
        [ids["F-1"], ids["2023-06-记-0012"], ids["F-3"], ids["F-OWN"]],
        "6500.60",
    )


def test_bad_filter_values_are_422s_naming_them(client: TestClient, keys: Keys) -> None:
    for params, field in (
        ({"payee": ""}, "payee"),
        ({"payee": "x" * 201}, "payee"),
        ({"q": "y" * 201}, "q"),
        ({"q": "a\x00b"}, "q"),
    ):
        response = client.get(LEDGER, params=params, headers=keys.finance)
        assert response.status_code == 422, (params, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field]
