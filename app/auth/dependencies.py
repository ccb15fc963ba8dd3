"""Role guards. Every route depends on exactly one of these (a test walks the route table)."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

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


def bearer_key(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, or None."""
    scheme, _, key = (authorization or "").strip().partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


async def authenticate_connection(connection: HTTPConnection) -> Actor:
    """The caller behind the request's bearer key (Unauthorized without a valid one), looked
    up once per request: the request guard (app/guard) asks first, before any body is read,
    and the route's guard gets the same answer. A key found valid a moment ago is taken from
    the key cache (app.auth.cache)."""
    state = connection.scope.setdefault("state", {})
    known: Actor | None = state.get("actor")
    if known is not None:
        return known
    # Two Authorization headers are a 400, whichever of them holds a key.
    check_sent_once(connection, "Authorization")
    key = bearer_key(connection.headers.get("authorization"))
    if key is None:
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    app = connection.scope["app"]
    cache: KeyCache = app.state.key_cache
    digest = hash_key(key)
    actor = cache.get(digest)
    if actor is None:
        epoch = cache.epoch
        actor = await run_in_threadpool(_look_up, app.state.session_factory, digest)
        if actor is None:
            raise Unauthorized("The API key is unknown or has been revoked.")
        cache.put(digest, actor, epoch=epoch)
    state["actor"] = actor
    return actor


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Actor:
    """The caller behind the bearer key (401 without a valid one). Not a role guard by itself.
    `credentials` puts the scheme in the OpenAPI document; the header is read once, above."""
    return await authenticate_connection(request)


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
