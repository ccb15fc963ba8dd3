from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Response

from app.auth.dependencies import AnyRoleDep, StaffReaderDep
from app.db import SessionDep
from app.errors import problem_responses
from app.exports.dependencies import (
    EXPORT_RESPONSES,
    ExportFormat,
    FormatDep,
    Lang,
    LangDep,
    Unit,
    UnitDep,
    unit_for,
)
from app.exports.service import render
from app.inputs import IsoDate, SafeText
from app.params import TodayDep
from app.projects.dependencies import ProjectDep
from app.reports import alerts as alerts_report
from app.reports import budget as budget_model
from app.reports import dues as dues_report
from app.reports import exports
from app.reports import portfolio as portfolio_report
from app.reports import project as project_reports
from app.reports import timeseries as timeseries_report
from app.reports.dependencies import AsOf, IfNoneMatch, ReportCacheDep, ThresholdsDep
from app.reports.language import in_language
from app.reports.portfolio import GroupBy
from app.reports.schemas import (
    AlertsReport,
    DuesReport,
    PortfolioReport,
    ProjectBudget,
    ProjectReport,
    TimeseriesReport,
)
from app.reports.timeseries import MAX_PERIODS, Interval
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1/reports", tags=["reports"])
project_router = FeatureRouter(prefix="/api/v1/projects", tags=["reports"])
# The budget read model, documented with the ledger whose balances it reads.
budget_router = FeatureRouter(prefix="/api/v1/projects", tags=["ledger"])


def _filename(report: PortfolioReport | TimeseriesReport | AlertsReport) -> str:
    """The export's file name (without extension): what, for which scope, as of when."""
    if isinstance(report, PortfolioReport):
        return f"portfolio-{report.programme or 'all'}-{report.group_by}-{report.as_of}"
    if isinstance(report, TimeseriesReport):
        return f"timeseries-{report.interval}-{report.as_of}"
    return f"alerts-{report.as_of}"


CACHED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the ETag sent in If-None-Match is current"}
}


@dataclass(frozen=True)
class Exported:
    """How the caller wants a report: format, language, unit of money (exports), and the
    ETag it already holds."""

    fmt: ExportFormat
    lang: Lang
    unit: Unit
    if_none_match: str | None
    response: Response


