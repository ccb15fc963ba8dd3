"""Funding sources (资金来源) and each project's planned funding from them."""

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.errors import Conflict, InvalidInput, NotFound
from app.funding.models import FundingSource, ProjectFunding
from app.funding.schemas import (
    FundingLine,
    FundingPlan,
    FundingSourceCreate,
    FundingSourceUpdate,
    ProjectFundingRead,
)
from app.inputs import identifier_key
from app.ledger.models import Disbursement
from app.money import money_sum
from app.params import ref_clause
from app.projects.models import Project


def list_sources(*, session: Session, include_inactive: bool = True) -> list[FundingSource]:
    query = select(FundingSource).order_by(col(FundingSource.sort_order), col(FundingSource.id))
    if not include_inactive:
        query = query.where(col(FundingSource.active).is_(True))
    return list(session.exec(query))


def get_source(*, session: Session, ref: str) -> FundingSource:
    source = session.exec(
        select(FundingSource).where(ref_clause(FundingSource.id, FundingSource.code, ref))
    ).first()
    if source is None:
        raise NotFound(f"funding source {ref} not found")
    return source


def source_keys(ref: str) -> tuple[str, str]:
    """What a reference to a funding source is compared by: with the codes, as identifiers are
    (`County`, `ｃｏｕｎｔｙ` and ` county ` are `county`); with the names, as written, trimmed.
    Every match of a reference to a source, in SQL or in memory, compares these two."""
    return identifier_key(ref), ref.strip()


class Sources:
    """Funding sources (id, code, name rows) held in memory, found by a reference as the SQL
    finds them (source_keys; the lowest id should two match)."""

    def __init__(self, rows: Iterable[tuple[int, str, str]]) -> None:
        self._by_code: dict[str, tuple[int, str]] = {}
        self._by_name: dict[str, tuple[int, str]] = {}
        for source_id, code, name in sorted(rows):
            self._by_code.setdefault(code, (source_id, code))
            self._by_name.setdefault(name, (source_id, code))

    def find(self, ref: str) -> tuple[int, str] | None:
        """(id, code) of the source a reference names, or None."""
        code, name = source_keys(ref)
        found = [s for s in (self._by_code.get(code), self._by_name.get(name)) if s is not None]
        return min(found) if found else None


def resolve_source(
    *, session: Session, ref: str, field: str, for_new_money: bool = True
) -> FundingSource:
    """A source named by its code or its Chinese name; an inactive one takes no new money."""
    code, name = source_keys(ref)
    source = session.exec(
        select(FundingSource)
        .where(or_(col(FundingSource.code) == code, col(FundingSource.name) == name))
        .order_by(col(FundingSource.id))
    ).first()
    if source is None:
        raise InvalidInput(f"unknown funding source {ref!r}", field=field)
    if for_new_money and not source.active:
        raise InvalidInput(f"funding source {source.name} is no longer in use", field=field)
    return source


def _check_unambiguous(
    session: Session, *, code: str | None, name: str | None, source_id: int | None
) -> None:
    """Payments name a source by code or by name (source_keys), so no reference may find two
    sources: a new code is no other source's code or name, and a new name is no other
    source's name, nor read as its code."""
    clash = None
    for other in session.exec(select(FundingSource)):
        if other.id == source_id:
            continue
        if code is not None and code in source_keys(other.name) + (other.code,):
            clash = other.code
        if name is not None and (
            source_keys(name)[0] == other.code or name.strip() == other.name.strip()
        ):
            clash = other.code
        if clash is not None:
            written = " / ".join(n for n in (code, name) if n is not None)
            raise Conflict(f"{written} would be ambiguous with funding source {clash}")


def create_source(*, session: Session, actor: Actor, data: FundingSourceCreate) -> FundingSource:
    _check_unambiguous(session, code=data.code, name=data.name, source_id=None)
    source = FundingSource(**data.model_dump())
    session.add(source)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="funding_source",
        entity_id=source.id,
        after=audit.snapshot(source),
    )
    return source


def update_source(
    *, session: Session, actor: Actor, source: FundingSource, data: FundingSourceUpdate
) -> FundingSource:
    before = audit.snapshot(source)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in changes and changes["name"] != source.name:
        _check_unambiguous(session, code=None, name=changes["name"], source_id=source.id)
    for name, value in changes.items():
        setattr(source, name, value)
    session.add(source)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="funding_source",
        entity_id=source.id,
        before=before,
        after=audit.snapshot(source),
    )
    return source


def project_funding(*, session: Session, project: Project) -> ProjectFundingRead:
    """Planned vs disbursed per source, and the totals, summed in SQL."""
    rows = session.exec(
        select(
            col(FundingSource.code),
            col(FundingSource.name),
            col(ProjectFunding.planned),
            col(ProjectFunding.disbursed),
        )
        .join(FundingSource, col(FundingSource.id) == ProjectFunding.funding_source_id)
        .where(ProjectFunding.project_id == project.id)
        .order_by(col(FundingSource.sort_order), col(FundingSource.id))
    ).all()
    planned_total, disbursed = session.exec(
        select(money_sum(ProjectFunding.planned), money_sum(ProjectFunding.disbursed)).where(
            ProjectFunding.project_id == project.id
        )
    ).one()
    assert project.id is not None
    return ProjectFundingRead(
        project_id=project.id,
        revised_estimate=project.revised_estimate,
        planned_total=planned_total,
        unplanned=project.revised_estimate - planned_total,
        disbursed=disbursed,
        sources=[
            FundingLine(funding_source=c, name=n, planned=p, disbursed=d) for c, n, p, d in rows
        ],
    )


def set_plan(
    *, session: Session, actor: Actor, project: Project, plan: FundingPlan
) -> ProjectFundingRead:
    """Replace a project's planned funding. Sources already paid from keep their rows (and
    their disbursed totals); a source left out of the plan is planned at zero."""
    assert project.id is not None
    before = project_funding(session=session, project=project)
    planned: dict[int, Decimal] = {}
    for i, line in enumerate(plan.sources):
        source = resolve_source(
            session=session, ref=line.funding_source, field=f"sources.{i}.funding_source"
        )
        assert source.id is not None
        if source.id in planned:
            raise InvalidInput(
                f"{source.name} is listed twice", field=f"sources.{i}.funding_source"
            )
        planned[source.id] = line.planned
    existing = {
        row.funding_source_id: row
        for row in session.exec(
            select(ProjectFunding).where(ProjectFunding.project_id == project.id)
        )
    }
    paid_from = set(
        session.exec(
            select(Disbursement.funding_source_id)
            .where(Disbursement.project_id == project.id)
            .distinct()
        )
    )
    for source_id, row in existing.items():
        if source_id not in planned and source_id not in paid_from:
            session.delete(row)
        else:
            row.planned = planned.pop(source_id, Decimal(0))
            session.add(row)
    session.add_all(
        ProjectFunding(project_id=project.id, funding_source_id=s, planned=amount)
        for s, amount in planned.items()
    )
    session.flush()
    after = project_funding(session=session, project=project)
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="project_funding",
        entity_id=project.id,
        before=before.model_dump(),
        after=after.model_dump(),
    )
    return after
