"""The audit trail's tables, and the encoding each entry's hash covers."""

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Index, Text
from sqlmodel import Field, SQLModel

from app.timeutil import UTCDateTime

GENESIS_HASH = "0" * 64


class AuditEntry(SQLModel, table=True):
    """One write, as it happened. Each entry's hash covers its content and the previous hash."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_type=BigInteger, unique=True, description="Gapless position in the chain")
    at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    actor_key_id: int | None = Field(default=None, index=True)
    actor_name: str = Field(max_length=200)
    actor_role: str = Field(max_length=16)
    action: str = Field(max_length=32)
    entity: str = Field(max_length=64)
    entity_id: str = Field(max_length=64)
    before: str | None = Field(default=None, sa_type=Text)
    after: str | None = Field(default=None, sa_type=Text)
    request_id: str | None = Field(default=None, max_length=64, index=True)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The end of the chain: one row, locked by every transaction that appends."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_type=BigInteger)
    hash: str = Field(default=GENESIS_HASH, max_length=64)


def _plain(value: Any) -> str:
    """A value JSON has no type for, as the canonical encoding writes it."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no canonical encoding")


# The encoder calls _plain for what it can't write itself: no copy of the value is made first
# (half the time of one for a payment's audit snapshot, written for every entry and hashed).
_ENCODER = json.JSONEncoder(
    default=_plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False
)


def canonical(value: Any) -> str:
    """One encoding for hashing: sorted keys, no spaces, UTF-8 text, decimals as strings,
    dates in ISO 8601, instants in UTC to the microsecond, tuples as lists. Keys are text (a
    model's field names): JSON would write a number key as text but sort it as a number."""
    return _ENCODER.encode(value)


# What an entry's hash covers: all of it but its id and its own hash.
HASHED = (
    *("seq", "at", "actor_key_id", "actor_name", "actor_role", "action", "entity"),
    *("entity_id", "before", "after", "request_id", "prev_hash"),
)
# Of those, what only the chain's head knows when the entry is appended. Sorted, the keys
# put these three last, in this order: hash_template relies on it.
FROM_HEAD = ("prev_hash", "request_id", "seq")


def entry_hash(fields: dict[str, Any]) -> str:
    """The SHA-256 (hex) of an entry's HASHED fields in their canonical encoding."""
    return hashlib.sha256(canonical({k: fields[k] for k in HASHED}).encode("utf-8")).hexdigest()


def chained(
    contents: list[dict[str, Any]], *, seq: int, prev_hash: str
) -> tuple[list[dict[str, Any]], int, str]:
    """Entries chained onto a head (seq, prev_hash) in order: each row with its seq, the hash
    before it and its own hash (entry_hash); and the new head's seq and hash. For whoever
    appends them under the head's lock."""
    rows = []
    for content in contents:
        seq += 1
        row = {**content, "seq": seq, "prev_hash": prev_hash}
        prev_hash = entry_hash(row)
        rows.append({**row, "hash": prev_hash})
    return rows, seq, prev_hash


def hash_template(content: dict[str, Any]) -> tuple[str, str]:
    """The canonical encoding of an entry to be appended, split around the two values only the
    chain's head knows: the text before the previous hash, and the text between it and the
    seq (the encoding ends with "}"). Whoever appends under the head's lock joins them:
    before_prev + prev_hash + before_seq + str(seq) + "}" is what entry_hash hashes."""
    rest = {k: content[k] for k in HASHED if k not in FROM_HEAD}
    before_prev = canonical(rest)[:-1] + ',"prev_hash":"'
    before_seq = '","request_id":' + canonical(content["request_id"]) + ',"seq":'
    return before_prev, before_seq
