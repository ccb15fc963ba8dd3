from typing import Annotated

from fastapi import Depends, Query, Response, status

from app.auth.actor import Actor
from app.auth.dependencies import ActorDep, AdminDep, AnyRoleDep, FinanceDep, require_roles
from app.auth.models import Role
from app.db import SessionDep
from app.errors import problem_responses
from app.milestones import service
from app.milestones.models import Milestone
from app.milestones.schemas import (
    CertificationConflictProblem,
    CertificationCreate,
    MilestoneCreate,
    MilestoneRead,
    ProgressCreate,
    ProgressRead,
)
from app.params import MAX_ID, IdPath, Page, PaginationDep, TodayDep
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1/milestones", tags=["milestones"])
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
ReporterDep = Annotated[Actor, Depends(require_roles(Role.admin, Role.contractor))]


def milestone_for_update(milestone_id: IdPath, actor: ActorDep, session: SessionDep) -> Milestone:
    """The milestone in the path, in the caller's scope (404 otherwise), locked; resolved
    before the body is read, so someone else's milestone is a 404 whatever is sent."""
    return service.get_milestone(
        session=session, actor=actor, milestone_id=milestone_id, for_update=True
    )


MilestoneForUpdateDep = Annotated[Milestone, Depends(milestone_for_update)]


@router.get(
    "",
    response_model=Page[MilestoneRead],
    summary="Milestones (a contractor sees those of its own contracts)",
    responses=problem_responses(401, 403, 422),
)
def list_milestones(
    actor: AnyRoleDep,
    session: SessionDep,
    page: PaginationDep,
    project_id: OptionalId = None,
    contract_id: OptionalId = None,
) -> Page[MilestoneRead]:
    """Paginated and filterable, with each milestone's weight, dates and percent complete. A
    contractor sees the milestones of its own contracts."""
    rows, total = service.list_milestones(
        session=session, actor=actor, project_id=project_id, contract_id=contract_id, page=page
    )
    return Page.of([MilestoneRead.model_validate(r) for r in rows], total, page)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MilestoneRead,
    summary="Add a milestone to a project (开工, 主体完工, 竣工验收, 交付使用 or your own)",
    responses=problem_responses(401, 403, 409, 422),
)
def create_milestone(
    actor: AdminDep,
    data: MilestoneCreate,
    session: SessionDep,
    response: Response,
    today: TodayDep,
) -> MilestoneRead:
    """Admin only. Weights give each milestone's share of the project's physical completion; a code
    already used in the project is a 409."""
    milestone = service.create_milestone(session=session, actor=actor, data=data, today=today)
    response.headers["Location"] = f"/api/v1/milestones/{milestone.id}"
    return MilestoneRead.model_validate(milestone)


@router.get(
    "/{milestone_id}",
    response_model=MilestoneRead,
    summary="One milestone",
    responses=problem_responses(401, 403, 404, 422),
)
def get_milestone(milestone_id: IdPath, actor: AnyRoleDep, session: SessionDep) -> MilestoneRead:
    """With its progress and certification. A contractor sees those of its own contracts only (404
    otherwise)."""
    return MilestoneRead.model_validate(
        service.get_milestone(session=session, actor=actor, milestone_id=milestone_id)
    )


@router.post(
    "/{milestone_id}/certification",
    response_model=MilestoneRead,
    summary="Certify a milestone's payable amount (计量); it falls due after the payment term",
    description="Within a ceiling: the contract's certified total never above its committed "
    "amount, and the milestone's amount never above its weight share of committed × its "
    "progress reported by `certified_on`, unless `reason` is given (409 "
    "`.../certification-ceiling` with `ceiling`). Not dated before the contract was signed.",
    responses=problem_responses(
        401, 403, 404, 409, 422, schemas={409: CertificationConflictProblem}
    ),
)
def certify(
    actor: FinanceDep,
    milestone: MilestoneForUpdateDep,
    data: CertificationCreate,
    session: SessionDep,
    today: TodayDep,
) -> MilestoneRead:
    return MilestoneRead.model_validate(
        service.certify(session=session, actor=actor, milestone=milestone, data=data, today=today)
    )


@router.get(
    "/{milestone_id}/progress",
    response_model=list[ProgressRead],
    summary="A milestone's progress history",
    responses=problem_responses(401, 403, 404, 422),
)
def progress_history(
    milestone_id: IdPath, actor: AnyRoleDep, session: SessionDep
) -> list[ProgressRead]:
    """Every progress report (percent complete, as of, note), oldest first. A contractor sees those
    of its own contracts only."""
    milestone = service.get_milestone(session=session, actor=actor, milestone_id=milestone_id)
    return [
        ProgressRead.model_validate(p)
        for p in service.progress_history(session=session, milestone=milestone)
    ]


@router.post(
    "/{milestone_id}/progress",
    status_code=status.HTTP_201_CREATED,
    response_model=ProgressRead,
    summary="Report progress (the contractor holding the milestone's contract, or an admin)",
    description="Only `percent_complete` (0–100), `as_of` and `note`: any other field is a 422. "
    "The latest report by date is the milestone's value; 100 sets its actual date.",
    responses=problem_responses(401, 403, 404, 422),
)
def report_progress(
    actor: ReporterDep,
    milestone: MilestoneForUpdateDep,
    data: ProgressCreate,
    session: SessionDep,
    today: TodayDep,
) -> ProgressRead:
    return ProgressRead.model_validate(
        service.report_progress(
            session=session, actor=actor, milestone=milestone, data=data, today=today
        )
    )
