"""Money: exact decimals with at most two places, in 元.

Parsed from a decimal string or an exact JSON number, stored as integer fen (BIGINT) on every
engine, served as a two-decimal string ("57413600.00"). Never a float.
"""

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import repeat
from operator import add, floordiv, lt, mod
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from sqlalchemy import BigInteger, ColumnElement, Dialect, func, type_coerce
from sqlalchemy.types import TypeDecorator

MAX_AMOUNT = Decimal("999999999999.99")
FEN = Decimal("0.01")
# Matched whole (fullmatch): ASCII digits, an optional leading minus, an optional fraction;
# no plus sign, no space or newline around it (`$` alone would let a final newline through).
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
MONEY_PATTERN = r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$"
WAN = Decimal(10_000)


class ExponentDecimal(Decimal):
    """A JSON number written with an exponent (1e5): parsed, then refused where money is due."""


def parse_json_float(text: str) -> Decimal:
    """`json.loads(parse_float=...)`: keep JSON numbers exact, remember exponent notation."""
    if "e" in text or "E" in text:
        return ExponentDecimal(text)
    return Decimal(text)


def parse_json_constant(text: str) -> Decimal:
    """`json.loads(parse_constant=...)`: NaN and Infinity become decimals money refuses."""
    return Decimal(text)


def parse_money(value: object, *, bounded: bool = True) -> Decimal:
    """Parse an amount exactly, or raise ValueError saying why it is not one. `bounded`: an
    amount a client sends is at most ±MAX_AMOUNT; a total the service computed may be more."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError('amount must be a decimal string such as "57413600.00", not a float')
    if isinstance(value, ExponentDecimal):
        raise ValueError("amount must not use exponent notation")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            raise ValueError(
                'amount must be a plain decimal such as "57413600.00": ASCII digits, an '
                "optional leading minus, no plus sign, spaces or line breaks"
            )
        try:
            amount = Decimal(value)
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid text
            raise ValueError("amount is not a decimal number") from exc
    else:
        raise ValueError("amount must be a decimal string or a number")
    if not amount.is_finite():
        raise ValueError("amount must be a finite number")
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -2:
        raise ValueError("amount must have at most two decimal places")
    if bounded and abs(amount) > MAX_AMOUNT:
        raise ValueError("amount must be within ±999999999999.99")
    if amount == 0:
        amount = Decimal(0)  # "-0.00" is zero, and is written 0.00
    return amount.quantize(FEN)


def format_money(amount: Decimal) -> str:
    return format(amount.quantize(FEN), "f")


def yuan(amount_fen: int) -> Decimal:
    """An amount in integer fen as exact 元 with two decimals: 123450 → Decimal("1234.50")."""
    return Decimal(amount_fen).scaleb(-2)


def fen_text(fen: int) -> str:
    """An amount in integer fen as money is written: 123450 → `"1234.50"`, -5 → `"-0.05"`."""
    yuan, cents = divmod(abs(fen), 100)
    return f"-{yuan}.{cents:02d}" if fen < 0 else f"{yuan}.{cents:02d}"


_CENTS = tuple(f".{cents:02d}" for cents in range(100))
_SIGNS = ("", "-")  # by `fen < 0`


def fen_texts(amounts: Sequence[int]) -> list[str]:
    """fen_text of each amount, computed a whole column at a time (no Python call per
    amount): the integer 元, then the cents' text, then the sign where any is negative."""
    if not amounts:
        return []
    negative = min(amounts) < 0
    magnitudes = list(map(abs, amounts)) if negative else amounts
    texts = map(
        add,
        map(str, map(floordiv, magnitudes, repeat(100))),
        map(_CENTS.__getitem__, map(mod, magnitudes, repeat(100))),
    )
    if negative:
        texts = map(add, map(_SIGNS.__getitem__, map(lt, amounts, repeat(0))), texts)
    return list(texts)


def wan_to_yuan(wan: str) -> Decimal:
    """Convert an amount the plan writes in 万元 to 元, exactly (5741.36 → 57413600.00)."""
    yuan = parse_decimal_text(wan, places=6) * WAN
    if yuan != yuan.quantize(FEN):
        raise ValueError(f"{wan} 万元 is not a whole number of fen")
    return parse_money(format(yuan.quantize(FEN), "f"))


