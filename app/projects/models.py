import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.inputs import key_of
from app.money import MoneyType, ScaledDecimal
from app.timeutil import UTCDateTime, utcnow


class Category(enum.StrEnum):
    """The kind of work."""

    new_build = "new_build"
    expansion = "expansion"
    renovation = "renovation"
    equipment = "equipment"


class Stage(enum.StrEnum):
    """The school stage a project serves; a mixed project has several."""

    preschool = "preschool"
    compulsory = "compulsory"
    senior_high = "senior_high"
    vocational = "vocational"
    special = "special"


class ProjectStatus(enum.StrEnum):
    """OC4IDS projectStatus codes."""

    identification = "identification"
    preparation = "preparation"
    implementation = "implementation"
    completion = "completion"
    maintenance = "maintenance"
    decommissioning = "decommissioning"
    decommissioned = "decommissioned"
    cancelled = "cancelled"


class BudgetPolicy(enum.StrEnum):
    warn = "warn"
    block = "block"


class CostCategory(enum.StrEnum):
    """The parts of a 概算: 建筑工程费, 安装工程费, 设备及工器具购置费, 工程建设其他费用, 预备费."""

    construction = "construction"
    installation = "installation"
    equipment = "equipment"
    other = "other"
    contingency = "contingency"


def _enum_check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Project(SQLModel, table=True):
    """A project of a plan item, with its scope and approved budget estimate (概算)."""

    __table_args__ = (
        # Compared by its key (app.inputs.identifier_key): 'ZL7-2B' and 'ｚｌ７－２ｂ' are one.
        Index("uq_project_code_key", "code_key", unique=True),
        CheckConstraint(_enum_check("category", Category), name="category"),
        CheckConstraint(_enum_check("status", ProjectStatus), name="status"),
        CheckConstraint(_enum_check("budget_policy", BudgetPolicy), name="budget_policy"),
        CheckConstraint("original_estimate >= 0", name="original_estimate_non_negative"),
        CheckConstraint("warn_threshold > 0 AND warn_threshold <= 10000", name="warn_threshold"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    # Nullable in the table only because SQLite can't add a NOT NULL column without a rebuild.
    code_key: str | None = Field(
        default=None, max_length=255, sa_column_kwargs={"default": key_of("code")}
    )
    name: str = Field(max_length=300)
    plan_item_id: int = Field(foreign_key="plan_item.id", ondelete="RESTRICT", index=True)
    plan_ref: str | None = Field(default=None, max_length=64, description="Place in the plan text")
    category: str = Field(max_length=32)
    status: str = Field(max_length=32)
    description: str | None = Field(default=None, max_length=4000)
    land_area_m2: Decimal | None = Field(default=None, sa_type=ScaledDecimal(2))
    building_area_m2: Decimal | None = Field(default=None, sa_type=ScaledDecimal(2))
    sports_area_m2: Decimal | None = Field(default=None, sa_type=ScaledDecimal(2))
    site_count: int | None = Field(default=None)
    scope_note: str | None = Field(default=None, max_length=2000)
    original_estimate: Decimal = Field(sa_type=MoneyType, nullable=False)
    revised_estimate: Decimal = Field(sa_type=MoneyType, nullable=False)
    budget_policy: str = Field(default=BudgetPolicy.warn.value, max_length=8)
    # Stored in ten-thousandths (0.90 → 9000) so it is exact on every engine.
    warn_threshold: Decimal = Field(
        default=Decimal("0.90"), sa_type=ScaledDecimal(4), nullable=False
    )
    planned_start: date | None = None
    planned_finish: date | None = None
    # 竣工财务决算 approved on; due three months after 竣工验收 (an alert until recorded).
    final_accounts_on: date | None = None
    version: int = Field(default=1, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ProjectStage(SQLModel, table=True):
    __tablename__ = "project_stage"
    __table_args__ = (CheckConstraint(_enum_check("stage", Stage), name="stage"),)

    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE", primary_key=True)
    stage: str = Field(max_length=32, primary_key=True)


class ProjectSite(SQLModel, table=True):
    __tablename__ = "project_site"

    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE", primary_key=True)
    site_id: int = Field(foreign_key="site.id", ondelete="RESTRICT", primary_key=True, index=True)


class BudgetLine(SQLModel, table=True):
    """A line of a project's 概算 (e.g. 计算机 3463 台, 1666 万元)."""

    __tablename__ = "budget_line"
    __table_args__ = (
        UniqueConstraint("project_id", "code"),
        Index("uq_budget_line_project_id_code_key", "project_id", "code_key", unique=True),
        CheckConstraint("estimate >= 0", name="estimate_non_negative"),
        CheckConstraint(_enum_check("cost_category", CostCategory), name="cost_category"),
        CheckConstraint(
            f"budget_policy IS NULL OR {_enum_check('budget_policy', BudgetPolicy)}",
            name="budget_policy",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="RESTRICT", index=True)
    code: str = Field(max_length=64)
    # Nullable in the table only because SQLite can't add a NOT NULL column without a rebuild.
    code_key: str | None = Field(
        default=None, max_length=255, sa_column_kwargs={"default": key_of("code")}
    )
    name: str = Field(max_length=300)
    cost_category: str = Field(max_length=64)
    quantity: Decimal | None = Field(default=None, sa_type=ScaledDecimal(2))
    unit: str | None = Field(default=None, max_length=32)
    estimate: Decimal = Field(sa_type=MoneyType, nullable=False)
    # Null: the project's policy and threshold apply to this line too.
    budget_policy: str | None = Field(default=None, max_length=8)
    warn_threshold: Decimal | None = Field(default=None, sa_type=ScaledDecimal(4))
    version: int = Field(default=1, nullable=False)
