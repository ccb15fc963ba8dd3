from datetime import datetime

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