def exported(
    fmt: FormatDep,
    lang: LangDep,
    unit: UnitDep,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> Exported:
    return Exported(
        fmt=fmt, lang=lang, unit=unit_for(fmt, unit), if_none_match=if_none_match, response=response
    )


ExportedDep = Annotated[Exported, Depends(exported)]


def _answer(report: Any, etag: str, asked: Exported, filename: str) -> Any:
    """The report as asked for (JSON, CSV or XLSX) with its ETag, or 304 when the caller
    already holds this version of this representation."""
    if asked.fmt is not ExportFormat.json:
        etag = f'{etag[:-1]}-{asked.fmt.value}-{asked.lang.value}-{asked.unit.value}"'
    elif asked.lang is not Lang.en:
        etag = f'{etag[:-1]}-{asked.lang.value}"'
    # The representation depends on Accept; If-None-Match compares weakly (RFC 9110 13.1.2).
    # Revalidated by the ETag, kept by the caller alone (the API's default is no-store).
    headers = {"ETag": etag, "Vary": "Accept", "Cache-Control": "private, no-cache"}
    sent = asked.if_none_match
    if sent and (sent.strip() == "*" or _opaque(etag) in (_opaque(tag) for tag in sent.split(","))):
        return Response(status_code=304, headers=headers)
    report = in_language(report, asked.lang)
    if asked.fmt is ExportFormat.json:
        asked.response.headers.update(headers)
        return report
    sheets = exports.sheets_for(report, asked.fmt, asked.lang)
    exported = render(sheets, fmt=asked.fmt, lang=asked.lang, filename=filename, unit=asked.unit)
    exported.headers.update(headers)
    return exported


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


Ref = Annotated[SafeText | None, Query(max_length=64, description="Id or code")]


@project_router.get(
    "/{ref}/report",
    response_model=ProjectReport,
    summary="A project's variance and completion report, earned value included, as of a date",
    description="Definitions: docs/REPORTS.md. Entries, revisions, commitments and progress "
    "dated after `as_of` don't count. A ratio whose denominator is zero is null. With "
    "breakdowns per budget line, funding source (planned vs disbursed) and contract. Staff "
    "only: a contractor sees its own contracts (`/contracts`) and dues (`/reports/dues`).",
    responses={**problem_responses(401, 403, 404, 422), **CACHED, **EXPORT_RESPONSES},
)
def project_report(
    actor: StaffReaderDep,
    project: ProjectDep,
    session: SessionDep,
    today: TodayDep,
    thresholds: ThresholdsDep,
    cache: ReportCacheDep,
    asked: ExportedDep,
    as_of: AsOf = None,
) -> Any:
    report, etag = cache.fetch(
        session,
        ("project", project.id, actor.role, actor.contractor_id, as_of, today, thresholds),
        lambda: project_reports.project_report(
            session=session,
            project=project,
            as_of=as_of or today,
            today=today,
            thresholds=thresholds,
        ),
    )
    return _answer(report, etag, asked, f"project-{report.code}-{report.as_of}")


@router.get(
    "/portfolio",
    response_model=PortfolioReport,
    summary="The programme's figures per plan item, category, status, site, funding source, year "
    "or project",
    description="The project figures summed per group, counts of projects and of each flag, and "
    "a totals row over distinct projects. Ratios of a group are the same formulas applied to "
    "the group's sums (cpi = Σev / Σac). `notes` says how the grouping counts.",
    responses={**problem_responses(401, 403, 422), **CACHED, **EXPORT_RESPONSES},
)
def portfolio(
    actor: StaffReaderDep,
    session: SessionDep,
    today: TodayDep,
    thresholds: ThresholdsDep,
    cache: ReportCacheDep,
    asked: ExportedDep,
    programme: Ref = None,
    group_by: GroupBy = GroupBy.plan_item,
    as_of: AsOf = None,
) -> Any:
    question = ("portfolio", actor.role, actor.contractor_id, programme, group_by, as_of, today)
    report, etag = cache.fetch(
        session,
        (*question, thresholds),
        lambda: portfolio_report.portfolio(
            session=session,
            actor=actor,
            programme=programme,
            group_by=group_by,
            as_of=as_of or today,
            today=today,
            thresholds=thresholds,
        ),
    )
    return _answer(report, etag, asked, _filename(report))


@router.get(
    "/timeseries",
    response_model=TimeseriesReport,
    summary="The S-curve: per period disbursed, cumulative AC, PV and EV",
    description="Name a project or a programme (neither: every project you can see). Periods "
    "run from `from` (default: the earliest payment, planned start or milestone) to `as_of`, "
    f"at most {MAX_PERIODS}; each point's figures are as of the period's end.",
    responses={**problem_responses(401, 403, 422), **CACHED, **EXPORT_RESPONSES},
)
def timeseries(
    actor: StaffReaderDep,
    session: SessionDep,
    today: TodayDep,
    cache: ReportCacheDep,
    asked: ExportedDep,
    project: Ref = None,
    programme: Ref = None,
    interval: Interval = Interval.month,
    since: Annotated[
        IsoDate | None,
        Query(alias="from", description="First day to cover (default: the earliest fact)"),
    ] = None,
    as_of: AsOf = None,
) -> Any:
    question = ("timeseries", actor.role, actor.contractor_id, project, programme, interval)
    report, etag = cache.fetch(
        session,
        (*question, since, as_of, today),
        lambda: timeseries_report.timeseries(
            session=session,
            actor=actor,
            project=project,
            programme=programme,
            interval=interval,
            since=since,
            as_of=as_of or today,
        ),
    )
    return _answer(report, etag, asked, _filename(report))


@router.get(
    "/alerts",
    response_model=AlertsReport,
    summary="Every project or contract with a flag, most severe first",
    description="over_budget, payments_overdue, forecast_over, needs_revision, "
    "final_accounts_due (竣工财务决算, three months after 竣工验收), behind_schedule, "
    "retention_due; each with the figures that raised it.",
    responses={**problem_responses(401, 403, 422), **CACHED, **EXPORT_RESPONSES},
)
def alerts(
    actor: StaffReaderDep,
    session: SessionDep,
    today: TodayDep,
    thresholds: ThresholdsDep,
    cache: ReportCacheDep,
    asked: ExportedDep,
    as_of: AsOf = None,
) -> Any:
    report, etag = cache.fetch(
        session,
        ("alerts", actor.role, actor.contractor_id, as_of, today, thresholds),
        lambda: alerts_report.alerts(
            session=session, actor=actor, as_of=as_of or today, today=today, thresholds=thresholds
        ),
    )
    return _answer(report, etag, asked, _filename(report))


@router.get(
    "/dues",
    response_model=DuesReport,
    summary="Certified amounts not yet paid (overdue first) and retention falling due",
    description="保障中小企业款项支付条例 第9条: pay within the contract's term after "
    "certification. A contractor sees its own contracts only. `?format=csv|xlsx` exports the "
    "two lists (certified dues, retention) as two sections or worksheets.",
    responses={**problem_responses(401, 403, 422), **EXPORT_RESPONSES},
)
def dues(
    actor: AnyRoleDep,
    session: SessionDep,
    today: TodayDep,
    fmt: FormatDep,
    lang: LangDep,
    unit: UnitDep,
    as_of: AsOf = None,
) -> DuesReport | Response:
    unit = unit_for(fmt, unit)
    report = dues_report.dues(session=session, actor=actor, as_of=as_of or today, today=today)
    if fmt is ExportFormat.json:
        return report
    return render(
        exports.dues_sheets(report),
        fmt=fmt,
        lang=lang,
        filename=f"dues-{report.as_of}",
        unit=unit,
    )


@budget_router.get(
    "/{ref}/budget",
    response_model=ProjectBudget,
    summary="Budget position as of a date: estimate in force, disbursed, remaining",
    responses=problem_responses(401, 403, 404, 422),
)
def get_budget(
    actor: AnyRoleDep,
    project: ProjectDep,
    session: SessionDep,
    today: TodayDep,
    as_of: AsOf = None,
) -> ProjectBudget:
    """The estimate in force on `as_of` (default today, Asia/Shanghai), what was disbursed by then
    and what remains, for the project and each budget line. Any role that may see the project."""
    return budget_model.project_budget(
        session=session, project=project, as_of=as_of or today, today=today
    )
