"""Load a programme file (TOML) into the register without undoing anyone's changes.

Rows are matched by their natural keys (programme code, plan item code, site region + name or
alias, project code, budget line code). A load creates what the register lacks, through the
same services the API uses, and leaves every existing row alone: each field where the file and
the database disagree is reported, not written. `update=True` (`seed --update`) applies those
differences through the services an administrator's PATCH uses, audited, and reports each.
A field the file leaves out is compared only if it has a default (TOML has no null). Nothing
is ever deleted by a load. Amounts are written in 万元, as plans write them, and converted
exactly to 元.
"""

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.auth.models import Role
from app.config import get_settings
from app.errors import Conflict, DomainError
from app.inputs import identifier_key
from app.money import wan_to_yuan
from app.programmes import service as programmes
from app.programmes.models import PlanItem, Programme
from app.programmes.schemas import PlanItemCreate, ProgrammeCreate
from app.projects import service as projects
from app.projects.models import BudgetLine, Project, ProjectSite, ProjectStage
from app.projects.schemas import BudgetLineCreate, BudgetLineUpdate, ProjectCreate, ProjectUpdate
from app.sites import service as sites
from app.sites.models import Site, SiteAlias
from app.sites.schemas import SiteCreate, SiteUpdate
from app.timeutil import business_today

T = TypeVar("T")
LineChange = tuple[str, BudgetLine, dict[str, Any]]  # where in the file, the row, its changes
KEPT = "kept; run seed --update to apply"


class SeedError(ValueError):
    """The file is not a valid programme, or a change it asks for is refused; nothing was
    written."""


def seed_actor(path: Path) -> Actor:
    """The audit trail records a load's writes as the command line's, naming the file."""
    return Actor(key_id=None, name=f"command line: seed {path.name}", role=Role.admin)


@dataclass
class SeedResult:
    actor: Actor
    update: bool = False
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    report: list[str] = field(default_factory=list)
    kept: int = 0
    pending: int = 0

    def count(self, kind: str, *, created: bool) -> None:
        bucket = self.created if created else self.updated
        bucket[kind] = bucket.get(kind, 0) + 1

    def keep(self, line: str, *, fixed: bool = False) -> None:
        self.report.append(line)
        self.kept += 1
        self.pending += not fixed

    def differ(
        self, record: str, name: str, database: Any, seed: Any, *, fixed: str | None = None
    ) -> bool:
        """Report one field the file and the database disagree on; True if this load applies it."""
        line = f"{record} {name}: database {_show(database)}, seed {_show(seed)}"
        if fixed is not None:
            self.keep(f"{line} (kept: {fixed})", fixed=True)
            return False
        if not self.update:
            self.keep(f"{line} ({KEPT})")
            return False
        self.report.append(f"{line} (updated)")
        return True

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> str:
        parts = [f"created {n} {k}" for k, n in sorted(self.created.items())]
        parts += [f"updated {n} {k}" for k, n in sorted(self.updated.items())]
        if not self.kept:
            return ", ".join(parts) or "nothing to change: the register already holds this file"
        kept = f"{self.kept} difference{'s' if self.kept > 1 else ''} with the database kept"
        if self.pending:
            kept += " (run seed --update to apply)"
        return ", ".join(parts or ["nothing changed"]) + "; " + kept


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return sorted(_plain(v) for v in value)
    return value


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return f"{value:.2f}" if isinstance(exponent, int) and exponent > -2 else str(value)
    return str(_plain(value))


