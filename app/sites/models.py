import enum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class SiteKind(enum.StrEnum):
    kindergarten = "kindergarten"
    primary = "primary"
    junior_secondary = "junior_secondary"
    nine_year = "nine_year"
    senior_secondary = "senior_secondary"
    complete_secondary = "complete_secondary"
    vocational = "vocational"
    special = "special"
    other = "other"


class Site(SQLModel, table=True):
    """A place where work happens, usually a school; one site may serve several projects."""

    __table_args__ = (UniqueConstraint("region", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    region: str = Field(max_length=200)
    name: str = Field(max_length=200, index=True)
    kind: str = Field(max_length=32)


class SiteAlias(SQLModel, table=True):
    """Another name the plan or people use for a site (城关六小 for 城关第六小学)."""

    __tablename__ = "site_alias"
    __table_args__ = (UniqueConstraint("site_id", "alias"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", ondelete="CASCADE", index=True)
    alias: str = Field(max_length=200, index=True)
