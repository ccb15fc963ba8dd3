from typing import Annotated

from fastapi import Query

from app.audit import service
from app.audit.schemas import AuditEntryRead, AuditVerification
from app.auth.dependencies import AdminDep
from app.db import SessionDep
from app.errors import problem_responses
from app.inputs import IsoDateTime, SafeText
from app.params import MAX_ID, Page, PaginationDep
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get(
    "",
    response_model=Page[AuditEntryRead],
    summary="The audit trail, newest first",
    responses=problem_responses(401, 403, 422),
)
def list_audit(
    actor: AdminDep,
    session: SessionDep,
    page: PaginationDep,
    entity: Annotated[SafeText | None, Query(max_length=64, examples=["disbursement"])] = None,
    entity_id: Annotated[SafeText | None, Query(max_length=64)] = None,
    action: Annotated[SafeText | None, Query(max_length=32, examples=["create"])] = None,
    actor_key_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    request_id: Annotated[SafeText | None, Query(max_length=64)] = None,
    since: Annotated[
        IsoDateTime | None, Query(alias="from", description="At or after (with offset)")
    ] = None,
    until: Annotated[
        IsoDateTime | None, Query(alias="to", description="Before (with offset)")
    ] = None,
) -> Page[AuditEntryRead]:
    """Admin only. Every write, with who made it, when, and the entry's hash in the chain;
    paginated, newest first."""
    filters = service.AuditFilters(
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor_key_id=actor_key_id,
        request_id=request_id,
        since=since,
        until=until,
    )
    rows, total = service.list_entries(session=session, filters=filters, page=page)
    return Page.of([AuditEntryRead.model_validate(r) for r in rows], total, page)


@router.get(
    "/verify",
    response_model=AuditVerification,
    summary="Recompute the hash chain and name the first entry that doesn't match",
    responses=problem_responses(401, 403),
)
def verify_audit(actor: AdminDep, session: SessionDep) -> AuditVerification:
    """Admin only. `ok` is true when every entry's hash matches its content and the one before it;
    `first_broken` names the first entry that doesn't."""
    result = service.verify(session=session)
    return AuditVerification(**result.__dict__)
