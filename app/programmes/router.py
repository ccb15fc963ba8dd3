from typing import Annotated

from fastapi import Path, Response, status

from app.auth.dependencies import AdminDep, AnyRoleDep
from app.db import SessionDep
from app.errors import problem_responses
from app.inputs import SafeText
from app.params import IfMatchHeader, Page, PaginationDep
from app.programmes import service
from app.programmes.schemas import (
    PlanItemCreate,
    PlanItemRead,
    ProgrammeCreate,
    ProgrammeRead,
    ProgrammeUpdate,
)
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1/programmes", tags=["programmes"])
ProgrammeRef = Annotated[SafeText, Path(min_length=1, max_length=64, description="Id or code")]


@router.get(
    "",
    response_model=Page[ProgrammeRead],
    summary="List programmes with their plan items and 概算 totals",
    responses=problem_responses(401, 403, 422),
)
def list_programmes(
    session: SessionDep, actor: AnyRoleDep, page: PaginationDep
) -> Page[ProgrammeRead]:
    """Every programme (e.g. 平罗县教育“十四五”规划) with its plan items (专栏7) and the 概算
    they total, paginated. Any role; a contractor sees only the programmes with a project it
    holds a contract on, and their plan items, counts and totals over those projects alone."""
    items, total = service.list_programmes(session=session, actor=actor, page=page)
    return Page.of(items, total, page)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ProgrammeRead,
    summary="Register a programme",
    responses=problem_responses(401, 403, 409, 422),
)
def create_programme(
    actor: AdminDep, data: ProgrammeCreate, session: SessionDep, response: Response
) -> ProgrammeRead:
    """Admin only. A code already used (compared without case) is a 409. The response carries the
    programme's `ETag`."""
    programme = service.create_programme(session=session, actor=actor, data=data)
    response.headers["Location"] = f"/api/v1/programmes/{programme.id}"
    return service.programme_reads(session=session, actor=actor, programmes=[programme])[0]


@router.get(
    "/{ref}",
    response_model=ProgrammeRead,
    summary="One programme, by id or code",
    responses=problem_responses(401, 403, 404, 422),
)
def get_programme(
    ref: ProgrammeRef, actor: AnyRoleDep, session: SessionDep, response: Response
) -> ProgrammeRead:
    """By numeric id or by code, with its plan items; the `ETag` header is what a PATCH sends back
    in `If-Match`. Any role; a contractor only a programme with a project it holds a contract on
    (404 otherwise), its figures over those projects alone."""
    programme = service.get_programme(session=session, ref=ref, actor=actor)
    response.headers["ETag"] = service.programme_etag(programme)
    return service.programme_reads(session=session, actor=actor, programmes=[programme])[0]


@router.patch(
    "/{ref}",
    response_model=ProgrammeRead,
    summary="Change a programme (If-Match required)",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
def update_programme(
    ref: ProgrammeRef,
    actor: AdminDep,
    data: ProgrammeUpdate,
    session: SessionDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> ProgrammeRead:
    """Admin only. Send only the fields that change, with `If-Match` set to the ETag of your last
    read: without it a 428, with a stale one a 412 naming `current_etag`."""
    programme = service.get_programme(session=session, ref=ref, actor=actor, for_update=True)
    programme = service.patch_programme(
        session=session, actor=actor, programme=programme, data=data, if_match=if_match
    )
    response.headers["ETag"] = service.programme_etag(programme)
    return service.programme_reads(session=session, actor=actor, programmes=[programme])[0]


@router.post(
    "/{ref}/plan-items",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanItemRead,
    summary="Add a plan item (e.g. 专栏7) to a programme",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def create_plan_item(
    ref: ProgrammeRef, actor: AdminDep, data: PlanItemCreate, session: SessionDep
) -> PlanItemRead:
    """Admin only. A plan item (e.g. 专栏7 改善基础设施条件) groups a programme's projects;
    its code is unique within the programme (409)."""
    programme = service.get_programme(session=session, ref=ref, actor=actor)
    item = service.create_plan_item(session=session, actor=actor, programme=programme, data=data)
    return PlanItemRead.model_validate(item)
