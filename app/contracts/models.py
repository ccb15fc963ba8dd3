import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.inputs import key_of
from app.money import MoneyType, ScaledDecimal
from app.timeutil import UTCDateTime, utcnow


class ContractStatus(enum.StrEnum):
    active = "active"
    completed = "completed"
    terminated = "terminated"


class ChangeKind(enum.StrEnum):
    """变更/签证: a change of price, of duration, or of scope."""

    price = "price"
    duration = "duration"
    scope = "scope"


class Contract(SQLModel, table=True):
    """A contract (合同) of a project with a contractor: a commitment against the estimate."""

    __table_args__ = (
        UniqueConstraint("project_id", "contract_no"),
        # Compared by its key (app.inputs.identifier_key): 'SG-01' and 'sg－01' are one.
        Index("uq_contract_project_id_contract_key", "project_id", "contract_key", unique=True),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("retention_rate >= 0 AND retention_rate <= 300", name="retention_rate"),
        CheckConstraint("defects_months BETWEEN 0 AND 24", name="defects_months"),
        CheckConstraint("payment_term_days BETWEEN 0 AND 60", name="payment_term_days"),
        CheckConstraint("status IN ('active', 'completed', 'terminated')", name="status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="RESTRICT", index=True)
    contractor_id: int = Field(foreign_key="contractor.id", ondelete="RESTRICT", index=True)
    contract_no: str = Field(max_length=64)
    # Nullable in the table only because SQLite can't add a NOT NULL column without a rebuild.
    contract_key: str | None = Field(
        default=None, max_length=255, sa_column_kwargs={"default": key_of("contract_no")}
    )
    title: str = Field(max_length=300)
    amount: Decimal = Field(sa_type=MoneyType, nullable=False, description="中标价")
    signed_on: date
    planned_finish: date | None = None
    # In ten-thousandths (0.03 → 300): exact on every engine. At most 3% (建质〔2017〕138号).
    retention_rate: Decimal = Field(
        default=Decimal("0.03"), sa_type=ScaledDecimal(4), nullable=False
    )
    defects_months: int = Field(default=12)
    payment_term_days: int = Field(default=30)
    status: str = Field(default=ContractStatus.active.value, max_length=16)
    accepted_on: date | None = Field(default=None, description="竣工验收")
    # Released before the defects period ends, e.g. against a bank guarantee (银行保函).
    retention_released_on: date | None = Field(default=None, description="质保金 released early")
    retention_release_reason: str | None = Field(default=None, max_length=2000)
    version: int = Field(default=1, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ChangeOrder(SQLModel, table=True):
    """An approved change order: a signed price delta, a new finish, or a change of scope."""

    __tablename__ = "change_order"
    __table_args__ = (
        UniqueConstraint("contract_id", "document_no"),
        CheckConstraint("kind IN ('price', 'duration', 'scope')", name="kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", ondelete="RESTRICT", index=True)
    kind: str = Field(max_length=16)
    delta: Decimal = Field(default=Decimal(0), sa_type=MoneyType, nullable=False)
    new_finish: date | None = None
    document_no: str = Field(max_length=128)
    approved_on: date
    reason: str = Field(max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ContractBalance(SQLModel, table=True):
    """Running total paid on a contract, moved with each entry under the project's lock."""

    __tablename__ = "contract_balance"

    contract_id: int = Field(foreign_key="contract.id", ondelete="CASCADE", primary_key=True)
    paid: Decimal = Field(default=Decimal(0), sa_type=MoneyType, nullable=False)
