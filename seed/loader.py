"""Load a programme file (TOML) into the register; loading the same file again changes nothing.

Rows are matched by their natural keys (programme code, plan item code, site region + name,
project code, budget line code) and updated only where the file says something different.
Nothing is ever deleted by a load. Amounts are written in 万元, as plans write them, and
converted exactly to 元.
"""

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import CLI_ACTOR, Actor
from app.errors import Conflict
from app.money import wan_to_yuan
from app.programmes.models import PlanItem, Programme
from app.programmes.schemas import PlanItemCreate, ProgrammeCreate
from app.projects.models import BudgetLine, Project, ProjectSite, ProjectStage
from app.projects.schemas import BudgetLineCreate, ProjectCreate
from app.projects.service import check_lines_within_estimate, replace_links
from app.sites.models import Site, SiteAlias
from app.sites.schemas import SiteCreate


class SeedError(ValueError):
    """The file is not a valid programme; nothing was written."""


@dataclass
class SeedResult:
    actor: Actor = CLI_ACTOR
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, *, created: bool) -> None:
        bucket = self.created if created else self.updated
        bucket[kind] = bucket.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> str:
        if not self.changed:
            return "nothing to change: the register already holds this file"
        parts = [f"created {n} {k}" for k, n in sorted(self.created.items())]
        parts += [f"updated {n} {k}" for k, n in sorted(self.updated.items())]
        return ", ".join(parts)


def _validate(model: Any, where: str, data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()
        )
        raise SeedError(f"{where}: {problems}") from exc


def _yuan(where: str, record: dict[str, Any]) -> Decimal:
    try:
        return wan_to_yuan(record.pop("estimate_wan"))
    except KeyError as exc:
        raise SeedError(f"{where}: estimate_wan is required") from exc
    except ValueError as exc:
        raise SeedError(f"{where}: estimate_wan: {exc}") from exc


