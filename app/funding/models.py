from decimal import Decimal

from sqlmodel import Field, SQLModel

from app.money import MoneyType


class FundingSource(SQLModel, table=True):
    """Where money comes from (资金来源): 中央预算内投资, 自治区资金, 地方政府专项债券,
    县级财政, 自筹, and any others the programme uses."""

    __tablename__ = "funding_source"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100, unique=True)
    active: bool = Field(default=True)
    sort_order: int = Field(default=100)


class ProjectFunding(SQLModel, table=True):
    """A project's planned funding from one source, and the running total paid from it."""

    __tablename__ = "project_funding"

    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE", primary_key=True)
    funding_source_id: int = Field(
        foreign_key="funding_source.id", ondelete="RESTRICT", primary_key=True, index=True
    )
    planned: Decimal = Field(default=Decimal(0), sa_type=MoneyType, nullable=False)
    disbursed: Decimal = Field(default=Decimal(0), sa_type=MoneyType, nullable=False)
