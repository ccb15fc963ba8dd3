"""An import gives exactly what posting its rows one by one gives: the same entries, balances,
warnings, refusals (with the row that caused them) and audit entries.

Two programmes are built alike, X and Y: a project with budget lines (one `block`, one `warn`
from half its estimate), a small `block` project, and a project with a contract. The file is
imported into X; the same rows are posted one at a time through POST /api/v1/disbursements
into Y, in file order. Then everything a user can see is compared, codes mapped X → Y.
"""

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session, col

from app.auth.actor import Actor
from app.auth.models import Role
from app.ledger import service
from app.ledger.balances import BALANCES
from app.ledger.models import Disbursement
from app.ledger.schemas import DisbursementCreate
from app.projects.models import BudgetLine, Project
from tests.factories import Keys, if_match, make_contract, make_programme, make_project, payment

HEAD = (
    "project,budget_line,contract,amount,paid_on,payee,voucher_no,funding_source,memo,"
    "payee_differs_reason\r\n"
)
CONTRACTOR = "宁夏某建设工程有限公司（测试）"
# Rows of the file, {p} standing for the programme's prefix (X or Y). Row 2 is the first.
GOOD = [
    "{p}-A,{p}-A-1,,60000.00,2023-06-01,甲公司,V-1,county,进度款,",
    "{p}-A,{p}-A-2,,90000.00,2023-06-02,乙公司,V-2,county,,",
    "{p}-A,{p}-A-2,,20000.00,2023-06-03,乙公司,V-3,central_budget,,",  # line near its estimate
    "{p}-B,,,30000.00,2023-06-04,丙公司,V-4,county,,",
    "{p}-B,,,15000.00,2023-06-05,丙公司,V-5,county,,",  # project at 90 %
    f"{{p}}-C,,{{p}}-HT,100000.00,2023-06-06,{CONTRACTOR},V-6,county,,",
    "{p}-C,,{p}-HT,50000.00,2023-06-07,代收单位,V-7,self_raised,,总包指定代收",
    "{p}-C,,,1000.00,2023-06-08,丁公司,ｖ－８,county,,",  # a full-width voucher
    "{p}-A,{p}-A-2,,100000.00,2023-06-09,乙公司,V-9,county,,",  # line past its warn estimate
    # Already in the ledger with the same details, the voucher typed otherwise.
    "{p}-A,{p}-A-2,,5000.00,2023-05-01,戊公司,ｖ－ｏｌｄ－１,county,,",
    "{p}-B,,,100.00,2023-05-02,戊公司, v-old-2 ,county,,",
    "{p}-C,,{p}-HT,150000.00,2023-06-10,代收单位,V-12,county,,总包指定代收",  # past the limit
]
# Refused only because of rows before it in the file: B's 45,000 + 10,000 > 50,000 (block),
# and line A-1's 60,000 + 50,000 > 100,000 (block).
OVER = [
    "{p}-B,,,10000.00,2023-06-20,丙公司,V-20,county,,",
    "{p}-A,{p}-A-1,,50000.00,2023-06-21,甲公司,V-21,county,,",
]


def _file(rows: list[str], prefix: str) -> bytes:
    return (HEAD + "".join(row.format(p=prefix) + "\r\n" for row in rows)).encode()


