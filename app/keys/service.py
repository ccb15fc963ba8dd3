"""API keys: issue (shown once, stored hashed), list, revoke. Every change is audited."""

import secrets

from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.auth.models import ApiKey
from app.auth.service import hash_key
from app.contractors.models import Contractor
from app.errors import InvalidInput, NotFound
from app.keys.schemas import ApiKeyCreate
from app.timeutil import utcnow


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
