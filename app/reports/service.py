"""Reports. Dues: certified amounts not yet paid (保障中小企业款项支付条例 第9条: pay within the
contract's term, at most 60 days) and retention falling due when defects periods end."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    func,
    literal,
    select,
)
from sqlmodel import Session

from app.auth.actor import Actor
from app.auth.scope import own_contracts, visible_projects
from app.contractors.models import Contractor
from app.contracts.models import ChangeOrder, Contract
from app.contracts.terms import contract_terms
from app.errors import InvalidInput, NotFound
from app.funding.models import FundingSource, ProjectFunding
from app.milestones.models import Milestone, MilestoneProgress
from app.money import fen, share, yuan
from app.programmes.models import PlanItem, Programme
from app.programmes.service import get_programme
from app.projects.models import Project, ProjectSite
from app.reports import asof
from app.reports.budget import budget_lines, funding
from app.reports.evm import EarnedValue, earned_and_planned
from app.reports.figures import (
    Figures,
    P,
    Thresholds,
    add,
    derive,
    each_row,
    flag_counts,
    gather,
    money,
    project_ids,
)
from app.reports.schemas import (
    Alert,
    AlertsReport,
    CertifiedDue,
    ContractReport,
    DuesReport,
    FlagCounts,
    FundingReport,
    LineReport,
    PortfolioGroup,
    PortfolioReport,
    ProjectReport,
    ReportFlags,
    RetentionDue,
    TimeseriesPoint,
    TimeseriesReport,
)
from app.revisions.models import ProjectRevision
from app.sites.models import Site
from app.timeutil import later

FEN = Decimal("0.01")


def dues(*, session: Session, actor: Actor, as_of: date, today: date) -> DuesReport:
    """What is certified and unpaid, and retention falling due, as of a date: payments,
    change orders and 竣工验收 dated later don't count."""
    m = Milestone.__table__  # type: ignore[attr-defined]
    c = Contract.__table__  # type: ignore[attr-defined]
    cb = asof.paid_by_contract(scope=None, as_of=as_of, today=today)
    p = Project.__table__  # type: ignore[attr-defined]
    k = Contractor.__table__  # type: ignore[attr-defined]
    # Payments on a contract cover its certifications oldest first: each certification's
    # unpaid part is what the running total of certifications exceeds the paid amount by.
    certified = (
        select(
            m.c.id,
            m.c.contract_id,
            m.c.name,
            m.c.certified_on,
            fen(m.c.certified_amount).label("amount"),
            func.sum(fen(m.c.certified_amount))
            .over(partition_by=m.c.contract_id, order_by=(m.c.certified_on, m.c.id))
            .label("running"),
        )
        .where(
            m.c.certified_amount.is_not(None),
            m.c.contract_id.is_not(None),
            m.c.certified_on <= as_of,
        )
        .subquery()
    )
    paid = func.coalesce(cb.c.paid, literal(0))
    left = certified.c.running - paid
    unpaid = case((left <= 0, 0), (left >= certified.c.amount, certified.c.amount), else_=left)
    rows = session.execute(
        select(
            certified.c.id,
            certified.c.name,
            certified.c.certified_on,
            certified.c.amount,
            unpaid.label("unpaid"),
            c.c.id.label("contract_id"),
            c.c.contract_no,
            c.c.payment_term_days,
            p.c.id.label("project_id"),
            p.c.code,
            k.c.name.label("contractor"),
        )
        .select_from(
            certified.join(c, c.c.id == certified.c.contract_id)
            .outerjoin(cb, cb.c.contract_id == c.c.id)
            .join(p, p.c.id == c.c.project_id)
            .join(k, k.c.id == c.c.contractor_id)
        )
        .where(unpaid > 0, visible_projects(actor), *own_contracts(actor, c.c.id))
    ).all()
    items = []
    for row in rows:
        due_on = later(row.certified_on, days=row.payment_term_days)
        items.append(
            CertifiedDue(
                milestone_id=row.id,
                milestone=row.name,
                project_id=row.project_id,
                project_code=row.code,
                contract_id=row.contract_id,
                contract_no=row.contract_no,
                contractor=row.contractor,
                certified_amount=Decimal(row.amount) * FEN,
                unpaid=Decimal(row.unpaid) * FEN,
                certified_on=row.certified_on,
                due_on=due_on,
                overdue_days=max(0, (as_of - due_on).days),
            )
        )
    items.sort(key=lambda d: (-d.overdue_days, d.due_on, d.milestone_id))
    retention = []
    co = ChangeOrder.__table__  # type: ignore[attr-defined]
    changes = (
        select(co.c.contract_id, func.sum(fen(co.c.delta)).label("delta"))
        .where(co.c.approved_on <= as_of)
        .group_by(co.c.contract_id)
        .subquery()
    )
    for row in session.execute(
        select(
            c.c.id,
            c.c.contract_no,
            c.c.amount,
            c.c.retention_rate,
            c.c.accepted_on,
            c.c.defects_months,
            func.coalesce(changes.c.delta, 0).label("delta"),
            func.coalesce(cb.c.paid, 0).label("paid"),
            p.c.id.label("project_id"),
            p.c.code,
            k.c.name.label("contractor"),
        )
        .select_from(
            c.outerjoin(changes, changes.c.contract_id == c.c.id)
            .outerjoin(cb, cb.c.contract_id == c.c.id)
            .join(p, p.c.id == c.c.project_id)
            .join(k, k.c.id == c.c.contractor_id)
        )
        .where(c.c.accepted_on <= as_of, visible_projects(actor), *own_contracts(actor, c.c.id))
        .order_by(c.c.accepted_on, c.c.id)
    ).all():
        terms = contract_terms(
            amount=row.amount,
            changes=Decimal(row.delta) * FEN,
            paid=Decimal(row.paid) * FEN,
            retention_rate=row.retention_rate,
            accepted_on=row.accepted_on,
            defects_months=row.defects_months,
        )
        if terms.retention_held <= 0 or terms.retention_due_on is None:
            continue
        retention.append(
            RetentionDue(
                contract_id=row.id,
                contract_no=row.contract_no,
                project_id=row.project_id,
                project_code=row.code,
                contractor=row.contractor,
                retention_held=terms.retention_held,
                accepted_on=row.accepted_on,
                due_on=terms.retention_due_on,
                due=terms.retention_due_on <= as_of,
            )
        )
    retention.sort(key=lambda r: (not r.due, r.due_on))
    return DuesReport(
        as_of=as_of,
        certified=items,
        certified_unpaid_total=sum((d.unpaid for d in items), Decimal(0)),
        overdue_total=sum((d.unpaid for d in items if d.overdue_days > 0), Decimal(0)),
        retention=retention,
    )


