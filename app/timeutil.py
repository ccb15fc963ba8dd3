"""UTC timestamps that come back timezone-aware from every engine; calendar arithmetic."""

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime, Dialect, String
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from app.errors import InvalidInput


def utcnow() -> datetime:
    return datetime.now(UTC)


def business_today(timezone: str) -> date:
    """Today's date where the programme's office is (dates of payments can't be later)."""
    return datetime.now(ZoneInfo(timezone)).date()


def add_months(day: date, months: int) -> date:
    """The same day some months on, or the month's last day where it is shorter (31 January
    plus one month is 28 or 29 February)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def month_start(day: date) -> date:
    """The first day of a date's month: the key of the ledger's month balances."""
    return day.replace(day=1)


def later(day: date, *, days: int = 0, months: int = 0) -> date:
    """A date some days or months on, or the last representable date (no overflow)."""
    try:
        return add_months(day, months) + timedelta(days=days)
    except (OverflowError, ValueError):
        return date.max


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        # SQLite keeps the UTC text without its offset; PostgreSQL a timestamptz.
        utc: datetime = value.astimezone(UTC)
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


def as_utc(stored: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite keeps them naive, in UTC)."""
    if stored.tzinfo is None:
        return stored.replace(tzinfo=UTC)
    return stored.astimezone(UTC)


class UtcText(FunctionElement[str]):
    """A UTCDateTime column read as the text SQLite stores, `2026-11-30 08:00:00.250000` (UTC),
    on either engine (each engine's rule is in app/engines/): for reading many rows without
    making a datetime of each value."""

    type = String()
    name = "utc_text"
    inherit_cache = True


@compiles(UtcText)
def _unsupported(element: UtcText, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"UtcText is not defined for {compiler.dialect.name}")


def check_event_date(
    value: date, *, field: str, today: date, since: date | None = None, since_what: str = ""
) -> None:
    """An event that must have happened: not after today (the service's today, where the
    programme's office is) and, when `since` is given, not before it (e.g. the contract's
    signing). A 422 naming `field` otherwise."""
    if value > today:
        raise InvalidInput(
            f"{value} is after today ({today}); only what has happened is recorded", field=field
        )
    if since is not None and value < since:
        raise InvalidInput(f"{value} is before {since_what} ({since})", field=field)


class MonthStart(FunctionElement[date]):
    """The first day of a date column's month, in SQL (each engine's rule is in
    app/engines/): `month_start` for rows the database groups itself."""

    type = Date()
    name = "month_start"
    inherit_cache = True


@compiles(MonthStart)
def _no_month_start(element: MonthStart, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"MonthStart is not defined for {compiler.dialect.name}")
