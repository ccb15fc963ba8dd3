from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.contractors.uscc import validate_uscc
from app.errors import Problem
from app.inputs import InputModel

CreditCode = Annotated[
    str,
    Field(min_length=18, max_length=18, description="统一社会信用代码 (GB 32100-2015)"),
    AfterValidator(validate_uscc),
]


class ContractorCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "宁夏某建设工程有限公司（示例）",
                    "credit_code": "91350100M000100Y43",
                    "contact": "王工 0952-0000000",
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    credit_code: CreditCode
    contact: str | None = Field(default=None, max_length=200)


class ContractorUpdate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"contact": "李工 0952-0000001（示例）"}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    contact: str | None = Field(default=None, max_length=200)


class ContractorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    credit_code: str | None
    contact: str | None
    created_at: datetime


class ContractorConflictProblem(Problem):
    """A 409 on registering a contractor: its credit code is already registered."""

    existing_id: int | None = Field(
        default=None, description="The contractor already registered with that credit code"
    )
