from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import AnyRoleDep, StaffReaderDep
from app.db import SessionDep
from app.errors import problem_responses
from app.inputs import IsoDate, SafeText
from app.params import TodayDep
from app.projects.dependencies import ProjectDep
from app.reports import service
from app.reports.dependencies import IfNoneMatch, ReportCacheDep, ThresholdsDep
from app.reports.schemas import (
    AlertsReport,
    DuesReport,
    PortfolioReport,
    ProjectReport,
    TimeseriesReport,
)
from app.reports.service import GroupBy, Interval
from app.routing import ExactRoute

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], route_class=ExactRoute)
project_router = APIRouter(prefix="/api/v1/projects", tags=["reports"], route_class=ExactRoute)

AsOf = Annotated[IsoDate | None, Query(description="Default: today")]
CACHED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the ETag sent in If-None-Match is current"}
}


def _answer(report: Any, etag: str, response: Response, if_none_match: str | None) -> Any:
    """The report with its ETag, or 304 when the caller already holds this version."""
    if if_none_match and (
        if_none_match.strip() == "*" or etag in (tag.strip() for tag in if_none_match.split(","))
    ):
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return report


Ref = Annotated[SafeText | None, Query(max_length=64, description="Id or code")]


@project_router.get(
    "/{ref}/report",
    response_model=ProjectReport,
    summary="A project's variance and completion report, earned value included, as of a date",
    description="Definitions: PRODUCT.md, Reports. Entries, revisions, commitments and progress "
    "dated after `as_of` don't count. A ratio whose denominator is zero is null. With "
    "breakdowns per budget line, funding source (planned vs disbursed) and contract.",
    responses=problem_responses(401, 403, 404, 422),
)
def project_report(
    actor: AnyRoleDep,
    project: ProjectDep,
    session: SessionDep,
    today: TodayDep,
    thresholds: ThresholdsDep,
    as_of: AsOf = None,
) -> ProjectReport:
    return service.project_report(
        session=session, project=project, as_of=as_of or today, today=today, thresholds=thresholds
    )


@router.get(
    "/portfolio",
    response_model=PortfolioReport,
    summary="The programme's figures per plan item, category, status, site, funding source or year",
    description="The project figures summed per group, counts of projects and of each flag, and "
    "a totals row over distinct projects. Ratios of a group are the same formulas applied to "
    "the group's sums (cpi = Σev / Σac). `notes` says how the grouping counts.",
    responses={**problem_responses(401, 403, 422), **CACHED},
)
def portfolio(
    actor: StaffReaderDep,
    session: SessionDep,
    today: TodayDep,
    thresholds: ThresholdsDep,
    cache: ReportCacheDep,
    response: Response,
    if_none_match: IfNoneMatch = None,
    programme: Ref = None,
    group_by: GroupBy = GroupBy.plan_item,
    as_of: AsOf = None,
) -> Any:
    question = ("portfolio", actor.role, actor.contractor_id, programme, group_by, as_of, today)
    report, etag = cache.fetch(
        session,
        (*question, thresholds),
        lambda: service.portfolio(
            session=session,
            actor=actor,
            programme=programme,
            group_by=group_by,
            as_of=as_of or today,
            today=today,
            thresholds=thresholds,
        ),
    )
    return _answer(report, etag, response, if_none_match)


@router.get(
    "/timeseries",
    response_model=TimeseriesReport,
    summary="The S-curve: per period disbursed, cumulative AC, PV and EV",
    description="Name a project or a programme (neither: every project you can see). Periods "
    "run from the earliest payment, planned start or milestone to `as_of`; each point's "
    "figures are as of the period's end.",
    responses={**problem_responses(401, 403, 422), **CACHED},
)
def timeseries(
    actor: AnyRoleDep,
    session: SessionDep,
    today: TodayDep,
    thresholds: ThresholdsDep,
    cache: ReportCacheDep,
    response: Response,
    if_none_match: IfNoneMatch = None,
    project: Ref = None,
    programme: Ref = None,
    interval: Interval = Interval.month,
    as_of: AsOf = None,
) -> Any:
    question = ("timeseries", actor.role, actor.contractor_id, project, programme, interval)
    report, etag = cache.fetch(
        session,
        (*question, as_of, today, thresholds),
        lambda: service.timeseries(
            session=session,
            actor=actor,
            project=project,
            programme=programme,
            interval=interval,
            as_of=as_of or today,
            today=today,
            thresholds=thresholds,
        ),
    )
    return _answer(report, etag, response, if_none_match)


@router.get(
    "/alerts",
    response_model=AlertsReport,
    summary="Every project or contract with a flag, most severe first",
    description="over_budget, payments_overdue, forecast_over, needs_revision, "
    "final_accounts_due (竣工财务决算, three months after 竣工验收), behind_schedule, "
    "retention_due; each with the figures that raised it.",
    responses={**problem_responses(401, 403, 422), **CACHED},
)
def alerts(
    actor: StaffReaderDep,
    session: SessionDep,
    today: TodayDep,
    thresholds: ThresholdsDep,
    cache: ReportCacheDep,
    response: Response,
    if_none_match: IfNoneMatch = None,
    as_of: AsOf = None,
) -> Any:
    report, etag = cache.fetch(
        session,
        ("alerts", actor.role, actor.contractor_id, as_of, today, thresholds),
        lambda: service.alerts(
            session=session, actor=actor, as_of=as_of or today, today=today, thresholds=thresholds
        ),
    )
    return _answer(report, etag, response, if_none_match)


@router.get(
    "/dues",
    response_model=DuesReport,
    summary="Certified amounts not yet paid (overdue first) and retention falling due",
    description="保障中小企业款项支付条例 第9条: pay within the contract's term after "
    "certification. A contractor sees its own contracts only.",
    responses=problem_responses(401, 403, 422),
)
def dues(
    actor: AnyRoleDep,
    session: SessionDep,
    today: TodayDep,
    as_of: AsOf = None,
) -> DuesReport:
    return service.dues(session=session, actor=actor, as_of=as_of or today)
