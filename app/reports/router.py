from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import AnyRoleDep
from app.db import SessionDep
from app.errors import problem_responses
from app.exports.dependencies import EXPORT_RESPONSES, ExportFormat, FormatDep, LangDep
from app.exports.service import render
from app.inputs import IsoDate
from app.params import TodayDep
from app.projects.dependencies import ProjectDep
from app.reports import exports, service
from app.reports.schemas import DuesReport, ProjectReport
from app.routing import ExactRoute

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], route_class=ExactRoute)
project_router = APIRouter(prefix="/api/v1/projects", tags=["reports"], route_class=ExactRoute)


@project_router.get(
    "/{ref}/report",
    response_model=ProjectReport,
    summary="A project's variance and completion report, earned value included, as of a date",
    description="Definitions: PRODUCT.md, Reports. Entries, revisions, commitments and progress "
    "dated after `as_of` don't count. A ratio whose denominator is zero is null.",
    responses=problem_responses(401, 403, 404, 422),
)
def project_report(
    actor: AnyRoleDep,
    project: ProjectDep,
    session: SessionDep,
    today: TodayDep,
    as_of: Annotated[IsoDate | None, Query(description="Default: today")] = None,
) -> ProjectReport:
    return service.project_report(
        session=session, project=project, as_of=as_of or today, today=today
    )


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
    as_of: Annotated[IsoDate | None, Query(description="Default: today")] = None,
) -> DuesReport | Response:
    report = service.dues(session=session, actor=actor, as_of=as_of or today)
    if fmt is ExportFormat.json:
        return report
    return render(exports.dues_sheets(report), fmt=fmt, lang=lang, filename=f"dues-{report.as_of}")