def _apply(row: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _upsert(
    session: Session,
    result: SeedResult,
    kind: str,
    row: Any | None,
    new: Any,
    values: dict[str, Any],
) -> Any:
    if row is None:
        row = new(**values)
        session.add(row)
        session.flush()
        result.count(kind, created=True)
        audit.record(
            session,
            actor=result.actor,
            action="create",
            entity=row.__tablename__,
            entity_id=row.id,
            after=row.model_dump(),
        )
        return row
    before = row.model_dump()
    if _apply(row, values):
        if hasattr(row, "version"):
            row.version += 1  # an ETag read before this load is now stale
        session.add(row)
        session.flush()
        result.count(kind, created=False)
        audit.record(
            session,
            actor=result.actor,
            action="update",
            entity=row.__tablename__,
            entity_id=row.id,
            before=before,
            after=row.model_dump(),
        )
    return row


def load_file(*, session: Session, path: Path, actor: Actor = CLI_ACTOR) -> SeedResult:
    """Load one programme file inside the caller's transaction."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SeedError(f"{path}: {exc}") from exc
    return load_document(session=session, document=document, actor=actor)


def load_document(
    *, session: Session, document: dict[str, Any], actor: Actor = CLI_ACTOR
) -> SeedResult:
    result = SeedResult(actor=actor)
    programme_data = _validate(ProgrammeCreate, "programme", dict(document.get("programme", {})))
    programme = _upsert(
        session,
        result,
        "programmes",
        session.exec(select(Programme).where(Programme.code == programme_data.code)).first(),
        Programme,
        programme_data.model_dump(),
    )
    region = programme.region

    plan_items: dict[str, PlanItem] = {}
    for i, record in enumerate(document.get("plan_items", []), 1):
        data = _validate(PlanItemCreate, f"plan_items[{i}]", dict(record))
        plan_items[data.code] = _upsert(
            session,
            result,
            "plan items",
            session.exec(
                select(PlanItem).where(
                    PlanItem.programme_id == programme.id, PlanItem.code == data.code
                )
            ).first(),
            PlanItem,
            {"programme_id": programme.id, **data.model_dump()},
        )

    sites: dict[str, Site] = {}
    for i, record in enumerate(document.get("sites", []), 1):
        data = _validate(SiteCreate, f"sites[{i}]", {"region": region, **record})
        site = _upsert(
            session,
            result,
            "sites",
            session.exec(select(Site).where(Site.region == region, Site.name == data.name)).first(),
            Site,
            {"region": region, "name": data.name, "kind": data.kind.value},
        )
        known = set(session.exec(select(SiteAlias.alias).where(SiteAlias.site_id == site.id)))
        new_aliases = [a for a in data.aliases if a not in known]
        if new_aliases:
            session.add_all(SiteAlias(site_id=site.id, alias=a) for a in new_aliases)
            result.count("site aliases", created=True)
            audit.record(
                session,
                actor=actor,
                action="update",
                entity="site",
                entity_id=site.id,
                before={"aliases": sorted(known)},
                after={"aliases": sorted(known | set(new_aliases))},
            )
        sites[data.name] = site
        for alias in data.aliases:
            sites[alias] = site
    session.flush()

    for i, raw in enumerate(document.get("projects", []), 1):
        where = f"projects[{i}]"
        record = dict(raw)
        lines = record.pop("budget_lines", [])
        item_code = record.pop("plan_item", None)
        if item_code not in plan_items:
            raise SeedError(f"{where}: plan_item {item_code!r} is not among this file's plan_items")
        site_names = record.pop("sites", [])
        unknown = [n for n in site_names if n not in sites]
        if unknown:
            raise SeedError(f"{where}: sites not among this file's sites: {', '.join(unknown)}")
        record["original_estimate"] = _yuan(where, record)
        data = _validate(
            ProjectCreate,
            where,
            {
                **record,
                "plan_item_id": plan_items[item_code].id,
                "site_ids": [sites[n].id for n in site_names],
            },
        )
        _load_project(session, result, data, lines, where)
    return result


def _load_project(
    session: Session,
    result: SeedResult,
    data: ProjectCreate,
    lines: list[dict[str, Any]],
    where: str,
) -> None:
    values = data.model_dump(exclude={"stages", "site_ids"})
    values.update(
        category=data.category.value,
        status=data.status.value,
        budget_policy=data.budget_policy.value,
    )
    existing = session.exec(select(Project).where(Project.code == data.code)).first()
    if existing is None or existing.original_estimate == existing.revised_estimate:
        values["revised_estimate"] = data.original_estimate
    project = _upsert(session, result, "projects", existing, Project, values)
    stages = sorted({s.value for s in data.stages})
    have_stages = sorted(
        session.exec(select(ProjectStage.stage).where(ProjectStage.project_id == project.id))
    )
    site_ids = sorted(set(data.site_ids))
    have_sites = sorted(
        session.exec(select(ProjectSite.site_id).where(ProjectSite.project_id == project.id))
    )
    if (have_stages, have_sites) != (stages, site_ids):
        replace_links(session, project.id, stages, site_ids)
        if existing is not None:
            result.count("project links", created=False)
        audit.record(
            session,
            actor=result.actor,
            action="update",
            entity="project",
            entity_id=project.id,
            before={"stages": have_stages, "site_ids": have_sites},
            after={"stages": stages, "site_ids": site_ids},
        )
    for j, raw in enumerate(lines, 1):
        line_where = f"{where}.budget_lines[{j}]"
        record = dict(raw)
        record["estimate"] = _yuan(line_where, record)
        line = _validate(BudgetLineCreate, line_where, record)
        _upsert(
            session,
            result,
            "budget lines",
            session.exec(
                select(BudgetLine).where(
                    BudgetLine.project_id == project.id, col(BudgetLine.code) == line.code
                )
            ).first(),
            BudgetLine,
            {
                "project_id": project.id,
                **line.model_dump(exclude={"cost_category"}),
                "cost_category": line.cost_category.value,
            },
        )
    try:
        check_lines_within_estimate(session, project, Decimal(0))
    except Conflict as exc:
        raise SeedError(f"{where}: {exc.detail}") from exc
