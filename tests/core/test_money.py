"""Money is exact end to end: parsed without rounding, stored as fen, served as two decimals."""

import json
import typing
import uuid
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection
from sqlmodel import Session

from app.money import MONEY_PATTERN, MoneyType, wan_to_yuan, yuan_to_wan
from app.programmes.models import PlanItem
from tests.factories import Keys, make_programme

amounts = st.decimals(
    min_value=Decimal("-999999999999.99"),
    max_value=Decimal("999999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
FIXED = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FIXED
@given(amount=amounts)
def test_database_round_trip_is_exact(connection: Connection, amount: Decimal) -> None:
    table = sa.Table("money_probe", sa.MetaData(), sa.Column("amount", MoneyType()))
    savepoint = connection.begin_nested()
    try:
        table.create(connection)
        connection.execute(table.insert().values(amount=amount))
        stored = connection.execute(sa.select(table.c.amount)).scalar_one()
        total = connection.execute(
            sa.select(sa.type_coerce(sa.func.sum(table.c.amount), MoneyType()))
        ).scalar_one()
    finally:
        savepoint.rollback()
    assert stored == amount and total == amount
    assert format(stored, "f") == format(amount.quantize(Decimal("0.01")), "f")


@pytest.fixture
def plan_item(session: Session) -> PlanItem:
    return make_programme(session)[1]


@FIXED
@given(amount=amounts.filter(lambda d: d >= 0), as_number=st.booleans())
def test_api_round_trip_is_exact(
    client: TestClient, keys: Keys, plan_item: PlanItem, amount: Decimal, as_number: bool
) -> None:
    text = format(amount, "f")
    # A JSON number is accepted too, and read exactly (never through a float).
    raw = text if as_number else f'"{text}"'
    payload = (
        f'{{"code": "RT-{uuid.uuid4().hex[:10]}", "name": "金额往返", '
        f'"plan_item_id": {plan_item.id}, "category": "new_build", "original_estimate": {raw}}}'
    )
    created = client.post(
        "/api/v1/projects",
        content=payload,
        headers={**keys.admin, "Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text
    expected = format(amount.quantize(Decimal("0.01")), "f")
    assert created.json()["original_estimate"] == expected
    read = client.get(created.headers["Location"], headers=keys.viewer).json()
    assert read["original_estimate"] == expected
    assert read["revised_estimate"] == expected


BAD_AMOUNTS = [
    ('"NaN"', "NaN as a string"),
    ("NaN", "NaN as a JSON literal"),
    ('"Infinity"', "Infinity as a string"),
    ("Infinity", "Infinity as a JSON literal"),
    ("-Infinity", "-Infinity as a JSON literal"),
    ('"1e5"', "exponent in a string"),
    ("1e5", "exponent in a JSON number"),
    ("1.5E2", "capital exponent"),
    ('"100.001"', "a third decimal in a string"),
    ("100.001", "a third decimal in a JSON number"),
    ('"100.000"', "a third decimal, even a zero"),
    ('"1000000000000.00"', "out of range"),
    ("1000000000000", "out of range as a number"),
    ('"-0.01"', "negative where the amount can't be"),
    ('"12,000.00"', "thousands separator"),
    ('" 100.00"', "leading space"),
    ('""', "empty string"),
    ('"abc"', "not a number"),
    ("true", "a boolean"),
    ("null", "null"),
    ('"0x10"', "hexadecimal"),
    ('"１００"', "full-width digits"),
    ('"１.00"', "a full-width digit before the point"),
    ('"+1.00"', "a plus sign"),
    ('"1.00\\n"', "a trailing newline"),
    ('"1.00\\r\\n"', "a trailing CRLF"),
    ('"1.00 "', "a trailing space"),
    ('"\\t1.00"', "a leading tab"),
    ('"1.00\\u00a0"', "a trailing no-break space"),
    ('"- 1.00"', "a space after the minus"),
    ('"1e3"', "lower-case exponent in a string"),
    ('"1."', "a point without decimals"),
    ('".50"', "decimals without a whole part"),
    ('"1_000.00"', "an underscore between digits"),
    ('"٣.00"', "Arabic-Indic digits"),
]


@pytest.mark.parametrize(("raw", "why"), BAD_AMOUNTS, ids=[w for _, w in BAD_AMOUNTS])
def test_bad_amounts_are_refused_naming_the_field(
    client: TestClient, keys: Keys, plan_item: PlanItem, raw: str, why: str
) -> None:
    payload = (
        f'{{"code": "BAD-1", "name": "坏金额", "plan_item_id": {plan_item.id}, '
        f'"category": "new_build", "original_estimate": {raw}}}'
    )
    response = client.post(
        "/api/v1/projects",
        content=payload,
        headers={**keys.admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, why
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == ["original_estimate"]
    assert "original_estimate" in problem["detail"]
    listing = client.get("/api/v1/projects", params={"q": "BAD-1"}, headers=keys.admin).json()
    assert listing["total"] == 0


def test_wan_converts_exactly() -> None:
    assert wan_to_yuan("5741.36") == Decimal("57413600.00")
    assert wan_to_yuan("0.0001") == Decimal("1.00")
    assert wan_to_yuan("0.000001") == Decimal("0.01")
    with pytest.raises(ValueError):
        wan_to_yuan("0.0000001")
    with pytest.raises(ValueError):
        wan_to_yuan("1e3")


def test_yuan_shown_in_wan_is_a_decimal_shift_rounded_half_away_from_zero() -> None:
    for yuan, wan in (
        ("454004000.00", "45400.40"),
        ("12345.67", "1.23"),
        ("15000.00", "1.50"),
        ("50.00", "0.01"),
        ("-50.00", "-0.01"),
        ("49.99", "0.00"),
        ("999999999999.99", "100000000.00"),
    ):
        shown = yuan_to_wan(Decimal(yuan))
        assert (shown, str(shown)) == (Decimal(wan), wan), yuan


def test_money_type_refuses_floats_and_fractions_of_a_fen(connection: Connection) -> None:
    money = MoneyType()
    with pytest.raises(TypeError):
        money.process_bind_param(0.1, connection.dialect)
    with pytest.raises(ValueError):
        money.process_bind_param(Decimal("0.001"), connection.dialect)


def _body_models(app: FastAPI) -> set[type[BaseModel]]:
    """Every model a route takes as its JSON body, and every model nested in one."""
    found: set[type[BaseModel]] = set()
    routes = [r.original_route for r in iter_route_contexts(app.routes)]
    pending: list[Any] = [
        route.body_field.field_info.annotation
        for route in routes
        if isinstance(route, APIRoute) and route.body_field is not None
    ]
    while pending:
        annotation = pending.pop()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.add(annotation)
                pending.extend(f.annotation for f in annotation.model_fields.values())
        else:
            pending.extend(typing.get_args(annotation))
    return found


def test_every_amount_in_every_body_takes_the_same_strict_text(app: FastAPI) -> None:
    """Each money field of each request body (payments, contracts, change orders, budget
    lines, funding plans...) refuses what money text refuses, naming that field."""
    checked = []
    for model in _body_models(app):
        properties = model.model_json_schema(mode="validation").get("properties", {})
        for name, schema in properties.items():
            if json.dumps(MONEY_PATTERN)[1:-1] not in json.dumps(schema):
                continue
            for text in ("+1.00", "1.00\n", " 1.00", "1.00 ", "１.00", "1e3", "0x10"):
                with pytest.raises(ValidationError) as refused:
                    model.model_validate({name: text})
                assert (name,) in [e["loc"] for e in refused.value.errors()], (model, name, text)
            checked.append(f"{model.__name__}.{name}")
    for expected in (
        "DisbursementBody.amount",
        "ReversalCreate.amount",
        "ContractCreate.amount",
        "ChangeOrderCreate.delta",
        "CertificationCreate.certified_amount",
        "RevisionCreate.new_estimate",
        "BudgetLineCreate.estimate",
        "PlannedFunding.planned",
        "ProjectCreate.original_estimate",
    ):
        assert expected in checked, checked
