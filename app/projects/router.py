from typing import Annotated

from fastapi import Query, Response, status

from app.auth.dependencies import AdminDep, AnyRoleDep
from app.db import SessionDep
from app.errors import problem_responses
from app.inputs import SafeText
from app.params import IdPath, IfMatchHeader, Page, PaginationDep, TodayDep, parse_sort
from app.projects import service
from app.projects.dependencies import ProjectDep, ProjectForUpdateDep
from app.projects.models import Category, ProjectStatus, Stage
from app.projects.schemas import (
    BudgetLineCreate,
    BudgetLineRead,
    BudgetLinesProblem,
    BudgetLineUpdate,
    ProjectCreate,
    ProjectRead,
    ProjectUpdate,
)
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1", tags=["projects"])
SortQuery = Annotated[
    SafeText | None,
    Query(
        max_length=200,
        description="Comma-separated fields, `-` for descending: "
        + ", ".join(service.PROJECT_SORTS),
        examples=["-original_estimate,code"],
    ),
]


@router.get(
    "/projects",
    response_model=Page[ProjectRead],
    summary="List projects",
    description="Filter by programme, plan item, category, school stage, OC4IDS status, site "
    "(id, name or alias) or `q` (code or name contains); sort; paginate.",
    responses=problem_responses(401, 403, 422),
)
def list_projects(
    session: SessionDep,
    actor: AnyRoleDep,
    page: PaginationDep,
    sort: SortQuery = None,
    programme: Annotated[SafeText | None, Query(max_length=64, description="Id or code")] = None,
    plan_item: Annotated[
        SafeText | None, Query(max_length=64, description="Id or code, e.g. 专栏7")
    ] = None,
    category: Category | None = None,
    stage: Stage | None = None,
    status: ProjectStatus | None = None,
    site: Annotated[
        SafeText | None, Query(max_length=200, description="Site id, name or alias")
    ] = None,
    q: Annotated[
        SafeText | None, Query(max_length=200, description="Code or name contains")
    ] = None,
) -> Page[ProjectRead]:
    filters = service.ProjectFilters(
        programme=programme,
        plan_item=plan_item,
        category=category.value if category else None,
        stage=stage.value if stage else None,
        status=status.value if status else None,
        site=site,
        q=q,
    )
    items, total = service.list_projects(
        session=session,
        actor=actor,
        filters=filters,
        sort=parse_sort(sort, service.PROJECT_SORTS, default="code"),
        page=page,
    )
    return Page.of(items, total, page)


@router.post(
    "/projects",
    status_code=status.HTTP_201_CREATED,
    response_model=ProjectRead,
    summary="Register a project",
    responses=problem_responses(401, 403, 409, 422),
)
def create_project(
    actor: AdminDep, data: ProjectCreate, session: SessionDep, response: Response
) -> ProjectRead:
    """Admin only. Its 概算 (`original_estimate`) in 元, exact; a code already used in the programme
    is a 409. The response carries the project's `ETag`."""
    project = service.create_project(session=session, actor=actor, data=data)
    response.headers["Location"] = f"/api/v1/projects/{project.id}"
    response.headers["ETag"] = service.project_etag(project)
    return service.read_project(session=session, project=project)


@router.get(
    "/projects/{ref}",
    response_model=ProjectRead,
    summary="One project, by id or code",
    responses=problem_responses(401, 403, 404, 422),
)
def get_project(
    actor: AnyRoleDep, project: ProjectDep, session: SessionDep, response: Response
) -> ProjectRead:
    """By numeric id or by code (`ZL7-2B`), with its sites, scope, estimates, policy and budget
    lines; the `ETag` header is what a PATCH sends back in `If-Match`. A contractor sees only
    projects it holds contracts on (404 otherwise)."""
    response.headers["ETag"] = service.project_etag(project)
    return service.read_project(session=session, project=project)


