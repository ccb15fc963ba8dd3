"""Reports are computed in the database: the number of SQL statements a report issues does not
grow with the number of projects and payments (10 projects, then 1,000). And a report asked
again before anything changes is served from the report cache, with an ETag."""

import itertools
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, insert, select
from sqlmodel import Session

from app.config import Settings
from app.contracts.models import Contract
from app.db import SessionFactory
from app.funding.models import FundingSource, ProjectFunding
from app.ledger import balances
from app.ledger.models import Disbursement
from app.main import create_app
from app.milestones.models import Milestone, MilestoneProgress
from app.programmes.models import PlanItem
from app.projects.models import Project, ProjectSite
from app.revisions.models import ProjectRevision
from app.sites.models import Site
from app.timeutil import utcnow
from tests.factories import Keys, make_programme, make_project, payment

REPORTS = [
    *(
        ("/api/v1/reports/portfolio", {"group_by": group_by, **as_of})
        for group_by in ("plan_item", "category", "status", "site", "funding_source", "year")
        for as_of in ({}, {"as_of": "2024-06-30"})
    ),
    ("/api/v1/reports/timeseries", {"interval": "year", "as_of": "2024-12-31"}),
    ("/api/v1/reports/alerts", {}),
    ("/api/v1/reports/alerts", {"as_of": "2024-06-30"}),
    # The OC4IDS export reads each kind of fact once, whatever the number of projects.
    ("/api/v1/exports/oc4ids", {}),
    ("/api/v1/exports/oc4ids", {"as_of": "2024-06-30"}),
]


def _table(model: Any) -> Any:
    return model.__table__


