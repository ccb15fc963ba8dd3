"""The ledger: append-only payment and reversal entries, and the running balances they keep."""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.inputs import key_of
from app.money import MoneyType
from app.timeutil import UTCDateTime, utcnow


class EntryKind(enum.StrEnum):
    payment = "payment"
    reversal = "reversal"


class Disbursement(SQLModel, table=True):
    """One ledger entry: a payment (拨付/支付, positive) or a reversal of one (negative).

    Never updated or deleted; a mistake is corrected by a reversal that points to the original.
    """

    __table_args__ = (
        UniqueConstraint("programme_id", "voucher_no"),
        # One voucher number space per programme, payments and reversals (红字) alike,
        # compared by its key (app.inputs.identifier_key): 'VCX-1' and 'vcx－1' are one.
        Index(
            "uq_disbursement_programme_id_voucher_key", "programme_id", "voucher_key", unique=True
        ),
        CheckConstraint(
            "(kind = 'payment' AND amount > 0 AND reverses_id IS NULL AND voucher_no IS NOT NULL)"
            " OR (kind = 'reversal' AND amount < 0 AND reverses_id IS NOT NULL)",
            name="entry_shape",
        ),
        # Covering indexes for as-of sums (entries up to a date) per project (and funding
        # source), per contract, per budget line, and per year.
        Index(
            "ix_disbursement_project_paid_on",
            "project_id",
            "paid_on",
            "amount",
            "funding_source_id",
        ),
        Index("ix_disbursement_contract_paid_on", "contract_id", "paid_on", "amount"),
        Index("ix_disbursement_budget_line_paid_on", "budget_line_id", "paid_on", "amount"),
        # The entries of a date's own month, for as-of sums over many projects (the closed
        # months are read from the month balances below).
        Index(
            "ix_disbursement_paid_on_keys",
            "paid_on",
            "project_id",
            "contract_id",
            "budget_line_id",
            "funding_source_id",
            "amount",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", ondelete="RESTRICT")
    project_id: int = Field(foreign_key="project.id", ondelete="RESTRICT")
    budget_line_id: int | None = Field(
        default=None, foreign_key="budget_line.id", ondelete="RESTRICT"
    )
    contract_id: int | None = Field(default=None, foreign_key="contract.id", ondelete="RESTRICT")
    funding_source_id: int = Field(foreign_key="funding_source.id", ondelete="RESTRICT")
    kind: str = Field(max_length=16)
    amount: Decimal = Field(sa_type=MoneyType, nullable=False)
    paid_on: date
    payee: str = Field(max_length=200)
    # Every entry has one (a reversal since 2026-12: its 红字冲销凭证号); nullable in the
    # table only because SQLite can't make an existing column NOT NULL without a rebuild.
    voucher_no: str | None = Field(default=None, max_length=64)
    voucher_key: str | None = Field(
        default=None, max_length=255, sa_column_kwargs={"default": key_of("voucher_no")}
    )
    reverses_id: int | None = Field(
        default=None, foreign_key="disbursement.id", ondelete="RESTRICT", index=True
    )
    reason: str | None = Field(default=None, max_length=2000)
    memo: str | None = Field(default=None, max_length=2000)
    payee_differs_reason: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by_key_id: int | None = Field(
        default=None, foreign_key="api_key.id", ondelete="RESTRICT"
    )
    request_id: str | None = Field(default=None, max_length=64)


class ProjectBalance(SQLModel, table=True):
    """Running totals of a project's ledger. Its row is the lock that serialises payments."""

    __tablename__ = "project_balance"

    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE", primary_key=True)
    disbursed: Decimal = Field(default=Decimal(0), sa_type=MoneyType, nullable=False)
    payments: int = Field(default=0, nullable=False)
    reversals: int = Field(default=0, nullable=False)


class BudgetLineBalance(SQLModel, table=True):
    __tablename__ = "budget_line_balance"

    budget_line_id: int = Field(foreign_key="budget_line.id", ondelete="CASCADE", primary_key=True)
    disbursed: Decimal = Field(default=Decimal(0), sa_type=MoneyType, nullable=False)


# The month balances: each running balance again per calendar month (keyed by the month's
# first day), moved in the same transaction as each entry, back-dated ones included. A figure
# as of a past date is the months before the date's own plus the entries of that month up to
# the date (app/reports/asof.py), so it reads a few rows per project and month, not the ledger.


class ProjectMonth(SQLModel, table=True):
    __tablename__ = "project_month"

    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE", primary_key=True)
    month: date = Field(primary_key=True)
    disbursed: Decimal = Field(default=Decimal(0), sa_type=MoneyType, nullable=False)
    payments: int = Field(default=0, nullable=False)
    reversals: int = Field(default=0, nullable=False)


class BudgetLineMonth(SQLModel, table=True):
    __tablename__ = "budget_line_month"

    budget_line_id: int = Field(foreign_key="budget_line.id", ondelete="CASCADE", primary_key=True)
    month: date = Field(primary_key=True)
    disbursed: Decimal = Field(default=Decimal(0), sa_type=MoneyType, nullable=False)


class ContractMonth(SQLModel, table=True):
    __tablename__ = "contract_month"

    contract_id: int = Field(foreign_key="contract.id", ondelete="CASCADE", primary_key=True)
    month: date = Field(primary_key=True)
    paid: Decimal = Field(default=Decimal(0), sa_type=MoneyType, nullable=False)


class FundingMonth(SQLModel, table=True):
    __tablename__ = "funding_month"

    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE", primary_key=True)
    funding_source_id: int = Field(
        foreign_key="funding_source.id", ondelete="RESTRICT", primary_key=True
    )
    month: date = Field(primary_key=True)
    disbursed: Decimal = Field(default=Decimal(0), sa_type=MoneyType, nullable=False)
