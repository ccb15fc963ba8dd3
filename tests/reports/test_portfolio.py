"""The portfolio: project figures summed per group, counted flags, totals over distinct projects,
and the same numbers as the project reports they roll up."""

import csv
import io
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from app.projects.models import Category
from tests.factories import (
    Keys,
    if_match,
    make_contract,
    make_milestone,
    make_plan_item,
    make_programme,
    make_project,
    payment,
)

MONEY = (
    "original_estimate",
    "revised_estimate",
    "committed",
    "uncommitted",
    "disbursed",
    "remaining",
    "budget_variance",
    "bac",
    "pv",
    "ev",
    "ac",
    "cv",
    "sv",
)
FLAGS = ("over_budget", "forecast_over", "needs_revision", "behind_schedule")


@pytest.fixture
def world(client: TestClient, keys: Keys, session: Session) -> dict[str, Any]:
    """Three projects of one programme over two plan items, two sites (one shared), two
    funding sources, a contract, milestones, a revision and an over-budget project; and a
    project of another programme that must never show."""
    programme, item_a = make_programme(session)
    item_b = make_plan_item(session, programme, "专栏2", "第二专栏（测试）")
    sites = [
        client.post(
            "/api/v1/sites", json={"region": "测试县", "name": name}, headers=keys.admin
        ).json()["id"]
        for name in ("青铜峡市第一小学（测试）", "青铜峡市第二中学（测试）")
    ]
    p1 = make_project(session, item_a, estimate=Decimal("1000000.00"), code="PF-1")
    p2 = make_project(
        session, item_a, estimate=Decimal("500000.00"), code="PF-2", category=Category.renovation
    )
    p3 = make_project(
        session, item_b, estimate=Decimal("200000.00"), code="PF-3", category=Category.equipment
    )
    _, other_item = make_programme(session)
    p4 = make_project(session, other_item, estimate=Decimal("999999.99"), code="PF-OTHER")

    def patch(project_id: Any, body: dict[str, Any]) -> None:
        response = client.patch(
            f"/api/v1/projects/{project_id}",
            json=body,
            headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{project_id}")},
        )
        assert response.status_code == 200, response.text

    patch(
        p1.id,
        {"site_ids": sites, "planned_start": "2023-01-01", "planned_finish": "2024-06-30"},
    )
    patch(
        p2.id, {"site_ids": [sites[0]], "planned_finish": "2025-12-31", "status": "implementation"}
    )
    funded = client.put(
        f"/api/v1/projects/{p1.id}/funding",
        json={
            "sources": [
                {"funding_source": "county", "planned": "600000.00"},
                {"funding_source": "central_budget", "planned": "400000.00"},
            ]
        },
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{p1.id}")},
    )
    assert funded.status_code == 200, funded.text
    make_contract(client, keys, p1.id, "PF-C1", "800000.00", signed_on="2023-02-01")
    make_milestone(client, keys, p1.id, "开工", "1", "2023-03-01", progress=[("100", "2023-03-05")])
    make_milestone(
        client, keys, p1.id, "主体完工", "3", "2024-06-01", progress=[("40", "2023-09-30")]
    )
    posts = [
        payment(p1.id, "300000.00", "PF-V1", paid_on="2023-04-01"),
        payment(p1.id, "100000.00", "PF-V2", paid_on="2024-02-01", funding_source="central_budget"),
        payment(p2.id, "600000.00", "PF-V3", paid_on="2023-06-30"),
        payment(p3.id, "50000.00", "PF-V4", paid_on="2023-12-01"),
        payment(p4.id, "1.00", "PF-V5", paid_on="2023-12-01"),
    ]
    for body in posts:
        posted = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
        assert posted.status_code == 201, posted.text
    revised = client.post(
        f"/api/v1/projects/{p3.id}/revisions",
        json={
            "new_estimate": "250000.00",
            "approved_on": "2024-01-10",
            "document_no": "PF-R1",
            "reason": "设备涨价",
        },
        headers=keys.finance,
    )
    assert revised.status_code == 201, revised.text
    return {
        "programme": programme.code,
        "projects": [p1.id, p2.id, p3.id],
        "sites": sites,
        "items": (item_a.code, item_b.code),
    }


def _get(client: TestClient, keys: Keys, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers=keys.viewer)
    assert response.status_code == 200, response.text
    return response.json()


def _portfolio(client: TestClient, keys: Keys, world: dict[str, Any], **params: Any) -> Any:
    return _get(client, keys, "/api/v1/reports/portfolio", programme=world["programme"], **params)


