from fastapi import Request, Response, status

from app.auth.dependencies import AnyRoleDep, FinanceDep
from app.db import SessionDep
from app.errors import problem_responses
from app.idempotency import service as idempotency
from app.idempotency.dependencies import IdempotencyDep
from app.params import TodayDep
from app.projects.dependencies import ProjectDep
from app.revisions import service
from app.revisions.schemas import RevisionCreate, RevisionPosted, RevisionRead
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1/projects", tags=["revisions"])


@router.post(
    "/{ref}/revisions",
    status_code=status.HTTP_201_CREATED,
    response_model=RevisionPosted,
    summary="Record an approved 概算调整",
    description="States the new approved total, which replaces the previous one from "
    "`approved_on` (it is never added to it). Revisions can't be edited or deleted.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def create_revision(
    idem: IdempotencyDep,
    actor: FinanceDep,
    project: ProjectDep,
    data: RevisionCreate,
    session: SessionDep,
    request: Request,
    today: TodayDep,
) -> Response:
    def act() -> RevisionPosted:
        return service.create_revision(
            session=session, actor=actor, project=project, data=data, today=today
        )

    def render(posted: RevisionPosted) -> idempotency.Answer:
        return 201, posted.model_dump_json(), f"/api/v1/projects/{project.id}/revisions"

    return idempotency.run(
        resource=f"projects/{project.id}/revisions",
        session=session,
        actor=actor,
        context=idem,
        body=data,
        act=act,
        render=render,
    ).to_response()


@router.get(
    "/{ref}/revisions",
    response_model=list[RevisionRead],
    summary="A project's 概算调整, in order of approval",
    responses=problem_responses(401, 403, 404, 422),
)
def list_revisions(
    actor: AnyRoleDep, project: ProjectDep, session: SessionDep
) -> list[RevisionRead]:
    """Each approved revision with its new total, approval date and document number
    (批复文号), oldest first. Any role that may see the project."""
    return service.list_revisions(session=session, project=project)
