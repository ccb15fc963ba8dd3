"""Sites (schools) and their aliases; a site lists the projects it belongs to."""

from collections import defaultdict

from sqlalchemy import or_
from sqlmodel import Session, col, delete, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.auth.scope import visible_projects
from app.errors import Conflict, NotFound
from app.params import Pagination, contains_clause, page_of, ref_clause
from app.projects.models import Project, ProjectSite
from app.sites.models import Site, SiteAlias
from app.sites.schemas import SiteCreate, SiteProjectRef, SiteRead, SiteUpdate


def site_reads(*, session: Session, actor: Actor, sites: list[Site]) -> list[SiteRead]:
    """Sites with aliases and the projects the caller may see, in three queries."""
    ids = [s.id for s in sites]
    aliases: dict[int, list[str]] = defaultdict(list)
    for site_id, alias in session.exec(
        select(SiteAlias.site_id, SiteAlias.alias)
        .where(col(SiteAlias.site_id).in_(ids))
        .order_by(col(SiteAlias.id))
    ):
        aliases[site_id].append(alias)
    projects: dict[int, list[SiteProjectRef]] = defaultdict(list)
    for site_id, project_id, code, name in session.exec(
        select(ProjectSite.site_id, Project.id, Project.code, Project.name)
        .join(Project, col(Project.id) == ProjectSite.project_id)
        .where(col(ProjectSite.site_id).in_(ids), visible_projects(actor))
        .order_by(col(Project.code))
    ):
        assert project_id is not None
        projects[site_id].append(SiteProjectRef(id=project_id, code=code, name=name))
    return [
        SiteRead(
            id=s.id,
            region=s.region,
            name=s.name,
            kind=s.kind,
            aliases=aliases[s.id],
            projects=projects[s.id],
        )
        for s in sites
        if s.id is not None
    ]


def search_sites(
    *, session: Session, actor: Actor, q: str | None, region: str | None, page: Pagination
) -> tuple[list[SiteRead], int]:
    """Sites whose name or any alias contains `q`."""
    clauses = []
    if q:
        clauses.append(
            or_(
                contains_clause(q, Site.name),
                col(Site.id).in_(
                    select(SiteAlias.site_id).where(contains_clause(q, SiteAlias.alias))
                ),
            )
        )
    if region:
        clauses.append(col(Site.region) == region)
    rows, total = page_of(session, Site, clauses, page, col(Site.id))
    return site_reads(session=session, actor=actor, sites=rows), total


def get_site(*, session: Session, ref: str) -> Site:
    site = session.exec(select(Site).where(ref_clause(Site.id, Site.name, ref))).first()
    if site is None:
        raise NotFound(f"site {ref} not found")
    return site


def _check_names_free(session: Session, region: str, names: list[str], site_id: int | None) -> None:
    """A name or alias may stand for one site only within a region."""
    others = [Site.region == region]
    if site_id is not None:
        others.append(Site.id != site_id)
    taken = set(session.exec(select(Site.name).where(*others, col(Site.name).in_(names))))
    taken |= set(
        session.exec(
            select(SiteAlias.alias)
            .join(Site, col(Site.id) == SiteAlias.site_id)
            .where(*others, col(SiteAlias.alias).in_(names))
        )
    )
    if taken:
        raise Conflict(f"already used for another site in {region}: {', '.join(sorted(taken))}")


def create_site(*, session: Session, actor: Actor, data: SiteCreate) -> Site:
    aliases = [a for a in dict.fromkeys(data.aliases) if a != data.name]
    _check_names_free(session, data.region, [data.name, *aliases], None)
    site = Site(region=data.region, name=data.name, kind=data.kind.value)
    session.add(site)
    session.flush()
    assert site.id is not None
    session.add_all(SiteAlias(site_id=site.id, alias=a) for a in aliases)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="site",
        entity_id=site.id,
        after={**site.model_dump(), "aliases": aliases},
    )
    return site


def _aliases(session: Session, site_id: int) -> list[str]:
    return list(
        session.exec(
            select(SiteAlias.alias).where(SiteAlias.site_id == site_id).order_by(col(SiteAlias.id))
        )
    )


def update_site(*, session: Session, actor: Actor, site: Site, data: SiteUpdate) -> Site:
    assert site.id is not None
    before = {**site.model_dump(), "aliases": _aliases(session, site.id)}
    if data.kind is not None:
        site.kind = data.kind.value
    if data.name is not None and data.name != site.name:
        _check_names_free(session, site.region, [data.name], site.id)
        site.name = data.name
    if data.aliases is not None:
        aliases = [a for a in dict.fromkeys(data.aliases) if a != site.name]
        _check_names_free(session, site.region, aliases, site.id)
        session.exec(delete(SiteAlias).where(col(SiteAlias.site_id) == site.id))
        session.add_all(SiteAlias(site_id=site.id, alias=a) for a in aliases)
    session.add(site)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="site",
        entity_id=site.id,
        before=before,
        after={**site.model_dump(), "aliases": _aliases(session, site.id)},
    )
    return site
