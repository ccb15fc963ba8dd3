"""The project register: projects, their sites and stages, and their budget lines."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.auth.scope import visible_projects
from app.errors import Conflict, InvalidInput, NotFound
from app.funding.models import FundingSource, ProjectFunding
from app.inputs import identifier_key
from app.ledger.models import Disbursement, ProjectBalance
from app.money import money_sum
from app.params import (
    Pagination,
    check_code_free,
    check_if_match,
    chunks,
    code_clause,
    contains_clause,
    etag_for,
    page_of,
    ref_clause,
)
from app.programmes.models import PlanItem, Programme
from app.projects.locks import lock_project_balance
from app.projects.models import BudgetLine, Project, ProjectSite, ProjectStage
from app.projects.schemas import (
    BudgetLineCreate,
    BudgetLineRead,
    BudgetLineUpdate,
    FundingRef,
    ProjectCreate,
    ProjectRead,
    ProjectUpdate,
    SiteRef,
)
from app.revisions.models import ProjectRevision
from app.sites.models import Site, SiteAlias
from app.timeutil import check_event_date, utcnow

PROJECT_SORTS = (
    "code",
    "name",
    "status",
    "category",
    "original_estimate",
    "revised_estimate",
    "id",
)


def project_etag(project: Project) -> str:
    assert project.id is not None
    return etag_for("project", project.id, project.version)


def get_project(*, session: Session, actor: Actor, ref: str, for_update: bool = False) -> Project:
    """A project by id or code, within the caller's scope; 404 otherwise. `for_update` takes
    the project's balance lock first, then the project row (see app/projects/locks.py)."""
    query = select(Project).where(
        visible_projects(actor), code_clause(Project.id, Project.code_key, ref)
    )
    project = session.exec(query).first()
    if project is None:
        raise NotFound(f"project {ref} not found")
    if for_update:
        assert project.id is not None
        lock_project_balance(session, project.id)
        project = session.exec(
            select(Project)
            .where(Project.id == project.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
    return project


@dataclass(frozen=True)
class ProjectFilters:
    programme: str | None = None
    plan_item: str | None = None
    category: str | None = None
    stage: str | None = None
    status: str | None = None
    site: str | None = None
    q: str | None = None


def _filter_clauses(filters: ProjectFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.category:
        clauses.append(col(Project.category) == filters.category)
    if filters.status:
        clauses.append(col(Project.status) == filters.status)
    if filters.stage:
        clauses.append(
            col(Project.id).in_(
                select(col(ProjectStage.project_id)).where(ProjectStage.stage == filters.stage)
            )
        )
    if filters.plan_item:
        clauses.append(
            col(Project.plan_item_id).in_(
                select(col(PlanItem.id)).where(
                    code_clause(PlanItem.id, PlanItem.code_key, filters.plan_item)
                )
            )
        )
    if filters.programme:
        clauses.append(
            col(Project.plan_item_id).in_(
                select(col(PlanItem.id))
                .join(Programme, col(Programme.id) == PlanItem.programme_id)
                .where(code_clause(Programme.id, Programme.code_key, filters.programme))
            )
        )
    if filters.site:
        site_ids = (
            select(col(Site.id))
            .where(ref_clause(Site.id, Site.name, filters.site))
            .union(select(col(SiteAlias.site_id)).where(SiteAlias.alias == filters.site))
        )
        clauses.append(
            col(Project.id).in_(
                select(col(ProjectSite.project_id)).where(col(ProjectSite.site_id).in_(site_ids))
            )
        )
    if filters.q:
        clauses.append(contains_clause(filters.q, Project.code, Project.name))
    return clauses


def list_projects(
    *,
    session: Session,
    actor: Actor,
    filters: ProjectFilters,
    sort: Sequence[tuple[str, bool]],
    page: Pagination,
) -> tuple[list[ProjectRead], int]:
    """One page of projects in the caller's scope, and how many match in all."""
    clauses = [visible_projects(actor), *_filter_clauses(filters)]
    order = [
        col(getattr(Project, name)).desc() if desc else col(getattr(Project, name))
        for name, desc in sort
    ]
    rows, total = page_of(session, Project, clauses, page, *order, col(Project.id))
    return project_reads(session=session, projects=rows), total


def project_reads(*, session: Session, projects: Sequence[Project]) -> list[ProjectRead]:
    """Reads for a batch of projects in a fixed number of queries, whatever the batch size."""
    ids = [p.id for p in projects]
    if not ids:
        return []
    stages: dict[int, list[str]] = defaultdict(list)
    for project_id, stage in session.exec(
        select(col(ProjectStage.project_id), col(ProjectStage.stage))
        .where(col(ProjectStage.project_id).in_(ids))
        .order_by(col(ProjectStage.stage))
    ):
        stages[project_id].append(stage)
    sites: dict[int, list[SiteRef]] = defaultdict(list)
    for project_id, site_id, site_name in session.exec(
        select(col(ProjectSite.project_id), col(Site.id), col(Site.name))
        .join(Site, col(Site.id) == ProjectSite.site_id)
        .where(col(ProjectSite.project_id).in_(ids))
        .order_by(col(Site.id))
    ):
        assert site_id is not None
        sites[project_id].append(SiteRef(id=site_id, name=site_name))
    lines: dict[int, list[BudgetLineRead]] = defaultdict(list)
    for line in session.exec(
        select(BudgetLine).where(col(BudgetLine.project_id).in_(ids)).order_by(col(BudgetLine.code))
    ):
        lines[line.project_id].append(BudgetLineRead.model_validate(line))
    disbursed = dict(
        session.exec(
            select(col(ProjectBalance.project_id), col(ProjectBalance.disbursed)).where(
                col(ProjectBalance.project_id).in_(ids)
            )
        ).all()
    )
    funding: dict[int, list[FundingRef]] = defaultdict(list)
    for project_id, code, name, planned, paid in session.execute(
        sa.select(
            col(ProjectFunding.project_id),
            col(FundingSource.code),
            col(FundingSource.name),
            col(ProjectFunding.planned),
            col(ProjectFunding.disbursed),
        )
        .join(FundingSource, col(FundingSource.id) == ProjectFunding.funding_source_id)
        .where(col(ProjectFunding.project_id).in_(ids))
        .order_by(col(FundingSource.sort_order), col(FundingSource.id))
    ):
        funding[project_id].append(
            FundingRef(funding_source=code, name=name, planned=planned, disbursed=paid)
        )
    plan_items = {
        item.id: item
        for item in session.exec(
            select(PlanItem).where(col(PlanItem.id).in_({p.plan_item_id for p in projects}))
        )
    }
    out = []
    for p in projects:
        assert p.id is not None
        item = plan_items[p.plan_item_id]
        out.append(
            ProjectRead.model_validate(
                {
                    **p.model_dump(),
                    "programme_id": item.programme_id,
                    "plan_item": item.code,
                    "stages": stages[p.id],
                    "sites": sites[p.id],
                    "budget_lines": lines[p.id],
                    "disbursed": disbursed.get(p.id, Decimal(0)),
                    "funding": funding[p.id],
                }
            )
        )
    return out


def read_project(*, session: Session, project: Project) -> ProjectRead:
    return project_reads(session=session, projects=[project])[0]


def _check_sites(session: Session, site_ids: Sequence[int]) -> None:
    if not site_ids:
        return
    found = set(session.exec(select(col(Site.id)).where(col(Site.id).in_(set(site_ids)))))
    missing = sorted(set(site_ids) - found)
    if missing:
        raise InvalidInput(f"sites {missing} do not exist", field="site_ids")


def replace_links(
    session: Session, project_id: int, stages: Sequence[str] | None, site_ids: Sequence[int] | None
) -> None:
    if stages is not None:
        session.exec(delete(ProjectStage).where(col(ProjectStage.project_id) == project_id))
        session.add_all(ProjectStage(project_id=project_id, stage=s) for s in sorted(set(stages)))
    if site_ids is not None:
        _check_sites(session, site_ids)
        session.exec(delete(ProjectSite).where(col(ProjectSite.project_id) == project_id))
        session.add_all(
            ProjectSite(project_id=project_id, site_id=s) for s in sorted(set(site_ids))
        )


def has_financial_records(session: Session, project_id: int) -> bool:
    """Any payment or 概算调整: from then on the project's history is the ledger's."""
    for model in (Disbursement, ProjectRevision):
        found = session.exec(
            select(model.id).where(model.project_id == project_id).limit(1)
        ).first()
        if found is not None:
            return True
    return False


def _snapshot(session: Session, project: Project) -> dict[str, Any]:
    assert project.id is not None
    stages = sorted(
        session.exec(select(col(ProjectStage.stage)).where(ProjectStage.project_id == project.id))
    )
    sites = sorted(
        session.exec(select(col(ProjectSite.site_id)).where(ProjectSite.project_id == project.id))
    )
    return {**project.model_dump(), "stages": stages, "site_ids": sites}


def bump_version(*, session: Session, project: Project) -> None:
    """A change that alters what a read of the project shows makes earlier ETags stale."""
    project.version += 1
    project.updated_at = utcnow()
    session.add(project)
    session.flush()


def create_project(*, session: Session, actor: Actor, data: ProjectCreate) -> Project:
    """Register a project; its revised estimate starts equal to the original."""
    if session.get(PlanItem, data.plan_item_id) is None:
        raise InvalidInput(f"plan item {data.plan_item_id} does not exist", field="plan_item_id")
    check_code_free(
        session=session,
        table=Project,
        code=data.code,
        clash=f"a project with code {data.code} already exists",
    )
    fields = data.model_dump(exclude={"stages", "site_ids"})
    fields.update(
        category=data.category.value,
        status=data.status.value,
        budget_policy=data.budget_policy.value,
        revised_estimate=data.original_estimate,
    )
    project = Project(**fields)
    session.add(project)
    session.flush()
    assert project.id is not None
    replace_links(session, project.id, [s.value for s in data.stages], data.site_ids)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="project",
        entity_id=project.id,
        after=_snapshot(session, project),
    )
    return project


def update_project(
    *,
    session: Session,
    actor: Actor,
    project: Project,
    data: ProjectUpdate,
    if_match: str | None,
    today: date,
) -> Project:
    """Apply a PATCH based on the version named by If-Match (412 if it has moved on)."""
    check_if_match(if_match, project_etag(project))
    if data.final_accounts_on is not None:
        check_event_date(data.final_accounts_on, field="final_accounts_on", today=today)
    assert project.id is not None
    before = _snapshot(session, project)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"stages", "site_ids"})
    new_original = (
        changes.get("original_estimate", project.original_estimate) != project.original_estimate
    )
    if new_original and has_financial_records(session, project.id):
        raise Conflict(
            f"the original estimate of {project.code} is locked: it has payments or 概算调整; "
            "record a revision (POST /api/v1/projects/{ref}/revisions) instead"
        )
    for name, value in changes.items():
        setattr(project, name, value.value if hasattr(value, "value") else value)
    if new_original:
        # Until a 概算调整 is approved (which locks the original), the revised estimate is it.
        project.revised_estimate = project.original_estimate
        check_lines_within_estimate(session, project, Decimal(0))
    if (
        project.planned_start
        and project.planned_finish
        and project.planned_finish < project.planned_start
    ):
        raise InvalidInput(
            "planned_finish must not be before planned_start", field="planned_finish"
        )
    assert project.id is not None
    stages = [s.value for s in data.stages] if data.stages is not None else None
    replace_links(session, project.id, stages, data.site_ids)
    bump_version(session=session, project=project)
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="project",
        entity_id=project.id,
        before=before,
        after=_snapshot(session, project),
    )
    return project


