from datetime import date

from pydantic import BaseModel, Field

from app.money import Money


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