def _compare(
    result: SeedResult,
    record: str,
    current: dict[str, Any],
    wanted: dict[str, Any],
    fixed: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Report each field the file states that the database holds otherwise; return those this
    load applies."""
    changes: dict[str, Any] = {}
    for name, seed_value in wanted.items():
        if seed_value is None:
            continue  # the file leaves it out: nothing to compare
        seed_value, db_value = _plain(seed_value), _plain(current[name])
        if seed_value != db_value and result.differ(
            record, name, db_value, seed_value, fixed=(fixed or {}).get(name)
        ):
            changes[name] = seed_value
    return changes


def _call(where: str, service: Callable[..., T], **kwargs: Any) -> T:
    try:
        return service(**kwargs)
    except DomainError as exc:
        raise SeedError(f"{where}: {exc.detail}") from exc


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


def load_file(
    *, session: Session, path: Path, update: bool = False, actor: Actor | None = None
) -> SeedResult:
    """Load one programme file inside the caller's transaction (see the module's docstring)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SeedError(f"{path}: {exc}") from exc
    return load_document(
        session=session, document=document, update=update, actor=actor or seed_actor(path)
    )


def load_document(
    *, session: Session, document: dict[str, Any], actor: Actor, update: bool = False
) -> SeedResult:
    result = SeedResult(actor=actor, update=update)
    programme = _load_programme(session, result, document)
    plan_items = _load_plan_items(session, result, programme, document)
    site_rows = _load_sites(session, result, programme.region, document)
    deleted: dict[tuple[object, ...], audit.Deletion] = {
        ("project", identifier_key(gone.before["code"])): gone
        for gone in audit.deletions(session=session, entity="project")
    }
    deleted.update(
        (("budget_line", gone.before["project_id"], identifier_key(gone.before["code"])), gone)
        for gone in audit.deletions(session=session, entity="budget_line")
    )

    for i, raw in enumerate(document.get("projects", []), 1):
        where = f"projects[{i}]"
        record = dict(raw)
        lines = record.pop("budget_lines", [])
        item_code = record.pop("plan_item", None)
        if item_code not in plan_items:
            raise SeedError(f"{where}: plan_item {item_code!r} is not among this file's plan_items")
        site_names = record.pop("sites", [])
        unknown = [n for n in site_names if n not in site_rows]
        if unknown:
            raise SeedError(f"{where}: sites not among this file's sites: {', '.join(unknown)}")
        record["original_estimate"] = _yuan(where, record)
        project_sites = list({site_rows[n].id: site_rows[n] for n in site_names}.values())
        data = _validate(
            ProjectCreate,
            where,
            {
                **record,
                "plan_item_id": plan_items[item_code].id,
                "site_ids": [s.id for s in project_sites],
            },
        )
        line_data = []
        for j, raw_line in enumerate(lines, 1):
            line_where = f"{where}.budget_lines[{j}]"
            line_record = dict(raw_line)
            line_record["estimate"] = _yuan(line_where, line_record)
            line_data.append((line_where, _validate(BudgetLineCreate, line_where, line_record)))
        _load_project(
            session, result, where, data, plan_items[item_code], project_sites, line_data, deleted
        )
    return result


def _load_programme(session: Session, result: SeedResult, document: dict[str, Any]) -> Programme:
    data = _validate(ProgrammeCreate, "programme", dict(document.get("programme", {})))
    programme = session.exec(
        select(Programme).where(Programme.code_key == identifier_key(data.code))
    ).first()
    if programme is None:
        result.count("programmes", created=True)
        return _call(
            "programme",
            programmes.create_programme,
            session=session,
            actor=result.actor,
            data=data,
        )
    changes = _compare(
        result,
        f"programme {data.code}",
        programme.model_dump(),
        data.model_dump(exclude={"code"}),
        fixed={"region": "a programme's sites are found in its region; a seed does not move it"},
    )
    if changes:
        programmes.update_programme(
            session=session, actor=result.actor, programme=programme, changes=changes
        )
        result.count("programmes", created=False)
    return programme


