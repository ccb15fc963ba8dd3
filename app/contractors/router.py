from typing import Annotated

from fastapi import Query, Response, status

from app.auth.dependencies import AdminDep, AnyRoleDep
from app.contractors import service
from app.contractors.schemas import (
    ContractorConflictProblem,
    ContractorCreate,
    ContractorRead,
    ContractorUpdate,
)
from app.db import SessionDep
from app.errors import problem_responses
from app.inputs import SafeText
from app.params import IdPath, Page, PaginationDep
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1/contractors", tags=["contractors"])


@router.get(
    "",
    response_model=Page[ContractorRead],
    summary="Contractors and suppliers (a contractor key sees its own organisation)",
    responses=problem_responses(401, 403, 422),
)
def list_contractors(
    actor: AnyRoleDep,
    session: SessionDep,
    page: PaginationDep,
    q: Annotated[
        SafeText | None, Query(max_length=200, description="Name contains, or credit code")
    ] = None,
) -> Page[ContractorRead]:
    """Paginated; `q` matches a name or a credit code. A contractor key sees its own organisation
    only."""
    rows, total = service.list_contractors(session=session, actor=actor, q=q, page=page)
    return Page.of([ContractorRead.model_validate(r) for r in rows], total, page)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractorRead,
    summary="Register a contractor or supplier (统一社会信用代码 checked)",
    responses=problem_responses(401, 403, 409, 422, schemas={409: ContractorConflictProblem}),
)
def create_contractor(
    actor: AdminDep, data: ContractorCreate, session: SessionDep, response: Response
) -> ContractorRead:
    """Admin only. The 统一社会信用代码 is checked (its check character included, GB
    32100-2015): a bad one is a 422, one already registered a 409."""
    contractor = service.create_contractor(session=session, actor=actor, data=data)
    response.headers["Location"] = f"/api/v1/contractors/{contractor.id}"
    return ContractorRead.model_validate(contractor)


@router.get(
    "/{contractor_id}",
    response_model=ContractorRead,
    summary="One contractor",
    responses=problem_responses(401, 403, 404, 422),
)
def get_contractor(contractor_id: IdPath, actor: AnyRoleDep, session: SessionDep) -> ContractorRead:
    """By id. A contractor key sees its own organisation only (404 otherwise)."""
    return ContractorRead.model_validate(
        service.get_contractor(session=session, actor=actor, contractor_id=contractor_id)
    )


@router.patch(
    "/{contractor_id}",
    response_model=ContractorRead,
    summary="Rename a contractor or change its contact (the credit code is fixed)",
    responses=problem_responses(401, 403, 404, 422),
)
def update_contractor(
    contractor_id: IdPath, actor: AdminDep, data: ContractorUpdate, session: SessionDep
) -> ContractorRead:
    """Admin only. Send only the fields that change; the credit code never changes."""
    contractor = service.get_contractor(session=session, actor=actor, contractor_id=contractor_id)
    return ContractorRead.model_validate(
        service.update_contractor(session=session, actor=actor, contractor=contractor, data=data)
    )