def delete_project(*, session: Session, actor: Actor, project: Project) -> None:
    """Delete a project and its plan data; refused (409) once anything financial refers to it."""
    assert project.id is not None
    if has_financial_records(session, project.id):
        raise Conflict(
            f"project {project.code} has payments or 概算调整 and cannot be deleted; "
            "set its status to cancelled instead"
        )
    before = _snapshot(session, project)
    try:
        with session.begin_nested():
            session.exec(delete(BudgetLine).where(col(BudgetLine.project_id) == project.id))
            session.exec(delete(ProjectStage).where(col(ProjectStage.project_id) == project.id))
            session.exec(delete(ProjectSite).where(col(ProjectSite.project_id) == project.id))
            session.delete(project)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"project {project.code} has financial records and cannot be deleted; "
            "set its status to cancelled instead"
        ) from exc
    audit.record(
        session,
        actor=actor,
        action="delete",
        entity="project",
        entity_id=before["id"],
        before=before,
    )


# Budget lines ---------------------------------------------------------------------------------


def _lines_total(session: Session, project_id: int, excluding: int | None = None) -> Decimal:
    query = select(money_sum(BudgetLine.estimate)).where(BudgetLine.project_id == project_id)
    if excluding is not None:
        query = query.where(BudgetLine.id != excluding)
    return Decimal(session.exec(query).one())


