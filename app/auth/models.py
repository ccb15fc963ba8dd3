import enum
from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from app.timeutil import UTCDateTime, utcnow


class Role(enum.StrEnum):
    admin = "admin"
    finance = "finance"
    contractor = "contractor"
    viewer = "viewer"


class ApiKey(SQLModel, table=True):
    """An API key. Only its SHA-256 is stored; the key itself is shown once, at creation."""

    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'finance', 'contractor', 'viewer')", name="role"),
        CheckConstraint(
            "(role = 'contractor') = (contractor_id IS NOT NULL)", name="contractor_binding"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    contractor_id: int | None = Field(
        default=None, foreign_key="contractor.id", ondelete="RESTRICT"
    )
    prefix: str = Field(
        max_length=32, description="First characters of the key, for recognising it"
    )
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
