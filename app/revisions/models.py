from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.money import MoneyType
from app.timeutil import UTCDateTime, utcnow


class ProjectRevision(SQLModel, table=True):
    """An approved 概算调整: the new approved total, from its approval date on.

    It replaces the previous figure (never adds to it) and is never edited or deleted.
    """

    __tablename__ = "project_revision"
    __table_args__ = (
        UniqueConstraint("project_id", "document_no"),
        CheckConstraint("new_estimate >= 0", name="new_estimate_non_negative"),
        # The revision in force at a date: a project's latest approved on or before it.
        Index("ix_project_revision_project_approved_on", "project_id", "approved_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="RESTRICT")
    new_estimate: Decimal = Field(sa_type=MoneyType, nullable=False)
    previous_estimate: Decimal = Field(sa_type=MoneyType, nullable=False)
    approved_on: date
    document_no: str = Field(max_length=128)
    reason: str = Field(max_length=2000)
    funding_source_id: int | None = Field(
        default=None, foreign_key="funding_source.id", ondelete="RESTRICT"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by_key_id: int | None = Field(
        default=None, foreign_key="api_key.id", ondelete="RESTRICT"
    )
