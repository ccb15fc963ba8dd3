"""Milestones and their progress reports, and certification of what is payable.

A project's physical completion (Σ weight × percent / Σ weight) is computed with the
reports, as of any date: app/reports/evm.py."""

from datetime import date
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.auth.scope import own_contracts, visible_projects
from app.contracts.models import Contract
from app.contracts.service import contract_of
from app.errors import Conflict, InvalidInput, NotFound
from app.milestones.models import Milestone, MilestoneProgress
from app.milestones.schemas import CertificationCreate, MilestoneCreate, ProgressCreate
from app.params import Pagination
from app.projects.models import Project
from app.projects.service import project_id_of

HUNDRED = Decimal(100)


def list_milestones(
    *,
    session: Session,
    actor: Actor,
    project_id: int | None,
    contract_id: int | None,
    page: Pagination,
) -> tuple[list[Milestone], int]:
    clauses = own_contracts(actor, col(Milestone.contract_id))
    if project_id is not None:
        clauses.append(col(Milestone.project_id) == project_id)
    if contract_id is not None:
        clauses.append(col(Milestone.contract_id) == contract_id)
    total = session.exec(select(func.count()).select_from(Milestone).where(*clauses)).one()
    rows = session.exec(
        select(Milestone)
        .where(*clauses)
        .order_by(col(Milestone.project_id), col(Milestone.planned_date), col(Milestone.id))
        .limit(page.limit)
        .offset(page.offset)
    )
    return list(rows), total


def get_milestone(
    *, session: Session, actor: Actor, milestone_id: int, for_update: bool = False
) -> Milestone:
    query = select(Milestone).where(
        Milestone.id == milestone_id, *own_contracts(actor, col(Milestone.contract_id))
    )
    if for_update:
        query = query.with_for_update()
    milestone = session.exec(query).first()
    if milestone is None:
        raise NotFound(f"milestone {milestone_id} not found")
    return milestone


def _with_ids(*, session: Session, actor: Actor, data: MilestoneCreate) -> MilestoneCreate:
    """The body with its project and contract by id, however it named them."""
    project_id = project_id_of(
        session=session, actor=actor, ref=data.project_id, field="project_id"
    )
    contract_id = data.contract_id
    if isinstance(contract_id, str):
        contract_id = contract_of(session=session, project_id=project_id, ref=contract_id)
        if contract_id is None:
            raise InvalidInput(
                f"no contract {data.contract_id} on this project", field="contract_id"
            )
    return data.model_copy(update={"project_id": project_id, "contract_id": contract_id})


def create_milestone(
    *, session: Session, actor: Actor, data: MilestoneCreate, today: date
) -> Milestone:
    if data.certified_on is not None and data.certified_on > today:
        raise InvalidInput(f"{data.certified_on} is after today ({today})", field="certified_on")
    data = _with_ids(session=session, actor=actor, data=data)
    project = session.exec(
        select(Project).where(Project.id == data.project_id, visible_projects(actor))
    ).first()
    if project is None:
        raise InvalidInput(f"project {data.project_id} does not exist", field="project_id")
    if data.contract_id is not None:
        contract = session.get(Contract, data.contract_id)
        if contract is None or contract.project_id != data.project_id:
            raise InvalidInput(
                f"contract {data.contract_id} is not a contract of this project",
                field="contract_id",
            )
    clash = session.exec(
        select(Milestone.id).where(
            Milestone.project_id == data.project_id, Milestone.code == data.code
        )
    ).first()
    if clash is not None:
        raise Conflict(f"the project already has a milestone {data.code} (milestone {clash})")
    milestone = Milestone(**data.model_dump())
    session.add(milestone)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="milestone",
        entity_id=milestone.id,
        after=milestone.model_dump(),
    )
    return milestone


def report_progress(
    *, session: Session, actor: Actor, milestone: Milestone, data: ProgressCreate, today: date
) -> MilestoneProgress:
    """Keep the report; the latest by date becomes the current value, and 100% sets the
    actual date."""
    if data.as_of > today:
        raise InvalidInput(f"{data.as_of} is after today ({today})", field="as_of")
    assert milestone.id is not None
    before = milestone.model_dump()
    report = MilestoneProgress(
        milestone_id=milestone.id,
        percent_complete=data.percent_complete,
        as_of=data.as_of,
        note=data.note,
        reported_by_key_id=actor.key_id,
    )
    session.add(report)
    session.flush()
    latest = session.exec(
        select(MilestoneProgress)
        .where(MilestoneProgress.milestone_id == milestone.id)
        .order_by(col(MilestoneProgress.as_of).desc(), col(MilestoneProgress.id).desc())
        .limit(1)
    ).one()
    milestone.percent_complete = latest.percent_complete
    if latest.percent_complete == HUNDRED:
        milestone.actual_date = milestone.actual_date or latest.as_of
    else:
        milestone.actual_date = None
    milestone.version += 1
    session.add(milestone)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="progress",
        entity="milestone",
        entity_id=milestone.id,
        before=before,
        after={**milestone.model_dump(), "report": report.model_dump()},
    )
    return report


def certify(
    *, session: Session, actor: Actor, milestone: Milestone, data: CertificationCreate, today: date
) -> Milestone:
    """Record the certified payable amount; it falls due after the contract's payment term."""
    if milestone.contract_id is None:
        raise InvalidInput(
            "only a milestone of a contract can be certified for payment", field="certified_amount"
        )
    if data.certified_on > today:
        raise InvalidInput(f"{data.certified_on} is after today ({today})", field="certified_on")
    before = milestone.model_dump()
    milestone.certified_amount = data.certified_amount
    milestone.certified_on = data.certified_on
    milestone.version += 1
    session.add(milestone)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="certify",
        entity="milestone",
        entity_id=milestone.id,
        before=before,
        after=milestone.model_dump(),
    )
    return milestone


def progress_history(*, session: Session, milestone: Milestone) -> list[MilestoneProgress]:
    return list(
        session.exec(
            select(MilestoneProgress)
            .where(MilestoneProgress.milestone_id == milestone.id)
            .order_by(col(MilestoneProgress.as_of), col(MilestoneProgress.id))
        )
    )
