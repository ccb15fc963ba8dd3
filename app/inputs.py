"""What every client-sent value goes through before it reaches a service.

Text must be storable on every engine: no NUL or other control characters (tab and line
breaks aside) and no lone surrogates, which PostgreSQL and UTF-8 refuse. Body models also
refuse unknown fields, so a client can't set a field it doesn't own.
"""

import re
import types
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def check_text(value: str) -> str:
    if _UNSTORABLE.search(value):
        raise ValueError("text must not contain control characters or lone surrogates")
    return value


def _check_nested(value: Any) -> Any:
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, list | tuple | set):
        for item in value:
            _check_nested(item)
    return value


SafeText = Annotated[str, AfterValidator(check_text)]

# Control, format (U+200B, U+FEFF…), private-use, unassigned and surrogate code points, and
# line or paragraph separators: nothing a person means to type in a number or a code.
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})


def normalise_identifier(value: str) -> str:
    """An identifier a person types (voucher or contract number, a code) as it is stored:
    Unicode NFKC (full-width `－` is `-`), surrounding whitespace trimmed. Refuses invisible
    and control characters and text that is empty once trimmed."""
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        raise ValueError("must not be empty or only whitespace")
    for character in text:
        if unicodedata.category(character) in _INVISIBLE:
            raise ValueError(
                f"must not contain invisible or control characters (U+{ord(character):04X})"
            )
    return text


def identifier_key(value: str) -> str:
    """What two identifiers are compared by: NFKC of the case-folded, normalised text, so
    `VCX-1`, ` vcx-1 ` and `VCX－1` are one. Stored beside the text, unique where it must be."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).strip().casefold())


def party_key(name: str) -> str:
    """A party's name as compared with another (a payee with a contractor): NFKC (full-width
    forms), case and spacing aside."""
    return " ".join(identifier_key(name).split())


def key_of(column: str) -> Callable[[Any], str]:
    """A column default: the identifier_key of the row's `column`, for the tables that keep
    an identifier's key beside it (whoever inserts the row, the key is the same rule's)."""

    def default(context: Any) -> str:
        return identifier_key(context.get_current_parameters()[column])

    return default


def _identifier(value: Any) -> Any:
    return normalise_identifier(value) if isinstance(value, str) else value


# Normalised before the field's own length and pattern are checked.
Identifier = Annotated[str, BeforeValidator(_identifier)]
# A row named by the code or number a read shows (a project's `ZL7-2B`), where an id may be.
CodeRef = Annotated[Identifier, Field(min_length=1, max_length=64)]

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_ISO_DATETIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)


# No record of this service's kind predates it; a year 0001 is a typing slip, and reports
# would otherwise span thousands of years of empty periods.
EARLIEST_DATE = date(1900, 1, 1)


def _iso_date(value: Any) -> date:
    """Only YYYY-MM-DD from 1900-01-01 on: no timestamps, no '0' read as 1970-01-01."""
    if isinstance(value, date) and not isinstance(value, datetime):
        parsed = value
    elif not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date written as YYYY-MM-DD")
    else:
        try:
            parsed = date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{value} is not a date in the calendar") from exc
    if parsed < EARLIEST_DATE:
        raise ValueError(f"must be on or after {EARLIEST_DATE.isoformat()}")
    return parsed


def _iso_datetime(value: Any) -> datetime:
    """An ISO 8601 instant with its offset (2023-06-30T08:00:00+08:00 or …Z)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if not isinstance(value, str) or not _ISO_DATETIME.match(value):
        raise ValueError("must be a date and time with its offset, e.g. 2023-06-30T08:00:00+08:00")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value} is not a valid date and time") from exc


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]


@cache
def _scalars(annotation: Any) -> tuple[frozenset[type], Any]:
    """The scalar types a field admits, and its list item annotation if it is a list."""
    kinds, item = _walk(annotation)
    return frozenset(kinds - {type(None)}), item


def _walk(annotation: Any) -> tuple[set[type], Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _walk(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds: set[type] = set()
        item = None
        for arg in get_args(annotation):
            sub, sub_item = _walk(arg)
            kinds |= sub
            item = item or sub_item
        return kinds, item
    if origin is list:
        return {list}, get_args(annotation)[0]
    return ({annotation} if isinstance(annotation, type) else set()), None


def _json_type(value: Any, annotation: Any) -> None:
    kinds, item = _scalars(annotation)
    if isinstance(value, bool) and bool not in kinds:
        raise ValueError("must not be true or false")
    if kinds == {bool} and not isinstance(value, bool):
        raise ValueError("must be true or false")
    if isinstance(value, str) and kinds and kinds <= {int, float}:
        raise ValueError("must be a number, not a string")
    if isinstance(value, list) and item is not None:
        for element in value:
            _json_type(element, item)


class InputModel(BaseModel):
    """Base of every Create/Update body."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_coercion(cls, value: Any, info: ValidationInfo) -> Any:
        """JSON types are taken as sent: "5" is not a number, false is not 0."""
        if info.field_name is not None:
            # The class's own field map: `model_fields` costs a property lookup each time, and
            # this runs for every field of every row of an import.
            _json_type(value, cls.__pydantic_fields__[info.field_name].annotation)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        if isinstance(value, str) and value and not value.strip():
            raise ValueError("must not be only whitespace")
        return _check_nested(value)


def not_null(value: object) -> object:
    """In a PATCH, leaving a field out keeps it; sending null for a required one is an error."""
    if value is None:
        raise ValueError("cannot be null")
    return value