def _programme(client: TestClient, keys: Keys, session: Session, prefix: str) -> None:
    _, item = make_programme(session)
    a = make_project(session, item, estimate=Decimal("1000000.00"), code=f"{prefix}-A")
    b = make_project(session, item, estimate=Decimal("50000.00"), code=f"{prefix}-B")
    c = make_project(session, item, estimate=Decimal("2000000.00"), code=f"{prefix}-C")
    for code, estimate, policy, threshold in (
        (f"{prefix}-A-1", "100000.00", "block", None),
        (f"{prefix}-A-2", "200000.00", "warn", "0.50"),
    ):
        line = client.post(
            f"/api/v1/projects/{a.id}/budget-lines",
            json={
                "code": code,
                "name": f"科目 {code}",
                "cost_category": "construction",
                "estimate": estimate,
                "budget_policy": policy,
                "warn_threshold": threshold,
            },
            headers=keys.admin,
        )
        assert line.status_code == 201, line.text
    patched = client.patch(
        f"/api/v1/projects/{b.id}",
        json={"budget_policy": "block"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{b.id}")},
    )
    assert patched.status_code == 200, patched.text
    make_contract(client, keys, c.id, f"{prefix}-HT", "300000.00", retention_rate="0.03")
    for body in (
        payment(
            f"{prefix}-A",  # type: ignore[arg-type]
            "5000.00",
            "V-OLD-1",
            paid_on="2023-05-01",
            payee="戊公司",
        )
        | {"budget_line_id": f"{prefix}-A-2"},
        payment(f"{prefix}-B", "100.00", "V-OLD-2", paid_on="2023-05-02", payee="戊公司"),  # type: ignore[arg-type]
    ):
        posted = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
        assert posted.status_code == 201, posted.text


@pytest.fixture
def books(client: TestClient, keys: Keys, session: Session) -> Iterator[None]:
    for prefix in ("X", "Y"):
        _programme(client, keys, session, prefix)
    yield


def _one_by_one(client: TestClient, keys: Keys, rows: list[str]) -> list[Any]:
    """Each row posted through the API into Y, in order: its response."""
    names = HEAD.strip().split(",")
    responses = []
    for row in rows:
        values = dict(zip(names, row.format(p="Y").split(","), strict=True))
        body = {
            "project_id": values["project"],
            "budget_line_id": values["budget_line"] or None,
            "contract_id": values["contract"] or None,
            "amount": values["amount"],
            "paid_on": values["paid_on"],
            "payee": values["payee"].strip(),
            "voucher_no": values["voucher_no"].strip(),
            "funding_source": values["funding_source"],
            "memo": values["memo"] or None,
            "payee_differs_reason": values["payee_differs_reason"] or None,
        }
        responses.append(client.post("/api/v1/disbursements", json=body, headers=keys.finance))
    return responses


def _as_x(value: Any) -> Any:
    """Y's codes written as X's, so that the two programmes' figures compare."""
    return value.replace("Y-", "X-") if isinstance(value, str) else value


def _entries(client: TestClient, keys: Keys, session: Session, prefix: str) -> list[Any]:
    lines: dict[Any, Any] = dict(
        session.execute(select(col(BudgetLine.id), col(BudgetLine.code))).all()
    )
    listing = client.get(
        "/api/v1/disbursements", params={"sort": "id", "limit": 500}, headers=keys.viewer
    ).json()["items"]
    contracts = {
        c["id"]: c["contract_no"]
        for c in client.get("/api/v1/contracts", headers=keys.viewer).json()["items"]
    }
    fields = ("kind", "amount", "paid_on", "payee", "voucher_no", "funding_source", "memo")
    return [
        (
            _as_x(e["project_code"]),
            _as_x(lines.get(e["budget_line_id"])),
            _as_x(contracts.get(e["contract_id"])),
            e["payee_differs_reason"],
            *(e[name] for name in fields),
        )
        for e in listing
        if e["project_code"].startswith(f"{prefix}-")
    ]


def _vouchers(client: TestClient, keys: Keys, session: Session, prefix: str) -> list[str]:
    return [entry[8] for entry in _entries(client, keys, session, prefix)]


def _balances(session: Session, prefix: str) -> set[tuple[Any, ...]]:
    """Every balance row of the programme's projects (all eight kinds), keyed by codes."""
    session.expire_all()
    connection = session.connection()
    codes: dict[str, dict[Any, Any]] = {
        "project_id": dict(session.execute(select(col(Project.id), col(Project.code))).all()),
        "budget_line_id": dict(
            session.execute(select(col(BudgetLine.id), col(BudgetLine.code))).all()
        ),
        "contract_id": {
            row[0]: row[1]
            for row in connection.exec_driver_sql("SELECT id, contract_no FROM contract")
        },
    }
    found = set()
    for balance in BALANCES:
        for row in connection.execute(select(balance.table)).mappings():
            named = {k: codes[k][v] if k in codes else v for k, v in row.items() if k != "id"}
            owner = next(v for k, v in named.items() if k in codes)
            if owner.startswith(f"{prefix}-"):
                found.add((balance.label, *sorted((k, _as_x(v)) for k, v in named.items())))
    return found


def _audit(client: TestClient, keys: Keys, prefix: str) -> list[Any]:
    """The `post` audit entries of the programme's payments, oldest first, ids left out."""
    entries = client.get(
        "/api/v1/audit",
        params={"entity": "disbursement", "action": "post", "limit": 500},
        headers=keys.admin,
    ).json()["items"]
    varying = {"id", "programme_id", "project_id", "budget_line_id", "contract_id"}
    varying |= {"created_at", "request_id"}
    return [
        (
            e["actor_name"],
            e["actor_role"],
            {k: _as_x(v) for k, v in e["after"].items() if k not in varying},
        )
        for e in reversed(entries)
        if e["after"]["project_code"].startswith(f"{prefix}-")
    ]


def _import(client: TestClient, keys: Keys, body: bytes) -> Any:
    return client.post(
        "/api/v1/disbursements/import",
        content=body,
        headers={**keys.finance, "Content-Type": "text/csv"},
    )


def test_an_import_posts_what_posting_each_row_posts(
    client: TestClient, keys: Keys, session: Session, books: None
) -> None:
    imported = _import(client, keys, _file(GOOD, "X"))
    assert imported.status_code == 201, imported.text
    summary = imported.json()
    singles = _one_by_one(client, keys, GOOD)
    # The rows already in the ledger are a 409 on their own, and skipped by the import.
    statuses = [r.status_code for r in singles]
    assert statuses == [201] * 9 + [409, 409, 201]
    assert (summary["posted"], summary["already_posted"]) == (10, 2)
    assert sorted(summary["skipped_vouchers"]) == ["v-old-1", "v-old-2"]  # as typed, in ASCII
    assert summary["total"] == str(
        sum((Decimal(r.json()["amount"]) for r in singles if r.status_code == 201), Decimal(0))
    )
    # The same warnings, on the same rows.
    assert [(w["row"], w["code"], w["message"]) for w in summary["warnings"]] == [
        (row, w["code"], _as_x(w["message"]))
        for row, response in enumerate(singles, start=2)
        if response.status_code == 201
        for w in response.json()["warnings"]
    ]
    assert {w["code"] for w in summary["warnings"]} >= {
        "line_near_budget",
        "line_over_budget",
        "near_budget",
        "contract_over_limit",
    }
    assert _entries(client, keys, session, "X") == _entries(client, keys, session, "Y")
    assert _audit(client, keys, "X") == _audit(client, keys, "Y")
    assert len(_audit(client, keys, "X")) == 12  # two posted before, ten imported
    assert _balances(session, "X") == _balances(session, "Y")
    assert len(_balances(session, "X")) > 20

    # Again: nothing new, nothing changed.
    before = _entries(client, keys, session, "X")
    again = _import(client, keys, _file(GOOD, "X"))
    assert again.status_code == 200, again.text
    assert (again.json()["posted"], again.json()["already_posted"]) == (0, 12)
    assert _entries(client, keys, session, "X") == before


def _many_rows(count: int) -> list[str]:
    """Rows enough that PostgreSQL copies the entries and their audit entries in (COPY): on
    lines, on a contract (to its contractor and to someone else), with memos, full-width
    vouchers and every funding source; the first takes line A-2 past its warning."""
    rows = []
    for n in range(count):
        day = f"2023-07-{1 + n % 28:02d}"
        rows.append(
            (
                f"{{p}}-A,{{p}}-A-2,,{150000 if n == 0 else 100 + n}.25,{day},乙公司,L-{n},county,"
                f"批量 {n},",
                f"{{p}}-C,,{{p}}-HT,{200 + n}.50,{day},{CONTRACTOR},L-{n},self_raised,,",
                f"{{p}}-C,,{{p}}-HT,{n + 1}.00,{day},代收单位,Ｌ－{n},county,,总包指定代收",
                f"{{p}}-B,,,1.01,{day},丙公司,l-{n},central_budget,,",
            )[n % 4]
        )
    return rows


def test_a_large_import_posts_what_posting_each_row_posts(
    client: TestClient, keys: Keys, session: Session, books: None
) -> None:
    rows = _many_rows(120)
    imported = _import(client, keys, _file(rows, "X"))
    assert imported.status_code == 201, imported.text
    singles = _one_by_one(client, keys, rows)
    assert [r.status_code for r in singles] == [201] * len(rows)
    assert imported.json()["posted"] == len(rows)
    assert [(w["row"], w["code"]) for w in imported.json()["warnings"]] == [
        (row, w["code"])
        for row, response in enumerate(singles, start=2)
        for w in response.json()["warnings"]
    ]
    assert imported.json()["warnings"]
    assert _entries(client, keys, session, "X") == _entries(client, keys, session, "Y")
    assert _audit(client, keys, "X") == _audit(client, keys, "Y")
    assert _balances(session, "X") == _balances(session, "Y")


def test_a_voucher_taken_after_a_batch_was_checked_posts_nothing(
    client: TestClient, keys: Keys, session: Session, books: None
) -> None:
    """Between checking a batch and writing it another payment of the programme takes one of
    its voucher numbers: the batch is a 409 naming no row (send it again to see which), and
    none of its entries is posted. 150 rows: on PostgreSQL they are copied in."""
    project = session.execute(select(Project).where(col(Project.code) == "X-C")).scalar_one()
    other = session.execute(select(Project).where(col(Project.code) == "X-B")).scalar_one()
    assert project.id is not None and other.id is not None
    actor = Actor(key_id=None, name="批量测试", role=Role.finance)
    payments = [
        DisbursementCreate.model_validate(
            {
                "project_id": project.id,
                "amount": "10.00",
                "paid_on": "2023-07-01",
                "payee": "甲",
                "voucher_no": f"RACE-{n:04d}",
                "funding_source": "county",
            }
        )
        for n in range(150)
    ]
    before = _entries(client, keys, session, "X")
    with session.begin_nested():
        contexts = service.lock_payment_contexts(session, [project.id, other.id])
        accepted, refused = service.check_payments(
            session=session,
            actor=actor,
            contexts=contexts,
            payments=payments,
            today=date(2026, 12, 7),
        )
        assert (len(accepted), refused) == (150, [])
        taken = payments[120].model_copy(update={"project_id": other.id, "voucher_no": "race-0120"})
        service.post_disbursement(session=session, actor=actor, data=taken, today=date(2026, 12, 7))
        savepoint = session.begin_nested()
        with pytest.raises(service.DuplicateVoucher, match="nothing was posted"):
            service.write_payments(session=session, actor=actor, accepted=accepted)
        savepoint.rollback()
        held = (
            session.connection()
            .execute(
                select(func.count())
                .select_from(Disbursement)
                .where(col(Disbursement.project_id) == project.id)
            )
            .scalar_one()
        )
        assert held == 0
    assert _entries(client, keys, session, "X") != before  # the one that took the voucher
    assert [e for e in _entries(client, keys, session, "X") if e not in before] == [
        e for e in _entries(client, keys, session, "X") if e[8] == "race-0120"
    ]


def test_rows_refused_because_of_earlier_rows_are_named_as_posting_refuses_them(
    client: TestClient, keys: Keys, session: Session, books: None
) -> None:
    rows = GOOD + OVER
    refused = _import(client, keys, _file(rows, "X"))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    singles = _one_by_one(client, keys, rows)
    assert [r.status_code for r in singles[-2:]] == [409, 409]
    expected = [
        (row, "amount", _as_x(response.json()["detail"]))
        for row, response in enumerate(singles, start=2)
        if response.status_code == 409 and response.json()["type"].endswith("budget-exceeded")
    ]
    assert [(e["row"], e["field"], e["message"]) for e in problem["errors"]] == expected
    assert [row for row, _, _ in expected] == [len(GOOD) + 2, len(GOOD) + 3]
    assert "nothing was posted" in problem["detail"]
    assert _vouchers(client, keys, session, "X") == ["V-OLD-1", "V-OLD-2"]


def test_voucher_clashes_in_the_file_and_with_the_ledger(
    client: TestClient, keys: Keys, session: Session, books: None
) -> None:
    rows = [
        "{p}-C,,,1.00,2023-06-01,甲,V-30,county,,",
        "{p}-C,,,2.00,2023-06-01,甲,ｖ－３０,county,,",  # the same voucher, full-width
        "{p}-C,,,3.00,2023-06-01,甲,  v-31 ,county,,",
        "{p}-C,,,4.00,2023-06-01,甲,V-31,county,,",  # the same voucher, case and spaces
        "{p}-B,,,999.00,2023-05-02,戊公司,V-OLD-2,county,,",  # in the ledger as 100.00
    ]
    response = _import(client, keys, _file(rows, "X"))
    assert response.status_code == 422
    errors = [(e["row"], e["field"], e["message"]) for e in response.json()["errors"]]
    assert errors[:2] == [
        (3, "voucher_no", "voucher v-30 is also on row 2"),  # as typed, in ASCII
        (5, "voucher_no", "voucher V-31 is also on row 4"),
    ]
    # A voucher with other details is refused only once the rows are read; fixing the file's
    # own clashes leaves it.
    fixed = _import(client, keys, _file([rows[0], rows[2], rows[4]], "X"))
    assert fixed.status_code == 422
    [clash] = fixed.json()["errors"]
    assert (clash["row"], clash["field"]) == (4, "voucher_no")
    assert "with other details" in clash["message"]
    assert _vouchers(client, keys, session, "X") == ["V-OLD-1", "V-OLD-2"]


def test_a_large_import_chains_an_audit_entry_for_each_payment(
    client: TestClient, keys: Keys, session: Session, books: None
) -> None:
    """Enough rows that the audit entries are chained in one go (on PostgreSQL too): each
    payment has its entry, after the ones posted before, and the chain verifies."""
    before = client.get("/api/v1/audit", headers=keys.admin).json()["total"]
    rows = [f"{{p}}-C,,,{n}.00,2023-06-01,甲,BULK-{n:04d},county,," for n in range(1, 251)]
    response = _import(client, keys, _file(rows, "X"))
    assert response.status_code == 201, response.text
    assert response.json()["posted"] == 250
    audit = client.get(
        "/api/v1/audit",
        params={"entity": "disbursement", "action": "post", "limit": 250},
        headers=keys.admin,
    ).json()["items"]
    assert [e["after"]["voucher_no"] for e in reversed(audit)] == [
        f"BULK-{n:04d}" for n in range(1, 251)
    ]
    assert [e["entity_id"] for e in reversed(audit)] == [
        str(entry_id) for entry_id in response.json()["entries"]
    ]
    # 250 payments and the import's own entry.
    assert client.get("/api/v1/audit", headers=keys.admin).json()["total"] == before + 251
    verified = client.get("/api/v1/audit/verify", headers=keys.admin)
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True
