"""The audit trail: every write appends an entry in the same transaction, hash-chained.

Services call `record()`; the transaction's owner (app.db.UnitOfWork) writes the queued
entries just before it commits, so the chain's head is locked only for that moment. Each entry
carries a SHA-256 over a canonical encoding of its content and the previous entry's hash.
`verify()` walks the chain and names the first entry that no longer matches.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, col, func, select

from app.audit.models import GENESIS_HASH, HASHED, AuditEntry, AuditHead, canonical, entry_hash
from app.db import before_commit
from app.engines import rules
from app.middleware import request_id_var
from app.params import Pagination
from app.timeutil import utcnow

PENDING = "audit_pending"


class Author(Protocol):
    """Whoever made a change, as the trail records them (an API key's holder, the CLI)."""

    @property
    def key_id(self) -> int | None: ...

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> StrEnum: ...


@dataclass(frozen=True)
class Change:
    actor_key_id: int | None
    actor_name: str
    actor_role: str
    action: str
    entity: str
    entity_id: str
    before: str | None
    after: str | None
    request_id: str | None


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
    actor: Author,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Queue an audit entry; it is chained in this transaction, right before it commits."""
    change = Change(
        actor_key_id=actor.key_id,
        actor_name=actor.name,
        actor_role=actor.role.value,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=canonical(before) if before is not None else None,
        after=canonical(after) if after is not None else None,
        request_id=request_id_var.get(),
    )
    session.info.setdefault(PENDING, []).append(change)
    before_commit(session, write_pending)


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in HASHED}


def write_pending(session: Session) -> None:
    """Chain the transaction's queued entries onto the head, which stays locked until the
    commit that follows: the entries' order is the commits' order. How is the engine's rule
    (app/engines/): the head is locked for as few round trips as it can be."""
    pending: list[Change] = session.info.pop(PENDING, [])
    if not pending:
        return
    connection = session.connection()
    at = utcnow()
    rules(connection.dialect.name).append_audit_entries(
        connection, [{**change.__dict__, "at": at} for change in pending]
    )


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_broken: int | None
    detail: str


def _stream(session: Session, *, up_to: int) -> Iterator[AuditEntry]:
    yield from session.exec(
        select(AuditEntry)
        .where(col(AuditEntry.seq) <= up_to)
        .order_by(col(AuditEntry.seq))
        .execution_options(yield_per=1000)
    )


_entries = AuditEntry.__table__  # type: ignore[attr-defined]
_head = AuditHead.__table__  # type: ignore[attr-defined]
_HEAD = sa.select(_head.c.seq, _head.c.hash).where(_head.c.id == 1)
# In one statement, so both are read as of the same moment.
_LAST_AND_HEAD = sa.select(
    sa.select(sa.func.max(_entries.c.seq)).scalar_subquery(),
    sa.select(_head.c.seq).where(_head.c.id == 1).scalar_subquery(),
)


def verify(*, session: Session) -> Verification:
    """Recompute the chain from the first entry; name the first entry that doesn't match.
    The head is read first and the chain up to it, so that writes committed meanwhile can't
    make an intact chain look broken (PostgreSQL reads each statement as of its own start)."""
    head_seq, head_hash = session.execute(_HEAD).one()
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for entry in _stream(session, up_to=head_seq):
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
    if head_seq != expected_seq - 1 or head_hash != prev_hash:
        return Verification(
            False,
            count,
            None,
            f"the chain should end at seq {head_seq}; "
            f"entries after seq {expected_seq - 1} are missing",
        )
    last, head_now = session.execute(_LAST_AND_HEAD).one()
    if last is not None and last > head_now:
        return Verification(
            False,
            count,
            None,
            f"entries after seq {head_now} are not on the chain: its head is at seq {head_now}",
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


@dataclass(frozen=True)
class Deletion:
    at: datetime
    actor_name: str
    before: dict[str, Any]


def deletions(*, session: Session, entity: str) -> list[Deletion]:
    """What each delete of an `entity` removed, oldest first (so a later one wins in a dict)."""
    rows = session.exec(
        select(AuditEntry)
        .where(col(AuditEntry.entity) == entity, col(AuditEntry.action) == "delete")
        .order_by(col(AuditEntry.seq))
    )
    return [
        Deletion(at=row.at, actor_name=row.actor_name, before=json.loads(row.before))
        for row in rows
        if row.before is not None
    ]
