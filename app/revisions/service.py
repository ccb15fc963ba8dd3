"""概算调整: approved revisions of a project's budget estimate.

A revision states the new approved total and replaces the previous figure from its approval
date on; it never adds to it. The project's current revised estimate is the figure of the
revision with the latest approval date (a back-dated revision doesn't override a later one).
"""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Subquery, func
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.errors import Conflict
from app.funding.models import FundingSource
from app.funding.service import resolve_source
from app.money import money_sum
from app.projects.locks import lock_project_balance
from app.projects.models import BudgetLine, Project
from app.revisions.models import ProjectRevision
from app.revisions.schemas import RevisionCreate, RevisionPosted, RevisionRead
from app.timeutil import check_event_date, utcnow


def _read(revision: ProjectRevision, source_code: str | None) -> RevisionRead:
    return RevisionRead(
        **revision.model_dump(exclude={"funding_source_id"}), funding_source=source_code
    )


def revisions_in_force(*, as_of: date, projects: Select[Any] | list[int]) -> Subquery:
    """(project_id, estimate) of the revision in force on `as_of` of each project that
    `projects` names and that has one: the latest approved by then, of two approved the same
    day the later recorded. A project with none by then is on its original estimate."""
    r = ProjectRevision.__table__  # type: ignore[attr-defined]
    ranked = (
        select(
            r.c.project_id,
            r.c.new_estimate.label("estimate"),
            func.row_number()
            .over(partition_by=r.c.project_id, order_by=(r.c.approved_on.desc(), r.c.id.desc()))
            .label("rank"),
        )
        .where(r.c.approved_on <= as_of, r.c.project_id.in_(projects))
        .subquery()
    )
    return select(ranked.c.project_id, ranked.c.estimate).where(ranked.c.rank == 1).subquery()


def estimate_as_of(session: Session, project: Project, as_of: date) -> Decimal:
    """The project's estimate in force on a date (see revisions_in_force)."""
    assert project.id is not None
    in_force = revisions_in_force(as_of=as_of, projects=[project.id])
    latest = session.execute(select(in_force.c.estimate)).scalar()
    return latest if latest is not None else project.original_estimate


def current_estimate(session: Session, project: Project) -> Decimal:
    """The figure of the latest-approved revision, or the original estimate."""
    return estimate_as_of(session, project, date.max)


def create_revision(
    *, session: Session, actor: Actor, project: Project, data: RevisionCreate, today: date
) -> RevisionPosted:
    """Record an approved 概算调整 under the project's balance lock, so no payment is checked
    against a figure that is being replaced."""
    assert project.id is not None
    check_event_date(data.approved_on, field="approved_on", today=today)
    source_id = source_code = None
    if data.funding_source is not None:
        source = resolve_source(session=session, ref=data.funding_source, field="funding_source")
        source_id, source_code = source.id, source.code
    balance = lock_project_balance(session, project.id)
    session.refresh(project)
    clash = session.execute(
        select(col(ProjectRevision.id)).where(
            col(ProjectRevision.project_id) == project.id,
            col(ProjectRevision.document_no) == data.document_no,
        )
    ).scalar()
    if clash is not None:
        raise Conflict(
            f"revision {data.document_no} is already recorded for {project.code} (revision {clash})"
        )
    before = {"revised_estimate": project.revised_estimate, "version": project.version}
    revision = ProjectRevision(
        project_id=project.id,
        new_estimate=data.new_estimate,
        previous_estimate=estimate_as_of(session, project, data.approved_on),
        approved_on=data.approved_on,
        document_no=data.document_no,
        reason=data.reason,
        funding_source_id=source_id,
        created_at=utcnow(),
        created_by_key_id=actor.key_id,
    )
    session.add(revision)
    session.flush()
    project.revised_estimate = current_estimate(session, project)
    project.version += 1
    project.updated_at = utcnow()
    session.add(project)
    session.flush()
    read = _read(revision, source_code)
    audit.record(
        session,
        actor=actor,
        action="revise",
        entity="project_revision",
        entity_id=revision.id,
        after=read.model_dump(),
    )
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="project",
        entity_id=project.id,
        before=before,
        after={"revised_estimate": project.revised_estimate, "version": project.version},
    )
    warnings = []
    if project.revised_estimate < balance.disbursed:
        warnings.append(
            f"the revised estimate {project.revised_estimate:.2f} is below what has been paid "
            f"({balance.disbursed:.2f})"
        )
    lines_total = session.execute(
        select(money_sum(BudgetLine.estimate)).where(col(BudgetLine.project_id) == project.id)
    ).scalar_one()
    if lines_total > project.revised_estimate:
        warnings.append(
            f"budget lines total {lines_total:.2f}, above the revised estimate; adjust the lines"
        )
    later = session.execute(
        select(col(ProjectRevision.document_no))
        .where(
            col(ProjectRevision.project_id) == project.id,
            col(ProjectRevision.approved_on) > data.approved_on,
        )
        .limit(1)
    ).scalar()
    if later is not None:
        warnings.append(f"revision {later}, approved later, still sets the current estimate")
    return RevisionPosted(
        **read.model_dump(), revised_estimate=project.revised_estimate, warnings=warnings
    )


def list_revisions(*, session: Session, project: Project) -> list[RevisionRead]:
    rows = session.execute(
        select(ProjectRevision, col(FundingSource.code))
        .join(
            FundingSource, col(FundingSource.id) == ProjectRevision.funding_source_id, isouter=True
        )
        .where(col(ProjectRevision.project_id) == project.id)
        .order_by(col(ProjectRevision.approved_on), col(ProjectRevision.id))
    ).all()
    return [_read(revision, code) for revision, code in rows]