def report_figures(figures: Figures) -> dict[str, Any]:
    """The fields of ReportFigures from exact figures (PRODUCT.md names and formulas)."""
    revised, disbursed, ev, pv = figures.revised, figures.disbursed, figures.ev, figures.pv
    remaining = revised - disbursed
    return {
        "original_estimate": money(figures.original),
        "revised_estimate": money(revised),
        "committed": money(figures.committed),
        "uncommitted": money(revised - figures.committed),
        "disbursed": money(disbursed),
        "remaining": money(remaining),
        "budget_variance": money(remaining),
        "budget_variance_pct": share(remaining, revised),
        "financial_completion": share(disbursed, revised),
        "physical_completion": None if figures.physical is None else share(*figures.physical),
        "planned_completion": None if figures.planned is None else share(*figures.planned),
        "bac": money(revised),
        "pv": money(pv),
        "ev": money(ev),
        "ac": money(disbursed),
        "cv": money(ev - disbursed),
        "sv": money(ev - pv),
        "cpi": share(ev, disbursed),
        "spi": share(ev, pv),
        "eac": money(figures.eac),
        "vac": None if figures.eac is None else money(revised - figures.eac),
    }


def _flags(figures: Figures) -> ReportFlags:
    return ReportFlags(
        over_budget=figures.over_budget,
        forecast_over=figures.forecast_over,
        needs_revision=figures.needs_revision,
        behind_schedule=figures.behind_schedule,
    )