def yuan_to_wan(amount: Decimal) -> Decimal:
    """An amount in 元 shown in 万元 with two decimals: a decimal shift, rounded half away from
    zero (四舍五入) once (454004000.00 → 45400.40, 12345.67 → 1.23, 15000.00 → 1.50)."""
    return round_fen(amount.scaleb(-4))


def parse_decimal_text(text: str, *, places: int) -> Decimal:
    """A plain decimal string with at most `places` decimals (quantities, areas, 万元 figures)."""
    if not isinstance(text, str) or not _DECIMAL_TEXT.fullmatch(text):
        raise ValueError(f"{text!r} is not a plain decimal string")
    amount = Decimal(text)
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -places:
        raise ValueError(f"{text!r} has more than {places} decimal places")
    return amount


def _positive(amount: Decimal) -> Decimal:
    if amount <= 0:
        raise ValueError("amount must be greater than zero")
    return amount


def _non_negative(amount: Decimal) -> Decimal:
    if amount < 0:
        raise ValueError("amount must not be negative")
    return amount


_INPUT_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": MONEY_PATTERN},
        {
            "type": "number",
            "multipleOf": 0.01,
            "minimum": -999999999999.99,
            "maximum": 999999999999.99,
        },
    ],
    "description": "Amount in 元: a decimal string (preferred) or an exact JSON number, "
    "at most two decimals.",
    "examples": ["57413600.00"],
}
_OUTPUT_SCHEMA = {
    "type": "string",
    "pattern": MONEY_PATTERN,
    "description": "Amount in 元, exact, two decimals.",
    "examples": ["57413600.00"],
}
_serialise = PlainSerializer(format_money, return_type=str, when_used="json")

Money = Annotated[
    Decimal,
    BeforeValidator(parse_money),
    _serialise,
    WithJsonSchema(_INPUT_SCHEMA, mode="validation"),
    WithJsonSchema(_OUTPUT_SCHEMA, mode="serialization"),
]
# Money as the service reports it (reads, figures, totals): exact, two decimals, and not
# bounded like one amount sent in, since a total of many such amounts may exceed it.
Amount = Annotated[
    Decimal,
    BeforeValidator(lambda v: parse_money(v, bounded=False)),
    _serialise,
    WithJsonSchema(
        {
            **_OUTPUT_SCHEMA,
            "pattern": r"^-?[0-9]+\.[0-9]{2}$",
            "description": "Amount in 元, exact, two decimals; a total may exceed what one "
            "amount sent in may be.",
        }
    ),
]
PositiveMoney = Annotated[
    Decimal,
    BeforeValidator(lambda v: _positive(parse_money(v))),
    _serialise,
    WithJsonSchema(_INPUT_SCHEMA, mode="validation"),
    WithJsonSchema(_OUTPUT_SCHEMA, mode="serialization"),
]
NonNegativeMoney = Annotated[
    Decimal,
    BeforeValidator(lambda v: _non_negative(parse_money(v))),
    _serialise,
    WithJsonSchema(_INPUT_SCHEMA, mode="validation"),
    WithJsonSchema(_OUTPUT_SCHEMA, mode="serialization"),
]


