from datetime import datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.inputs import key_of
from app.timeutil import UTCDateTime, utcnow


class Programme(SQLModel, table=True):
    """A plan that carries projects, e.g. a county's 2021–2025 education plan."""

    __table_args__ = (
        # Compared by its key (app.inputs.identifier_key), as every code is.
        Index("uq_programme_code_key", "code_key", unique=True),
        CheckConstraint("preparatory_months BETWEEN 0 AND 120", name="preparatory_months"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    # Nullable in the table only because SQLite can't add a NOT NULL column without a rebuild.
    code_key: str | None = Field(
        default=None, max_length=255, sa_column_kwargs={"default": key_of("code")}
    )
    name: str = Field(max_length=300)
    owner: str | None = Field(default=None, max_length=200, description="Responsible agency")
    region: str = Field(max_length=200, description="Administrative area the plan covers")
    start_year: int
    end_year: int
    # How far back before 1 January of start_year a payment may be dated (前期工作: design,
    # surveys), in months; 0 allows nothing before the period.
    preparatory_months: int = Field(default=0)
    version: int = Field(default=1)
    source: str | None = Field(
        default=None, max_length=500, description="Where the facts come from"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class PlanItem(SQLModel, table=True):
    """A numbered item of the plan (e.g. 专栏7 改善基础设施条件) grouping its projects."""

    __tablename__ = "plan_item"
    __table_args__ = (
        UniqueConstraint("programme_id", "code"),
        Index("uq_plan_item_programme_id_code_key", "programme_id", "code_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", ondelete="RESTRICT", index=True)
    code: str = Field(max_length=64)
    # Nullable in the table only because SQLite can't add a NOT NULL column without a rebuild.
    code_key: str | None = Field(
        default=None, max_length=255, sa_column_kwargs={"default": key_of("code")}
    )
    name: str = Field(max_length=300)
