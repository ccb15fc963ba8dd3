from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.inputs import key_of
from app.money import MoneyType, ScaledDecimal
from app.timeutil import UTCDateTime, utcnow

STANDARD_CODES = ("开工", "主体完工", "竣工验收", "交付使用")


class Milestone(SQLModel, table=True):
    """A weighted step of a project (optionally of one of its contracts)."""

    __table_args__ = (
        UniqueConstraint("project_id", "code"),
        # Compared by its key (app.inputs.identifier_key), as every code is.
        Index("uq_milestone_project_id_code_key", "project_id", "code_key", unique=True),
        CheckConstraint("weight > 0", name="weight_positive"),
        CheckConstraint("percent_complete BETWEEN 0 AND 10000", name="percent_complete"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="RESTRICT", index=True)
    contract_id: int | None = Field(
        default=None, foreign_key="contract.id", ondelete="RESTRICT", index=True
    )
    code: str = Field(max_length=64)
    # Nullable in the table only because SQLite can't add a NOT NULL column without a rebuild.
    code_key: str | None = Field(
        default=None, max_length=255, sa_column_kwargs={"default": key_of("code")}
    )
    name: str = Field(max_length=300)
    weight: Decimal = Field(sa_type=ScaledDecimal(2), nullable=False)
    planned_date: date
    actual_date: date | None = None
    # Percent with two decimals, stored in hundredths (55.5% → 5550).
    percent_complete: Decimal = Field(default=Decimal(0), sa_type=ScaledDecimal(2), nullable=False)
    certified_amount: Decimal | None = Field(default=None, sa_type=MoneyType)
    certified_on: date | None = None
    certification_reason: str | None = Field(default=None, max_length=2000)
    version: int = Field(default=1, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class MilestoneProgress(SQLModel, table=True):
    """One progress report; the latest (by date) is the milestone's current value."""

    __tablename__ = "milestone_progress"
    __table_args__ = (
        CheckConstraint("percent_complete BETWEEN 0 AND 10000", name="percent_complete"),
        Index("ix_milestone_progress_milestone_as_of", "milestone_id", "as_of"),
    )

    id: int | None = Field(default=None, primary_key=True)
    milestone_id: int = Field(foreign_key="milestone.id", ondelete="RESTRICT")
    percent_complete: Decimal = Field(sa_type=ScaledDecimal(2), nullable=False)
    as_of: date
    note: str | None = Field(default=None, sa_type=Text)
    reported_by_key_id: int | None = Field(
        default=None, foreign_key="api_key.id", ondelete="RESTRICT"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
