"""The project report against a hand-computed example (docs/REPORTS.md, Worked example)."""

from datetime import date
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.projects.models import Category
from tests.factories import (
    Keys,
    if_match,
    make_contract,
    make_milestone,
    make_programme,
    make_project,
    payment,
)


def test_a_hand_computed_project(client: TestClient, keys: Keys, session: Session) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000000.00"), code="EV-1")
    client.patch(
        f"/api/v1/projects/{project.id}",
        json={"planned_start": "2023-01-01"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{project.id}")},
    )
    contract = client.post(
        "/api/v1/contracts",
        json={
            "project_id": project.id,
            "contractor_id": keys.contractor_id,
            "contract_no": "EV-C",
            "title": "t",
            "amount": "800000.00",
            "signed_on": "2023-02-01",
        },
        headers=keys.admin,
    ).json()
    client.post(
        f"/api/v1/contracts/{contract['id']}/change-orders",
        json={
            "kind": "price",
            "delta": "100000.00",
            "document_no": "CO-1",
            "approved_on": "2023-06-01",
            "reason": "增项",
        },
        headers=keys.admin,
    )
    m1, m2 = (
        client.post(
            "/api/v1/milestones",
            json={
                "project_id": project.id,
                "code": code,
                "name": code,
                "weight": weight,
                "planned_date": planned,
            },
            headers=keys.admin,
        ).json()
        for code, weight, planned in [("开工", "1", "2023-03-01"), ("主体完工", "3", "2023-07-01")]
    )
    for milestone, percent, on in [(m1, "100", "2023-03-05"), (m2, "50", "2023-06-30")]:
        client.post(
            f"/api/v1/milestones/{milestone['id']}/progress",
            json={"percent_complete": percent, "as_of": on},
            headers=keys.admin,
        )
    client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "300000.00", "EV-1", paid_on="2023-04-01"),
        headers=keys.finance,
    )
    client.post(
        f"/api/v1/projects/{project.id}/revisions",
        json={
            "new_estimate": "1200000.00",
            "approved_on": "2023-05-01",
            "document_no": "R-1",
            "reason": "r",
        },
        headers=keys.finance,
    )

    def report(as_of: str) -> Any:
        response = client.get(
            f"/api/v1/projects/{project.id}/report", params={"as_of": as_of}, headers=keys.viewer
        )
        assert response.status_code == 200, response.text
        return response.json()

    r = report("2023-06-30")
    # PV: 开工 done (1) + 主体完工 pro rata 121 of 122 days (3 × 121/122), over 4 → 485/488 of 1.2M
    expected = {
        "original_estimate": "1000000.00",
        "revised_estimate": "1200000.00",
        "committed": "900000.00",
        "uncommitted": "300000.00",
        "disbursed": "300000.00",
        "remaining": "900000.00",
        "budget_variance": "900000.00",
        "budget_variance_pct": "0.7500",
        "financial_completion": "0.2500",
        "physical_completion": "0.6250",
        "planned_completion": "0.9939",
        "bac": "1200000.00",
        "pv": "1192622.95",
        "ev": "750000.00",
        "ac": "300000.00",
        "cv": "450000.00",
        "sv": "-442622.95",
        "cpi": "2.5000",
        "spi": "0.6289",
        "eac": "480000.00",
        "vac": "720000.00",
    }
    assert {k: r[k] for k in expected} == expected
    assert r["flags"] == {
        "over_budget": False,
        "forecast_over": False,
        "needs_revision": False,
        "behind_schedule": True,
    }

    early = report("2023-04-30")  # before the revision, the change order and 主体完工's report
    assert (early["revised_estimate"], early["committed"], early["disbursed"]) == (
        "1000000.00",
        "800000.00",
        "300000.00",
    )
    assert early["physical_completion"] == "0.2500"  # only 开工 (1 of 4) reported by then
    assert early["ev"] == "250000.00"

    before_anything = report("2022-12-31")
    assert (
        before_anything["ac"],
        before_anything["cpi"],
        before_anything["eac"],
        before_anything["vac"],
    ) == (
        "0.00",
        None,
        None,
        None,
    )
    assert before_anything["spi"] is None and before_anything["pv"] == "0.00"
    assert date.fromisoformat(before_anything["as_of"]) == date(2022, 12, 31)


