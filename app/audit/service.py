"""The audit trail: every write appends an entry in the same transaction, hash-chained.

Services call `record()`; the entries are written just before the transaction commits (so the
chain head is locked only for that moment), each with a SHA-256 over a canonical encoding of
its content and the previous entry's hash. `verify()` walks the chain and names the first entry
that no longer matches.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, func, select

from app.audit.models import GENESIS_HASH, AuditEntry, AuditHead
from app.auth.actor import Actor
from app.middleware import request_id_var
from app.params import Pagination
from app.timeutil import utcnow

PENDING = "audit_pending"


@dataclass(frozen=True)
class Change:
    actor: Actor
    action: str
    entity: str
    entity_id: str
    before: str | None
    after: str | None
    request_id: str | None


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical(value: Any) -> str:
    """One encoding for hashing: sorted keys, no spaces, UTF-8 text, decimals as strings."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def snapshot(
    row: BaseModel | dict[str, Any] | None, *, exclude: set[str] | None = None
) -> dict[str, Any] | None:
    """The fields of a row (or a dict) as the audit trail keeps them."""
    if row is None:
        return None
    data = row.model_dump() if isinstance(row, BaseModel) else dict(row)
    return {k: v for k, v in data.items() if k not in (exclude or set())}


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Queue an audit entry; it is written in this transaction, right before it commits."""
    change = Change(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=canonical(before) if before is not None else None,
        after=canonical(after) if after is not None else None,
        request_id=request_id_var.get(),
    )
    session.info.setdefault(PENDING, []).append(change)


def entry_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()


def _hashed_fields(entry: AuditEntry | dict[str, Any]) -> dict[str, Any]:
    get = entry.get if isinstance(entry, dict) else lambda k: getattr(entry, k)
    return {
        "seq": get("seq"),
        "at": get("at"),
        "actor_key_id": get("actor_key_id"),
        "actor_name": get("actor_name"),
        "actor_role": get("actor_role"),
        "action": get("action"),
        "entity": get("entity"),
        "entity_id": get("entity_id"),
        "before": get("before"),
        "after": get("after"),
        "request_id": get("request_id"),
        "prev_hash": get("prev_hash"),
    }


_entries = AuditEntry.__table__  # type: ignore[attr-defined]
_head = AuditHead.__table__  # type: ignore[attr-defined]
_LOCK_HEAD = sa.select(_head.c.seq, _head.c.hash).where(_head.c.id == 1).with_for_update()
_INSERT_ENTRIES = sa.insert(_entries)
_MOVE_HEAD = (
    sa.update(_head)
    .where(_head.c.id == 1)
    .values(seq=sa.bindparam("b_seq"), hash=sa.bindparam("b_hash"))
)


def _append(session: OrmSession, changes: list[Change]) -> None:
    """Chain the queued entries onto the head, holding the head's row lock until commit."""
    conn = session.connection()
    seq, prev_hash = conn.execute(_LOCK_HEAD).one()
    at = utcnow()
    rows = []
    for change in changes:
        seq += 1
        fields = {
            "seq": seq,
            "at": at,
            "actor_key_id": change.actor.key_id,
            "actor_name": change.actor.name,
            "actor_role": change.actor.role.value,
            "action": change.action,
            "entity": change.entity,
            "entity_id": change.entity_id,
            "before": change.before,
            "after": change.after,
            "request_id": change.request_id,
            "prev_hash": prev_hash,
        }
        prev_hash = entry_hash(fields)
        rows.append({**fields, "hash": prev_hash})
    conn.execute(_INSERT_ENTRIES, rows)
    conn.execute(_MOVE_HEAD, {"b_seq": seq, "b_hash": prev_hash})


@event.listens_for(OrmSession, "before_commit")
def _write_pending(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return
    pending: list[Change] | None = session.info.pop(PENDING, None)
    if pending:
        _append(session, pending)


@event.listens_for(OrmSession, "after_soft_rollback")
def _drop_pending(session: OrmSession, previous: SessionTransaction) -> None:
    if previous.parent is None:
        session.info.pop(PENDING, None)


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_broken: int | None
    detail: str


def _stream(session: Session) -> Iterator[AuditEntry]:
    yield from session.exec(
        select(AuditEntry).order_by(col(AuditEntry.seq)).execution_options(yield_per=1000)
    )


def verify(*, session: Session) -> Verification:
    """Recompute the chain from the first entry; name the first entry that doesn't match."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for entry in _stream(session):
        count += 1
        if entry.seq != expected_seq:
            return Verification(
                False,
                count,
                entry.id,
                f"entry seq {entry.seq}: expected {expected_seq} (an entry is missing)",
            )
        if entry.prev_hash != prev_hash:
            return Verification(
                False, count, entry.id, f"entry seq {entry.seq}: does not follow the previous entry"
            )
        if entry_hash(_hashed_fields(entry)) != entry.hash:
            return Verification(
                False, count, entry.id, f"entry seq {entry.seq}: content does not match its hash"
            )
        prev_hash, expected_seq = entry.hash, expected_seq + 1
    head = session.exec(select(AuditHead).where(AuditHead.id == 1)).one()
    if head.seq != expected_seq - 1 or head.hash != prev_hash:
        return Verification(
            False,
            count,
            None,
            f"the chain should end at seq {head.seq}; "
            f"entries after seq {expected_seq - 1} are missing",
        )
    return Verification(
        True, count, None, "every entry matches its hash and follows the one before"
    )


@dataclass(frozen=True)
class AuditFilters:
    entity: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor_key_id: int | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_entries(
    *, session: Session, filters: AuditFilters, page: Pagination
) -> tuple[list[AuditEntry], int]:
    clauses = []
    if filters.entity:
        clauses.append(col(AuditEntry.entity) == filters.entity)
    if filters.entity_id:
        clauses.append(col(AuditEntry.entity_id) == filters.entity_id)
    if filters.action:
        clauses.append(col(AuditEntry.action) == filters.action)
    if filters.actor_key_id is not None:
        clauses.append(col(AuditEntry.actor_key_id) == filters.actor_key_id)
    if filters.request_id:
        clauses.append(col(AuditEntry.request_id) == filters.request_id)
    if filters.since:
        clauses.append(col(AuditEntry.at) >= filters.since)
    if filters.until:
        clauses.append(col(AuditEntry.at) < filters.until)
    total = session.exec(select(func.count()).select_from(AuditEntry).where(*clauses)).one()
    rows = session.exec(
        select(AuditEntry)
        .where(*clauses)
        .order_by(col(AuditEntry.seq).desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    return list(rows), total


def pending_count(session: Session) -> int:
    """How many entries this transaction has queued so far (a mark for `discard_pending`)."""
    return len(session.info.get(PENDING, []))


def discard_pending(session: Session, *, since: int) -> None:
    """Forget entries queued after `since`: their writes were rolled back to a savepoint."""
    pending: list[Change] = session.info.get(PENDING, [])
    del pending[since:]
