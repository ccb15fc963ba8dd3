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
from functools import cache
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
# The fields an entry is hashed over that the database fills in from the chain's head.
# Sorted, the keys put these three last, in this order: hash_template relies on it.
_FROM_HEAD = ("prev_hash", "request_id", "seq")
_CONTENT = (
    *("at", "actor_key_id", "actor_name", "actor_role", "action", "entity", "entity_id"),
    *("before", "after", "request_id"),
)


def hash_template(fields: dict[str, Any]) -> tuple[str, str]:
    """An entry's canonical encoding split around the two values only the chain's head knows:
    the text before the previous hash, and the text between it and the seq (then "}")."""
    rest = {k: v for k, v in _hashed_fields(fields).items() if k not in _FROM_HEAD}
    before_prev = canonical(rest)[:-1] + ',"prev_hash":"'
    before_seq = '","request_id":' + canonical(fields["request_id"]) + ',"seq":'
    return before_prev, before_seq


def _chained(seq: Any, prev_hash: Any) -> Any:
    """The entry's canonical text, assembled in SQL from the template and the head."""
    return (
        sa.bindparam("before_prev", type_=sa.Text)
        + prev_hash
        + sa.bindparam("before_seq", type_=sa.Text)
        + sa.cast(seq, sa.Text)
        + sa.literal_column("'}'", sa.Text)
    )


def _content(head_seq: Any, head_hash: Any, digest: Any) -> Any:
    return sa.select(
        head_seq + 1,
        *(sa.bindparam(name, type_=_entries.c[name].type) for name in _CONTENT),
        head_hash,
        digest,
    )


_COLUMNS = ["seq", *_CONTENT, "prev_hash", "hash"]


@cache
def _append_statements(dialect: str) -> tuple[Any, ...]:
    """Chain one entry onto the head and move the head to it, hashing in the database: the
    head's lock is held while the database works, not across round trips to Python.
    PostgreSQL: one statement. SQLite (whose writers are exclusive anyway): two."""
    if dialect == "postgresql":
        head = (
            sa.select(_head.c.seq, _head.c.hash)
            .where(_head.c.id == 1)
            .with_for_update()
            .cte("head")
        )
        text = _chained(head.c.seq + 1, head.c.hash)
        digest = sa.func.encode(
            sa.func.sha256(sa.func.convert_to(text, sa.literal_column("'UTF8'"))),
            sa.literal_column("'hex'"),
        )
        appended = (
            sa.insert(_entries)
            .from_select(_COLUMNS, _content(head.c.seq, head.c.hash, digest))
            .returning(_entries.c.seq, _entries.c.hash)
            .cte("appended")
        )
        # Only `id = 1` here: after waiting for the lock, PostgreSQL re-finds the head's
        # latest version by that condition alone (a condition on the head's old values
        # would skip it, leaving the head behind its new entry).
        move = (
            sa.update(_head)
            .where(_head.c.id == 1)
            .values(
                seq=sa.select(appended.c.seq).scalar_subquery(),
                hash=sa.select(appended.c.hash).scalar_subquery(),
            )
        )
        return (move,)
    digest = sa.func.sha256_hex(_chained(_head.c.seq + 1, _head.c.hash))
    append = sa.insert(_entries).from_select(
        _COLUMNS, _content(_head.c.seq, _head.c.hash, digest).where(_head.c.id == 1)
    )
    new = _entries.alias("new")
    move = (
        sa.update(_head)
        .where(_head.c.id == 1)
        .values(
            seq=_head.c.seq + 1,
            hash=sa.select(new.c.hash).where(new.c.seq == _head.c.seq + 1).scalar_subquery(),
        )
    )
    return append, move


def _append(session: OrmSession, changes: list[Change]) -> None:
    """Chain the queued entries onto the head, which stays locked until commit."""
    conn = session.connection()
    statements = _append_statements(conn.dialect.name)
    at = utcnow()
    rows = []
    for change in changes:
        content = {
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
        }
        before_prev, before_seq = hash_template(content)
        rows.append({**content, "before_prev": before_prev, "before_seq": before_seq})
    if len(statements) == 1:
        # One execution per entry, each chained onto the one before (pipelined by psycopg).
        conn.execute(statements[0], rows)
        return
    for row in rows:
        for statement in statements:
            conn.execute(statement, row)


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


def _stream(session: Session, *, up_to: int) -> Iterator[AuditEntry]:
    yield from session.exec(
        select(AuditEntry)
        .where(col(AuditEntry.seq) <= up_to)
        .order_by(col(AuditEntry.seq))
        .execution_options(yield_per=1000)
    )


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
