from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.errors import Problem
from app.inputs import CodeRef, Identifier, InputModel, IsoDate
from app.ledger.models import EntryKind
from app.money import Amount, PositiveMoney, Ratio, Share
from app.params import MAX_ID
from app.projects.models import BudgetPolicy

RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
VoucherNo = Annotated[
    Identifier,
    Field(
        min_length=1,
        max_length=64,
        description="凭证号, unique within the programme (NFKC, trimmed, compared without case)",
    ),
]


class _PaymentDetails(InputModel):
    amount: PositiveMoney
    paid_on: IsoDate
    payee: str = Field(min_length=1, max_length=200)
    voucher_no: VoucherNo
    funding_source: str = Field(
        min_length=1, max_length=100, description="Code or name: `county` or 县级财政"
    )
    memo: str | None = Field(default=None, max_length=2000)
    payee_differs_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Required when a payment on a contract goes to someone other than its "
        "contractor (e.g. 农民工工资专用账户), and only then",
    )


class DisbursementCreate(_PaymentDetails):
    """A payment as the ledger posts it: its project, line and contract by id."""

    project_id: RowId
    budget_line_id: RowId | None = None
    contract_id: RowId | None = None


class DisbursementBody(_PaymentDetails):
    """A payment as a client sends it: project, line and contract by id, or by the code or
    number a read shows (`ZL7-2B`, `ZL7-6-1`, the contract number)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "project_id": 3,
                    "amount": "1500000.00",
                    "paid_on": "2023-06-30",
                    "payee": "宁夏某建设工程有限公司（示例）",
                    "voucher_no": "2023-06-记-0012",
                    "funding_source": "county",
                    "memo": "城关第九小学主体工程进度款（示例数据）",
                },
                {
                    "project_id": "ZL7-6",
                    "budget_line_id": "ZL7-6-6",
                    "amount": "55620.00",
                    "paid_on": "2023-09-01",
                    "payee": "某图书供应商（示例）",
                    "voucher_no": "2023-09-记-0003",
                    "funding_source": "县级财政",
                },
            ]
        }
    )

    project_id: RowId | CodeRef = Field(description="The project's id or code")
    budget_line_id: RowId | CodeRef | None = Field(
        default=None,
        description="The budget line's id or code; required when the project has budget lines",
    )
    contract_id: RowId | CodeRef | None = Field(
        default=None, description="The contract's id or number"
    )


class ReversalCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason": "收款单位账号错误，原路退回",
                    "reversed_on": "2023-07-03",
                    "voucher_no": "2023-07-记-0002（红字）",
                }
            ]
        }
    )

    amount: PositiveMoney | None = Field(
        default=None, description="How much to reverse; default: all that is left"
    )
    reason: str = Field(min_length=1, max_length=2000)
    reversed_on: IsoDate
    voucher_no: VoucherNo = Field(
        description="红字冲销凭证号: unique within the programme, as payments' vouchers are"
    )


class DisbursementRead(BaseModel):
    id: int
    kind: EntryKind
    programme_id: int
    project_id: int
    project_code: str
    budget_line_id: int | None
    contract_id: int | None
    funding_source: str
    amount: Amount = Field(description="Positive for a payment, negative for a reversal")
    paid_on: date = Field(description="Business date: paid on, or reversed on")
    payee: str
    voucher_no: str | None
    reverses_id: int | None
    reason: str | None
    memo: str | None
    payee_differs_reason: str | None = Field(
        description="Why a payment on a contract went to someone other than its contractor"
    )
    reversed: Amount | None = Field(description="For a payment: how much has been reversed")
    created_at: datetime
    created_by_key_id: int | None


class ProjectFigures(BaseModel):
    project_id: int
    code: str
    original_estimate: Amount
    revised_estimate: Amount
    disbursed: Amount
    remaining: Amount
    financial_completion: Share
    budget_policy: BudgetPolicy
    warn_threshold: Ratio


class LineFigures(BaseModel):
    budget_line_id: int
    code: str
    estimate: Amount
    disbursed: Amount
    remaining: Amount
    financial_completion: Share


class BudgetWarning(BaseModel):
    code: str = Field(description="near_budget, over_budget, line_near_budget, line_over_budget")
    message: str
    share: Share


class DisbursementPosted(DisbursementRead):
    budget: ProjectFigures
    budget_line: LineFigures | None
    warnings: list[BudgetWarning]


class DisbursementPage(BaseModel):
    items: list[DisbursementRead]
    total: int
    limit: int
    offset: int
    sum: Amount = Field(description="Exact sum of every entry that matches the filters")


class ImportWarning(BaseModel):
    row: int
    code: str
    message: str


class ImportSummary(BaseModel):
    dry_run: bool
    rows: int = Field(description="Data rows read")
    posted: int = Field(description="Payments posted (or that would be, on a dry run)")
    already_posted: int = Field(description="Rows whose voucher is already in the ledger")
    total: Amount = Field(description="Sum of the payments posted")
    entries: list[int] = Field(description="Ids of the new entries")
    skipped_vouchers: list[str]
    warnings: list[ImportWarning]
    message: str


_BUDGET_ONLY = "budget-exceeded only: "


class PaymentConflictProblem(Problem):
    """A 409 on a payment. A `.../budget-exceeded` refusal carries its figures (`scope`
    `project` or `budget_line`: the estimate; `contract`: the payable limit); a
    `.../project-cancelled` one the project's status."""

    scope: str | None = Field(
        default=None, description=_BUDGET_ONLY + "project, budget_line or contract"
    )
    estimate: Amount | None = Field(default=None, description=_BUDGET_ONLY + "the approved 概算")
    disbursed: Amount | None = Field(default=None, description=_BUDGET_ONLY + "paid so far")
    committed: Amount | None = Field(default=None, description=_BUDGET_ONLY + "the contract's")
    payable_limit: Amount | None = Field(
        default=None, description=_BUDGET_ONLY + "committed less retention held (质保金)"
    )
    paid: Amount | None = Field(default=None, description=_BUDGET_ONLY + "paid on the contract")
    amount: Amount | None = Field(default=None, description=_BUDGET_ONLY + "this payment")
    would_be: Amount | None = Field(default=None, description=_BUDGET_ONLY + "the total after it")
    over_by: Amount | None = Field(default=None, description=_BUDGET_ONLY + "above the ceiling")
    retention_held: Amount | None = Field(default=None, description=_BUDGET_ONLY + "质保金 held")
    retention_release_date: date | None = Field(
        default=None, description=_BUDGET_ONLY + "when the retention falls due"
    )
    project_status: str | None = Field(
        default=None, description="project-cancelled only: the project's status"
    )


class ReversalConflictProblem(Problem):
    """A 409 on a reversal: more than is left to reverse, or a cancelled project."""

    left: Amount | None = Field(default=None, description="What is left to reverse")
    project_status: str | None = Field(
        default=None, description="project-cancelled only: the project's status"
    )
