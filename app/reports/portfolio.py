"""The portfolio report (docs/REPORTS.md, Portfolio): the project figures summed per plan
item, category, status, site, funding source or year, with counts of projects and of each
flag, and totals over distinct projects. Four SQL statements as of today, five as of an
earlier date, whatever the programme's size: the figures (figures.gather: three, or four)
and the projects' groups; one more grouped by funding source (the sources' planned and paid)
or by year (what was paid in each).
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, literal, select
from sqlmodel import Session

from app.auth.actor import Actor
from app.auth.scope import visible_projects
from app.errors import InvalidInput, NotFound
from app.exports.dependencies import Lang
from app.funding.models import FundingSource, ProjectFunding
from app.labels import NO_GROUP, NONE, NOTES, TOTAL
from app.money import fen, share, yuan
from app.programmes.models import PlanItem, Programme
from app.programmes.service import get_programme
from app.projects.models import ProjectSite
from app.reports.asof import paid_by_month
from app.reports.budget import funding_query
from app.reports.figures import (
    Figures,
    P,
    Thresholds,
    add,
    each_row,
    evm_coverage,
    figures_by_project,
    flag_counts,
    project_ids,
    report_figures,
    threshold_strings,
)
from app.reports.schemas import FlagCounts, PortfolioGroup, PortfolioReport
from app.sites.models import Site


class GroupBy(StrEnum):
    plan_item = "plan_item"
    category = "category"
    status = "status"
    site = "site"
    funding_source = "funding_source"
    year = "year"
    project = "project"


PROJECT_FIGURE_FIELDS = (
    "original_estimate",
    "revised_estimate",
    "committed",
    "uncommitted",
    "remaining",
    "budget_variance",
    "budget_variance_pct",
    "financial_completion",
    "physical_completion",
    "planned_completion",
    "bac",
    "pv",
    "ev",
    "ac",
    "cv",
    "sv",
    "cpi",
    "spi",
    "eac",
    "vac",
    "evm_projects",
    "evm_coverage",
)


def _group(
    *,
    key: str | None,
    label: str,
    members: list[Figures],
    funding_planned: int,
    thresholds: Thresholds,
) -> PortfolioGroup:
    total = add(members, thresholds)
    over_budget, forecast_over, needs_revision, behind_schedule = flag_counts(members)
    return PortfolioGroup(
        key=key,
        label=label,
        projects=len(members),
        flags=FlagCounts(
            over_budget=over_budget,
            forecast_over=forecast_over,
            needs_revision=needs_revision,
            behind_schedule=behind_schedule,
        ),
        funding_planned=yuan(funding_planned),
        **report_figures(total),
        **evm_coverage(total),
    )


def _memberships(
    *, session: Session, group_by: GroupBy, scope: Select[Any], one_programme: bool
) -> list[tuple[int, str | None, str, int]]:
    """(project id, group key, group label, the project's planned funding) for every project
    of the scope; one statement. Plan items are keyed by their code within one programme,
    else by programme/code (two programmes may both have a 专栏7)."""
    if group_by is GroupBy.plan_item:
        pi = PlanItem.__table__  # type: ignore[attr-defined]
        pg = Programme.__table__  # type: ignore[attr-defined]
        code = pi.c.code if one_programme else pg.c.code + literal("/") + pi.c.code
        query = (
            select(P.c.id, code, pi.c.name)
            .select_from(
                P.join(pi, pi.c.id == P.c.plan_item_id).join(pg, pg.c.id == pi.c.programme_id)
            )
            .order_by(pg.c.code, pi.c.code)
        )
    elif group_by is GroupBy.site:
        ps = ProjectSite.__table__  # type: ignore[attr-defined]
        site = Site.__table__  # type: ignore[attr-defined]
        query = (
            select(P.c.id, site.c.id, site.c.name)
            .select_from(
                P.outerjoin(ps, ps.c.project_id == P.c.id).outerjoin(
                    site, site.c.id == ps.c.site_id
                )
            )
            .order_by(site.c.name)
        )
    elif group_by is GroupBy.funding_source:
        pf = ProjectFunding.__table__  # type: ignore[attr-defined]
        fs = FundingSource.__table__  # type: ignore[attr-defined]
        query = (
            select(P.c.id, fs.c.code, fs.c.name)
            .select_from(
                P.outerjoin(pf, pf.c.project_id == P.c.id).outerjoin(
                    fs, fs.c.id == pf.c.funding_source_id
                )
            )
            .order_by(fs.c.sort_order, fs.c.id)
        )
    elif group_by is GroupBy.year:
        query = select(P.c.id, P.c.planned_finish, P.c.planned_finish).order_by(P.c.planned_finish)
    elif group_by is GroupBy.project:
        query = select(P.c.id, P.c.code, P.c.name).order_by(P.c.code)
    else:
        column = P.c.category if group_by is GroupBy.category else P.c.status
        query = select(P.c.id, column, column).order_by(column)
    pf = ProjectFunding.__table__  # type: ignore[attr-defined]
    funding = (
        select(pf.c.project_id, func.sum(fen(pf.c.planned)).label("planned"))
        .where(pf.c.project_id.in_(scope))
        .group_by(pf.c.project_id)
        .subquery()
    )
    query = query.add_columns(func.coalesce(funding.c.planned, 0)).outerjoin(
        funding, funding.c.project_id == P.c.id
    )
    rows = each_row(session, query.where(P.c.id.in_(scope)))
    if group_by is GroupBy.year:
        return [
            (pid, None if finish is None else str(finish.year), "", int(planned))
            for pid, finish, _, planned in rows
        ]
    return [
        (pid, None if key is None else str(key), label, int(planned))
        for pid, key, label, planned in rows
    ]


def _no_group(group_by: GroupBy) -> str:
    """The label of the projects without a group (app.labels; `?lang=` may change it)."""
    return NO_GROUP.get(group_by, NONE)[Lang.en]


def portfolio_scope(
    *, session: Session, actor: Actor, programme: str | None
) -> tuple[Select[Any], str | None]:
    """The projects a portfolio covers: the caller's, of one programme if named."""
    clauses: list[Any] = [visible_projects(actor)]
    code = None
    if programme is not None:
        try:
            found = get_programme(session=session, ref=programme, actor=actor)
        except NotFound as missing:
            raise InvalidInput(str(missing), field="programme", location="query") from None
        code = found.code
        pi = PlanItem.__table__  # type: ignore[attr-defined]
        clauses.append(P.c.plan_item_id.in_(select(pi.c.id).where(pi.c.programme_id == found.id)))
    return project_ids(*clauses), code


def portfolio(
    *,
    session: Session,
    actor: Actor,
    programme: str | None,
    group_by: GroupBy,
    as_of: date,
    today: date,
    thresholds: Thresholds,
) -> PortfolioReport:
    """The project figures summed per group, with counts of projects and flags, and totals
    over distinct projects. A fixed number of statements whatever the programme's size."""
    scope, code = portfolio_scope(session=session, actor=actor, programme=programme)
    by_project = figures_by_project(
        session=session, scope=scope, as_of=as_of, today=today, thresholds=thresholds
    )
    members: dict[str | None, list[int]] = {}
    labels: dict[str | None, str] = {}
    planned_by_project: dict[int, int] = defaultdict(int)
    for pid, key, label, planned in _memberships(
        session=session, group_by=group_by, scope=scope, one_programme=code is not None
    ):
        members.setdefault(key, []).append(pid)
        labels[key] = label or key or _no_group(group_by)
        planned_by_project[pid] = planned

    def group(key: str | None, pids: list[int]) -> PortfolioGroup:
        return _group(
            key=key,
            label=labels.get(key) or key or _no_group(group_by),
            members=[by_project[pid] for pid in pids if pid in by_project],
            funding_planned=sum(planned_by_project[pid] for pid in pids),
            thresholds=thresholds,
        )

    groups = [group(key, pids) for key, pids in members.items()]
    if group_by is GroupBy.funding_source:
        funding = _funding_by_source(session=session, scope=scope, as_of=as_of, today=today)
        groups = _by_source(groups, funding)
    elif group_by is GroupBy.year:
        groups = _by_year(groups, _paid_by_year(session=session, scope=scope, as_of=as_of))
    totals = group("total", list(by_project))
    totals.label = TOTAL[Lang.en]
    return PortfolioReport(
        as_of=as_of,
        programme=code,
        group_by=group_by.value,
        groups=groups,
        totals=totals,
        thresholds=threshold_strings(thresholds),
        notes=[NOTES[group_by][Lang.en]] if group_by in NOTES else [],
    )


def _funding_by_source(
    *, session: Session, scope: Select[Any], as_of: date, today: date
) -> dict[str, tuple[int, int]]:
    """Per funding source code: (planned, paid by the date) summed over the scope's projects;
    one statement."""
    funding = funding_query(scope=scope, as_of=as_of, today=today).subquery()
    rows = session.execute(
        select(funding.c.code, func.sum(funding.c.planned), func.sum(funding.c.paid)).group_by(
            funding.c.code
        )
    ).all()
    return {code: (int(planned), int(paid)) for code, planned, paid in rows}


def _paid_by_year(*, session: Session, scope: Select[Any], as_of: date) -> dict[str, int]:
    """What the scope's projects were paid in each year up to the date; one statement."""
    years: dict[str, int] = {}
    for month, amount in session.execute(paid_by_month(scope=scope, as_of=as_of)):
        years[str(month.year)] = years.get(str(month.year), 0) + int(amount)
    return years


def _by_source(
    groups: list[PortfolioGroup], funding: dict[str, tuple[int, int]]
) -> list[PortfolioGroup]:
    """The funding source groups with the sources' own planned and paid figures, and none of
    the projects' (see NOTES)."""
    blank = dict.fromkeys(PROJECT_FIGURE_FIELDS)
    result = []
    for group in groups:
        if group.key is None:
            continue  # projects with no funding plan: their money is in the totals
        planned, paid = funding.get(group.key, (0, 0))
        result.append(
            group.model_copy(
                update={
                    **blank,
                    "funding_planned": yuan(planned),
                    "disbursed": yuan(paid),
                    "remaining": yuan(planned - paid),
                    "financial_completion": share(paid, planned),
                }
            )
        )
    return result


MIXED_BY_YEAR = (
    "remaining",
    "budget_variance",
    "budget_variance_pct",
    "financial_completion",
    "ac",
    "cv",
    "cpi",
    "eac",
    "vac",
)


def _by_year(groups: list[PortfolioGroup], paid: dict[str, int]) -> list[PortfolioGroup]:
    """The year groups with what was paid in each year, and none of the figures that would
    mix years (see NOTES); a year with payments but no project finishing in it is added."""
    blank = dict.fromkeys(MIXED_BY_YEAR)
    by_key = {group.key: group for group in groups}
    nothing = add([], Thresholds())
    for year in paid:
        if year not in by_key:
            by_key[year] = PortfolioGroup(
                key=year,
                label=year,
                projects=0,
                flags=FlagCounts(
                    over_budget=0, forecast_over=0, needs_revision=0, behind_schedule=0
                ),
                funding_planned=Decimal("0.00"),
                **report_figures(nothing),
                **evm_coverage(nothing),
            )
    result = []
    for key in sorted(by_key, key=lambda k: (k is None, k or "")):
        group = by_key[key]
        result.append(
            group.model_copy(
                update={
                    **blank,
                    "label": key or group.label,
                    "disbursed": yuan(paid.get(key or "", 0)),
                }
            )
        )
    return result