def _reports(client: TestClient, keys: Keys, world: dict[str, Any], **params: Any) -> list[Any]:
    return [
        _get(client, keys, f"/api/v1/projects/{pid}/report", **params) for pid in world["projects"]
    ]


def _sum(rows: list[Any], field: str) -> str | None:
    """Σ the field over the rows that have it; null when none has (earned value of projects
    without milestones)."""
    values = [Decimal(row[field]) for row in rows if row[field] is not None]
    return str(sum(values, Decimal("0.00"))) if values else None


@pytest.mark.parametrize("as_of", [None, "2023-06-30", "2023-12-31", "2024-03-01"])
def test_totals_equal_the_sum_of_the_project_reports(
    client: TestClient, keys: Keys, world: dict[str, Any], as_of: str | None
) -> None:
    params = {} if as_of is None else {"as_of": as_of}
    reports = _reports(client, keys, world, **params)
    portfolio = _portfolio(client, keys, world, **params)
    totals = portfolio["totals"]
    assert {field: totals[field] for field in MONEY} == {
        field: _sum(reports, field) for field in MONEY
    }
    assert totals["projects"] == 3
    assert totals["flags"] == {
        flag: sum(report["flags"][flag] for report in reports) for flag in FLAGS
    }
    # The group's ratios are the definitions applied to its sums; its earned value ratios to
    # the sums over the projects that have milestones (PF-1 alone).
    measured = [report for report in reports if report["ev"] is not None]
    assert (totals["evm_projects"], len(measured)) == (1, 1)
    ev, ac, bac = (Decimal(totals[k]) for k in ("ev", "ac", "bac"))
    ev_ac = Decimal(_sum(measured, "ac") or 0)
    assert totals["cpi"] == (None if ev_ac == 0 else str((ev / ev_ac).quantize(Decimal("0.0001"))))
    assert totals["cpi"] == measured[0]["cpi"] and totals["eac"] == measured[0]["eac"]
    assert totals["evm_coverage"] == str(
        (Decimal(_sum(measured, "bac") or 0) / bac).quantize(Decimal("0.0001"))
    )
    assert totals["financial_completion"] == str((ac / bac).quantize(Decimal("0.0001")))
    by_item = {group["key"]: group for group in portfolio["groups"]}
    assert set(by_item) == set(world["items"])
    a, b = world["items"]
    assert by_item[a]["projects"] == 2 and by_item[b]["projects"] == 1
    assert by_item[a]["disbursed"] == _sum(reports[:2], "disbursed")
    assert by_item[b]["revised_estimate"] == reports[2]["revised_estimate"]
    for field in MONEY:
        assert _sum(portfolio["groups"], field) == totals[field], field


def test_the_figures_a_finance_officer_expects(
    client: TestClient, keys: Keys, world: dict[str, Any]
) -> None:
    before_revision = _portfolio(client, keys, world, as_of="2023-12-31")["totals"]
    # PF-3's 概算调整 (2024-01-10) is not in force yet; PF-1's second payment not yet made.
    assert before_revision["revised_estimate"] == "1700000.00"
    assert before_revision["disbursed"] == "950000.00"
    assert before_revision["committed"] == "800000.00"
    assert before_revision["flags"]["over_budget"] == 1  # PF-2: 600,000 paid on 500,000
    now = _portfolio(client, keys, world)["totals"]
    assert (now["revised_estimate"], now["disbursed"]) == ("1750000.00", "1050000.00")
    assert now["original_estimate"] == "1700000.00"


def test_a_project_on_two_sites_counts_under_each_and_once_in_the_totals(
    client: TestClient, keys: Keys, world: dict[str, Any]
) -> None:
    portfolio = _portfolio(client, keys, world, group_by="site")
    by_site = {group["key"]: group for group in portfolio["groups"]}
    first, second = (str(site) for site in world["sites"])
    assert by_site[first]["projects"] == 2  # PF-1 and PF-2
    assert by_site[second]["projects"] == 1  # PF-1 alone
    assert by_site[None]["projects"] == 1  # PF-3 has no site
    assert by_site[second]["revised_estimate"] == "1000000.00"  # PF-1 in full
    assert by_site[first]["revised_estimate"] == "1500000.00"
    totals = portfolio["totals"]
    assert totals["projects"] == 3 and totals["revised_estimate"] == "1750000.00"
    assert sum(group["projects"] for group in portfolio["groups"]) == 4
    assert any("once in the totals" in note for note in portfolio["notes"])
    assert by_site[first]["label"] == "青铜峡市第一小学（测试）"