def test_breakdowns_and_an_as_of_report_that_later_events_cannot_change(
    client: TestClient, keys: Keys, session: Session
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("2000000.00"), code="BD-1")
    line = client.post(
        f"/api/v1/projects/{project.id}/budget-lines",
        json={
            "code": "BD-1-01",
            "name": "教学楼土建",
            "cost_category": "construction",
            "estimate": "1500000.00",
        },
        headers=keys.admin,
    ).json()
    client.put(
        f"/api/v1/projects/{project.id}/funding",
        json={
            "sources": [
                {"funding_source": "central_budget", "planned": "1200000.00"},
                {"funding_source": "county", "planned": "800000.00"},
            ]
        },
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{project.id}")},
    )
    contract = make_contract(
        client, keys, project.id, "BD-SG", "1000000.00", signed_on="2023-01-05"
    )
    make_milestone(
        client, keys, project.id, "主体完工", "1", "2023-09-30", progress=[("40", "2023-06-01")]
    )
    posted = client.post(
        "/api/v1/disbursements",
        json={
            **payment(
                project.id,
                "600000.00",
                "BD-V1",
                paid_on="2023-05-01",
                funding_source="central_budget",
                budget_line_id=line["id"],
            ),
            "contract_id": contract["id"],
        },
        headers=keys.finance,
    )
    assert posted.status_code == 201, posted.text

    def report(as_of: str | None = None) -> Any:
        params = {} if as_of is None else {"as_of": as_of}
        response = client.get(
            f"/api/v1/projects/{project.id}/report", params=params, headers=keys.finance
        )
        assert response.status_code == 200, response.text
        return response.json()

    then = report("2023-06-30")
    assert then["budget_lines"] == [
        {
            "budget_line_id": line["id"],
            "code": "BD-1-01",
            "name": "教学楼土建",
            "estimate": "1500000.00",
            "disbursed": "600000.00",
            "remaining": "900000.00",
            "financial_completion": "0.4000",
        }
    ]
    assert [(f["funding_source"], f["planned"], f["disbursed"]) for f in then["funding"]] == [
        ("central_budget", "1200000.00", "600000.00"),
        ("county", "800000.00", "0.00"),
    ]
    assert then["contracts"] == [
        {
            "contract_id": contract["id"],
            "contract_no": "BD-SG",
            "contractor": "宁夏某建设工程有限公司（测试）",
            "signed_on": "2023-01-05",
            "accepted_on": None,
            "committed": "1000000.00",
            "paid": "600000.00",
            "retention_planned": "30000.00",
            "retention_held": "30000.00",
            "retention_release_date": None,
            "payable_now": "370000.00",
        }
    ]

    # Every dated fact below is dated after 2023-06-30 and must not change the report as of
    # then. (The milestone plan, budget lines and funding plan are the current plan: they
    # carry no dates of their own.)
    later = [
        client.post(
            "/api/v1/disbursements",
            json={
                **payment(project.id, "100000.00", "BD-V2", paid_on="2023-07-15"),
                "contract_id": contract["id"],
                "budget_line_id": line["id"],
            },
            headers=keys.finance,
        ),
        client.post(
            f"/api/v1/projects/{project.id}/revisions",
            json={
                "new_estimate": "2300000.00",
                "approved_on": "2023-08-01",
                "document_no": "BD-R1",
                "reason": "地基处理",
            },
            headers=keys.finance,
        ),
        client.post(
            f"/api/v1/contracts/{contract['id']}/change-orders",
            json={
                "kind": "price",
                "delta": "200000.00",
                "document_no": "BD-CO1",
                "approved_on": "2023-09-01",
                "reason": "增项",
            },
            headers=keys.admin,
        ),
        client.post(
            f"/api/v1/contracts/{contract['id']}/acceptance",
            json={"accepted_on": "2023-12-01"},
            headers=keys.admin,
        ),
    ]
    assert [r.status_code for r in later] == [201, 201, 201, 200], [r.text for r in later]
    make_contract(client, keys, project.id, "BD-JL", "50000.00", signed_on="2023-11-01")
    milestones = client.get(
        "/api/v1/milestones", params={"project_id": project.id}, headers=keys.admin
    ).json()["items"]
    main_works = next(m for m in milestones if m["code"] == "主体完工")
    client.post(
        f"/api/v1/milestones/{main_works['id']}/progress",
        json={"percent_complete": "100", "as_of": "2023-10-01"},
        headers=keys.admin,
    )

    assert report("2023-06-30") == then
    now = report()
    assert (now["revised_estimate"], now["committed"], now["disbursed"]) == (
        "2300000.00",
        "1250000.00",
        "700000.00",
    )
    sg = next(c for c in now["contracts"] if c["contract_no"] == "BD-SG")
    # Accepted 2023-12-01; the 12-month defects period ended 2024-12-01, releasing the
    # retention of 36,000: payments may reach the committed 1,200,000.
    assert (sg["committed"], sg["paid"], sg["retention_held"], sg["payable_now"]) == (
        "1200000.00",
        "700000.00",
        "0.00",
        "500000.00",
    )
    assert (sg["retention_planned"], sg["retention_release_date"]) == ("36000.00", "2024-12-01")
    within = next(c for c in report("2024-11-30")["contracts"] if c["contract_no"] == "BD-SG")
    assert (within["retention_held"], within["payable_now"]) == ("36000.00", "464000.00")
    assert (now["physical_completion"], now["ev"]) == ("1.0000", "2300000.00")


def _pay(client: TestClient, keys: Keys, project_id: Any, amount: str, voucher: str) -> Any:
    """A payment dated 2023-06-30, posted; its 201 answer."""
    posted = client.post(
        "/api/v1/disbursements",
        json=payment(project_id, amount, voucher, paid_on="2023-06-30"),
        headers=keys.finance,
    )
    assert posted.status_code == 201, posted.text
    return posted.json()


