from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.timeutil import UTCDateTime, utcnow


class Programme(SQLModel, table=True):
    """A plan that carries projects, e.g. a county's 2021–2025 education plan."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=300)
    owner: str | None = Field(default=None, max_length=200, description="Responsible agency")
    region: str = Field(max_length=200, description="Administrative area the plan covers")
    start_year: int
    end_year: int
    source: str | None = Field(
        default=None, max_length=500, description="Where the facts come from"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class PlanItem(SQLModel, table=True):
    """A numbered item of the plan (e.g. 专栏7 改善基础设施条件) grouping its projects."""

    __tablename__ = "plan_item"
    __table_args__ = (UniqueConstraint("programme_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", ondelete="RESTRICT", index=True)
    code: str = Field(max_length=64)
    name: str = Field(max_length=300)