def figures_by_project(
    *, session: Session, scope: Select[Any], as_of: date, today: date, thresholds: Thresholds
) -> dict[int, Figures]:
    """Every project of the scope's figures as of the date, from a fixed number of SQL
    aggregates whatever the number of projects."""
    return {
        project_id: derive(ingredients, as_of, thresholds)
        for project_id, ingredients in gather(session, scope=scope, as_of=as_of, today=today)
    }


def _contract_reports(
    *, session: Session, project_id: int, as_of: date, today: date
) -> list[ContractReport]:
    """Each contract signed by the date: committed, paid, retention held, payable now."""
    c = Contract.__table__  # type: ignore[attr-defined]
    co = ChangeOrder.__table__  # type: ignore[attr-defined]
    k = Contractor.__table__  # type: ignore[attr-defined]
    changes = (
        select(co.c.contract_id, func.sum(fen(co.c.delta)).label("delta"))
        .where(co.c.approved_on <= as_of)
        .group_by(co.c.contract_id)
        .subquery()
    )
    paid = asof.paid_by_contract(scope=project_ids(P.c.id == project_id), as_of=as_of, today=today)
    rows = session.execute(
        select(
            c.c.id,
            c.c.contract_no,
            c.c.signed_on,
            c.c.amount,
            c.c.retention_rate,
            c.c.accepted_on,
            c.c.defects_months,
            k.c.name.label("contractor"),
            func.coalesce(changes.c.delta, 0).label("delta"),
            func.coalesce(paid.c.paid, 0).label("paid"),
        )
        .select_from(
            c.join(k, k.c.id == c.c.contractor_id)
            .outerjoin(changes, changes.c.contract_id == c.c.id)
            .outerjoin(paid, paid.c.contract_id == c.c.id)
        )
        .where(c.c.project_id == project_id, c.c.signed_on <= as_of)
        .order_by(c.c.signed_on, c.c.id)
    ).all()
    reports = []
    for row in rows:
        accepted_on = row.accepted_on if row.accepted_on and row.accepted_on <= as_of else None
        terms = contract_terms(
            amount=row.amount,
            changes=Decimal(int(row.delta)).scaleb(-2),
            paid=Decimal(int(row.paid)).scaleb(-2),
            retention_rate=row.retention_rate,
            accepted_on=accepted_on,
            defects_months=row.defects_months,
        )
        reports.append(
            ContractReport(
                contract_id=row.id,
                contract_no=row.contract_no,
                contractor=row.contractor,
                signed_on=row.signed_on,
                accepted_on=accepted_on,
                committed=terms.committed,
                paid=terms.paid,
                retention_held=terms.retention_held,
                payable_now=terms.payable_now,
            )
        )
    return reports


def project_report(
    *, session: Session, project: Project, as_of: date, today: date, thresholds: Thresholds
) -> ProjectReport:
    """The figures of PRODUCT.md for one project as of a date, with its budget lines,
    funding sources and contracts."""
    assert project.id is not None
    found = figures_by_project(
        session=session,
        scope=project_ids(P.c.id == project.id),
        as_of=as_of,
        today=today,
        thresholds=thresholds,
    )
    project_figures = found[project.id]
    return ProjectReport(
        project_id=project.id,
        code=project.code,
        name=project.name,
        as_of=as_of,
        **report_figures(project_figures),
        flags=_flags(project_figures),
        budget_lines=[
            LineReport(**line.figures(), name=line.name)
            for line in budget_lines(session, project_id=project.id, as_of=as_of, today=today)
        ],
        funding=[
            FundingReport(**source.figures(), remaining=yuan(source.planned - source.disbursed))
            for source in funding(session, project_id=project.id, as_of=as_of, today=today)
        ],
        contracts=_contract_reports(
            session=session, project_id=project.id, as_of=as_of, today=today
        ),
    )


class GroupBy(StrEnum):
    plan_item = "plan_item"
    category = "category"
    status = "status"
    site = "site"
    funding_source = "funding_source"
    year = "year"


