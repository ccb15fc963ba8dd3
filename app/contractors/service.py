"""Contractors and suppliers (施工单位/供货商): the organisations contractor keys act for."""

from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.auth.scope import own_organisation
from app.contractors.models import Contractor
from app.contractors.schemas import ContractorCreate, ContractorUpdate
from app.errors import Conflict, InvalidInput, NotFound
from app.params import Pagination, contains_clause, page_of


def list_contractors(
    *, session: Session, actor: Actor, q: str | None, page: Pagination
) -> tuple[list[Contractor], int]:
    clauses = own_organisation(actor, col(Contractor.id))
    if q:
        clauses.append(contains_clause(q, Contractor.name) | (col(Contractor.credit_code) == q))
    return page_of(session, Contractor, clauses, page, col(Contractor.id))


def get_contractor(*, session: Session, actor: Actor, contractor_id: int) -> Contractor:
    contractor = session.exec(
        select(Contractor).where(
            Contractor.id == contractor_id, *own_organisation(actor, col(Contractor.id))
        )
    ).first()
    if contractor is None:
        raise NotFound(f"contractor {contractor_id} not found")
    return contractor


def create_contractor(*, session: Session, actor: Actor, data: ContractorCreate) -> Contractor:
    """Register an organisation; its credit code is unique."""
    existing = session.exec(
        select(Contractor.id).where(Contractor.credit_code == data.credit_code)
    ).first()
    if existing is not None:
        raise Conflict(
            f"credit code {data.credit_code} is already registered (contractor {existing})",
            existing_id=existing,
        )
    contractor = Contractor(**data.model_dump())
    session.add(contractor)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="contractor",
        entity_id=contractor.id,
        after=contractor.model_dump(),
    )
    return contractor


def update_contractor(
    *, session: Session, actor: Actor, contractor: Contractor, data: ContractorUpdate
) -> Contractor:
    before = contractor.model_dump()
    for name, value in data.model_dump(exclude_unset=True).items():
        if name == "name" and value is None:
            continue
        setattr(contractor, name, value)
    session.add(contractor)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="contractor",
        entity_id=contractor.id,
        before=before,
        after=contractor.model_dump(),
    )
    return contractor


def contractor_id_of(*, session: Session, ref: int | str, field: str) -> int:
    """The id of the contractor a body names by id or by its 统一社会信用代码; a 422 naming the
    field if there is none."""
    if isinstance(ref, int):
        found = session.exec(select(Contractor.id).where(Contractor.id == ref)).first()
    else:
        found = session.exec(
            select(Contractor.id).where(Contractor.credit_code == ref.upper())
        ).first()
    if found is None:
        raise InvalidInput(f"no contractor {ref}", field=field)
    return found
