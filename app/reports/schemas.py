from datetime import date

from pydantic import BaseModel, Field

from app.money import Money, Share


class CertifiedDue(BaseModel):
    milestone_id: int
    milestone: str
    project_id: int
    project_code: str
    contract_id: int
    contract_no: str
    contractor: str
    certified_amount: Money
    unpaid: Money = Field(description="What payments on the contract have not yet covered")
    certified_on: date
    due_on: date = Field(description="certified_on + the contract's payment term")
    overdue_days: int


class RetentionDue(BaseModel):
    contract_id: int
    contract_no: str
    project_code: str
    contractor: str
    retention_held: Money
    accepted_on: date
    due_on: date = Field(description="End of the defects-liability period")
    due: bool = Field(description="The defects period has ended: release is due")


class DuesReport(BaseModel):
    as_of: date
    certified: list[CertifiedDue] = Field(description="Overdue first, then by due date")
    certified_unpaid_total: Money
    overdue_total: Money
    retention: list[RetentionDue]


class ReportFlags(BaseModel):
    over_budget: bool = Field(description="disbursed > revised_estimate")
    forecast_over: bool = Field(description="eac > revised_estimate")
    needs_revision: bool = Field(
        description="eac or committed above revised_estimate by more than the threshold"
    )
    behind_schedule: bool = Field(description="spi below the threshold")


class ProjectReport(BaseModel):
    """PRODUCT.md "Reports: definitions", as of a date: entries, revisions and progress dated
    later don't count. Ratios are four-decimal strings, or null when undefined."""

    project_id: int
    code: str
    as_of: date
    original_estimate: Money
    revised_estimate: Money
    committed: Money
    uncommitted: Money
    disbursed: Money
    remaining: Money
    budget_variance: Money
    budget_variance_pct: Share
    financial_completion: Share
    physical_completion: Share
    planned_completion: Share
    bac: Money
    pv: Money
    ev: Money
    ac: Money
    cv: Money
    sv: Money
    cpi: Share
    spi: Share
    eac: Money | None
    vac: Money | None
    flags: ReportFlags