def _load_plan_items(
    session: Session, result: SeedResult, programme: Programme, document: dict[str, Any]
) -> dict[str, PlanItem]:
    plan_items: dict[str, PlanItem] = {}
    for i, record in enumerate(document.get("plan_items", []), 1):
        where = f"plan_items[{i}]"
        data = _validate(PlanItemCreate, where, dict(record))
        item = session.exec(
            select(PlanItem).where(
                PlanItem.programme_id == programme.id,
                PlanItem.code_key == identifier_key(data.code),
            )
        ).first()
        if item is None:
            item = _call(
                where,
                programmes.create_plan_item,
                session=session,
                actor=result.actor,
                programme=programme,
                data=data,
            )
            result.count("plan items", created=True)
        elif _compare(result, f"plan item {data.code}", item.model_dump(), {"name": data.name}):
            programmes.update_plan_item(
                session=session, actor=result.actor, item=item, name=data.name
            )
            result.count("plan items", created=False)
        plan_items[data.code] = item
    return plan_items


def _find_site(session: Session, region: str, data: SiteCreate) -> Site | None:
    """The site the file means: by its name, else by any name the file gives it that is now
    another name or an alias of a site (someone renamed it)."""
    site = session.exec(select(Site).where(Site.region == region, Site.name == data.name)).first()
    if site is not None:
        return site
    names = [data.name, *data.aliases]
    return session.exec(
        select(Site)
        .where(
            Site.region == region,
            or_(
                col(Site.name).in_(names),
                col(Site.id).in_(select(SiteAlias.site_id).where(col(SiteAlias.alias).in_(names))),
            ),
        )
        .order_by(col(Site.id))
    ).first()


def _load_sites(
    session: Session, result: SeedResult, region: str, document: dict[str, Any]
) -> dict[str, Site]:
    """The file's sites by every name it gives them."""
    by_name: dict[str, Site] = {}
    for i, record in enumerate(document.get("sites", []), 1):
        where = f"sites[{i}]"
        data = _validate(SiteCreate, where, {"region": region, **record})
        site = _find_site(session, region, data)
        if site is None:
            site = _call(where, sites.create_site, session=session, actor=result.actor, data=data)
            result.count("sites", created=True)
        else:
            assert site.id is not None
            label = f"site {data.name}"
            changes = _compare(
                result, label, site.model_dump(), {"name": data.name, "kind": data.kind}
            )
            have = list(
                session.exec(
                    select(SiteAlias.alias)
                    .where(SiteAlias.site_id == site.id)
                    .order_by(col(SiteAlias.id))
                )
            )
            missing = [a for a in dict.fromkeys(data.aliases) if a not in have and a != site.name]
            aliases = [*have, *missing]  # an alias someone added stays
            if missing and result.differ(label, "aliases", have, data.aliases):
                changes["aliases"] = aliases
            if "name" in changes:  # the name it had stays an alias
                kept = [*changes.get("aliases", have), site.name]
                changes["aliases"] = [a for a in dict.fromkeys(kept) if a != data.name]
            if changes:
                _call(
                    where,
                    sites.update_site,
                    session=session,
                    actor=result.actor,
                    site=site,
                    data=SiteUpdate.model_validate(changes),
                )
                result.count("sites", created=False)
        for name in [data.name, *data.aliases]:
            by_name[name] = site
    return by_name


