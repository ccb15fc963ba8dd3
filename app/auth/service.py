"""API keys: issue, list, revoke, and resolve a presented key to an actor."""

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.auth.models import ApiKey, Role
from app.auth.schemas import ApiKeyCreate
from app.contractors.models import Contractor
from app.errors import InvalidInput, NotFound
from app.timeutil import utcnow


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(
    *, session: Session, actor: Actor, data: ApiKeyCreate, key_prefix: str
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the plaintext key, which is never stored."""
    if data.contractor_id is not None and session.get(Contractor, data.contractor_id) is None:
        raise InvalidInput(f"contractor {data.contractor_id} does not exist", field="contractor_id")
    plaintext = f"{key_prefix}_{data.role.value[:3]}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        name=data.name,
        role=data.role.value,
        contractor_id=data.contractor_id,
        prefix=plaintext[: len(key_prefix) + 13],
        key_hash=hash_key(plaintext),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="api_key",
        entity_id=row.id,
        after=audit.snapshot(row, exclude={"key_hash"}),
    )
    return row, plaintext


def list_keys(*, session: Session, include_revoked: bool = True) -> list[ApiKey]:
    query = select(ApiKey).order_by(col(ApiKey.id))
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return list(session.exec(query))


def revoke_key(*, session: Session, actor: Actor, key_id: int) -> ApiKey:
    """Revoke a key; revoking one already revoked keeps its first revocation time."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} not found")
    if row.revoked_at is None:
        before = audit.snapshot(row, exclude={"key_hash"})
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="revoke",
            entity="api_key",
            entity_id=row.id,
            before=before,
            after=audit.snapshot(row, exclude={"key_hash"}),
        )
    return row


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
