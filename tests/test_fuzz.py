"""Schema-driven fuzzing of every route, once per role, in-process (schemathesis).

For each operation in the app's own OpenAPI document and each role, generated requests (valid
and invalid) must never produce a server error, every response must match the documented
status codes, media types and schemas, and invalid data must be rejected. New routes are
covered automatically.
"""

import os
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from app.config import Settings
from app.main import create_app
from tests.factories import Keys

# Left out of a plain `pytest`: `pytest -m slow` runs it (.ci/run does, on both engines).
pytestmark = pytest.mark.slow

# Built only for its OpenAPI document; each test calls the real app from the `app` fixture.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(database_url="sqlite://", log_level="CRITICAL"))
)
# CI runs a fixed, bounded set. A deeper hunt:
#   FUZZ_EXAMPLES=200 FUZZ_RANDOM=1 pytest -m slow tests/test_fuzz.py
schema.config.generation.update(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "12")),
    deterministic=os.environ.get("FUZZ_RANDOM") != "1",
    database="none",
    # Each role sends its own key; generated "missing Authorization" cases would replace it.
    with_security_parameters=False,
)
schema.config.checks.update(
    excluded_check_names=[
        # FastAPI's 405 Allow header lists the methods of the one route matched, not the path's.
        "allow_header_conformance",
        # Rules JSON Schema can't state (end_year ≥ start_year, lines within the 概算, a code
        # already taken) rightly refuse some schema-valid bodies.
        "positive_data_acceptance",
    ]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.parametrize("role", ["admin", "finance", "contractor", "viewer"])
@schema.parametrize()
def test_api(case: schemathesis.Case[Any], app: FastAPI, keys: Keys, zl7: None, role: str) -> None:
    case.call_and_validate(app=app, headers=keys.for_role(role))
