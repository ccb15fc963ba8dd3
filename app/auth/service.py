"""Resolving a presented API key to the actor behind it."""

import hashlib

import sqlalchemy as sa
from sqlalchemy import Connection

from app.auth.actor import Actor
from app.auth.models import ApiKey, Role


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


_keys = ApiKey.__table__  # type: ignore[attr-defined]
_FIND_KEY = sa.select(_keys.c.id, _keys.c.name, _keys.c.role, _keys.c.contractor_id).where(
    _keys.c.key_hash == sa.bindparam("key_hash"), _keys.c.revoked_at.is_(None)
)


def authenticate(*, connection: Connection, digest: str) -> Actor | None:
    """The actor behind a presented key (its hash_key digest), or None for an unknown or
    revoked key."""
    row = connection.execute(_FIND_KEY, {"key_hash": digest}).first()
    if row is None:
        return None
    return Actor(key_id=row.id, name=row.name, role=Role(row.role), contractor_id=row.contractor_id)
