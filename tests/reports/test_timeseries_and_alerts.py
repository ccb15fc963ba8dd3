"""The S-curve a dashboard draws, and the alerts finance staff act on."""

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.programmes.models import PlanItem, Programme
from tests.factories import (
    Keys,
    if_match,
    make_contract,
    make_milestone,
    make_programme,
    make_project,
    payment,
)

# Certified ahead of reported progress (the ceiling is tested in tests/milestones).
ADVANCE = "按合同约定支付预付款（测试）"


def _project(client: TestClient, keys: Keys, session: Session, code: str) -> Any:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1200000.00"), code=code)
    patched = client.patch(
        f"/api/v1/projects/{project.id}",
        json={"planned_start": "2023-01-01"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{project.id}")},
    )
    assert patched.status_code == 200, patched.text
    return project


def _pay(client: TestClient, keys: Keys, project_id: Any, rows: list[tuple[str, str, str]]) -> None:
    """Post payments of (amount, voucher, paid_on)."""
    for amount, voucher, on in rows:
        posted = client.post(
            "/api/v1/disbursements",
            json=payment(project_id, amount, voucher, paid_on=on),
            headers=keys.finance,
        )
        assert posted.status_code == 201, posted.text


def _monthly(client: TestClient, keys: Keys, project_code: str, as_of: str) -> Any:
    response = client.get(
        "/api/v1/reports/timeseries",
        params={"project": project_code, "interval": "month", "as_of": as_of},
        headers=keys.viewer,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_monthly_s_curve_matches_the_project_report_at_each_month_end(
    client: TestClient, keys: Keys, session: Session
) -> None:
    project = _project(client, keys, session, "TS-1")
    make_milestone(
        client, keys, project.id, "开工", "1", "2023-02-28", progress=[("100", "2023-02-20")]
    )
    make_milestone(
        client,
        keys,
        project.id,
        "主体完工",
        "2",
        "2023-05-31",
        progress=[("25", "2023-03-15"), ("60", "2023-04-30")],
    )
    _pay(
        client,
        keys,
        project.id,
        [
            ("100000.00", "TS-V1", "2023-01-15"),
            ("250000.00", "TS-V2", "2023-03-10"),
            ("50000.00", "TS-V3", "2023-03-31"),
        ],
    )
    series = _monthly(client, keys, project.code, "2023-05-15")
    assert series["scope"] == "project TS-1"
    points = series["points"]
    assert [p["period"] for p in points] == ["2023-01", "2023-02", "2023-03", "2023-04", "2023-05"]
    assert [p["disbursed"] for p in points] == [
        "100000.00",
        "0.00",
        "300000.00",
        "0.00",
        "0.00",
    ]
    assert [p["ac"] for p in points] == [
        "100000.00",
        "100000.00",
        "400000.00",
        "400000.00",
        "400000.00",
    ]
    assert points[-1]["end"] == "2023-05-15"  # the last period stops at the as-of date
    for point in points:
        report = client.get(
            f"/api/v1/projects/{project.id}/report",
            params={"as_of": point["end"]},
            headers=keys.viewer,
        ).json()
        assert (point["pv"], point["ev"], point["ac"], point["bac"]) == (
            report["pv"],
            report["ev"],
            report["ac"],
            report["bac"],
        ), point["period"]
    # 开工 done by 2023-02-28: EV = 1/3 of 1.2M; 主体完工 25% by 2023-03-31: + 2/3 × 25%.
    assert (points[1]["ev"], points[2]["ev"]) == ("400000.00", "600000.00")

    quarters = client.get(
        "/api/v1/reports/timeseries",
        params={"project": project.id, "interval": "quarter", "as_of": "2023-05-15"},
        headers=keys.viewer,
    ).json()["points"]
    assert [(q["period"], q["disbursed"]) for q in quarters] == [
        ("2023-Q1", "400000.00"),
        ("2023-Q2", "0.00"),
    ]
    both = client.get(
        "/api/v1/reports/timeseries",
        params={"project": project.id, "programme": "X"},
        headers=keys.viewer,
    )
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "programme"
    unknown = client.get(
        "/api/v1/reports/timeseries", params={"project": "NO-SUCH"}, headers=keys.viewer
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "project"
    # A contractor's figures are its own contracts and dues, not a project's or a programme's.
    for path in ("/api/v1/reports/timeseries", f"/api/v1/projects/{project.id}/report"):
        assert client.get(path, headers=keys.contractor).status_code == 403


def _alerts(client: TestClient, keys: Keys, **params: Any) -> list[Any]:
    response = client.get("/api/v1/reports/alerts", params=params, headers=keys.finance)
    assert response.status_code == 200, response.text
    alerts: list[Any] = response.json()["alerts"]
    return alerts


def test_alerts_most_severe_first_with_their_figures(
    client: TestClient, keys: Keys, session: Session
) -> None:
    over = _project(client, keys, session, "AL-OVER")
    late = _project(client, keys, session, "AL-LATE")
    for body in (
        payment(over.id, "1300000.00", "AL-V1", paid_on="2023-03-01"),
        payment(late.id, "100000.00", "AL-V2", paid_on="2023-03-01"),
    ):
        posted = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
        assert posted.status_code == 201, posted.text
    # AL-LATE: half the weight was due by 2023-06-30, only 10% of it done: SPI 0.2.
    make_milestone(
        client, keys, late.id, "开工", "1", "2023-03-01", progress=[("10", "2023-03-01")]
    )
    make_milestone(client, keys, late.id, "主体完工", "1", "2024-03-01")
    contract = make_contract(
        client, keys, late.id, "AL-C", "1000000.00", signed_on="2023-01-10", payment_term_days=30
    )
    stage = make_milestone(
        client, keys, late.id, "进度款", "1", "2023-04-01", contract_id=contract["id"]
    )
    certified = client.post(
        f"/api/v1/milestones/{stage['id']}/certification",
        json={"certified_amount": "200000.00", "certified_on": "2023-04-01", "reason": ADVANCE},
        headers=keys.finance,
    )
    assert certified.status_code == 200, certified.text

    alerts = _alerts(client, keys, as_of="2023-06-30")
    kinds = [(a["kind"], a["project_code"]) for a in alerts]
    assert kinds[0] == ("over_budget", "AL-OVER")
    assert ("payments_overdue", "AL-LATE") in kinds
    assert ("behind_schedule", "AL-LATE") in kinds
    severities = [a["severity"] for a in alerts]
    order = ["critical", "high", "medium", "low"]
    assert severities == sorted(severities, key=order.index)
    first = alerts[0]
    assert first["figures"]["disbursed"] == "1300000.00"
    assert first["figures"]["revised_estimate"] == "1200000.00"
    overdue = next(a for a in alerts if a["kind"] == "payments_overdue")
    assert overdue["figures"]["overdue"] == "200000.00"
    assert overdue["contract_no"] == "AL-C" and overdue["due_on"] == "2023-05-01"
    assert overdue["figures"]["overdue_days"] == "60"

    # 竣工验收 reached: 竣工财务决算 falls due three months later, until it is recorded.
    make_milestone(
        client, keys, over.id, "竣工验收", "1", "2023-06-01", progress=[("100", "2023-06-10")]
    )
    due = [
        a for a in _alerts(client, keys, as_of="2023-08-01") if a["kind"] == "final_accounts_due"
    ]
    assert [(a["project_code"], a["severity"], a["due_on"]) for a in due] == [
        ("AL-OVER", "low", "2023-09-10")
    ]
    overdue_accounts = [
        a for a in _alerts(client, keys, as_of="2023-10-01") if a["kind"] == "final_accounts_due"
    ]
    assert overdue_accounts[0]["severity"] == "high"
    recorded = client.patch(
        f"/api/v1/projects/{over.id}",
        json={"final_accounts_on": "2023-09-20"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{over.id}")},
    )
    assert recorded.status_code == 200 and recorded.json()["final_accounts_on"] == "2023-09-20"
    assert not [
        a for a in _alerts(client, keys, as_of="2023-10-01") if a["kind"] == "final_accounts_due"
    ]
    assert client.get("/api/v1/reports/alerts", headers=keys.contractor).status_code == 403
    future = client.patch(
        f"/api/v1/projects/{over.id}",
        json={"final_accounts_on": "2099-01-01"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{over.id}")},
    )
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "final_accounts_on"

    # 竣工验收 recorded on the contract (every contract of the project accepted) counts too.
    accepted = client.post(
        f"/api/v1/contracts/{contract['id']}/acceptance",
        json={"accepted_on": "2023-07-01"},
        headers=keys.admin,
    )
    assert accepted.status_code == 200, accepted.text
    due = [
        a
        for a in _alerts(client, keys, as_of="2023-11-01")
        if a["kind"] == "final_accounts_due" and a["project_code"] == "AL-LATE"
    ]
    assert [(a["severity"], a["due_on"]) for a in due] == [("high", "2023-10-01")]


def test_an_early_entry_does_not_move_the_start_of_the_series(
    client: TestClient, keys: Keys, session: Session
) -> None:
    """A payment dated long before the programme (2021–2025) began, as preparatory spending
    the programme allows: the default series still starts at the programme's start, and the
    early payment is in the first point's AC."""
    project = _project(client, keys, session, "TS-EARLY")
    item = session.get(PlanItem, project.plan_item_id)
    programme = session.get(Programme, item.programme_id if item else None)
    assert programme is not None
    allowed = client.patch(
        f"/api/v1/programmes/{programme.code}",
        json={"preparatory_months": 120},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/programmes/{programme.code}")},
    )
    assert allowed.status_code == 200, allowed.text
    _pay(
        client,
        keys,
        project.id,
        [("1000.00", "TS-E1", "2011-01-15"), ("2000.00", "TS-E2", "2021-03-01")],
    )
    points = _monthly(client, keys, project.code, "2023-06-30")["points"]
    assert (points[0]["period"], len(points)) == ("2021-01", 30)
    assert (points[0]["disbursed"], points[0]["ac"]) == ("0.00", "1000.00")
    assert (points[2]["disbursed"], points[2]["ac"]) == ("2000.00", "3000.00")
    # Asked for, an earlier start is still given.
    early = client.get(
        "/api/v1/reports/timeseries",
        params={"project": project.code, "interval": "year", "from": "2011-01-01"},
        headers=keys.viewer,
    )
    assert early.status_code == 200, early.text
    assert early.json()["points"][0]["period"] == "2011"


def test_every_point_of_a_programme_equals_its_portfolio_at_the_point_end(
    client: TestClient, keys: Keys, session: Session
) -> None:
    """Projects with and without a planned start, milestones sharing dates, progress reported
    before the start and after the last planned date, 概算调整 in the middle of a ramp, and
    a project without milestones: each monthly point's BAC, PV, EV and AC equal the
    portfolio's totals as of the point's end, to the fen."""
    rng = random.Random(16)
    programme, item = make_programme(session)
    day = date(2023, 1, 1)
    for n in range(12):
        project = make_project(
            session, item, estimate=Decimal(rng.randrange(500_000, 9_000_000)) / 100, code=f"SW-{n}"
        )
        url = f"/api/v1/projects/{project.id}"
        if n % 3:
            start = day + timedelta(days=rng.randrange(0, 200))
            patched = client.patch(
                url,
                json={"planned_start": start.isoformat()},
                headers={**keys.admin, **if_match(client, keys, url)},
            )
            assert patched.status_code == 200, patched.text
        if n == 11:
            continue  # no milestones: no measure of progress
        planned = sorted(day + timedelta(days=rng.randrange(20, 700)) for _ in range(3))
        if n % 4 == 0:
            planned[1] = planned[0]  # two milestones on one date ramp together
        for k, on in enumerate(planned):
            reports = sorted(
                (
                    str(rng.randrange(1, 100)),
                    (day + timedelta(days=rng.randrange(0, 760))).isoformat(),
                )
                for _ in range(rng.randrange(0, 3))
            )
            make_milestone(
                client,
                keys,
                project.id,
                f"节点{k}",
                str(rng.randrange(1, 5)),
                on.isoformat(),
                progress=sorted(reports, key=lambda report: report[1]),
            )
        if n % 2:
            revised = client.post(
                f"{url}/revisions",
                json={
                    "new_estimate": str(Decimal(rng.randrange(500_000, 9_000_000)) / 100),
                    "approved_on": (day + timedelta(days=rng.randrange(30, 600))).isoformat(),
                    "document_no": f"SW-调-{n}",
                    "reason": "测试",
                },
                headers=keys.finance,
            )
            assert revised.status_code == 201, revised.text
        _pay(
            client,
            keys,
            project.id,
            [("1000.00", f"SW-V{n}", (day + timedelta(days=rng.randrange(0, 700))).isoformat())],
        )
    as_of = "2025-02-10"
    points = client.get(
        "/api/v1/reports/timeseries",
        params={"programme": programme.code, "interval": "month", "as_of": as_of},
        headers=keys.viewer,
    ).json()["points"]
    assert points[-1]["end"] == as_of
    for point in points:
        totals = client.get(
            "/api/v1/reports/portfolio",
            params={"programme": programme.code, "as_of": point["end"]},
            headers=keys.viewer,
        ).json()["totals"]
        shown = {name: point[name] for name in ("bac", "pv", "ev", "ac")}
        assert shown == {
            "bac": totals["revised_estimate"],
            "pv": totals["pv"],
            "ev": totals["ev"],
            "ac": totals["disbursed"],
        }, point["period"]


def test_a_project_planned_to_start_on_the_last_representable_day_is_in_the_series(
    client: TestClient, keys: Keys, session: Session
) -> None:
    """9999-12-31 is a valid (if odd) planned start: the series still answers, with the
    project's BAC and the PV of its milestone planned (and passed) in 2023."""
    project = make_project(session, make_programme(session)[1], code="TS-MAX")
    url = f"/api/v1/projects/{project.id}"
    patched = client.patch(
        url,
        json={"planned_start": "9999-12-31"},
        headers={**keys.admin, **if_match(client, keys, url)},
    )
    assert patched.status_code == 200, patched.text
    make_milestone(client, keys, project.id, "开工", "1", "2023-03-01")
    points = _monthly(client, keys, project.code, "2023-06-30")["points"]
    assert points[-1]["bac"] == "1000000.00"
    assert points[-1]["pv"] == "1000000.00"  # its one milestone was due on 2023-03-01
