from datetime import datetime

from sqlmodel import Field, SQLModel

from app.timeutil import UTCDateTime, utcnow


class Contractor(SQLModel, table=True):
    """A contractor or supplier organisation (施工单位/供货商); contractor API keys bind to one."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    credit_code: str | None = Field(default=None, max_length=18, unique=True)
    contact: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
