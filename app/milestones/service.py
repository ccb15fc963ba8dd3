"""Milestones and their progress reports, and certification of what is payable.

A project's physical completion (Σ weight × percent / Σ weight) is computed with the
reports, as of any date: app/reports/evm.py."""

from datetime import date
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.auth.scope import own_contracts, visible_projects
from app.contracts.models import Contract
from app.contracts.service import committed_amount, contract_of
from app.errors import Conflict, InvalidInput, NotFound
from app.milestones.models import Milestone, MilestoneProgress
from app.milestones.schemas import CertificationCreate, MilestoneCreate, ProgressCreate
from app.money import FEN, money_sum
from app.params import Pagination, check_code_free, page_of
from app.projects.locks import lock_project_balance
from app.projects.models import Project
from app.projects.service import project_id_of
from app.timeutil import check_event_date

HUNDRED = Decimal(100)


class CertificationCeiling(Conflict):
    slug, title = "certification-ceiling", "Certified amount above its ceiling"


def _signed_on(session: Session, contract_id: int | None) -> date | None:
    if contract_id is None:
        return None
    contract = session.get(Contract, contract_id)
    return contract.signed_on if contract is not None else None


def _percent_on(session: Session, milestone: Milestone, day: date) -> Decimal:
    """The milestone's progress as last reported on or before `day` (0 if none was)."""
    if milestone.id is None:
        return Decimal(0)
    percent = session.exec(
        select(col(MilestoneProgress.percent_complete))
        .where(
            col(MilestoneProgress.milestone_id) == milestone.id,
            col(MilestoneProgress.as_of) <= day,
        )
        .order_by(col(MilestoneProgress.as_of).desc(), col(MilestoneProgress.id).desc())
        .limit(1)
    ).first()
    return percent if percent is not None else Decimal(0)


def _check_certification(
    session: Session,
    *,
    milestone: Milestone,
    amount: Decimal,
    certified_on: date,
    reason: str | None,
    today: date,
) -> None:
    """计量 has a ceiling (docs/REPORTS.md, Dues): the contract's certified total never exceeds
    its committed amount, and a milestone's certified amount never exceeds its share of the
    committed amount at its progress reported by `certified_on` (weight share × percent)
    unless finance states a reason. Holds the project's balance lock and the contract's row, as
    a change order does, so two certifications can't both pass against the same room."""
    check_event_date(
        certified_on,
        field="certified_on",
        today=today,
        since=_signed_on(session, milestone.contract_id),
        since_what="the contract was signed",
    )
    if milestone.contract_id is None:
        raise InvalidInput(
            "only a milestone of a contract can be certified for payment", field="certified_amount"
        )
    lock_project_balance(session, milestone.project_id)
    session.exec(select(Contract.id).where(Contract.id == milestone.contract_id).with_for_update())
    committed = committed_amount(session, milestone.contract_id)
    others = session.exec(
        select(
            func.coalesce(func.sum(Milestone.weight), 0),
            money_sum(Milestone.certified_amount),
        ).where(
            Milestone.contract_id == milestone.contract_id,
            col(Milestone.id) != (milestone.id or 0),
        )
    ).one()
    other_weights, other_certified = Decimal(others[0]), Decimal(others[1] or 0)
    if other_certified + amount > committed:
        raise CertificationCeiling(
            f"the contract's certified total would be {other_certified + amount:.2f}, above its "
            f"committed amount {committed:.2f}",
            ceiling=f"{max(Decimal(0), committed - other_certified):.2f}",
        )
    weights = other_weights + milestone.weight
    percent = _percent_on(session, milestone, certified_on)
    # amount > committed × weight / weights × percent / 100, compared without dividing.
    if amount * weights * HUNDRED > committed * milestone.weight * percent and reason is None:
        ceiling = (committed * milestone.weight * percent / (weights * HUNDRED)).quantize(
            FEN, ROUND_FLOOR
        )
        raise CertificationCeiling(
            f"{amount:.2f} is more than this milestone's share of the committed amount at the "
            f"progress reported by {certified_on} ({percent}% of "
            f"{committed * milestone.weight / weights:.2f} = {ceiling:.2f}); "
            "state a reason to certify it anyway",
            ceiling=f"{ceiling:.2f}",
        )


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
    order = (col(Milestone.project_id), col(Milestone.planned_date), col(Milestone.id))
    return page_of(session, Milestone, clauses, page, *order)


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
    check_code_free(
        session=session,
        table=Milestone,
        code=data.code,
        clash=f"the project already has a milestone {data.code}",
        within=[Milestone.project_id == data.project_id],
    )
    milestone = Milestone(**data.model_dump())
    if data.certified_amount is not None or data.certified_on is not None:
        if data.certified_amount is None or data.certified_on is None:
            missing = "certified_on" if data.certified_on is None else "certified_amount"
            raise InvalidInput("a certification needs an amount and a date", field=missing)
        _check_certification(
            session,
            milestone=milestone,
            amount=data.certified_amount,
            certified_on=data.certified_on,
            reason=data.certification_reason,
            today=today,
        )
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
    check_event_date(
        data.as_of,
        field="as_of",
        today=today,
        since=_signed_on(session, milestone.contract_id),
        since_what="the contract was signed",
    )
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
    """Record the certified payable amount (within its ceiling, or with finance's reason); it
    falls due after the contract's payment term."""
    _check_certification(
        session,
        milestone=milestone,
        amount=data.certified_amount,
        certified_on=data.certified_on,
        reason=data.reason,
        today=today,
    )
    before = milestone.model_dump()
    milestone.certified_amount = data.certified_amount
    milestone.certified_on = data.certified_on
    milestone.certification_reason = data.reason
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
