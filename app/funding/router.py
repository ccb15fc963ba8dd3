from typing import Annotated

from fastapi import Path, Response, status

from app.auth.dependencies import AdminDep, AnyRoleDep, FinanceDep
from app.db import SessionDep
from app.errors import problem_responses
from app.funding import service
from app.funding.schemas import (
    FundingPlan,
    FundingSourceCreate,
    FundingSourceRead,
    FundingSourceUpdate,
    ProjectFundingRead,
)
from app.inputs import SafeText
from app.params import IfMatchHeader, check_if_match
from app.projects.dependencies import ProjectDep, ProjectForUpdateDep
from app.projects.service import bump_version, project_etag
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1", tags=["funding"])
SourceRef = Annotated[SafeText, Path(min_length=1, max_length=32, description="Id or code")]


@router.get(
    "/funding-sources",
    response_model=list[FundingSourceRead],
    summary="Funding sources (资金来源)",
    responses=problem_responses(401, 403),
)
def list_sources(actor: AnyRoleDep, session: SessionDep) -> list[FundingSourceRead]:
    """The funding sources payments name (中央预算内投资, 自治区资金, 地方政府专项债券,
    县级财政, 自筹 ...), in their sort order, retired ones included. Any role."""
    return [FundingSourceRead.model_validate(s) for s in service.list_sources(session=session)]


@router.post(
    "/funding-sources",
    status_code=status.HTTP_201_CREATED,
    response_model=FundingSourceRead,
    summary="Add a funding source",
    responses=problem_responses(401, 403, 409, 422),
)
def create_source(
    actor: AdminDep, data: FundingSourceCreate, session: SessionDep
) -> FundingSourceRead:
    """Admin only. A code or name that would be ambiguous with another source's is a 409."""
    return FundingSourceRead.model_validate(
        service.create_source(session=session, actor=actor, data=data)
    )


@router.patch(
    "/funding-sources/{ref}",
    response_model=FundingSourceRead,
    summary="Rename, reorder or retire a funding source (a retired one takes no new payments)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def update_source(
    ref: SourceRef, actor: AdminDep, data: FundingSourceUpdate, session: SessionDep
) -> FundingSourceRead:
    """Admin only, by code or name. Send only the fields that change; a name that would be
    ambiguous with another source's is a 409."""
    source = service.get_source(session=session, ref=ref)
    return FundingSourceRead.model_validate(
        service.update_source(session=session, actor=actor, source=source, data=data)
    )


@router.get(
    "/projects/{ref}/funding",
    response_model=ProjectFundingRead,
    summary="A project's planned vs disbursed funding per source",
    responses=problem_responses(401, 403, 404, 422),
)
def get_funding(actor: AnyRoleDep, project: ProjectDep, session: SessionDep) -> ProjectFundingRead:
    """For each source: what the plan says and what has been disbursed from it. Any role that may
    see the project."""
    return service.project_funding(session=session, project=project)


@router.put(
    "/projects/{ref}/funding",
    response_model=ProjectFundingRead,
    summary="Replace a project's funding plan (If-Match: the project's ETag)",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
def set_funding(
    actor: FinanceDep,
    project: ProjectForUpdateDep,
    plan: FundingPlan,
    session: SessionDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> ProjectFundingRead:
    """Finance or admin. Replaces the whole plan; send the project's `ETag` in `If-Match` (428
    without, 412 with a stale one, naming `current_etag`)."""
    check_if_match(if_match, project_etag(project))
    result = service.set_plan(session=session, actor=actor, project=project, plan=plan)
    bump_version(session=session, project=project)
    response.headers["ETag"] = project_etag(project)
    return result
