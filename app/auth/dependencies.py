"""Role guards. Every route depends on exactly one of these (a test walks the route table)."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from app.auth.actor import Actor
from app.auth.cache import KeyCache
from app.auth.models import Role
from app.auth.service import authenticate, hash_key
from app.db import SessionFactory
from app.errors import Forbidden, Unauthorized
from app.params import check_sent_once

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <api key>`")
ROLE_GUARD_ATTR = "__role_guard__"


def _look_up(factory: SessionFactory, digest: str) -> Actor | None:
    with factory.lookup() as connection:
        return authenticate(connection=connection, digest=digest)


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Actor:
    """The caller behind the bearer key (401 without a valid one). Not a role guard by itself.
    A key found valid a moment ago is taken from the key cache (app.auth.cache). Two
    Authorization headers are a 400, whichever of them holds a key."""
    check_sent_once(request, "Authorization")
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    cache: KeyCache = request.app.state.key_cache
    digest = hash_key(credentials.credentials)
    actor = cache.get(digest)
    if actor is None:
        epoch = cache.epoch
        actor = await run_in_threadpool(_look_up, request.app.state.session_factory, digest)
        if actor is None:
            raise Unauthorized("The API key is unknown or has been revoked.")
        cache.put(digest, actor, epoch=epoch)
    request.state.actor = actor
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def require_roles(*roles: Role) -> Callable[..., Awaitable[Actor]]:
    """A dependency that admits only callers with one of the given roles (async: a check
    needs no worker thread)."""

    async def guard(actor: ActorDep) -> Actor:
        if actor.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"The {actor.role.value} role may not do this (allowed: {allowed}).")
        return actor

    setattr(guard, ROLE_GUARD_ATTR, frozenset(roles))
    return guard


async def public() -> None:
    """Marks a route as deliberately open to anyone: health checks, and the documentation and
    dashboard pages, which hold no data."""


setattr(public, ROLE_GUARD_ATTR, frozenset())

ALL_ROLES = (Role.admin, Role.finance, Role.contractor, Role.viewer)
AnyRoleDep = Annotated[Actor, Depends(require_roles(*ALL_ROLES))]
StaffReaderDep = Annotated[Actor, Depends(require_roles(Role.admin, Role.finance, Role.viewer))]
FinanceDep = Annotated[Actor, Depends(require_roles(Role.admin, Role.finance))]
AdminDep = Annotated[Actor, Depends(require_roles(Role.admin))]
PublicDep = Depends(public)
