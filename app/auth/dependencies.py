"""Role guards. Every route depends on exactly one of these (a test walks the route table)."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.actor import Actor
from app.auth.models import Role
from app.auth.service import authenticate
from app.db import SessionFactory
from app.errors import Forbidden, Unauthorized

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <api key>`")
ROLE_GUARD_ATTR = "__role_guard__"


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Actor:
    """The caller behind the bearer key (401 without a valid one). Not a role guard by itself."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    factory: SessionFactory = request.app.state.session_factory
    with factory.lookup() as connection:
        actor = authenticate(connection=connection, presented=credentials.credentials)
    if actor is None:
        raise Unauthorized("The API key is unknown or has been revoked.")
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
    """Marks a route as deliberately open to anyone (health checks only)."""


setattr(public, ROLE_GUARD_ATTR, frozenset())

ALL_ROLES = (Role.admin, Role.finance, Role.contractor, Role.viewer)
AnyRoleDep = Annotated[Actor, Depends(require_roles(*ALL_ROLES))]
StaffReaderDep = Annotated[Actor, Depends(require_roles(Role.admin, Role.finance, Role.viewer))]
FinanceDep = Annotated[Actor, Depends(require_roles(Role.admin, Role.finance))]
AdminDep = Annotated[Actor, Depends(require_roles(Role.admin))]
PublicDep = Depends(public)
