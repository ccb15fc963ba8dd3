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
    items, total = service.list_programmes(session=session, page=page)
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
    programme = service.create_programme(session=session, actor=actor, data=data)
    response.headers["Location"] = f"/api/v1/programmes/{programme.id}"
    return service.programme_reads(session=session, programmes=[programme])[0]


@router.get(
    "/{ref}",
    response_model=ProgrammeRead,
    summary="One programme, by id or code",
    responses=problem_responses(401, 403, 404, 422),
)
def get_programme(
    ref: ProgrammeRef, actor: AnyRoleDep, session: SessionDep, response: Response
) -> ProgrammeRead:
    programme = service.get_programme(session=session, ref=ref)
    response.headers["ETag"] = service.programme_etag(programme)
    return service.programme_reads(session=session, programmes=[programme])[0]


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
    programme = service.get_programme(session=session, ref=ref, for_update=True)
    programme = service.patch_programme(
        session=session, actor=actor, programme=programme, data=data, if_match=if_match
    )
    response.headers["ETag"] = service.programme_etag(programme)
    return service.programme_reads(session=session, programmes=[programme])[0]


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
    programme = service.get_programme(session=session, ref=ref)
    item = service.create_plan_item(session=session, actor=actor, programme=programme, data=data)
    return PlanItemRead.model_validate(item)
