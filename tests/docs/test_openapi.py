"""The OpenAPI document tells the truth, in full: every operation is described, every request
body has an example (in Chinese, and one the API accepts), and every error response is
documented as application/problem+json with the members that error carries."""

import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from app.errors import PROBLEM_JSON
from app.ledger.router import IMPORT_EXAMPLE
from tests.factories import Keys, if_match

STANDARD = {"type", "title", "status", "detail", "instance", "request_id", "errors"}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def _component(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def _examples(spec: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    found = [media["example"]] if "example" in media else []
    found += [e["value"] for e in media.get("examples", {}).values()]
    ref = media.get("schema", {}).get("$ref")
    if ref:
        found += _component(spec, ref).get("examples", [])
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _in_chinese(example: Any) -> bool:
    """Chinese text, or no text at all (only dates and amounts, as an acceptance has)."""
    strings = _strings(example)
    if any("\u4e00" <= c <= "\u9fff" for s in strings for c in s):
        return True
    return all(re.fullmatch(r"[0-9.:-]+", s) for s in strings)


def test_every_operation_has_a_description(app: FastAPI) -> None:
    spec = app.openapi()
    missing = [f"{m} {p}" for m, p, op in _operations(spec) if not op.get("description")]
    assert missing == []


def test_every_request_body_has_an_example(app: FastAPI) -> None:
    spec = app.openapi()
    missing = []
    bodies = 0
    for method, path, operation in _operations(spec):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            if media.get("schema", {}).get("format") == "binary":
                continue  # a workbook's bytes: no example a reader could use
            bodies += 1
            examples = _examples(spec, media)
            if not examples or not all(_in_chinese(e) for e in examples):
                missing.append(f"{method} {path} {media_type}")
    assert bodies > 25
    assert missing == []


def _body_models(app: FastAPI) -> list[tuple[str, type[BaseModel]]]:
    out = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.body_field is not None:
            model = route.body_field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                out.append((f"{sorted(route.methods or ())} {context.path}", model))
    return out


def test_every_body_example_is_one_the_api_accepts(app: FastAPI) -> None:
    """An example that fails validation is stale: it is checked as the request's JSON is."""
    checked = 0
    for route, model in _body_models(app):
        for example in model.model_json_schema().get("examples", []):
            try:
                model.model_validate_json(json.dumps(example, ensure_ascii=False))
            except ValidationError as exc:
                pytest.fail(f"{route}: its example {example} is refused: {exc}")
            checked += 1
    assert checked >= 20


def test_the_import_example_imports(client: TestClient, keys: Keys, zl7: None) -> None:
    response = client.post(
        "/api/v1/disbursements/import?dry_run=true",
        content=IMPORT_EXAMPLE.encode("utf-8"),
        headers={**keys.finance, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text


def _problem_schema(spec: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    assert list(response.get("content", {})) == [PROBLEM_JSON]
    return _component(spec, response["content"][PROBLEM_JSON]["schema"]["$ref"])


def test_every_error_response_is_problem_json(app: FastAPI) -> None:
    spec = app.openapi()
    errors = 0
    for method, path, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if not status.startswith("4") or (method, path) == ("GET", "/readyz"):
                continue
            errors += 1
            schema = _problem_schema(spec, response)
            assert {"type", "title", "status", "detail"} <= set(schema["required"]), (path, status)
            assert STANDARD <= set(schema["properties"]), (path, status)
            if status == "412":
                assert "current_etag" in schema["properties"], path
    assert errors > 150


@pytest.mark.parametrize("scope", ["project", "contract"])
def test_a_budget_refusal_has_the_members_its_schema_documents(
    app: FastAPI, client: TestClient, keys: Keys, project: Any, scope: str
) -> None:
    spec = app.openapi()
    documented = _problem_schema(
        spec, spec["paths"]["/api/v1/disbursements"]["post"]["responses"]["409"]
    )["properties"]
    client.patch(
        f"/api/v1/projects/{project.id}",
        json={"budget_policy": "block"},
        headers={**keys.admin, **if_match(client, keys, f"/api/v1/projects/{project.id}")},
    )
    body: dict[str, Any] = {
        "project_id": project.id,
        "amount": "1000000.01",
        "paid_on": "2023-06-30",
        "payee": "宁夏某建设工程有限公司（测试）",
        "voucher_no": "OA-1",
        "funding_source": "county",
    }
    if scope == "contract":
        contract = client.post(
            "/api/v1/contracts",
            json={
                "project_id": project.id,
                "contractor_id": keys.contractor_id,
                "contract_no": "OA-C1",
                "title": "测试合同",
                "amount": "100000.00",
                "signed_on": "2023-01-01",
            },
            headers=keys.admin,
        ).json()
        body |= {"contract_id": contract["id"], "amount": "99000.00"}
        body["payee"] = client.get(
            f"/api/v1/contractors/{keys.contractor_id}", headers=keys.admin
        ).json()["name"]
    refused = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/budget-exceeded") and problem["scope"] == scope
    assert set(problem) - STANDARD <= set(documented)


def test_a_stale_etag_has_the_member_its_schema_documents(
    app: FastAPI, client: TestClient, keys: Keys, project: Any
) -> None:
    spec = app.openapi()
    documented = _problem_schema(
        spec, spec["paths"]["/api/v1/projects/{ref}"]["patch"]["responses"]["412"]
    )["properties"]
    refused = client.patch(
        f"/api/v1/projects/{project.id}",
        json={"name": "改名（测试）"},
        headers={**keys.admin, "If-Match": '"stale"'},
    )
    assert refused.status_code == 412
    problem = refused.json()
    assert (
        problem["current_etag"]
        == client.get(f"/api/v1/projects/{project.id}", headers=keys.admin).headers["ETag"]
    )
    assert set(problem) - STANDARD <= set(documented)


EXTRAS = {
    ("post", "/api/v1/disbursements"): {"estimate", "would_be", "over_by", "payable_limit"},
    ("post", "/api/v1/disbursements/{entry_id}/reversals"): {"left", "project_status"},
    ("post", "/api/v1/milestones/{milestone_id}/certification"): {"ceiling"},
    ("post", "/api/v1/contracts/{contract_id}/change-orders"): {"committed", "paid", "certified"},
    ("post", "/api/v1/projects/{ref}/budget-lines"): {"lines_total", "revised_estimate"},
    ("patch", "/api/v1/budget-lines/{line_id}"): {"lines_total", "revised_estimate"},
    ("patch", "/api/v1/projects/{ref}"): {"lines_total", "revised_estimate"},
    ("post", "/api/v1/contractors"): {"existing_id"},
}


@pytest.mark.parametrize(("method", "path"), sorted(EXTRAS))
def test_a_conflict_documents_its_extra_members(app: FastAPI, method: str, path: str) -> None:
    spec = app.openapi()
    schema = _problem_schema(spec, spec["paths"][path][method]["responses"]["409"])
    assert EXTRAS[(method, path)] <= set(schema["properties"])


def test_a_budget_lines_refusal_has_the_members_its_schema_documents(
    app: FastAPI, client: TestClient, keys: Keys, project: Any
) -> None:
    spec = app.openapi()
    path = "/api/v1/projects/{ref}/budget-lines"
    documented = _problem_schema(spec, spec["paths"][path]["post"]["responses"]["409"])
    refused = client.post(
        f"/api/v1/projects/{project.id}/budget-lines",
        json={
            "code": "L1",
            "name": "主体",
            "cost_category": "construction",
            "estimate": "1000000.01",
        },
        headers=keys.admin,
    )
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["lines_total"], problem["revised_estimate"]) == ("1000000.01", "1000000.00")
    assert set(problem) - STANDARD <= set(documented["properties"])
