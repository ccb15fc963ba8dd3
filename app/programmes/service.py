"""Programmes (plans) and their plan items, with estimate totals summed in SQL."""

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.auth.models import Role
from app.auth.scope import visible_projects
from app.errors import NotFound
from app.money import money_sum
from app.params import Pagination, check_code_free, check_if_match, code_clause, etag_for, page_of
from app.programmes.models import PlanItem, Programme
from app.programmes.schemas import (
    PlanItemCreate,
    PlanItemRead,
    ProgrammeCreate,
    ProgrammeRead,
    ProgrammeUpdate,
)
from app.projects.models import Project


def _with_visible_project(actor: Actor) -> ColumnElement[bool]:
    """A condition on Programme: it has a project the caller may see (every programme, for
    staff). A contractor reads nothing programme-wide beyond its own projects."""
    return col(Programme.id).in_(
        select(PlanItem.programme_id)
        .join(Project, col(Project.plan_item_id) == PlanItem.id)
        .where(visible_projects(actor))
    )


def _programme_filter(actor: Actor) -> list[ColumnElement[bool]]:
    return [] if actor.role is not Role.contractor else [_with_visible_project(actor)]


def _item_totals(session: Session, programme_ids: list[int], actor: Actor) -> list[PlanItemRead]:
    # A contractor's plan items are those holding one of its projects, summed over those alone.
    staff = actor.role is not Role.contractor
    rows = session.exec(
        select(
            PlanItem,
            func.count(col(Project.id)),
            money_sum(Project.original_estimate),
            money_sum(Project.revised_estimate),
        )
        .join(
            Project,
            and_(col(Project.plan_item_id) == PlanItem.id, visible_projects(actor)),
            isouter=staff,
        )
        .where(col(PlanItem.programme_id).in_(programme_ids))
        .group_by(col(PlanItem.id))
        .order_by(col(PlanItem.id))
    )
    return [
        PlanItemRead(
            **item.model_dump(),
            project_count=count,
            original_estimate=Decimal(original),
            revised_estimate=Decimal(revised),
        )
        for item, count, original, revised in rows
    ]


def programme_reads(
    *, session: Session, actor: Actor, programmes: list[Programme]
) -> list[ProgrammeRead]:
    """Programmes with their plan items and totals, in three queries; a contractor's totals and
    plan items cover only the projects it may see."""
    ids = [p.id for p in programmes if p.id is not None]
    items = _item_totals(session, ids, actor)
    totals = {
        programme_id: (count, Decimal(original), Decimal(revised))
        for programme_id, count, original, revised in session.exec(
            select(
                PlanItem.programme_id,
                func.count(col(Project.id)),
                money_sum(Project.original_estimate),
                money_sum(Project.revised_estimate),
            )
            .join(Project, col(Project.plan_item_id) == PlanItem.id)
            .where(col(PlanItem.programme_id).in_(ids), visible_projects(actor))
            .group_by(col(PlanItem.programme_id))
        )
    }
    out = []
    for programme in programmes:
        assert programme.id is not None
        count, original, revised = totals.get(programme.id, (0, Decimal(0), Decimal(0)))
        out.append(
            ProgrammeRead(
                **programme.model_dump(),
                plan_items=[i for i in items if i.programme_id == programme.id],
                project_count=count,
                original_estimate=original,
                revised_estimate=revised,
            )
        )
    return out


def list_programmes(
    *, session: Session, actor: Actor, page: Pagination
) -> tuple[list[ProgrammeRead], int]:
    """The programmes the caller may see: every one for staff; for a contractor, those with a
    project it holds a contract on."""
    scope = _programme_filter(actor)
    rows, total = page_of(session, Programme, scope, page, col(Programme.id))
    return programme_reads(session=session, actor=actor, programmes=rows), total


def get_programme(
    *, session: Session, ref: str, actor: Actor, for_update: bool = False
) -> Programme:
    """A programme by id or code; 404 if there is none or the caller may not see it: a
    contractor sees a programme only through a project it holds a contract on."""
    scope = _programme_filter(actor)
    query = select(Programme).where(code_clause(Programme.id, Programme.code_key, ref), *scope)
    programme = session.exec(query.with_for_update() if for_update else query).first()
    if programme is None:
        raise NotFound(f"programme {ref} not found")
    return programme


def create_programme(*, session: Session, actor: Actor, data: ProgrammeCreate) -> Programme:
    check_code_free(
        session=session,
        table=Programme,
        code=data.code,
        clash=f"a programme with code {data.code} already exists",
    )
    programme = Programme(**data.model_dump())
    session.add(programme)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="programme",
        entity_id=programme.id,
        after=programme.model_dump(),
    )
    return programme


def programme_etag(programme: Programme) -> str:
    assert programme.id is not None
    return etag_for("programme", programme.id, programme.version)


def patch_programme(
    *,
    session: Session,
    actor: Actor,
    programme: Programme,
    data: ProgrammeUpdate,
    if_match: str | None,
) -> Programme:
    """Apply a PATCH based on the version named by If-Match (412 if it has moved on)."""
    check_if_match(if_match, programme_etag(programme))
    changes = {
        name: value
        for name, value in data.model_dump(exclude_unset=True).items()
        if getattr(programme, name) != value
    }
    if not changes:  # nothing to change: no new version, no audit entry
        return programme
    return update_programme(session=session, actor=actor, programme=programme, changes=changes)


def create_plan_item(
    *, session: Session, actor: Actor, programme: Programme, data: PlanItemCreate
) -> PlanItem:
    check_code_free(
        session=session,
        table=PlanItem,
        code=data.code,
        clash=f"programme {programme.code} already has a plan item {data.code}",
        within=[PlanItem.programme_id == programme.id],
    )
    assert programme.id is not None
    item = PlanItem(programme_id=programme.id, **data.model_dump())
    session.add(item)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="plan_item",
        entity_id=item.id,
        after=item.model_dump(),
    )
    return item


def _update(
    session: Session, actor: Actor, row: Programme | PlanItem, changes: dict[str, Any]
) -> None:
    before = row.model_dump()
    for name, value in changes.items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity=str(row.__tablename__),
        entity_id=row.id,
        before=before,
        after=row.model_dump(),
    )


def update_programme(
    *, session: Session, actor: Actor, programme: Programme, changes: dict[str, Any]
) -> Programme:
    """Change a programme's fields (validated by ProgrammeCreate or ProgrammeUpdate), audited;
    its version moves on, so an ETag read before is stale."""
    _update(session, actor, programme, {**changes, "version": programme.version + 1})
    return programme


def update_plan_item(*, session: Session, actor: Actor, item: PlanItem, name: str) -> PlanItem:
    """Rename a plan item, audited."""
    _update(session, actor, item, {"name": name})
    return item