@pytest.mark.parametrize("group_by", ["category", "status", "plan_item"])
def test_groups_that_partition_the_projects_add_up_to_the_totals(
    client: TestClient, keys: Keys, world: dict[str, Any], group_by: str
) -> None:
    portfolio = _portfolio(client, keys, world, group_by=group_by, as_of="2024-03-01")
    totals = portfolio["totals"]
    assert sum(group["projects"] for group in portfolio["groups"]) == totals["projects"] == 3
    for field in MONEY:
        assert _sum(portfolio["groups"], field) == totals[field], field
    for flag in FLAGS:
        assert sum(g["flags"][flag] for g in portfolio["groups"]) == totals["flags"][flag]
    if group_by == "category":
        assert Counter({g["key"]: g["projects"] for g in portfolio["groups"]}) == Counter(
            {"new_build": 1, "renovation": 1, "equipment": 1}
        )


@pytest.mark.parametrize("as_of", [None, "2023-12-31"])
def test_by_project_each_row_is_that_projects_own_report(
    client: TestClient, keys: Keys, world: dict[str, Any], as_of: str | None
) -> None:
    params = {} if as_of is None else {"as_of": as_of}
    reports = _reports(client, keys, world, **params)
    portfolio = _portfolio(client, keys, world, group_by="project", **params)
    rows = portfolio["groups"]
    assert [row["key"] for row in rows] == sorted(report["code"] for report in reports)
    by_code = {report["code"]: report for report in reports}
    for row in rows:
        report = by_code[row["key"]]
        assert row["label"] == report["name"] and row["projects"] == 1
        assert {f: row[f] for f in MONEY} == {f: report[f] for f in MONEY}, row["key"]
        assert row["flags"] == {flag: int(report["flags"][flag]) for flag in FLAGS}
    for field in MONEY:
        assert _sum(rows, field) == portfolio["totals"][field], field
    exported = client.get(
        "/api/v1/reports/portfolio",
        params={
            "programme": world["programme"],
            "group_by": "project",
            "format": "csv",
            "lang": "zh",
            **params,
        },
        headers=keys.viewer,
    )
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("项目,名称,项目数")
    assert [line.split(",")[0] for line in lines[1:]] == [*sorted(by_code), "合计"]


def test_funding_sources_planned_against_disbursed(
    client: TestClient, keys: Keys, world: dict[str, Any]
) -> None:
    for as_of in ("2023-12-31", None):
        params = {} if as_of is None else {"as_of": as_of}
        portfolio = _portfolio(client, keys, world, group_by="funding_source", **params)
        reports = _reports(client, keys, world, **params)
        expected: dict[str, list[Decimal]] = {}
        for report in reports:
            for source in report["funding"]:
                planned, paid = expected.setdefault(
                    source["funding_source"], [Decimal(0), Decimal(0)]
                )
                expected[source["funding_source"]] = [
                    planned + Decimal(source["planned"]),
                    paid + Decimal(source["disbursed"]),
                ]
        got = {
            g["key"]: [Decimal(g["funding_planned"]), Decimal(g["disbursed"])]
            for g in portfolio["groups"]
        }
        assert got == expected
        assert portfolio["groups"][0]["revised_estimate"] is None  # not a source's figure
    assert got["county"] == [Decimal("600000.00"), Decimal("950000.00")]
    assert got["central_budget"] == [Decimal("400000.00"), Decimal("100000.00")]


def test_years_group_payments_by_year_paid_and_estimates_by_planned_finish(
    client: TestClient, keys: Keys, world: dict[str, Any]
) -> None:
    portfolio = _portfolio(client, keys, world, group_by="year")
    by_year = {group["key"]: group for group in portfolio["groups"]}
    assert by_year["2023"]["disbursed"] == "950000.00"
    assert by_year["2024"]["disbursed"] == "100000.00"
    assert (by_year["2024"]["projects"], by_year["2024"]["revised_estimate"]) == (1, "1000000.00")
    assert (by_year["2025"]["projects"], by_year["2025"]["disbursed"]) == (1, "0.00")
    assert by_year[None]["projects"] == 1  # PF-3: no planned finish
    assert by_year["2023"]["projects"] == 0
    assert by_year["2024"]["remaining"] is None  # would mix paid-in-year with estimates
    assert _sum(portfolio["groups"], "disbursed") == portfolio["totals"]["disbursed"]
    assert list(by_year) == ["2023", "2024", "2025", None]