NO_GROUP = {
    GroupBy.plan_item: "(no plan item)",
    GroupBy.site: "(no site)",
    GroupBy.funding_source: "(no funding source)",
    GroupBy.year: "(no planned finish)",
}
NOTES = {
    GroupBy.site: "A project on several sites counts in full under each of them and once in "
    "the totals, so the groups may add up to more than the totals.",
    GroupBy.funding_source: "Per funding source: funding_planned is the sources' share of the "
    "projects' funding plans and disbursed what was paid from it; remaining = funding_planned "
    "− disbursed. Estimates, commitments and earned value belong to projects, not sources, "
    "and are null here (see the totals). A project drawing on several sources counts under "
    "each; a project with no funding plan and no payments counts in the totals only.",
    GroupBy.year: "Money paid is grouped by the year it was paid; estimates, commitments, "
    "earned and planned value, project counts and flags by the year of the project's planned "
    "finish. Figures that would mix the two (remaining, variance, completion shares, ac, cv, "
    "cpi, eac, vac) are null in the year rows and given in the totals.",
}
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
        funding_planned=money(funding_planned),
        **report_figures(total),
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


def _funding_by_project(
    *, session: Session, scope: Select[Any], as_of: date, today: date
) -> list[tuple[int, str, int, int]]:
    """(project id, source code, planned, disbursed as of the date) per funding source."""
    pf = ProjectFunding.__table__  # type: ignore[attr-defined]
    fs = FundingSource.__table__  # type: ignore[attr-defined]
    paid = asof.paid_by_funding_source(scope=scope, as_of=as_of, today=today)
    rows = session.execute(
        select(pf.c.project_id, fs.c.code, fen(pf.c.planned), func.coalesce(paid.c.paid, 0))
        .select_from(
            pf.join(fs, fs.c.id == pf.c.funding_source_id).outerjoin(
                paid,
                and_(
                    paid.c.project_id == pf.c.project_id,
                    paid.c.funding_source_id == pf.c.funding_source_id,
                ),
            )
        )
        .where(pf.c.project_id.in_(scope))
    ).all()
    return [(pid, code, int(planned), int(paid)) for pid, code, planned, paid in rows]


def _paid_by_year(*, session: Session, scope: Select[Any], as_of: date) -> dict[str, int]:
    rows = session.execute(asof.paid_by_period(scope=scope, as_of=as_of, monthly=False)).all()
    return {str(int(y)): int(amount) for y, amount in rows}


def portfolio_scope(
    *, session: Session, actor: Actor, programme: str | None
) -> tuple[Select[Any], str | None]:
    """The projects a portfolio covers: the caller's, of one programme if named."""
    clauses: list[Any] = [visible_projects(actor)]
    code = None
    if programme is not None:
        try:
            found = get_programme(session=session, ref=programme)
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
        labels[key] = label or (key or NO_GROUP.get(group_by, "(none)"))
        planned_by_project[pid] = planned

    def group(key: str | None, pids: list[int]) -> PortfolioGroup:
        return _group(
            key=key,
            label=labels.get(key) or key or NO_GROUP.get(group_by, "(none)"),
            members=[by_project[pid] for pid in pids if pid in by_project],
            funding_planned=sum(planned_by_project[pid] for pid in pids),
            thresholds=thresholds,
        )

    groups = [group(key, pids) for key, pids in members.items()]
    if group_by is GroupBy.funding_source:
        funding = _funding_by_project(session=session, scope=scope, as_of=as_of, today=today)
        groups = _by_source(groups, funding)
    elif group_by is GroupBy.year:
        groups = _by_year(groups, _paid_by_year(session=session, scope=scope, as_of=as_of))
    totals = group("total", list(by_project))
    totals.label = "Total"
    return PortfolioReport(
        as_of=as_of,
        programme=code,
        group_by=group_by.value,
        groups=groups,
        totals=totals,
        thresholds=_threshold_strings(thresholds),
        notes=[NOTES[group_by]] if group_by in NOTES else [],
    )


def _threshold_strings(thresholds: Thresholds) -> dict[str, str]:
    return {
        "needs_revision": str(thresholds.needs_revision),
        "behind_schedule_spi": str(thresholds.behind_schedule_spi),
    }


