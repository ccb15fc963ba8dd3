"""Reports as of any date read month balances plus the entries of the date's own month; every
figure they show must equal the ledger's entries summed up to the date, to the fen, on each
side of every month boundary, with entries posted back-dated and reversed."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from app.ledger.service import reconcile
from app.timeutil import business_today
from tests.factories import Keys, guard_lifted, make_contract, make_programme, make_project, payment

# (project, amount, voucher, paid_on, funding source, budget line, contract), in the order
# they are posted: later months first, then back-dated entries into months already moved.
PAYMENTS = (
    ("A", "100000.00", "MB-1", "2023-01-15", "county", "L1", "C1"),
    ("A", "250000.10", "MB-2", "2023-03-31", "region", "L2", None),
    ("B", "5000.00", "MB-3", "2023-02-15", "county", None, None),
    ("A", "3000.01", "MB-4", "2023-02-01", "county", "L1", None),  # back-dated
    ("A", "777.77", "MB-5", "2023-02-28", "central_budget", "L2", "C1"),  # back-dated
    ("A", "100.00", "MB-6", "2023-04-30", "county", "L2", "C1"),
    ("B", "0.01", "MB-7", "2022-12-31", "county", None, None),  # back-dated, a year earlier
)
DATES = (
    "2022-12-30", "2022-12-31", "2023-01-01", "2023-01-14", "2023-01-15", "2023-01-31",
    "2023-02-01", "2023-02-14", "2023-02-28", "2023-03-01", "2023-03-30", "2023-03-31",
    "2023-04-01", "2023-04-02", "2023-04-29", "2023-04-30", "2023-05-31",
)  # fmt: skip


def _money(values: Iterable[Decimal]) -> str:
    return str(sum(values, Decimal("0.00")))


@pytest.fixture
def ledger(client: TestClient, keys: Keys, session: Session) -> dict[str, Any]:
    programme, item = make_programme(session)
    projects = {
        "A": make_project(session, item, estimate=Decimal("2000000.00"), code="MB-A"),
        "B": make_project(session, item, estimate=Decimal("90000.00"), code="MB-B"),
    }
    a = projects["A"].id
    lines = {
        code: client.post(
            f"/api/v1/projects/{a}/budget-lines",
            json={
                "code": code,
                "name": code,
                "cost_category": "construction",
                "estimate": "1000000.00",
            },
            headers=keys.admin,
        ).json()["id"]
        for code in ("L1", "L2")
    }
    contracts = {"C1": make_contract(client, keys, a, "MB-C1", "500000.00")["id"]}
    posted: dict[str, int] = {}
    for project, amount, voucher, on, source, line, contract in PAYMENTS:
        body = payment(
            projects[project].id,
            amount,
            voucher,
            paid_on=on,
            funding_source=source,
            budget_line_id=lines.get(line or ""),
        )
        if contract:
            body["contract_id"] = contracts[contract]
        response = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
        assert response.status_code == 201, response.text
        posted[voucher] = response.json()["id"]
    # A partial reversal at the start of a month, and a full one back-dated into an earlier.
    for voucher, reversal in (
        ("MB-2", {"amount": "50000.05", "reversed_on": "2023-04-01"}),
        ("MB-5", {"reversed_on": "2023-03-01"}),
    ):
        reversed_ = client.post(
            f"/api/v1/disbursements/{posted[voucher]}/reversals",
            json=reversal | {"reason": "退回（测试）", "voucher_no": f"{voucher}-红字"},
            headers=keys.finance,
        )
        assert reversed_.status_code == 201, reversed_.text
    entries = [
        entry
        for project in projects.values()
        for entry in client.get(
            "/api/v1/disbursements",
            params={"project_id": project.id, "limit": 500},
            headers=keys.finance,
        ).json()["items"]
    ]
    assert len(entries) == len(PAYMENTS) + 2
    return {"programme": programme.code, "projects": projects, "entries": entries}


def _expected(entries: list[dict[str, Any]], on: date) -> dict[str, Any]:
    """Everything the reports should show as of `on`, summed from the entries by hand."""
    sums: dict[str, dict[Any, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    for e in entries:
        paid_on, amount = date.fromisoformat(e["paid_on"]), Decimal(e["amount"])
        if paid_on > on:
            continue
        sums["project"][e["project_id"]].append(amount)
        sums["line"][e["budget_line_id"]].append(amount)
        sums["contract"][e["contract_id"]].append(amount)
        sums["source"][(e["project_id"], e["funding_source"])].append(amount)
        sums["month"][paid_on.strftime("%Y-%m")].append(amount)
        sums["kind"][(e["project_id"], e["kind"])].append(amount)
    summed = {name: {k: _money(v) for k, v in by.items()} for name, by in sums.items()}
    return defaultdict(dict, summed)


def test_reports_as_of_every_date_equal_the_entries_summed(
    client: TestClient, keys: Keys, ledger: dict[str, Any]
) -> None:
    a, b = (ledger["projects"][p].id for p in ("A", "B"))
    for day in DATES:
        on = date.fromisoformat(day)
        want = _expected(ledger["entries"], on)
        params = {"as_of": day}

        rows = client.get(
            "/api/v1/reports/portfolio",
            params=params | {"programme": ledger["programme"], "group_by": "project"},
            headers=keys.viewer,
        ).json()["groups"]
        shown = {row["key"]: row["disbursed"] for row in rows}
        assert shown == {
            "MB-A": want["project"].get(a, "0.00"),
            "MB-B": want["project"].get(b, "0.00"),
        }, day

        report = client.get(f"/api/v1/projects/{a}/report", params=params, headers=keys.viewer)
        assert report.status_code == 200, report.text
        body = report.json()
        assert body["disbursed"] == want["project"].get(a, "0.00"), day
        assert {line["budget_line_id"]: line["disbursed"] for line in body["budget_lines"]} == {
            line["budget_line_id"]: want["line"].get(line["budget_line_id"], "0.00")
            for line in body["budget_lines"]
        }, day
        assert {f["funding_source"]: f["disbursed"] for f in body["funding"]} == {
            source: paid for (project, source), paid in want["source"].items() if project == a
        } | {
            f["funding_source"]: "0.00"
            for f in body["funding"]
            if (a, f["funding_source"]) not in want["source"]
        }, day
        assert {c["contract_id"]: c["paid"] for c in body["contracts"]} == {
            c["contract_id"]: want["contract"].get(c["contract_id"], "0.00")
            for c in body["contracts"]
        }, day

        series = client.get(
            "/api/v1/reports/timeseries",
            params=params | {"programme": ledger["programme"], "interval": "month"},
            headers=keys.viewer,
        ).json()["points"]
        assert {p["period"]: p["disbursed"] for p in series if p["disbursed"] != "0.00"} == {
            month: paid for month, paid in want["month"].items() if paid != "0.00"
        }, day
        if series:
            assert series[-1]["ac"] == _money(map(Decimal, want["project"].values())), day

        funding = client.get(
            "/api/v1/reports/portfolio",
            params=params | {"programme": ledger["programme"], "group_by": "funding_source"},
            headers=keys.viewer,
        ).json()["groups"]
        by_source: dict[str, Decimal] = defaultdict(Decimal)
        for (_, source), paid in want["source"].items():
            by_source[source] += Decimal(paid)
        assert {g["key"]: g["disbursed"] for g in funding if g["disbursed"] != "0.00"} == {
            s: str(v) for s, v in by_source.items() if v
        }, day


def test_a_month_balance_that_disagrees_with_the_entries_is_reported(
    ledger: dict[str, Any], session: Session
) -> None:
    assert reconcile(session=session) == []
    a = ledger["projects"]["A"].id
    connection = session.connection()
    with guard_lifted(connection):
        connection.execute(
            sa.text(
                "UPDATE project_month SET disbursed = disbursed + 1 "
                "WHERE project_id = :p AND month = :m"
            ),
            {"p": a, "m": date(2023, 2, 1)},
        )
        connection.execute(
            sa.text("DELETE FROM contract_month WHERE month = :m"), {"m": date(2023, 4, 1)}
        )
    problems = reconcile(session=session)
    session.rollback()
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"project month {a} 2023-02-01: balance ")
    assert problems[1].startswith("contract month ") and " 2023-04-01: balance None" in problems[1]


def test_a_date_in_the_current_month_counts_its_entries_up_to_the_date(
    client: TestClient, keys: Keys, session: Session, settings: Settings
) -> None:
    """As of yesterday in this month: the month's earlier entries count, today's don't."""
    _, item = make_programme(session)
    project = make_project(session, item, code="MB-NOW")
    today = business_today(settings.business_timezone)
    if today.day == 1:
        pytest.skip("the first of the month has no earlier day in the month")
    yesterday = today - timedelta(days=1)
    for voucher, on in (("MB-NOW-1", yesterday), ("MB-NOW-2", today)):
        posted = client.post(
            "/api/v1/disbursements",
            json=payment(project.id, "10.00", voucher, paid_on=on.isoformat()),
            headers=keys.finance,
        )
        assert posted.status_code == 201, posted.text
    then = client.get(
        f"/api/v1/projects/{project.id}/report",
        params={"as_of": yesterday.isoformat()},
        headers=keys.viewer,
    ).json()
    now = client.get(f"/api/v1/projects/{project.id}/report", headers=keys.viewer).json()
    assert (then["disbursed"], now["disbursed"]) == ("10.00", "20.00")