def test_who_may_ask_and_what_is_refused(
    client: TestClient, keys: Keys, world: dict[str, Any]
) -> None:
    unknown = client.get(
        "/api/v1/reports/portfolio", params={"programme": "NO-SUCH"}, headers=keys.viewer
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "programme"
    bad_group = client.get(
        "/api/v1/reports/portfolio", params={"group_by": "colour"}, headers=keys.viewer
    )
    assert bad_group.status_code == 422 and bad_group.json()["errors"][0]["field"] == "group_by"
    contractor = client.get("/api/v1/reports/portfolio", headers=keys.contractor)
    assert contractor.status_code == 403
    everything = _get(client, keys, "/api/v1/reports/portfolio")
    assert everything["totals"]["projects"] == 4 and everything["programme"] is None
    # Both programmes have a 专栏1: across programmes a plan item is programme/code.
    keys_seen = sorted(group["key"] for group in everything["groups"])
    assert len(keys_seen) == 3 and len({k.split("/")[0] for k in keys_seen}) == 2
    assert f"{world['programme']}/专栏1" in keys_seen
    # PF-1 at the end of 2023: EV 55% of BAC against PV 1373/1832 of it, SPI 0.7339.
    usual = _portfolio(client, keys, world, as_of="2023-12-31")
    assert usual["totals"]["flags"]["behind_schedule"] == 1
    laxer = _portfolio(client, keys, world, spi_threshold="0.7", as_of="2023-12-31")
    assert laxer["thresholds"]["behind_schedule_spi"] == "0.7"
    assert laxer["totals"]["flags"]["behind_schedule"] == 0
    p1 = _get(client, keys, f"/api/v1/projects/{world['projects'][0]}/report", as_of="2023-12-31")
    assert (p1["ev"], p1["pv"], p1["spi"]) == ("550000.00", "749454.15", "0.7339")


def _csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the text as UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_portfolio_as_csv_matches_the_json(
    client: TestClient, keys: Keys, world: dict[str, Any], session: Session
) -> None:
    site = client.post(
        "/api/v1/sites",
        json={"region": "测试县", "name": '=HYPERLINK("http://x","点此")'},
        headers=keys.admin,
    ).json()
    client.patch(
        f"/api/v1/projects/{world['projects'][2]}",
        json={"site_ids": [site["id"]]},
        headers={
            **keys.admin,
            **if_match(client, keys, f"/api/v1/projects/{world['projects'][2]}"),
        },
    )
    for group_by in ("plan_item", "site"):
        params = {"programme": world["programme"], "group_by": group_by}
        report = _get(client, keys, "/api/v1/reports/portfolio", **params)
        rows = _csv_rows(
            client.get(
                "/api/v1/reports/portfolio", params={**params, "format": "csv"}, headers=keys.viewer
            )
        )
        header, body = rows[0], rows[1:]
        assert header[:3] == [group_by, "label", "projects"]
        assert len(body) == len(report["groups"]) + 1  # the groups, then the totals
        for row, group in zip(body, [*report["groups"], report["totals"]], strict=True):
            cells = dict(zip(header, row, strict=True))
            for field in MONEY:
                assert cells[field] == (group[field] or ""), field  # two-decimal strings
            assert cells["projects"] == str(group["projects"])
            assert cells["over_budget"] == str(group["flags"]["over_budget"])
    labels = [row[1] for row in body]
    assert '\'=HYPERLINK("http://x","点此")' in labels  # a formula arrives as inert text
    assert "青铜峡市第一小学（测试）" in labels  # Chinese intact

    chinese = _csv_rows(
        client.get(
            "/api/v1/reports/portfolio",
            params={"group_by": "plan_item", "lang": "zh"},
            headers={**keys.viewer, "Accept": "text/csv"},
        )
    )
    assert chinese[0][:3] == ["专栏", "名称", "项目数"]
    assert "已拨付（元）" in chinese[0]


def test_the_portfolio_as_xlsx_has_numbers_that_add_up(
    client: TestClient, keys: Keys, world: dict[str, Any]
) -> None:
    params = {"programme": world["programme"], "group_by": "category", "as_of": "2024-03-01"}
    report = _get(client, keys, "/api/v1/reports/portfolio", **params)
    response = client.get(
        "/api/v1/reports/portfolio", params={**params, "format": "xlsx"}, headers=keys.viewer
    )
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    column = header.index("disbursed") + 1
    cells = [sheet.cell(row=r, column=column) for r in range(2, sheet.max_row + 1)]
    assert all(isinstance(cell.value, int | float) for cell in cells)
    assert all(cell.number_format == "#,##0.00" for cell in cells)

    def amount(cell: Any) -> Decimal:
        return Decimal(str(cell.value)).quantize(Decimal("0.01"))

    groups, totals = cells[:-1], cells[-1]
    assert [amount(c) for c in groups] == [Decimal(g["disbursed"]) for g in report["groups"]]
    assert (
        sum(amount(c) for c in groups) == amount(totals) == Decimal(report["totals"]["disbursed"])
    )


def test_every_report_exports_and_each_representation_has_its_own_etag(
    client: TestClient, keys: Keys, world: dict[str, Any]
) -> None:
    project = world["projects"][0]
    for path, params in [
        (f"/api/v1/projects/{project}/report", {"as_of": "2024-03-01"}),
        ("/api/v1/reports/timeseries", {"programme": world["programme"], "interval": "quarter"}),
        ("/api/v1/reports/alerts", {"as_of": "2023-12-31"}),
    ]:
        as_json = client.get(path, params=params, headers=keys.finance)
        as_csv = client.get(path, params={**params, "format": "csv"}, headers=keys.finance)
        as_xlsx = client.get(path, params={**params, "format": "xlsx"}, headers=keys.finance)
        assert as_json.status_code == as_csv.status_code == as_xlsx.status_code == 200, path
        etags = {r.headers["ETag"] for r in (as_json, as_csv, as_xlsx)}
        assert len(etags) == 3, path
        workbook = load_workbook(io.BytesIO(as_xlsx.content))
        assert all(ws.freeze_panes == "A2" for ws in workbook.worksheets), path
        again = client.get(
            path,
            params={**params, "format": "csv"},
            headers={**keys.finance, "If-None-Match": as_csv.headers["ETag"]},
        )
        assert again.status_code == 304, path

    report = client.get(
        f"/api/v1/projects/{project}/report", params={"format": "xlsx"}, headers=keys.finance
    )
    workbook = load_workbook(io.BytesIO(report.content))
    assert workbook.sheetnames == ["Report", "Budget lines", "Funding", "Contracts"]
    summary = workbook["Report"]
    values = dict(zip([c.value for c in summary[1]], [c.value for c in summary[2]], strict=True))
    as_json = client.get(f"/api/v1/projects/{project}/report", headers=keys.finance).json()
    assert Decimal(str(values["ev"])).quantize(Decimal("0.01")) == Decimal(as_json["ev"])
    assert values["code"] == "PF-1"
    funding = workbook["Funding"]
    assert [row[0].value for row in funding.iter_rows(min_row=2)] == ["central_budget", "county"]

    series = _csv_rows(
        client.get(
            "/api/v1/reports/timeseries",
            params={"programme": world["programme"], "interval": "year", "format": "csv"},
            headers=keys.viewer,
        )
    )
    assert series[0] == ["period", "start", "end", "disbursed", "ac", "pv", "ev", "bac"]
    assert [row[0] for row in series[1:]] == ["2023", "2024", "2025", "2026"][: len(series) - 1]


def test_the_programme_s_curve_is_the_portfolio_totals_at_each_period_end(
    client: TestClient, keys: Keys, world: dict[str, Any]
) -> None:
    series = _get(
        client,
        keys,
        "/api/v1/reports/timeseries",
        programme=world["programme"],
        interval="quarter",
        as_of="2024-09-30",
    )
    assert series["points"][0]["period"] == "2023-Q1"  # PF-1's planned start
    for point in series["points"]:
        totals = _portfolio(client, keys, world, as_of=point["end"])["totals"]
        assert (point["bac"], point["pv"], point["ev"], point["ac"]) == (
            totals["bac"],
            totals["pv"],
            totals["ev"],
            totals["disbursed"],
        ), point["period"]
    later = _get(
        client,
        keys,
        "/api/v1/reports/timeseries",
        programme=world["programme"],
        interval="year",
        **{"from": "2024-01-01"},
    )
    assert later["points"][0]["period"] == "2024"
    assert later["points"][0]["ac"] == "1050000.00"  # what was paid before counts in AC
    far = client.get(
        "/api/v1/reports/timeseries",
        params={"interval": "month", "from": "1900-01-01"},
        headers=keys.viewer,
    )
    assert far.status_code == 422 and far.json()["errors"][0]["field"] == "interval"
    end_of_time = client.get(
        "/api/v1/reports/timeseries",
        params={"interval": "year", "as_of": "9999-12-31", "from": "9990-01-01"},
        headers=keys.viewer,
    )
    assert end_of_time.status_code == 200
    assert end_of_time.json()["points"][-1]["end"] == "9999-12-31"
