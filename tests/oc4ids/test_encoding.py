"""exact_json: a Decimal comes out as its own digits, never through a float."""

import json
from decimal import Decimal

import pytest

from app.oc4ids.encoding import exact_json


@pytest.mark.parametrize(
    ("amount", "written"),
    [
        (Decimal("0.10"), "0.10"),
        (Decimal("12345678901234.56"), "12345678901234.56"),
        (Decimal("999999999999.99"), "999999999999.99"),
        (Decimal("70000000.00"), "70000000.00"),
        (Decimal("-300000.00"), "-300000.00"),
        (Decimal(0).scaleb(-2), "0.00"),
        (Decimal("62.89"), "62.89"),
        (Decimal("1E+3"), "1000"),  # never an exponent
    ],
)
def test_a_decimal_is_written_as_its_digits(amount: Decimal, written: str) -> None:
    text = exact_json({"amount": amount})
    assert text == f'{{"amount":{written}}}'
    assert json.loads(text, parse_float=Decimal)["amount"] == amount


def test_a_sum_of_amounts_stays_exact() -> None:
    total = Decimal("0.10") + Decimal("0.20")
    assert exact_json([total]) == "[0.30]"  # a float would write 0.30000000000000004


def test_text_and_structure_as_json_writes_them() -> None:
    document = {
        "title": "新建平罗县城关第九小学",
        "quote": 'a "b"\n\\',
        "items": [1, True, False, None, ()],
        "nested": {},
    }
    text = exact_json(document)
    assert "新建平罗县城关第九小学" in text  # Chinese as itself, not \\u escapes
    assert json.loads(text) == {**document, "items": [1, True, False, None, []]}


@pytest.mark.parametrize("value", [0.1, Decimal("NaN"), Decimal("Infinity"), {1: "a"}, {"a"}])
def test_nothing_inexact_or_unknown_gets_out(value: object) -> None:
    with pytest.raises(TypeError):
        exact_json({"value": value})