@router.patch(
    "/projects/{ref}",
    response_model=ProjectRead,
    summary="Change a project (If-Match required)",
    responses=problem_responses(
        401, 403, 404, 409, 412, 422, 428, schemas={409: BudgetLinesProblem}
    ),
)
def update_project(
    actor: AdminDep,
    project: ProjectForUpdateDep,
    data: ProjectUpdate,
    session: SessionDep,
    response: Response,
    today: TodayDep,
    if_match: IfMatchHeader = None,
) -> ProjectRead:
    """Admin only. Send only the fields that change, with `If-Match` set to the ETag of your last
    read (428 without, 412 with a stale one, naming `current_etag`). The estimate changes only
    by a 概算调整 (POST .../revisions)."""
    project = service.update_project(
        session=session, actor=actor, project=project, data=data, if_match=if_match, today=today
    )
    response.headers["ETag"] = service.project_etag(project)
    return service.read_project(session=session, project=project)


@router.delete(
    "/projects/{ref}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a project that has no financial records",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def delete_project(actor: AdminDep, project: ProjectForUpdateDep, session: SessionDep) -> Response:
    """Admin only. Refused (409) once anything financial refers to the project: set its status to
    `cancelled` instead."""
    service.delete_project(session=session, actor=actor, project=project)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/projects/{ref}/budget-lines",
    response_model=list[BudgetLineRead],
    summary="A project's 概算 lines",
    responses=problem_responses(401, 403, 404, 422),
)
def list_budget_lines(
    actor: AnyRoleDep, project: ProjectDep, session: SessionDep
) -> list[BudgetLineRead]:
    """The lines of the project's 概算 (建筑工程费, 设备购置费 ...), each with its estimate
    and policy. Any role that may see the project."""
    return [
        BudgetLineRead.model_validate(line)
        for line in service.list_lines(session=session, project=project)
    ]


@router.post(
    "/projects/{ref}/budget-lines",
    status_code=status.HTTP_201_CREATED,
    response_model=BudgetLineRead,
    summary="Add a 概算 line",
    responses=problem_responses(401, 403, 404, 409, 422, schemas={409: BudgetLinesProblem}),
)
def create_budget_line(
    actor: AdminDep,
    project: ProjectForUpdateDep,
    data: BudgetLineCreate,
    session: SessionDep,
    response: Response,
) -> BudgetLineRead:
    """Admin only. A line's code is unique in the project (409); lines may not total more than the
    project's revised estimate (409 with `lines_total` and `revised_estimate`)."""
    line = service.create_line(session=session, actor=actor, project=project, data=data)
    response.headers["Location"] = f"/api/v1/budget-lines/{line.id}"
    response.headers["ETag"] = service.line_etag(line)
    return BudgetLineRead.model_validate(line)


@router.get(
    "/budget-lines/{line_id}",
    response_model=BudgetLineRead,
    summary="One 概算 line",
    responses=problem_responses(401, 403, 404, 422),
)
def get_budget_line(
    line_id: IdPath, actor: AnyRoleDep, session: SessionDep, response: Response
) -> BudgetLineRead:
    """With its `ETag`, which a PATCH sends back in `If-Match`. Any role that may see its
    project."""
    line = service.get_line(session=session, actor=actor, line_id=line_id)
    response.headers["ETag"] = service.line_etag(line)
    return BudgetLineRead.model_validate(line)


@router.patch(
    "/budget-lines/{line_id}",
    response_model=BudgetLineRead,
    summary="Change a 概算 line (If-Match required)",
    responses=problem_responses(
        401, 403, 404, 409, 412, 422, 428, schemas={409: BudgetLinesProblem}
    ),
)
def update_budget_line(
    line_id: IdPath,
    actor: AdminDep,
    data: BudgetLineUpdate,
    session: SessionDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> BudgetLineRead:
    """Admin only. Send only the fields that change, with `If-Match` (428 without, 412 with a stale
    one, naming `current_etag`); lines may not total more than the project's revised estimate
    (409)."""
    line = service.get_line(session=session, actor=actor, line_id=line_id, for_update=True)
    line = service.update_line(
        session=session, actor=actor, line=line, data=data, if_match=if_match
    )
    response.headers["ETag"] = service.line_etag(line)
    return BudgetLineRead.model_validate(line)


@router.delete(
    "/budget-lines/{line_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a 概算 line that no payment refers to",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def delete_budget_line(line_id: IdPath, actor: AdminDep, session: SessionDep) -> Response:
    """Admin only. Refused (409) once a payment refers to the line."""
    line = service.get_line(session=session, actor=actor, line_id=line_id, for_update=True)
    service.delete_line(session=session, actor=actor, line=line)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
