from typing import Annotated

from fastapi import Path, Query, Response, status

from app.auth.dependencies import AdminDep, AnyRoleDep
from app.db import SessionDep
from app.errors import problem_responses
from app.inputs import SafeText
from app.params import Page, PaginationDep
from app.routing import FeatureRouter
from app.sites import service
from app.sites.schemas import SiteCreate, SiteRead, SiteUpdate

router = FeatureRouter(prefix="/api/v1/sites", tags=["sites"])
SiteRef = Annotated[SafeText, Path(min_length=1, max_length=200, description="Id or name")]


@router.get(
    "",
    response_model=Page[SiteRead],
    summary="Find sites by name or alias",
    description="`?q=城关六小` finds 城关第六小学 through its alias. Each site lists its projects.",
    responses=problem_responses(401, 403, 422),
)
def list_sites(
    session: SessionDep,
    actor: AnyRoleDep,
    page: PaginationDep,
    q: Annotated[
        SafeText | None, Query(max_length=200, description="Name or alias contains")
    ] = None,
    region: Annotated[SafeText | None, Query(max_length=200)] = None,
) -> Page[SiteRead]:
    items, total = service.search_sites(session=session, actor=actor, q=q, region=region, page=page)
    return Page.of(items, total, page)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SiteRead,
    summary="Register a site",
    responses=problem_responses(401, 403, 409, 422),
)
def create_site(
    actor: AdminDep, data: SiteCreate, session: SessionDep, response: Response
) -> SiteRead:
    """Admin only. A name or alias already used for another site in the same region is a 409."""
    site = service.create_site(session=session, actor=actor, data=data)
    response.headers["Location"] = f"/api/v1/sites/{site.id}"
    return service.site_reads(session=session, actor=actor, sites=[site])[0]


@router.get(
    "/{ref}",
    response_model=SiteRead,
    summary="One site, by id or name",
    responses=problem_responses(401, 403, 404, 422),
)
def get_site(ref: SiteRef, actor: AnyRoleDep, session: SessionDep) -> SiteRead:
    """By numeric id or by name or alias (城关六小 finds 城关第六小学), with the projects it
    belongs to. Any role."""
    site = service.get_site(session=session, ref=ref)
    return service.site_reads(session=session, actor=actor, sites=[site])[0]


@router.patch(
    "/{ref}",
    response_model=SiteRead,
    summary="Rename a site, change its kind or replace its aliases",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def update_site(ref: SiteRef, actor: AdminDep, data: SiteUpdate, session: SessionDep) -> SiteRead:
    """Admin only. Send only the fields that change; `aliases` replaces the list. A name or alias
    used by another site of the region is a 409."""
    site = service.get_site(session=session, ref=ref)
    site = service.update_site(session=session, actor=actor, site=site, data=data)
    return service.site_reads(session=session, actor=actor, sites=[site])[0]