def _add_projects(
    connection: Connection, item: PlanItem, contractor_id: int, first: int, count: int
) -> None:
    """Projects with everything a report reads: a site, a funding plan, a contract, two
    weighted milestones with progress, a revision on every third, and three payments."""
    now = utcnow()
    site_id = connection.execute(
        insert(_table(Site))
        .values(region="测试县", name=f"合成学校 {first}", kind="primary")
        .returning(_table(Site).c.id)
    ).scalar_one()
    source_id = connection.execute(
        select(_table(FundingSource).c.id).where(_table(FundingSource).c.code == "county")
    ).scalar_one()
    ids = range(first, first + count)
    connection.execute(
        insert(_table(Project)),
        [
            {
                "id": n,
                "code": f"SC-{n:05d}",
                "name": f"合成项目 {n:05d}",
                "plan_item_id": item.id,
                "category": ("new_build", "renovation", "equipment")[n % 3],
                "status": ("preparation", "implementation", "completion")[n % 3],
                "original_estimate": Decimal("1000000.00"),
                "revised_estimate": Decimal("1100000.00") if n % 3 == 0 else Decimal("1000000.00"),
                "budget_policy": "warn",
                "warn_threshold": Decimal("0.90"),
                "planned_start": date(2023, 1, 1),
                "planned_finish": date(2023 + n % 3, 12, 31),
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for n in ids
        ],
    )
    connection.execute(
        insert(_table(ProjectSite)), [{"project_id": n, "site_id": site_id} for n in ids]
    )
    revisions = [n for n in ids if n % 3 == 0]
    if revisions:
        connection.execute(
            insert(_table(ProjectRevision)),
            [
                {
                    "project_id": n,
                    "new_estimate": Decimal("1100000.00"),
                    "previous_estimate": Decimal("1000000.00"),
                    "approved_on": date(2024, 3, 1),
                    "document_no": f"SC-R-{n}",
                    "reason": "合成",
                    "created_at": now,
                }
                for n in revisions
            ],
        )
    connection.execute(
        insert(_table(Contract)),
        [
            {
                "project_id": n,
                "contractor_id": contractor_id,
                "contract_no": f"SC-C-{n}",
                "title": "合成合同",
                "amount": Decimal("900000.00"),
                "signed_on": date(2023, 2, 1),
                "retention_rate": Decimal("0.03"),
                "defects_months": 12,
                "payment_term_days": 30,
                "status": "active",
                "version": 1,
                "created_at": now,
            }
            for n in ids
        ],
    )
    milestone_ids = itertools.count(first * 2)
    milestones = [
        {
            "id": next(milestone_ids),
            "project_id": n,
            "code": code,
            "name": code,
            "weight": weight,
            "planned_date": planned,
            "percent_complete": Decimal("50.00"),
            "version": 1,
            "created_at": now,
        }
        for n in ids
        for code, weight, planned in (
            ("开工", Decimal("1.00"), date(2023, 3, 1)),
            ("竣工验收", Decimal("3.00"), date(2024, 9, 1)),
        )
    ]
    connection.execute(insert(_table(Milestone)), milestones)
    connection.execute(
        insert(_table(MilestoneProgress)),
        [
            {
                "milestone_id": m["id"],
                "percent_complete": Decimal("50.00"),
                "as_of": date(2024, 1, 1),
                "created_at": now,
            }
            for m in milestones
        ],
    )
    entries = [
        {
            "programme_id": item.programme_id,
            "project_id": n,
            "funding_source_id": source_id,
            "kind": "payment",
            "amount": Decimal("100000.00") + k,
            "paid_on": date(2023, 4, 1) + timedelta(days=150 * k),
            "payee": "合成施工单位",
            "voucher_no": f"SC-V-{n}-{k}",
            "created_at": now,
        }
        for n in ids
        for k in range(3)
    ]
    connection.execute(insert(_table(Disbursement)), entries)
    connection.execute(
        insert(_table(ProjectFunding)),
        [
            {
                "project_id": n,
                "funding_source_id": source_id,
                "planned": Decimal("1000000.00"),
                "disbursed": Decimal(0),
            }
            for n in ids
        ],
    )
    balances.move(connection, entries)


@pytest.fixture
def uncached(settings: Settings, connection: Connection) -> Iterator[TestClient]:
    """The app with no report cache: every request computes its report (and looks its key
    up, so that every request is counted alike)."""
    app = create_app(
        settings.model_copy(update={"report_cache_entries": 0, "api_key_cache_seconds": 0}),
        SessionFactory(connection, join_savepoint=True),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def counted(connection: Connection) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(connection, "before_cursor_execute", count)
    yield statements
    event.remove(connection, "before_cursor_execute", count)


def _statements(client: TestClient, keys: Keys, counted: list[str]) -> dict[str, int]:
    found = {}
    for path, params in REPORTS:
        counted.clear()
        response = client.get(path, params=params, headers=keys.viewer)
        assert response.status_code == 200, response.text
        found[f"{path} {params}"] = len(counted)
    return found


def test_statements_do_not_grow_with_the_programme(
    uncached: TestClient,
    keys: Keys,
    session: Session,
    connection: Connection,
    counted: list[str],
) -> None:
    _, item = make_programme(session)
    base = 1_000_000
    client = uncached
    _add_projects(connection, item, keys.contractor_id, base, 10)
    small = _statements(client, keys, counted)
    portfolio = client.get("/api/v1/reports/portfolio", headers=keys.viewer).json()
    assert portfolio["totals"]["projects"] == 10
    assert portfolio["totals"]["disbursed"] == "3000030.00"

    _add_projects(connection, item, keys.contractor_id, base + 10, 990)
    large = _statements(client, keys, counted)
    portfolio = client.get("/api/v1/reports/portfolio", headers=keys.viewer).json()
    assert portfolio["totals"]["projects"] == 1000
    assert portfolio["totals"]["disbursed"] == "300003000.00"
    assert large == small

    def timeseries_statements(as_of: str) -> int:
        counted.clear()
        response = client.get(
            "/api/v1/reports/timeseries",
            params={"interval": "month", "as_of": as_of},
            headers=keys.viewer,
        )
        assert response.status_code == 200, response.text
        return len(counted)

    # 4 monthly periods, then 42: the S-curve reads its facts once, whatever the periods.
    assert timeseries_statements("2023-04-30") == timeseries_statements("2026-06-30")


def test_a_report_asked_again_is_served_until_a_write_changes_the_data(
    client: TestClient, keys: Keys, session: Session, counted: list[str]
) -> None:
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("800000.00"), code="RC-1")
    params = {"group_by": "category"}
    counted.clear()
    first = client.get("/api/v1/reports/portfolio", params=params, headers=keys.viewer)
    computed = len(counted)
    counted.clear()
    again = client.get("/api/v1/reports/portfolio", params=params, headers=keys.viewer)
    assert again.json() == first.json()
    assert len(counted) < computed  # the version is read; the figures are not recomputed
    etag = first.headers["ETag"]
    assert again.headers["ETag"] == etag
    unchanged = client.get(
        "/api/v1/reports/portfolio",
        params=params,
        headers={**keys.viewer, "If-None-Match": etag},
    )
    assert unchanged.status_code == 304 and unchanged.content == b""

    posted = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "1234.56", "RC-V1"),
        headers=keys.finance,
    )
    assert posted.status_code == 201, posted.text
    changed = client.get(
        "/api/v1/reports/portfolio",
        params=params,
        headers={**keys.viewer, "If-None-Match": etag},
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json()["totals"]["disbursed"] == "1234.56"
    other_question = client.get(
        "/api/v1/reports/portfolio", params={"group_by": "status"}, headers=keys.viewer
    )
    assert other_question.headers["ETag"] != changed.headers["ETag"]
