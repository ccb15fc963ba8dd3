from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.contracts.models import ChangeKind, ContractStatus
from app.errors import Problem
from app.inputs import CodeRef, Identifier, InputModel, IsoDate
from app.money import Amount, Money, PositiveMoney, Rate, Share

RowId = Annotated[int, Field(ge=1, le=2_147_483_647)]


class ContractCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "project_id": 3,
                    "contractor_id": 1,
                    "contract_no": "PL-JY-2023-SG-01（示例）",
                    "title": "城关第九小学教学楼施工总承包（示例）",
                    "amount": "52000000.00",
                    "signed_on": "2023-03-01",
                    "planned_finish": "2024-08-31",
                }
            ]
        }
    )

    project_id: RowId | CodeRef = Field(description="The project's id or code")
    contractor_id: RowId | CodeRef = Field(
        description="The contractor's id or 统一社会信用代码 (e.g. 91350100M000100Y43)"
    )
    contract_no: Identifier = Field(
        min_length=1, max_length=64, description="Unique in the project, compared without case"
    )
    title: str = Field(min_length=1, max_length=300)
    amount: PositiveMoney = Field(description="中标价, 元")
    signed_on: IsoDate
    planned_finish: IsoDate | None = None
    retention_rate: Rate = Field(
        default=Decimal("0.03"),
        description="质保金 share, 0 to 0.03 (建质〔2017〕138号); 0: none held",
    )
    defects_months: int = Field(default=12, ge=0, le=24, description="Defects-liability period")
    payment_term_days: int = Field(
        default=30, ge=0, le=60, description="保障中小企业款项支付条例 第9条"
    )

    @field_validator("retention_rate")
    @classmethod
    def at_most_three_percent(cls, rate: Decimal) -> Decimal:
        if rate > Decimal("0.03"):
            raise ValueError(
                "retention may be at most 3% of the contract price (建质〔2017〕138号)"
            )
        return rate


class ContractUpdate(InputModel):
    """What may change on a contract; its price changes only by change orders."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "城关第九小学教学楼及连廊施工总承包（示例）",
                    "planned_finish": "2024-10-31",
                }
            ]
        }
    )

    title: str | None = Field(default=None, min_length=1, max_length=300)
    status: ContractStatus | None = None
    planned_finish: IsoDate | None = None


class AcceptanceCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"accepted_on": "2024-09-20"}]})

    accepted_on: IsoDate = Field(description="The date of 竣工验收")


class RetentionRelease(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "released_on": "2024-09-15",
                    "reason": "以银行保函（编号 BG-2024-018，示例）替代质保金",
                }
            ]
        }
    )

    released_on: IsoDate = Field(description="The date the retention stops being held")
    reason: str = Field(min_length=1, max_length=2000, description="Why, e.g. 银行保函 and its no.")


class ChangeOrderCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "price",
                    "delta": "1200000.00",
                    "document_no": "变更-2023-07（示例）",
                    "approved_on": "2023-07-20",
                    "reason": "增加抗震构造柱（示例）",
                }
            ]
        }
    )

    kind: ChangeKind
    delta: Money = Field(default=Decimal(0), description="Price change (signed); price kind only")
    new_finish: IsoDate | None = Field(default=None, description="Duration kind only")
    document_no: str = Field(min_length=1, max_length=128)
    approved_on: IsoDate
    reason: str = Field(min_length=1, max_length=2000)


class ChangeOrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contract_id: int
    kind: ChangeKind
    delta: Amount
    new_finish: date | None
    document_no: str
    approved_on: date
    reason: str
    created_at: datetime


class ContractRead(BaseModel):
    id: int
    project_id: int
    contractor_id: int
    contract_no: str
    title: str
    amount: Amount
    signed_on: date
    planned_finish: date | None
    retention_rate: Rate
    defects_months: int
    payment_term_days: int
    status: ContractStatus
    accepted_on: date | None
    retention_release_reason: str | None = Field(description="Why it was released early, if so")
    committed: Amount = Field(description="Amount plus approved price change orders")
    paid: Amount
    payable_limit: Amount = Field(description="What may be paid in all, now")
    payable_now: Amount = Field(description="payable_limit − paid, never below zero")
    retention_planned: Amount = Field(description="committed × retention_rate (质保金)")
    retention_unpaid: Amount = Field(
        description="The part of the retention not yet paid, held or released"
    )
    retention_held: Amount = Field(
        description="What is held back of what is unpaid: retention_unpaid until the release "
        "date, then 0.00"
    )
    retention_due_on: date | None = Field(description="End of the defects period after 竣工验收")
    retention_release_date: date | None = Field(
        description="retention_due_on, or the date of an earlier release; null until known"
    )
    financial_completion: Share
    version: int


class ChangeOrderConflictProblem(Problem):
    """A 409 on a change order: `.../commitment-below-paid-or-certified` has the figures."""

    committed: Amount | None = Field(
        default=None, description="The contract's committed amount the change would leave"
    )
    paid: Amount | None = Field(default=None, description="Already paid on the contract")
    certified: Amount | None = Field(default=None, description="Already certified on it")