def _load_project(
    session: Session,
    result: SeedResult,
    where: str,
    data: ProjectCreate,
    item: PlanItem,
    project_sites: list[Site],
    lines: list[tuple[str, BudgetLineCreate]],
    deleted: dict[tuple[object, ...], audit.Deletion],
) -> None:
    actor = result.actor
    project = session.exec(
        select(Project).where(Project.code_key == identifier_key(data.code))
    ).first()
    if project is None:
        gone = deleted.get(("project", identifier_key(data.code)))
        if gone is not None and not _create_again(result, data.code, gone):
            return
        project = _call(where, projects.create_project, session=session, actor=actor, data=data)
        result.count("projects", created=True)
        for line_where, line in lines:
            _call(
                line_where,
                projects.create_line,
                session=session,
                actor=actor,
                project=project,
                data=line,
            )
            result.count("budget lines", created=True)
        return

    assert project.id is not None
    changes = _project_changes(session, result, project, data, item, project_sites)

    line_changes: list[LineChange] = []
    missing: list[tuple[str, BudgetLineCreate]] = []
    for line_where, line in lines:
        row = session.exec(
            select(BudgetLine).where(
                BudgetLine.project_id == project.id,
                col(BudgetLine.code_key) == identifier_key(line.code),
            )
        ).first()
        if row is None:
            gone = deleted.get(("budget_line", project.id, identifier_key(line.code)))
            label = f"{data.code} budget line {line.code}"
            if gone is None or gone.at < project.created_at or _create_again(result, label, gone):
                missing.append((line_where, line))
            continue
        line_change = _compare(
            result,
            f"{data.code} budget line {line.code}",
            row.model_dump(),
            line.model_dump(exclude={"code"}),
        )
        if line_change:
            line_changes.append((line_where, row, line_change))

    # Lines that shrink go first and lines that grow after the project, so that the lines
    # never total more than the estimate on the way.
    shrinking: list[LineChange] = []
    growing: list[LineChange] = []
    for change in line_changes:
        _, row, line_change = change
        smaller = line_change.get("estimate", row.estimate) < row.estimate
        (shrinking if smaller else growing).append(change)
    for change in shrinking:
        _update_line(session, result, *change)
    if changes:
        _call(
            where,
            projects.update_project,
            session=session,
            actor=actor,
            project=project,
            data=ProjectUpdate.model_validate(changes),
            if_match=projects.project_etag(project),
            today=business_today(get_settings().business_timezone),
        )
        result.count("projects", created=False)
    for change in growing:
        _update_line(session, result, *change)
    for line_where, line in missing:
        try:
            projects.create_line(session=session, actor=actor, project=project, data=line)
        except Conflict as exc:
            if result.update:
                raise SeedError(f"{line_where}: {exc.detail}") from exc
            result.keep(f"{data.code} budget line {line.code}: not created: {exc.detail} ({KEPT})")
            continue
        result.count("budget lines", created=True)


def _project_changes(
    session: Session,
    result: SeedResult,
    project: Project,
    data: ProjectCreate,
    item: PlanItem,
    project_sites: list[Site],
) -> dict[str, Any]:
    """Compare an existing project with the file; the changes this load applies, as a PATCH."""
    assert project.id is not None
    current_item = session.get(PlanItem, project.plan_item_id)
    current = {
        **project.model_dump(),
        "plan_item": current_item.code if current_item else None,
        "stages": list(
            session.exec(select(ProjectStage.stage).where(ProjectStage.project_id == project.id))
        ),
        "sites": list(
            session.exec(
                select(Site.name)
                .join(ProjectSite, col(ProjectSite.site_id) == Site.id)
                .where(ProjectSite.project_id == project.id)
            )
        ),
    }
    wanted = {
        **data.model_dump(exclude={"code", "plan_item_id", "site_ids"}),
        "plan_item": item.code,
        "sites": [s.name for s in project_sites],
    }
    fixed = {"plan_item": "a seed does not move a project to another plan item"}
    if projects.has_financial_records(session, project.id):
        fixed["original_estimate"] = "locked by the project's payments or 概算调整"
    changes = _compare(result, data.code, current, wanted, fixed)
    if "sites" in changes:
        changes["site_ids"] = [s.id for s in project_sites]
        del changes["sites"]
    return changes


def _create_again(result: SeedResult, record: str, gone: audit.Deletion) -> bool:
    """Report a record someone deleted; True if this load creates it again."""
    line = f"{record}: deleted {gone.at.isoformat(timespec='seconds')} by {gone.actor_name}"
    if not result.update:
        result.keep(f"{line}, not created again ({KEPT})")
        return False
    result.report.append(f"{line}, created again")
    return True


def _update_line(
    session: Session, result: SeedResult, where: str, line: BudgetLine, changes: dict[str, Any]
) -> None:
    _call(
        where,
        projects.update_line,
        session=session,
        actor=result.actor,
        line=line,
        data=BudgetLineUpdate.model_validate(changes),
        if_match=projects.line_etag(line),
    )
    result.count("budget lines", created=False)
