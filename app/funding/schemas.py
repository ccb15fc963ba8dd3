from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import Identifier, InputModel
from app.money import Amount, NonNegativeMoney

SourceCode = Annotated[Identifier, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]


class FundingSourceCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "provincial_bond", "name": "地方政府一般债券"}]}
    )

    code: SourceCode
    name: str = Field(min_length=1, max_length=100)
    sort_order: int = Field(default=100, ge=0, le=10_000)


class FundingSourceUpdate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "地方政府专项债券", "sort_order": 30}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=100)
    active: bool | None = None
    sort_order: int | None = Field(default=None, ge=0, le=10_000)


class FundingSourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    active: bool
    sort_order: int


class PlannedFunding(InputModel):
    funding_source: str = Field(
        min_length=1, max_length=100, description="Code or name, e.g. `county` or 县级财政"
    )
    planned: NonNegativeMoney


class FundingPlan(InputModel):
    """Replaces the project's whole funding plan."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sources": [
                        {"funding_source": "central_budget", "planned": "30000000.00"},
                        {"funding_source": "县级财政", "planned": "37216000.00"},
                    ]
                }
            ]
        }
    )

    sources: list[PlannedFunding] = Field(max_length=50)


class FundingLine(BaseModel):
    funding_source: str
    name: str
    planned: Amount
    disbursed: Amount


class ProjectFundingRead(BaseModel):
    project_id: int
    revised_estimate: Amount
    planned_total: Amount
    unplanned: Amount = Field(description="Revised estimate not yet assigned to a source")
    disbursed: Amount
    sources: list[FundingLine]


ZERO = Decimal(0)