def _report(client: TestClient, keys: Keys, project_id: Any, **params: str) -> Any:
    response = client.get(
        f"/api/v1/projects/{project_id}/report", params=params, headers=keys.viewer
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_rounding_is_half_away_from_zero_like_excel(
    client: TestClient, keys: Keys, session: Session
) -> None:
    """四舍五入: a ratio of exactly 1.04005 is 1.0401 (Excel's ROUND), not 1.0400; money
    halfway between two fen goes up in magnitude, also when negative."""
    _, item = make_programme(session)
    paid_over = make_project(session, item, estimate=Decimal("100000.00"), code="RND-1")
    posted = _pay(client, keys, paid_over.id, "104005.00", "RND-V1")
    assert posted["warnings"][0]["share"] == "1.0401"
    r = _report(client, keys, paid_over.id, as_of="2023-06-30")
    assert r["financial_completion"] == "1.0401"
    assert r["budget_variance_pct"] == "-0.0401"  # -4,005 / 100,000 = -0.04005

    halfway = make_project(session, item, estimate=Decimal("100.01"), code="RND-2")
    make_milestone(
        client, keys, halfway.id, "完工", "1", "2023-01-01", progress=[("50", "2023-01-01")]
    )
    r = _report(client, keys, halfway.id, as_of="2023-06-30")
    assert (r["ev"], r["pv"], r["sv"]) == ("50.01", "100.01", "-50.00")  # EV = 50.005


def test_money_already_spent_needs_a_revision(
    client: TestClient, keys: Keys, session: Session
) -> None:
    """180,000.00 paid on an estimate of 100,000.00, nothing committed, no EAC: over budget
    and, being more than 10% over, in need of a 概算调整 too."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("100000.00"), code="NR-1")
    _pay(client, keys, project.id, "180000.00", "NR-V1")
    r = _report(client, keys, project.id)
    assert (r["committed"], r["eac"]) == ("0.00", None)
    assert r["flags"]["over_budget"] and r["flags"]["needs_revision"]
    # Exactly at the ceiling (100,000.00 × 1.80) is not above it.
    assert not _report(client, keys, project.id, revision_threshold="0.80")["flags"][
        "needs_revision"
    ]
    alerts = client.get("/api/v1/reports/alerts", headers=keys.viewer).json()["alerts"]
    assert ("NR-1", "needs_revision") in {(a["project_code"], a["kind"]) for a in alerts}


def test_milestones_due_on_the_same_day_ramp_together(
    client: TestClient, keys: Keys, session: Session
) -> None:
    """Two milestones (weights 1 and 3) planned ten days after the start: halfway, half of
    both is planned, whichever was entered first; the S-curve agrees."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("1000000.00"), code="RAMP-1")
    patched = client.patch(
        f"/api/v1/projects/{project.id}",
        json={"planned_start": "2023-01-01"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{project.id}")},
    )
    assert patched.status_code == 200, patched.text
    make_milestone(client, keys, project.id, "设备到货", "1", "2023-01-11")
    make_milestone(client, keys, project.id, "安装调试", "3", "2023-01-11")
    halfway = _report(client, keys, project.id, as_of="2023-01-06")
    assert (halfway["planned_completion"], halfway["pv"]) == ("0.5000", "500000.00")
    series = client.get(
        "/api/v1/reports/timeseries",
        params={"project": "RAMP-1", "as_of": "2023-01-06"},
        headers=keys.viewer,
    )
    assert series.status_code == 200, series.text
    assert series.json()["points"][-1]["pv"] == "500000.00"
    due = _report(client, keys, project.id, as_of="2023-01-11")
    assert (due["planned_completion"], due["pv"]) == ("1.0000", "1000000.00")


def test_no_measure_of_progress_no_earned_value(
    client: TestClient, keys: Keys, session: Session
) -> None:
    """Equipment bought without milestones (like ZL7-6): paid, but with no measure of
    physical progress its earned value figures are null, not an EV of 0.00 and a CPI of 0."""
    _, item = make_programme(session)
    project = make_project(
        session, item, estimate=Decimal("1000000.00"), code="NM-1", category=Category.equipment
    )
    _pay(client, keys, project.id, "400000.00", "NM-V1")
    r = _report(client, keys, project.id)
    assert (r["bac"], r["ac"], r["financial_completion"]) == ("1000000.00", "400000.00", "0.4000")
    unmeasured = ("physical_completion", "planned_completion", "ev", "pv", "cv", "sv", "cpi")
    assert {k: r[k] for k in (*unmeasured, "spi", "eac", "vac")} == dict.fromkeys(
        (*unmeasured, "spi", "eac", "vac")
    )
    assert not r["flags"]["forecast_over"] and not r["flags"]["behind_schedule"]
    series = client.get(
        "/api/v1/reports/timeseries",
        params={"project": "NM-1", "interval": "year", "as_of": "2023-12-31"},
        headers=keys.viewer,
    )
    assert series.status_code == 200, series.text
    last = series.json()["points"][-1]
    assert (last["ac"], last["ev"], last["pv"]) == ("400000.00", None, None)