def check_lines_within_estimate(
    session: Session, project: Project, extra: Decimal, excluding: int | None = None
) -> None:
    assert project.id is not None
    total = _lines_total(session, project.id, excluding) + extra
    if total > project.revised_estimate:
        raise Conflict(
            f"budget lines would total {total:.2f}, above the project's estimate "
            f"{project.revised_estimate:.2f}",
            lines_total=f"{total:.2f}",
            revised_estimate=f"{project.revised_estimate:.2f}",
        )


def list_lines(*, session: Session, project: Project) -> list[BudgetLine]:
    return list(
        session.exec(
            select(BudgetLine)
            .where(BudgetLine.project_id == project.id)
            .order_by(col(BudgetLine.code))
        )
    )


def get_line(
    *, session: Session, actor: Actor, line_id: int, for_update: bool = False
) -> BudgetLine:
    """A budget line in the caller's scope; `for_update` locks its project's balance first."""
    query = (
        select(BudgetLine)
        .join(Project, col(Project.id) == BudgetLine.project_id)
        .where(BudgetLine.id == line_id, visible_projects(actor))
    )
    line = session.exec(query).first()
    if line is None:
        raise NotFound(f"budget line {line_id} not found")
    if for_update:
        lock_project_balance(session, line.project_id)
        line = session.exec(
            select(BudgetLine)
            .where(BudgetLine.id == line_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
    return line


def line_etag(line: BudgetLine) -> str:
    assert line.id is not None
    return etag_for("budget-line", line.id, line.version)


def create_line(
    *, session: Session, actor: Actor, project: Project, data: BudgetLineCreate
) -> BudgetLine:
    """Add a 概算 line; all lines together may not exceed the project's estimate."""
    assert project.id is not None
    check_code_free(
        session=session,
        table=BudgetLine,
        code=data.code,
        clash=f"project {project.code} already has a budget line {data.code}",
        within=[BudgetLine.project_id == project.id],
    )
    check_lines_within_estimate(session, project, data.estimate)
    line = BudgetLine(
        project_id=project.id,
        **data.model_dump(exclude={"cost_category", "budget_policy"}),
        cost_category=data.cost_category.value,
        budget_policy=data.budget_policy.value if data.budget_policy else None,
    )
    session.add(line)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="budget_line",
        entity_id=line.id,
        after=line.model_dump(),
    )
    return line


def update_line(
    *,
    session: Session,
    actor: Actor,
    line: BudgetLine,
    data: BudgetLineUpdate,
    if_match: str | None,
) -> BudgetLine:
    check_if_match(if_match, line_etag(line))
    before = line.model_dump()
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        setattr(line, name, value.value if hasattr(value, "value") else value)
    if "estimate" in changes:
        # Lock the project so two line edits can't both pass the total check.
        project = session.exec(
            select(Project).where(Project.id == line.project_id).with_for_update()
        ).one()
        check_lines_within_estimate(session, project, line.estimate, excluding=line.id)
    line.version += 1
    session.add(line)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="budget_line",
        entity_id=line.id,
        before=before,
        after=line.model_dump(),
    )
    return line