def _by_source(
    groups: list[PortfolioGroup], funding: list[tuple[int, str, int, int]]
) -> list[PortfolioGroup]:
    planned: dict[str, int] = defaultdict(int)
    paid: dict[str, int] = defaultdict(int)
    for _pid, code, amount, disbursed in funding:
        planned[code] += amount
        paid[code] += disbursed
    blank = dict.fromkeys(PROJECT_FIGURE_FIELDS)
    result = []
    for group in groups:
        if group.key is None:
            continue  # projects with no funding plan: their money is in the totals
        remaining = planned[group.key] - paid[group.key]
        result.append(
            group.model_copy(
                update={
                    **blank,
                    "funding_planned": money(planned[group.key]),
                    "disbursed": money(paid[group.key]),
                    "remaining": money(remaining),
                    "financial_completion": share(paid[group.key], planned[group.key]),
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
    blank = dict.fromkeys(MIXED_BY_YEAR)
    by_key = {group.key: group for group in groups}
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
                **report_figures(add([], Thresholds())),
            )
    result = []
    for key in sorted(by_key, key=lambda k: (k is None, k or "")):
        group = by_key[key]
        result.append(
            group.model_copy(
                update={
                    **blank,
                    "label": key or group.label,
                    "disbursed": money(paid.get(key or "", 0)),
                }
            )
        )
    return result


class Interval(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


MAX_PERIODS = 600
STEP_MONTHS = {Interval.month: 1, Interval.quarter: 3, Interval.year: 12}


def periods(start: date, end: date, interval: Interval) -> list[tuple[str, date, date]]:
    """(label, first day, last day) of each period from the one holding `start` to the one
    holding `end`, at most MAX_PERIODS of them (422 beyond: ask for a longer interval or a
    later `from`)."""
    step = STEP_MONTHS[interval]
    first_month = start.month - (start.month - 1) % step
    count = ((end.year - start.year) * 12 + end.month - first_month) // step + 1
    if count > MAX_PERIODS:
        raise InvalidInput(
            f"{count} periods from {start} to {end}; at most {MAX_PERIODS}: choose a longer "
            "interval or a later `from`",
            field="interval",
            location="query",
        )
    first = date(start.year, first_month, 1)
    found = []
    for _ in range(count):
        following = later(first, months=step)
        last = date.max if following == date.max else following - timedelta(days=1)
        if interval is Interval.month:
            label = f"{first.year}-{first.month:02d}"
        elif interval is Interval.quarter:
            label = f"{first.year}-Q{(first.month - 1) // 3 + 1}"
        else:
            label = str(first.year)
        found.append((label, first, last))
        first = following
    return found


def timeseries(
    *,
    session: Session,
    actor: Actor,
    project: str | None,
    programme: str | None,
    interval: Interval,
    since: date | None,
    as_of: date,
) -> TimeseriesReport:
    """Per period: disbursed, and at the period's end (or the as-of date) the cumulative AC,
    PV, EV and BAC — the S-curve of a project, a programme, or (naming neither) every project
    the caller can see. Periods run from `since` (default: the earliest payment, planned start
    or milestone) to `as_of`. Six statements whatever the number of projects, payments and
    periods: the dated facts are read once and swept through the periods in order."""
    from app.projects.service import get_project

    if project is not None and programme is not None:
        raise InvalidInput(
            "name a project or a programme, not both", field="programme", location="query"
        )
    if project is not None:
        try:
            found = get_project(session=session, actor=actor, ref=project)
        except NotFound as missing:
            raise InvalidInput(str(missing), field="project", location="query") from None
        scope, label = project_ids(P.c.id == found.id), f"project {found.code}"
    else:
        scope, code = portfolio_scope(session=session, actor=actor, programme=programme)
        label = "all projects" if code is None else f"programme {code}"
    history = _History.read(session, scope=scope, as_of=as_of)
    starts = [day for day in history.first_days() if day <= as_of]
    if since is not None:
        starts = [since] if since <= as_of else []
    spans = periods(min(starts), as_of, interval) if starts else []
    points = []
    cumulative = sum(
        amount for month, amount in history.paid_by_month.items() if spans and month < spans[0][1]
    )
    for period, first, last in spans:
        end = min(last, as_of)
        paid = sum(
            amount for month, amount in history.paid_by_month.items() if first <= month <= last
        )
        cumulative += paid
        bac, pv, ev = history.values_at(end)
        points.append(
            TimeseriesPoint(
                period=period,
                start=first,
                end=end,
                disbursed=money(paid),
                ac=money(cumulative),
                pv=money(pv),
                ev=money(ev),
                bac=money(bac),
            )
        )
    return TimeseriesReport(scope=label, interval=interval.value, as_of=as_of, points=points)


@dataclass
class _Plan:
    """One project's state in the sweep: its estimate in force, its milestones in planned
    order, and Σ weight × percent of the progress reported so far."""

    revised: int
    start: date | None
    dates: list[date]
    weights: list[int]
    due: list[int]  # due[k] = Σ weights of the first k milestones
    percent: dict[int, int]
    weight_of: dict[int, int]
    weighted: int = 0
    passed: int = 0  # milestones planned on or before the sweep's date

    def earned(self, day: date) -> EarnedValue:
        """EV and PV at `day`, by the formula of the project figures (the sweep only moves
        on)."""
        dates, k = self.dates, self.passed
        while k < len(dates) and dates[k] <= day:
            k += 1
        self.passed = k
        following = k < len(dates)
        # By position: one call per project per period, where keywords cost a tenth more.
        return earned_and_planned(
            self.revised,
            self.weighted,
            self.due[-1],
            self.due[k],
            self.weights[k] if following else 0,
            dates[k - 1] if k else self.start,
            dates[k] if following else None,
            day,
        )


@dataclass
class _History:
    """The dated facts of the projects in scope, read once, replayed in date order."""

    plans: dict[int, _Plan]
    revisions: list[tuple[date, int, int, int]]  # approved_on, id, project, estimate
    reports: list[tuple[date, int, int, int]]  # as_of, id, milestone, percent
    milestone_project: dict[int, int]
    paid_by_month: dict[date, int]
    first_planned: list[date]
    applied_revisions: int = 0
    applied_reports: int = 0

    @classmethod
    def read(cls, session: Session, *, scope: Select[Any], as_of: date) -> "_History":
        m = Milestone.__table__  # type: ignore[attr-defined]
        mp = MilestoneProgress.__table__  # type: ignore[attr-defined]
        r = ProjectRevision.__table__  # type: ignore[attr-defined]
        projects = session.execute(
            select(P.c.id, fen(P.c.original_estimate), P.c.planned_start).where(P.c.id.in_(scope))
        ).all()
        milestones = session.execute(
            select(m.c.id, m.c.project_id, fen(m.c.weight), m.c.planned_date)
            .where(m.c.project_id.in_(scope))
            .order_by(m.c.project_id, m.c.planned_date, m.c.id)
        ).all()
        revisions = session.execute(
            select(r.c.approved_on, r.c.id, r.c.project_id, fen(r.c.new_estimate))
            .where(r.c.project_id.in_(scope), r.c.approved_on <= as_of)
            .order_by(r.c.approved_on, r.c.id)
        ).all()
        reports = session.execute(
            select(mp.c.as_of, mp.c.id, mp.c.milestone_id, fen(mp.c.percent_complete))
            .select_from(mp.join(m, m.c.id == mp.c.milestone_id))
            .where(m.c.project_id.in_(scope), mp.c.as_of <= as_of)
            .order_by(mp.c.as_of, mp.c.id)
        ).all()
        paid = session.execute(asof.paid_by_period(scope=scope, as_of=as_of, monthly=True)).all()
        plans = {
            pid: _Plan(
                revised=int(original),
                start=start,
                dates=[],
                weights=[],
                due=[0],
                percent={},
                weight_of={},
            )
            for pid, original, start in projects
        }
        milestone_project = {}
        for mid, pid, weight, planned in milestones:
            plan = plans.get(pid)
            if plan is None:
                continue
            plan.dates.append(planned)
            plan.weights.append(int(weight))
            plan.due.append(plan.due[-1] + int(weight))
            plan.weight_of[mid] = int(weight)
            milestone_project[mid] = pid
        first_planned = [plan.start for plan in plans.values() if plan.start is not None]
        first_planned += [plan.dates[0] for plan in plans.values() if plan.dates]
        return cls(
            plans=plans,
            revisions=[tuple(row) for row in revisions],
            reports=[tuple(row) for row in reports],
            milestone_project=milestone_project,
            paid_by_month={date(int(y), int(mo), 1): int(amount) for y, mo, amount in paid},
            first_planned=first_planned,
        )

    def first_days(self) -> list[date]:
        """The planned starts, the first planned milestones, and the first month paid."""
        paid = [min(self.paid_by_month)] if self.paid_by_month else []
        return [*self.first_planned, *paid]

    def values_at(self, day: date) -> tuple[int, int, int]:
        """(BAC, PV, EV) summed over the projects as of `day`; days must not go back."""
        while self.applied_revisions < len(self.revisions):
            approved_on, _id, pid, estimate = self.revisions[self.applied_revisions]
            if approved_on > day:
                break
            if pid in self.plans:
                self.plans[pid].revised = estimate
            self.applied_revisions += 1
        while self.applied_reports < len(self.reports):
            reported_on, _id, mid, percent = self.reports[self.applied_reports]
            if reported_on > day:
                break
            plan = self.plans.get(self.milestone_project.get(mid, -1))
            if plan is not None:
                weight = plan.weight_of[mid]
                plan.weighted += weight * (percent - plan.percent.get(mid, 0))
                plan.percent[mid] = percent
            self.applied_reports += 1
        bac = pv = ev = 0
        for plan in self.plans.values():
            plan_ev, plan_pv, _physical, _planned = plan.earned(day)
            bac += plan.revised
            pv += plan_pv
            ev += plan_ev
        return bac, pv, ev


FINAL_ACCOUNTS_MONTHS = 3
ACCEPTANCE_CODE = "竣工验收"
SEVERITY = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def alerts(
    *, session: Session, actor: Actor, as_of: date, today: date, thresholds: Thresholds
) -> AlertsReport:
    """Every project or contract with a flag, most severe first, each with its figures."""
    scope = project_ids(visible_projects(actor))
    by_project = figures_by_project(
        session=session, scope=scope, as_of=as_of, today=today, thresholds=thresholds
    )
    m = Milestone.__table__  # type: ignore[attr-defined]
    c = Contract.__table__  # type: ignore[attr-defined]
    # 竣工验收: the project's milestone of that code reached, else every contract accepted.
    reached = (
        select(m.c.project_id, func.max(m.c.actual_date).label("on"))
        .where(m.c.code == ACCEPTANCE_CODE, m.c.actual_date <= as_of)
        .group_by(m.c.project_id)
        .subquery()
    )
    accepted_contract = c.c.accepted_on <= as_of
    contracts = (
        select(
            c.c.project_id,
            func.max(case((accepted_contract, c.c.accepted_on))).label("on"),
            func.count().label("signed"),
            func.count(case((accepted_contract, 1))).label("accepted"),
        )
        .where(c.c.signed_on <= as_of)
        .group_by(c.c.project_id)
        .subquery()
    )
    all_accepted = case((contracts.c.signed == contracts.c.accepted, contracts.c.on), else_=None)
    projects = session.execute(
        select(
            P.c.id,
            P.c.code,
            P.c.name,
            P.c.final_accounts_on,
            func.coalesce(reached.c.on, all_accepted).label("accepted_on"),
        )
        .select_from(
            P.outerjoin(reached, reached.c.project_id == P.c.id).outerjoin(
                contracts, contracts.c.project_id == P.c.id
            )
        )
        .where(P.c.id.in_(scope))
    ).all()
    # A project created after the figures were read (READ COMMITTED) waits for the next ask.
    found = [
        alert
        for row in projects
        if row.id in by_project
        for alert in _project_alerts(row, by_project[row.id], as_of, thresholds)
    ]
    owed = dues(session=session, actor=actor, as_of=as_of, today=today)
    by_contract: dict[int, list[CertifiedDue]] = defaultdict(list)
    for due in owed.certified:
        if due.overdue_days > 0:
            by_contract[due.contract_id].append(due)
    for items in by_contract.values():
        first = items[0]
        unpaid = sum((item.unpaid for item in items), Decimal(0))
        found.append(
            Alert(
                kind="payments_overdue",
                severity="high",
                project_id=first.project_id,
                project_code=first.project_code,
                contract_id=first.contract_id,
                contract_no=first.contract_no,
                message=f"{first.contract_no} ({first.contractor}): {unpaid} certified and "
                f"unpaid past the payment term, the oldest {first.overdue_days} days overdue",
                due_on=min(item.due_on for item in items),
                figures={
                    "overdue": str(unpaid),
                    "overdue_days": str(max(item.overdue_days for item in items)),
                    "certifications": str(len(items)),
                },
            )
        )
    for held in owed.retention:
        if held.due:
            found.append(
                Alert(
                    kind="retention_due",
                    severity="medium",
                    project_id=held.project_id,
                    project_code=held.project_code,
                    contract_id=held.contract_id,
                    contract_no=held.contract_no,
                    message=f"{held.contract_no} ({held.contractor}): retention "
                    f"{held.retention_held} due for release since {held.due_on}",
                    due_on=held.due_on,
                    figures={"retention_held": str(held.retention_held)},
                )
            )
    found.sort(key=lambda a: (SEVERITY[a.severity], KINDS.index(a.kind), a.project_code))
    return AlertsReport(as_of=as_of, thresholds=_threshold_strings(thresholds), alerts=found)


KINDS = (
    "over_budget",
    "payments_overdue",
    "forecast_over",
    "needs_revision",
    "final_accounts_due",
    "behind_schedule",
    "retention_due",
)


SHOWN = ("revised_estimate", "committed", "disbursed", "ev", "pv", "cpi", "spi", "eac")


def _project_alerts(row: Any, f: Figures, as_of: date, thresholds: Thresholds) -> list[Alert]:
    fields = report_figures(f)
    shown = {key: None if fields[key] is None else str(fields[key]) for key in SHOWN}
    raised: list[tuple[str, str, str, date | None]] = []
    if f.over_budget:
        raised.append(
            (
                "over_budget",
                "critical",
                f"disbursed {shown['disbursed']} exceeds the revised estimate "
                f"{shown['revised_estimate']}",
                None,
            )
        )
    if f.forecast_over:
        raised.append(
            (
                "forecast_over",
                "high",
                f"estimate at completion {shown['eac']} exceeds the revised estimate "
                f"{shown['revised_estimate']}",
                None,
            )
        )
    if f.needs_revision:
        raised.append(
            (
                "needs_revision",
                "high",
                "estimate at completion or committed exceeds the revised estimate by more than "
                f"{thresholds.needs_revision:%}: 概算调整 needed",
                None,
            )
        )
    if f.behind_schedule:
        raised.append(
            (
                "behind_schedule",
                "medium",
                f"SPI {shown['spi']} below {thresholds.behind_schedule_spi}",
                None,
            )
        )
    approved = row.final_accounts_on is not None and row.final_accounts_on <= as_of
    if row.accepted_on is not None and not approved:
        due_on = later(row.accepted_on, months=FINAL_ACCOUNTS_MONTHS)
        late = due_on < as_of
        raised.append(
            (
                "final_accounts_due",
                "high" if late else "low",
                f"竣工财务决算 {'overdue since' if late else 'due by'} {due_on} "
                f"(竣工验收 {row.accepted_on})",
                due_on,
            )
        )
    return [
        Alert(
            kind=kind,
            severity=severity,
            project_id=row.id,
            project_code=row.code,
            message=f"{row.code} {row.name}: {message}",
            due_on=due_on,
            figures=shown,
        )
        for kind, severity, message, due_on in raised
    ]
