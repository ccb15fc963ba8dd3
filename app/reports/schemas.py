from datetime import date

from pydantic import BaseModel, Field, PrivateAttr

from app.ledger.schemas import LineFigures
from app.money import Amount, Share


class CertifiedDue(BaseModel):
    milestone_id: int
    milestone: str
    project_id: int
    project_code: str
    contract_id: int
    contract_no: str
    contractor: str
    certified_amount: Amount
    unpaid: Amount = Field(description="What payments on the contract have not yet covered")
    certified_on: date
    certification_reason: str | None = Field(
        description="Why finance certified more than the milestone's share at its progress"
    )
    due_on: date = Field(description="certified_on + the contract's payment term")
    overdue_days: int


class RetentionDue(BaseModel):
    contract_id: int
    contract_no: str
    project_id: int
    project_code: str
    contractor: str
    retention_unpaid: Amount = Field(description="The retention not yet paid")
    retention_held: Amount = Field(
        description="What of it is still held back: retention_unpaid until due_on, then 0.00"
    )
    accepted_on: date | None = Field(description="竣工验收, if recorded by the date")
    due_on: date = Field(
        description="The release date: the end of the defects-liability period, or an earlier "
        "release"
    )
    due: bool = Field(description="Released by the date: the retention is payable")


class DuesReport(BaseModel):
    as_of: date
    certified: list[CertifiedDue] = Field(description="Overdue first, then by due date")
    certified_unpaid_total: Amount
    overdue_total: Amount
    retention: list[RetentionDue]


class ReportFlags(BaseModel):
    over_budget: bool = Field(description="disbursed > revised_estimate")
    forecast_over: bool = Field(description="eac > revised_estimate")
    needs_revision: bool = Field(
        description="the largest of disbursed, committed and eac above revised_estimate by "
        "more than the threshold"
    )
    behind_schedule: bool = Field(description="spi below the threshold")


class ReportFigures(BaseModel):
    """docs/REPORTS.md, Definitions. Amount as strings with two decimals; ratios as
    four-decimal strings, or null when their denominator is zero (or, in a group, when the
    figure does not apply to the grouping). Without a measure of progress (no milestones),
    physical and planned completion and the earned value figures (pv, ev, cv, sv, cpi, spi,
    eac, vac) are null."""

    original_estimate: Amount | None
    revised_estimate: Amount | None
    committed: Amount | None
    uncommitted: Amount | None
    disbursed: Amount | None
    remaining: Amount | None
    budget_variance: Amount | None
    budget_variance_pct: Share
    financial_completion: Share
    physical_completion: Share
    planned_completion: Share
    bac: Amount | None
    pv: Amount | None
    ev: Amount | None
    ac: Amount | None
    cv: Amount | None
    sv: Amount | None
    cpi: Share
    spi: Share
    eac: Amount | None
    vac: Amount | None


class LineReport(BaseModel):
    budget_line_id: int
    code: str
    name: str
    estimate: Amount
    disbursed: Amount
    remaining: Amount
    financial_completion: Share


class FundingReport(BaseModel):
    funding_source: str
    name: str
    planned: Amount
    disbursed: Amount
    remaining: Amount = Field(description="planned − disbursed")


class ContractReport(BaseModel):
    contract_id: int
    contract_no: str
    contractor: str
    signed_on: date
    accepted_on: date | None = Field(description="竣工验收, if recorded by the date")
    committed: Amount = Field(description="Contract amount + change orders approved by the date")
    paid: Amount
    retention_planned: Amount = Field(description="committed × retention_rate")
    retention_held: Amount = Field(description="Held back of what is unpaid; 0.00 once released")
    retention_release_date: date | None = Field(
        description="End of the defects period, or an earlier release, if known by the date"
    )
    payable_now: Amount


class ProjectReport(ReportFigures):
    """A project as of a date: entries, revisions, commitments and progress dated later
    don't count."""

    project_id: int
    code: str
    name: str
    as_of: date
    flags: ReportFlags
    budget_lines: list[LineReport]
    funding: list[FundingReport]
    contracts: list[ContractReport]


class FlagCounts(BaseModel):
    over_budget: int
    forecast_over: int
    needs_revision: int
    behind_schedule: int


class PortfolioGroup(ReportFigures):
    key: str | None = Field(description="The group's code or value; null for projects without one")
    label: str
    projects: int
    flags: FlagCounts
    evm_projects: int | None = Field(
        description="How many of the projects have a measure of progress (milestones): the "
        "earned value figures (pv, ev, cv, sv, cpi, spi, eac, vac) are over these alone"
    )
    evm_coverage: Share = Field(
        description="Their share of the group's BAC (Σ their revised estimates / Σ all)"
    )
    funding_planned: Amount | None = Field(description="Σ the projects' funding plans")


class PortfolioReport(BaseModel):
    as_of: date
    programme: str | None
    group_by: str
    groups: list[PortfolioGroup]
    totals: PortfolioGroup
    thresholds: dict[str, str]
    notes: list[str]


class TimeseriesPoint(BaseModel):
    period: str = Field(description="2024-03, 2024-Q1 or 2024")
    start: date
    end: date
    disbursed: Amount = Field(description="Paid in the period, net of reversals")
    ac: Amount = Field(description="Cumulative disbursed at the period's end")
    pv: Amount | None = Field(
        description="Σ PV of the projects with milestones; null when none has any"
    )
    ev: Amount | None = Field(
        description="Σ EV of the projects with milestones; null when none has any"
    )
    bac: Amount = Field(description="Σ revised estimates in force at the period's end")


class TimeseriesReport(BaseModel):
    scope: str = Field(description="project CODE or programme CODE")
    interval: str
    as_of: date
    points: list[TimeseriesPoint]


class Alert(BaseModel):
    kind: str = Field(
        description="over_budget, payments_overdue, forecast_over, needs_revision, "
        "final_accounts_due, behind_schedule, retention_due"
    )
    severity: str = Field(description="critical, high, medium or low")
    project_id: int
    project_code: str
    contract_id: int | None = None
    contract_no: str | None = None
    message: str
    due_on: date | None = None
    figures: dict[str, str | None] = Field(description="The figures that raised it")
    # The message in each language (app.labels), by Lang value: `?lang=` picks one.
    _messages: dict[str, str] = PrivateAttr(default_factory=dict)


class AlertsReport(BaseModel):
    as_of: date
    thresholds: dict[str, str]
    alerts: list[Alert] = Field(description="Most severe first")


class FundingFigures(BaseModel):
    funding_source: str
    name: str
    planned: Amount
    disbursed: Amount


class ProjectBudget(BaseModel):
    """A project's budget position as of a date: entries dated later don't count."""

    as_of: date
    project_id: int
    code: str
    original_estimate: Amount
    revised_estimate: Amount
    disbursed: Amount
    remaining: Amount
    financial_completion: Share
    physical_completion: Share = Field(
        description="Σ(milestone weight × percent complete) / Σ weights; null without milestones"
    )
    payments: int
    reversals: int
    budget_lines: list[LineFigures]
    funding: list[FundingFigures]
