"""JSON whose numbers are exact: a Decimal is written as its own digits (`57413600.00`,
`0.10`), never through a float, which holds about 16 significant digits and writes 0.10 as
0.1. The standard library's encoder knows no Decimal, and its `default` hook can only return
another object to encode, not the number's text."""

from decimal import Decimal
from json import JSONEncoder
from typing import Any

_string = JSONEncoder(ensure_ascii=False).encode  # Chinese as itself, escapes as JSON wants


def exact_json(document: Any) -> str:
    """The document (dicts with string keys, lists, strings, Decimals, ints, booleans, None)
    as compact JSON text; a NaN or infinite Decimal, a float or any other type is a
    TypeError: nothing inexact gets out."""
    parts: list[str] = []
    _write(document, parts)
    return "".join(parts)


def _write(value: Any, parts: list[str]) -> None:
    if isinstance(value, str):
        parts.append(_string(value))
    elif value is None or isinstance(value, bool):
        parts.append({None: "null", True: "true", False: "false"}[value])
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"{value} is not a JSON number")
        parts.append(format(value, "f"))
    elif isinstance(value, int):
        parts.append(str(value))
    elif isinstance(value, dict):
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"a JSON object's key must be text, not {key!r}")
            parts.append("," if index else "")
            parts.append(_string(key))
            parts.append(":")
            _write(item, parts)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for index, item in enumerate(value):
            parts.append("," if index else "")
            _write(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not written as exact JSON")