def delete_line(*, session: Session, actor: Actor, line: BudgetLine) -> None:
    before = line.model_dump()
    try:
        with session.begin_nested():
            session.delete(line)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"budget line {line.code} has payments and cannot be deleted") from exc
    audit.record(
        session,
        actor=actor,
        action="delete",
        entity="budget_line",
        entity_id=before["id"],
        before=before,
    )


def project_id_of(*, session: Session, actor: Actor, ref: int | str, field: str) -> int:
    """The id of the project a body names by id or code, within the caller's scope; a 422
    naming the field otherwise."""
    if isinstance(ref, int):
        return ref
    found = session.exec(
        select(Project.id).where(
            visible_projects(actor), code_clause(Project.id, Project.code_key, ref)
        )
    ).first()
    if found is None:
        raise InvalidInput(f"no project {ref}", field=field)
    return found


def budget_lines_of(*, session: Session, project_ids: Sequence[int]) -> dict[int, list[Any]]:
    """The budget lines of each project (id, code_key, name), a few statements for many."""
    found: dict[int, list[Any]] = {pid: [] for pid in project_ids}
    for chunk in chunks(sorted(found)):
        for row in session.connection().execute(
            sa.select(col(BudgetLine.id), col(BudgetLine.project_id), col(BudgetLine.code_key))
            .add_columns(col(BudgetLine.name))
            .where(col(BudgetLine.project_id).in_(chunk))
            .order_by(col(BudgetLine.id))
        ):
            found[row.project_id].append(row)
    return found


def match_budget_line(lines: Sequence[Any], ref: str) -> int | str:
    """Which of a project's budget lines (budget_lines_of) a reference names: by its code
    (`ZL7-6-6`, compared as identifiers are), its name (`图书`) or its id; the id, or why
    there is none."""
    key = identifier_key(ref)
    for matches in (
        [line.id for line in lines if line.code_key == key],
        [line.id for line in lines if line.name.strip() == ref.strip()],
        [line.id for line in lines if ref.isascii() and ref.isdigit() and str(line.id) == ref],
    ):
        if len(matches) == 1 and matches[0] is not None:
            found: int = matches[0]
            return found
        if len(matches) > 1:
            return f"{len(matches)} budget lines are named {ref!r}: give its code"
    return f"no budget line {ref!r} in this project"


def budget_line_of(*, session: Session, project_id: int, ref: str) -> int | str:
    """A budget line of a project by its code, its name or its id: the id, or why there is
    none (match_budget_line)."""
    return match_budget_line(
        budget_lines_of(session=session, project_ids=[project_id])[project_id], ref
    )
