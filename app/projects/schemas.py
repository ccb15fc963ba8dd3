from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.errors import Problem
from app.inputs import Identifier, InputModel, IsoDate, not_null
from app.money import Amount, NonNegativeMoney, Quantity, Ratio
from app.programmes.schemas import CODE_PATTERN
from app.projects.models import BudgetPolicy, Category, CostCategory, ProjectStatus, Stage

Code = Annotated[Identifier, Field(min_length=1, max_length=64, pattern=CODE_PATTERN)]


AreaM2 = Annotated[Quantity | None, Field(description="Area in m², exact")]


class BudgetLineCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "ZL7-6-03",
                    "name": "计算机",
                    "cost_category": "equipment",
                    "quantity": "3463",
                    "unit": "台",
                    "estimate": "16660000.00",
                }
            ]
        },
    )

    code: Code
    name: str = Field(min_length=1, max_length=300)
    cost_category: CostCategory
    quantity: Quantity | None = None
    unit: str | None = Field(default=None, max_length=32)
    estimate: NonNegativeMoney
    budget_policy: BudgetPolicy | None = Field(default=None, description="Default: the project's")
    warn_threshold: Ratio | None = Field(default=None, description="Default: the project's")


class BudgetLineUpdate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "计算机（含教学终端）", "estimate": "16800000.00"}]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=300)
    cost_category: CostCategory | None = None
    quantity: Quantity | None = None
    unit: str | None = Field(default=None, max_length=32)
    estimate: NonNegativeMoney | None = None
    budget_policy: BudgetPolicy | None = None
    warn_threshold: Ratio | None = None

    _not_null = field_validator("name", "cost_category", "estimate")(not_null)


class BudgetLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    code: str
    name: str
    cost_category: CostCategory
    quantity: Quantity | None
    unit: str | None
    estimate: Amount
    budget_policy: BudgetPolicy | None
    warn_threshold: Ratio | None


class FundingRef(BaseModel):
    funding_source: str
    name: str
    planned: Amount
    disbursed: Amount


class SiteRef(BaseModel):
    id: int
    name: str


class ProjectCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "ZL7-2B",
                    "name": "新建平罗县城关第九小学",
                    "plan_item_id": 1,
                    "category": "new_build",
                    "stages": ["compulsory"],
                    "status": "preparation",
                    "site_ids": [9],
                    "land_area_m2": "48150",
                    "building_area_m2": "13203",
                    "original_estimate": "67216000.00",
                    "budget_policy": "block",
                }
            ]
        },
    )

    code: Code
    name: str = Field(min_length=1, max_length=300)
    plan_item_id: int = Field(ge=1, le=2_147_483_647)
    plan_ref: str | None = Field(default=None, max_length=64)
    category: Category
    stages: list[Stage] = Field(default=[], max_length=5)
    status: ProjectStatus = ProjectStatus.identification
    description: str | None = Field(default=None, max_length=4000)
    site_ids: list[Annotated[int, Field(ge=1, le=2_147_483_647)]] = Field(
        default=[], max_length=200
    )
    land_area_m2: AreaM2 = None
    building_area_m2: AreaM2 = None
    sports_area_m2: AreaM2 = None
    site_count: int | None = Field(default=None, ge=0, le=100_000)
    scope_note: str | None = Field(default=None, max_length=2000)
    original_estimate: NonNegativeMoney
    budget_policy: BudgetPolicy = BudgetPolicy.warn
    warn_threshold: Ratio = Decimal("0.90")
    planned_start: IsoDate | None = None
    planned_finish: IsoDate | None = None

    @field_validator("planned_finish")
    @classmethod
    def dates_in_order(cls, planned_finish: date | None, info: ValidationInfo) -> date | None:
        planned_start = info.data.get("planned_start")
        if planned_start and planned_finish and planned_finish < planned_start:
            raise ValueError("planned_finish must not be before planned_start")
        return planned_finish


class ProjectUpdate(InputModel):
    """Fields an admin may change; send only those that change."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "新建平罗县城关第九小学（含附属工程）", "status": "implementation"},
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=300)
    plan_ref: str | None = Field(default=None, max_length=64)
    category: Category | None = None
    stages: list[Stage] | None = Field(default=None, max_length=5)
    status: ProjectStatus | None = None
    description: str | None = Field(default=None, max_length=4000)
    site_ids: list[Annotated[int, Field(ge=1, le=2_147_483_647)]] | None = Field(
        default=None, max_length=200
    )
    land_area_m2: AreaM2 = None
    building_area_m2: AreaM2 = None
    sports_area_m2: AreaM2 = None
    site_count: int | None = Field(default=None, ge=0, le=100_000)
    scope_note: str | None = Field(default=None, max_length=2000)
    original_estimate: NonNegativeMoney | None = None
    budget_policy: BudgetPolicy | None = None
    warn_threshold: Ratio | None = None
    planned_start: IsoDate | None = None
    planned_finish: IsoDate | None = None
    final_accounts_on: IsoDate | None = Field(
        default=None, description="竣工财务决算 approved on (null to clear)"
    )

    _not_null = field_validator(
        "name",
        "category",
        "stages",
        "status",
        "site_ids",
        "original_estimate",
        "budget_policy",
        "warn_threshold",
    )(not_null)


class ProjectRead(BaseModel):
    id: int
    code: str
    name: str
    programme_id: int
    plan_item_id: int
    plan_item: str = Field(description="The plan item's code, e.g. 专栏7")
    plan_ref: str | None
    category: Category
    stages: list[Stage]
    status: ProjectStatus
    description: str | None
    sites: list[SiteRef]
    land_area_m2: Quantity | None
    building_area_m2: Quantity | None
    sports_area_m2: Quantity | None
    site_count: int | None
    scope_note: str | None
    original_estimate: Amount
    revised_estimate: Amount = Field(
        description="The figure of the latest approved 概算调整, or the original estimate"
    )
    disbursed: Amount = Field(description="Payments less reversals, to date")
    budget_policy: BudgetPolicy
    warn_threshold: Ratio
    planned_start: date | None
    planned_finish: date | None
    final_accounts_on: date | None = Field(description="竣工财务决算 approved on")
    budget_lines: list[BudgetLineRead]
    funding: list[FundingRef] = Field(description="Planned vs disbursed per funding source")
    version: int


class BudgetLinesProblem(Problem):
    """A 409 where the budget lines would total more than the project's revised estimate."""

    lines_total: Amount | None = Field(default=None, description="What the lines would total")
    revised_estimate: Amount | None = Field(
        default=None, description="The project's revised estimate (概算), their ceiling"
    )