class ScaledDecimal(TypeDecorator[Decimal]):
    """Stores a decimal with a fixed number of places as a BIGINT of its smallest unit, so it is
    exact on SQLite (whose Numeric binds through float) and PostgreSQL alike."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, places: int = 2) -> None:
        super().__init__()
        self.places = places

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("exact decimals must be Decimal, never float")
        units = Decimal(value).scaleb(self.places)
        if units != units.to_integral_value():
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return int(units)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.places)


class MoneyType(ScaledDecimal):
    """元 stored as integer fen."""

    cache_ok = True

    def __init__(self) -> None:
        super().__init__(places=2)


def _parse_quantity(value: object) -> Decimal:
    """Areas and quantities: like money, but never negative."""
    try:
        return _non_negative(parse_money(value))
    except ValueError as exc:
        raise ValueError(str(exc).replace("amount", "quantity")) from exc


def _parse_ratio(value: object, *, zero_allowed: bool = False) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float) or isinstance(value, ExponentDecimal):
        raise ValueError('ratio must be a decimal string such as "0.90"')
    if isinstance(value, str):
        value = parse_decimal_text(value, places=4)
    if not isinstance(value, Decimal | int):
        raise ValueError('ratio must be a decimal string such as "0.90"')
    ratio = Decimal(value)
    exponent = ratio.as_tuple().exponent
    if not ratio.is_finite() or (isinstance(exponent, int) and exponent < -4):
        raise ValueError("ratio must have at most four decimal places")
    if zero_allowed and ratio == 0:
        return ratio
    if not Decimal(0) < ratio <= Decimal(1):
        lowest = "at least 0" if zero_allowed else "greater than 0"
        raise ValueError(f"ratio must be {lowest} and at most 1")
    return ratio


def _parse_rate(value: object) -> Decimal:
    return _parse_ratio(value, zero_allowed=True)


def format_ratio(value: Decimal) -> str:
    """At least two decimals: 0.9 → "0.90", 0.925 → "0.925"."""
    value = value.normalize()
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        return format(value.quantize(FEN), "f")
    return format(value, "f")


Quantity = Annotated[
    Decimal,
    BeforeValidator(_parse_quantity),
    _serialise,
    WithJsonSchema(
        {**_INPUT_SCHEMA, "description": "Exact non-negative decimal, at most two decimals."},
        mode="validation",
    ),
    WithJsonSchema({**_OUTPUT_SCHEMA, "description": "Exact decimal."}, mode="serialization"),
]
RATIO_PATTERN = r"^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$"
Ratio = Annotated[
    Decimal,
    BeforeValidator(_parse_ratio),
    PlainSerializer(format_ratio, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": RATIO_PATTERN,
            "examples": ["0.90"],
            "description": "A share between 0 (exclusive) and 1, at most four decimals.",
        },
        mode="validation",
    ),
    WithJsonSchema(
        {"type": "string", "pattern": RATIO_PATTERN, "examples": ["0.90"]}, mode="serialization"
    ),
]
# A rate that may be 0, such as a retention rate (a contract may hold none).
Rate = Annotated[
    Decimal,
    BeforeValidator(_parse_rate),
    PlainSerializer(format_ratio, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": RATIO_PATTERN},
                {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": 0.0001},
            ],
            "examples": ["0.03", "0"],
            "description": "A share from 0 to 1, at most four decimals: a decimal string "
            "(preferred) or an exact JSON number.",
        },
        mode="validation",
    ),
    WithJsonSchema(
        {"type": "string", "pattern": RATIO_PATTERN, "examples": ["0.03"]}, mode="serialization"
    ),
]


def round_fen(amount: Decimal) -> Decimal:
    """An amount in 元 rounded to the fen half away from zero (四舍五入): 3000.045 → 3000.05."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def fen(column: Any) -> Any:
    """A money (or hundredths) column as its raw stored integer, for exact SQL arithmetic or to
    read without making a Decimal of every value."""
    return type_coerce(column, BigInteger)


def money_sum(column: Any) -> ColumnElement[Decimal]:
    """SUM of a money column computed in SQL on integer fen, 0 when there are no rows."""
    return type_coerce(func.coalesce(func.sum(column), 0), MoneyType())


SHARE_PLACES = Decimal("0.0001")
SHARE_SCALE = 10_000  # shares are shown with four decimals


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero (四舍五入, as Excel's ROUND),
    exactly (denominator > 0): 5/2 → 3, -5/2 → -3."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return -quotient if numerator < 0 else quotient


def share(numerator: int | Decimal, denominator: int | Decimal) -> Decimal | None:
    """numerator / denominator with four decimals, rounded half away from zero, or None when the
    denominator is zero (never an error). Exact: integers (fen, hundredths) or decimals
    (money, taken as the exact fractions they are) are divided as integers, never rounded
    twice."""
    if denominator == 0:
        return None
    if isinstance(numerator, int) and isinstance(denominator, int):
        top, bottom = numerator, denominator
    else:
        top, top_scale = numerator.as_integer_ratio()
        bottom, bottom_scale = denominator.as_integer_ratio()
        top, bottom = top * bottom_scale, bottom * top_scale
    if bottom < 0:
        top, bottom = -top, -bottom
    return Decimal(half_up(top * SHARE_SCALE, bottom)).scaleb(-4)


Share = Annotated[
    Decimal | None,
    PlainSerializer(
        lambda v: None if v is None else format(v.quantize(SHARE_PLACES), "f"),
        return_type=str | None,
        when_used="json",
    ),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{4}$"}, {"type": "null"}],
            "description": 'A ratio with four decimals ("0.5000"), or null when undefined.',
            "examples": ["0.5000"],
        },
        mode="serialization",
    ),
]
