"""Query and path parameters shared by every list and item route."""

import re
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Path, Query, Request
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy import ColumnElement, false, func, or_
from sqlmodel import Session, SQLModel, col, select
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import HTTPConnection

from app.errors import (
    Conflict,
    InvalidInput,
    PreconditionFailed,
    PreconditionRequired,
    RepeatedHeader,
)
from app.inputs import SafeText, identifier_key
from app.timeutil import business_today

MAX_ID = 2_147_483_647
# Rows a statement with an IN list names at most (SQLite allows 32,766 parameters).
IN_CHUNK = 1000
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in runs of `size`, for statements with an IN list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


MAX_LIMIT = 500

# An id as the service writes it: ASCII digits, no sign, space, point or leading zero. Python's
# int() (and a lax integer field) would read "+1", " 1", "1\n", "01", "1_0" or "１" as a number.
_PLAIN_ID = re.compile(r"0|[1-9][0-9]*")


def plain_id(text: str) -> int | None:
    """`text` as an id if it is one written plainly (`12`), else None (`012`, `+12`, `１２`)."""
    return int(text) if _PLAIN_ID.fullmatch(text) and len(text) <= 10 else None


def _plain_digits(value: object) -> object:
    if isinstance(value, str) and not _PLAIN_ID.fullmatch(value):
        raise ValueError("an id is plain digits: no sign, space, point or leading zero")
    return value


IdPath = Annotated[
    int, BeforeValidator(_plain_digits), Path(ge=1, le=MAX_ID, description="Numeric id")
]


class IdConvertor(Convertor[int]):
    """`{name:id}` in a route's path: a plain id (as IdPath) decides which route matches.
    The lookahead keeps Starlette's `$` from matching before a final newline."""

    regex = "[1-9][0-9]{0,9}(?!\n)"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())
RefPath = Annotated[
    SafeText,
    Path(min_length=1, max_length=64, description="Numeric id, or the code (e.g. `ZL7-2B`)"),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="How many match the filters, across all pages")
    limit: int
    offset: int

    @classmethod
    def of(cls, items: Sequence[T], total: int, page: "Pagination") -> "Page[T]":
        """The page a list route returns: its items, the total, and the window asked for."""
        return cls(items=list(items), total=total, limit=page.limit, offset=page.offset)


class Pagination(BaseModel):
    limit: int
    offset: int


async def pagination(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, at most 500")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip")] = 0,
) -> Pagination:
    return Pagination(limit=limit, offset=offset)


PaginationDep = Annotated[Pagination, Depends(pagination)]

Row = TypeVar("Row", bound=SQLModel)


def page_of(
    session: Session, model: type[Row], clauses: Sequence[Any], page: Pagination, *order: Any
) -> tuple[list[Row], int]:
    """A list route's page: the rows of `model` matching every clause, in `order`, within the
    page's window; and how many match in all."""
    total = session.exec(select(func.count()).select_from(model).where(*clauses)).one()
    rows = session.exec(
        select(model).where(*clauses).order_by(*order).limit(page.limit).offset(page.offset)
    )
    return list(rows), total


def parse_sort(
    value: str | None, allowed: Sequence[str], *, default: str
) -> list[tuple[str, bool]]:
    """`sort=-original_estimate,code` → [("original_estimate", True), ("code", False)]."""
    out: list[tuple[str, bool]] = []
    for part in (value or default).split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part.lstrip("-")
        if name not in allowed:
            raise InvalidInput(
                f"cannot sort by {name!r}; use one of {', '.join(allowed)} (prefix - to reverse)",
                field="sort",
                location="query",
            )
        out.append((name, descending))
    return out


def check_sent_once(request: HTTPConnection, header: str) -> None:
    """A 400 naming `header` if the request carries it more than once."""
    count = len(request.headers.getlist(header))
    if count > 1:
        raise RepeatedHeader(header, count=count)


def etag_for(entity: str, entity_id: int, version: int) -> str:
    return f'"{entity}-{entity_id}-v{version}"'


def check_if_match(if_match: str | None, current_etag: str) -> None:
    """Writes that replace state must name the version they were based on: without If-Match,
    or with `*` (which names none, only that the object exists), a 428."""
    if if_match is None:
        raise PreconditionRequired("Send If-Match with the ETag from your last read.")
    candidates = [t.strip() for t in if_match.split(",")]
    if "*" in candidates:
        raise PreconditionRequired(
            "If-Match: * names no version; send the ETag from your last read, so a change "
            "made since is not overwritten unseen."
        )
    if current_etag not in [c.removeprefix("W/") for c in candidates]:
        raise PreconditionFailed(
            "The resource changed since you read it; read it again and retry.",
            current_etag=current_etag,
        )


IfMatchHeader = Annotated[
    SafeText | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The ETag from your last read; required for PATCH",
    ),
]


def escape_like(text: str) -> str:
    """Text to find inside a LIKE pattern as itself (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_clause(text: str, *columns: Any) -> ColumnElement[bool]:
    """`text` inside any of `columns`, as itself (% and _ are not wildcards), without regard to
    case (ILIKE on PostgreSQL, lower() LIKE lower() on SQLite); NULL columns never match."""
    pattern = f"%{escape_like(text)}%"
    return or_(*(col(column).ilike(pattern, escape="\\") for column in columns))


def ref_clause(column_id: Any, column_code: Any, ref: str) -> ColumnElement[bool]:
    """Match a path or filter reference: ASCII digits are an id (written plainly, else none),
    anything else a code or name."""
    if ref.isascii() and ref.isdigit():
        found = plain_id(ref)
        return col(column_id) == found if found is not None and found <= MAX_ID else false()
    return col(column_code) == ref


def code_clause(column_id: Any, column_key: Any, ref: str) -> ColumnElement[bool]:
    """Match a reference to a row with a code: plain ASCII digits are an id, anything else the
    code, compared by the key kept beside it (`zl7-2b` and `ＺＬ７－２Ｂ` find ZL7-2B); a
    number written otherwise (` 12`, `１２`) is a code, never an id."""
    if ref.isascii() and ref.isdigit():
        return ref_clause(column_id, column_key, ref)
    return col(column_key) == identifier_key(ref)


def check_code_free(
    *, session: Session, table: Any, code: str, clash: str, within: Sequence[Any] = ()
) -> None:
    """A 409 if a row of `table` (one matching `within`) has `code`, however it is written
    there; `clash` says what clashed, and the 409 names the row (`as ZL7-2B (project 12)`)."""
    found = session.exec(
        select(table).where(col(table.code_key) == identifier_key(code), *within)
    ).first()
    if found is not None:
        written = f" as {found.code}" if found.code != code else ""
        raise Conflict(f"{clash}{written} ({table.__tablename__.replace('_', ' ')} {found.id})")


async def business_today_dep(request: Request) -> date:
    """Today where the programme's office is: no ledger date may be later."""
    return business_today(request.app.state.settings.business_timezone)


TodayDep = Annotated[date, Depends(business_today_dep)]
