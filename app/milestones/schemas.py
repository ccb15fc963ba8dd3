from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from app.errors import Problem
from app.inputs import CodeRef, Identifier, InputModel, IsoDate
from app.money import Amount, NonNegativeMoney, parse_decimal_text

RowId = Annotated[int, Field(ge=1, le=2_147_483_647)]


def _percent(value: object) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("percent must be a number from 0 to 100")
    number = (
        parse_decimal_text(str(value), places=2) if isinstance(value, str | int | Decimal) else None
    )
    if number is None or not Decimal(0) <= number <= Decimal(100):
        raise ValueError("percent must be from 0 to 100, at most two decimals")
    return number


def _weight(value: object) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("weight must be a positive number")
    number = (
        parse_decimal_text(str(value), places=2) if isinstance(value, str | int | Decimal) else None
    )
    if number is None or not Decimal(0) < number <= Decimal(1_000_000):
        raise ValueError("weight must be greater than 0 (at most 1000000, two decimals)")
    return number


_decimal_out = PlainSerializer(
    lambda d: format(d.quantize(Decimal("0.01")), "f"), return_type=str, when_used="json"
)
_decimal_schema = {
    "anyOf": [{"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$"}, {"type": "number"}]
}
Percent = Annotated[
    Decimal,
    BeforeValidator(_percent),
    _decimal_out,
    WithJsonSchema(_decimal_schema, mode="validation"),
    WithJsonSchema({"type": "string", "examples": ["55.50"]}, mode="serialization"),
]
Weight = Annotated[
    Decimal,
    BeforeValidator(_weight),
    _decimal_out,
    WithJsonSchema(_decimal_schema, mode="validation"),
    WithJsonSchema({"type": "string", "examples": ["30.00"]}, mode="serialization"),
]


class MilestoneCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "project_id": 3,
                    "contract_id": 1,
                    "code": "主体完工",
                    "name": "教学楼主体结构完工",
                    "weight": "40",
                    "planned_date": "2023-12-31",
                }
            ]
        }
    )

    project_id: RowId | CodeRef = Field(description="The project's id or code")
    contract_id: RowId | CodeRef | None = Field(
        default=None, description="The contract's id or number"
    )
    code: Identifier = Field(
        min_length=1, max_length=64, description="开工, 主体完工, 竣工验收, 交付使用, or your own"
    )
    name: str = Field(min_length=1, max_length=300)
    weight: Weight
    planned_date: IsoDate
    certified_amount: NonNegativeMoney | None = Field(
        default=None, description="Certified payable (计量)"
    )
    certified_on: IsoDate | None = None
    certification_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Why the certified amount exceeds the milestone's share at its progress",
    )


class ProgressCreate(InputModel):
    """A contractor reports progress; nothing else of the milestone can change here."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"percent_complete": "55.5", "as_of": "2023-10-31", "note": "主体结构完成至四层"}
            ]
        }
    )

    percent_complete: Percent
    as_of: IsoDate
    note: str | None = Field(default=None, max_length=2000)


class CertificationCreate(InputModel):
    """计量: the amount certified as payable for this milestone, and when."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"certified_amount": "1200000.00", "certified_on": "2023-11-15"},
                {
                    "certified_amount": "1500000.00",
                    "certified_on": "2023-11-15",
                    "reason": "按合同约定预付材料款，经监理单位确认（示例）",
                },
            ]
        }
    )

    certified_amount: NonNegativeMoney
    certified_on: IsoDate
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Required when the amount exceeds the milestone's share of the committed "
        "amount at its reported progress (weight share × percent)",
    )


class ProgressRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    milestone_id: int
    percent_complete: Percent
    as_of: date
    note: str | None
    reported_by_key_id: int | None
    created_at: datetime


class MilestoneRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    contract_id: int | None
    code: str
    name: str
    weight: Weight
    planned_date: date
    actual_date: date | None
    percent_complete: Percent
    certified_amount: Amount | None
    certified_on: date | None
    certification_reason: str | None
    version: int


class CertificationConflictProblem(Problem):
    """A 409 on a certification (计量): `.../certification-ceiling` names the ceiling."""

    ceiling: Amount | None = Field(
        default=None,
        description="certification-ceiling only: what the contract still allows to be "
        "certified (its committed amount less what its other milestones certified)",
    )
