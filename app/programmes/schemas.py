from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.inputs import Identifier, InputModel, not_null
from app.money import Amount

# A code is not all digits (so ids and codes never clash in URLs) and has no spaces or / ? # %.
CODE_PATTERN = r"^[^\s/?#%]*[^\s/?#%0-9][^\s/?#%]*$"


PREPARATORY = (
    "How many months before 1 January of start_year a payment may be dated (前期工作 such as "
    "design and surveys); 0: nothing before the programme's period"
)


class ProgrammeCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "PL-EDU-2021-2025",
                    "name": "平罗县教育事业发展“十四五”规划（2021—2025年）",
                    "owner": "平罗县教育体育局",
                    "region": "宁夏回族自治区石嘴山市平罗县",
                    "start_year": 2021,
                    "end_year": 2025,
                }
            ]
        },
    )

    code: Identifier = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=300)
    owner: str | None = Field(default=None, max_length=200)
    region: str = Field(min_length=1, max_length=200)
    start_year: int = Field(ge=1900, le=2200)
    end_year: int = Field(ge=1900, le=2200)
    source: str | None = Field(default=None, max_length=500)
    preparatory_months: int = Field(default=0, ge=0, le=120, description=PREPARATORY)

    @field_validator("end_year")
    @classmethod
    def years_in_order(cls, end_year: int, info: ValidationInfo) -> int:
        start_year = info.data.get("start_year")
        if start_year is not None and end_year < start_year:
            raise ValueError("end_year must not be before start_year")
        return end_year


class PlanItemCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "专栏7", "name": "改善基础设施条件"}]},
    )

    code: Identifier = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=300)


class PlanItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    programme_id: int
    code: str
    name: str
    project_count: int = 0
    original_estimate: Amount = Field(default=Decimal(0), description="Sum of its projects' 概算")
    revised_estimate: Amount = Field(default=Decimal(0))


class ProgrammeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    owner: str | None
    region: str
    start_year: int
    end_year: int
    source: str | None
    preparatory_months: int
    version: int
    project_count: int = 0
    original_estimate: Amount = Field(default=Decimal(0), description="Sum of its projects' 概算")
    revised_estimate: Amount = Field(default=Decimal(0))
    plan_items: list[PlanItemRead] = []


class ProgrammeUpdate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"preparatory_months": 6, "owner": "平罗县教育体育局"}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=300)
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    source: str | None = Field(default=None, min_length=1, max_length=500)
    preparatory_months: int | None = Field(default=None, ge=0, le=120, description=PREPARATORY)

    _not_null = field_validator("name", "preparatory_months")(not_null)
