"""The authorisation matrix, generated from the app's route table: every route × every role ×
(an object of the caller's own, someone else's). A route missing from MATRIX fails the test.

A = admin, F = finance, V = viewer, C = contractor. `scoped` routes name an object that a
contractor may see only if it is its own (OWASP API1): someone else's is a 404.
"""

import re
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import Session

from app.auth.models import Role
from tests.factories import Keys, make_contractor, make_programme, make_project, payment

ROLES = {"A": "admin", "F": "finance", "V": "viewer", "C": "contractor"}

MATRIX: dict[tuple[str, str], tuple[str, bool]] = {
    ("GET", "/api/v1/audit"): ("A", False),
    ("GET", "/api/v1/audit/verify"): ("A", False),
    ("GET", "/api/v1/budget-lines/{line_id}"): ("AFVC", True),
    ("PATCH", "/api/v1/budget-lines/{line_id}"): ("A", True),
    ("DELETE", "/api/v1/budget-lines/{line_id}"): ("A", True),
    ("GET", "/api/v1/contractors"): ("AFVC", False),
    ("POST", "/api/v1/contractors"): ("A", False),
    ("GET", "/api/v1/contractors/{contractor_id}"): ("AFVC", True),
    ("PATCH", "/api/v1/contractors/{contractor_id}"): ("A", True),
    ("GET", "/api/v1/contracts"): ("AFVC", False),
    ("POST", "/api/v1/contracts"): ("A", False),
    ("GET", "/api/v1/contracts/{contract_id}"): ("AFVC", True),
    ("PATCH", "/api/v1/contracts/{contract_id}"): ("A", True),
    ("POST", "/api/v1/contracts/{contract_id}/acceptance"): ("A", True),
    ("POST", "/api/v1/contracts/{contract_id}/retention-release"): ("AF", True),
    ("GET", "/api/v1/contracts/{contract_id}/change-orders"): ("AFVC", True),
    ("POST", "/api/v1/contracts/{contract_id}/change-orders"): ("A", True),
    ("GET", "/api/v1/disbursements"): ("AFVC", False),
    ("POST", "/api/v1/disbursements"): ("AF", False),
    ("POST", "/api/v1/disbursements/import"): ("AF", False),
    ("GET", "/api/v1/disbursements/{entry_id:int}"): ("AFVC", True),
    ("POST", "/api/v1/disbursements/{entry_id:int}/reversals"): ("AF", True),
    ("GET", "/api/v1/exports/oc4ids"): ("AFV", False),
    ("GET", "/api/v1/funding-sources"): ("AFVC", False),
    ("POST", "/api/v1/funding-sources"): ("A", False),
    ("PATCH", "/api/v1/funding-sources/{ref}"): ("A", False),
    ("GET", "/api/v1/keys"): ("A", False),
    ("POST", "/api/v1/keys"): ("A", False),
    ("DELETE", "/api/v1/keys/{key_id:int}"): ("A", False),
    ("GET", "/api/v1/keys/me"): ("AFVC", False),
    ("GET", "/api/v1/milestones"): ("AFVC", False),
    ("POST", "/api/v1/milestones"): ("A", False),
    ("GET", "/api/v1/milestones/{milestone_id}"): ("AFVC", True),
    ("GET", "/api/v1/milestones/{milestone_id}/progress"): ("AFVC", True),
    ("POST", "/api/v1/milestones/{milestone_id}/progress"): ("AC", True),
    ("POST", "/api/v1/milestones/{milestone_id}/certification"): ("AF", True),
    ("GET", "/api/v1/reports/dues"): ("AFVC", False),
    ("GET", "/api/v1/reports/portfolio"): ("AFV", False),
    ("GET", "/api/v1/reports/timeseries"): ("AFV", False),
    ("GET", "/api/v1/reports/alerts"): ("AFV", False),
    ("GET", "/api/v1/projects/{ref}/report"): ("AFV", False),
    ("GET", "/api/v1/programmes"): ("AFVC", False),
    ("POST", "/api/v1/programmes"): ("A", False),
    ("GET", "/api/v1/programmes/{ref}"): ("AFVC", False),
    ("PATCH", "/api/v1/programmes/{ref}"): ("A", False),
    ("POST", "/api/v1/programmes/{ref}/plan-items"): ("A", False),
    ("GET", "/api/v1/projects"): ("AFVC", False),
    ("POST", "/api/v1/projects"): ("A", False),
    ("GET", "/api/v1/projects/{ref}"): ("AFVC", True),
    ("PATCH", "/api/v1/projects/{ref}"): ("A", True),
    ("DELETE", "/api/v1/projects/{ref}"): ("A", True),
    ("GET", "/api/v1/projects/{ref}/budget"): ("AFVC", True),
    ("GET", "/api/v1/projects/{ref}/budget-lines"): ("AFVC", True),
    ("POST", "/api/v1/projects/{ref}/budget-lines"): ("A", True),
    ("GET", "/api/v1/projects/{ref}/funding"): ("AFVC", True),
    ("PUT", "/api/v1/projects/{ref}/funding"): ("AF", True),
    ("GET", "/api/v1/projects/{ref}/revisions"): ("AFVC", True),
    ("POST", "/api/v1/projects/{ref}/revisions"): ("AF", True),
    ("GET", "/api/v1/sites"): ("AFVC", False),
    ("POST", "/api/v1/sites"): ("A", False),
    ("GET", "/api/v1/sites/{ref}"): ("AFVC", False),
    ("PATCH", "/api/v1/sites/{ref}"): ("A", False),
    ("GET", "/docs"): ("public", False),
    ("GET", "/docs/assets/{name}"): ("public", False),
    ("GET", "/redoc"): ("public", False),
    ("GET", "/"): ("public", False),
    ("GET", "/dashboard/assets/{name}"): ("public", False),
    ("GET", "/healthz"): ("public", False),
    ("GET", "/readyz"): ("public", False),
}


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, str(r.path))
        for r in iter_route_contexts(app.routes)
        if isinstance(r.original_route, APIRoute)
        for method in r.methods or ()
    }


def test_every_route_has_an_entry(app: FastAPI) -> None:
    assert route_table(app) == set(MATRIX)


@pytest.fixture
def world(client: TestClient, keys: Keys, session: Session) -> dict[str, dict[str, str]]:
    """Objects of the test contractor's own (a contract on project MX-OWN) and of another."""
    programme, item = make_programme(session)
    other_contractor = make_contractor(session, name="另一家（测试）")
    ids: dict[str, dict[str, str]] = {"own": {}, "other": {}}
    contract_payee = {"own": "宁夏某建设工程有限公司（测试）", "other": other_contractor.name}
    contractors = [("own", keys.contractor_id), ("other", other_contractor.id)]
    for variant, contractor_id in contractors:
        project = make_project(
            session, item, estimate=Decimal("1000000.00"), code=f"MX-{variant.upper()}"
        )
        line = client.post(
            f"/api/v1/projects/{project.id}/budget-lines",
            json={
                "code": "L1",
                "name": "主体",
                "cost_category": "construction",
                "estimate": "500000.00",
            },
            headers=keys.admin,
        ).json()
        contract = client.post(
            "/api/v1/contracts",
            json={
                "project_id": project.id,
                "contractor_id": contractor_id,
                "contract_no": f"C-{variant}",
                "title": "t",
                "amount": "400000.00",
                "signed_on": "2023-01-01",
            },
            headers=keys.admin,
        ).json()
        milestone = client.post(
            "/api/v1/milestones",
            json={
                "project_id": project.id,
                "contract_id": contract["id"],
                "code": "开工",
                "name": "开工",
                "weight": "1",
                "planned_date": "2023-02-01",
            },
            headers=keys.admin,
        ).json()
        entry = client.post(
            "/api/v1/disbursements",
            json={
                **payment(project.id, "10.00", f"MX-{variant}", budget_line_id=line["id"]),
                "payee": contract_payee[variant],
                "contract_id": contract["id"],
            },
            headers=keys.finance,
        ).json()
        ids[variant] = {
            "project": str(project.id),
            "line_id": str(line["id"]),
            "contract_id": str(contract["id"]),
            "milestone_id": str(milestone["id"]),
            "entry_id": str(entry["id"]),
            "contractor_id": str(contractor_id),
        }
    site_response = client.post(
        "/api/v1/sites", json={"region": "测试县", "name": "矩阵小学"}, headers=keys.admin
    )
    assert site_response.status_code == 201, site_response.text
    site = site_response.json()
    shared = {
        "programme": programme.code,
        "site": str(site["id"]),
        "source": "county",
        "key_id": str(keys.ids["viewer"]),
    }
    for variant in ids:
        ids[variant].update(shared)
    session.commit()
    return ids


def _path(template: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name == "ref":
            if template.startswith("/api/v1/projects"):
                return ids["project"]
            if template.startswith("/api/v1/programmes"):
                return ids["programme"]
            if template.startswith("/api/v1/sites"):
                return ids["site"]
            return ids["source"]
        return ids[name]

    return re.sub(r"\{([^}]+)\}", value, template)


def test_the_matrix(
    client: TestClient, keys: Keys, connection: Connection, world: dict[str, dict[str, str]]
) -> None:
    failures = []
    for (method, template), (allowed, scoped) in sorted(MATRIX.items()):
        if allowed == "public":
            continue
        for letter, role in ROLES.items():
            for variant in ("own", "other"):
                path = _path(template, world[variant])
                savepoint = connection.begin_nested()
                try:
                    response = client.request(
                        method, path, json={}, headers={**keys.for_role(role), "If-Match": "*"}
                    )
                finally:
                    savepoint.rollback()
                if letter not in allowed:
                    expected = "403"
                    ok = response.status_code == 403
                elif scoped and role == Role.contractor.value and variant == "other":
                    expected = "404"
                    ok = response.status_code == 404
                else:
                    expected = "passes the guard"
                    ok = response.status_code not in (401, 403, 404)
                    if ok and method == "GET":
                        ok = response.status_code == 200
                if not ok:
                    got = response.status_code
                    failures.append(
                        f"{method} {path} as {role} ({variant}): {got}, want {expected}"
                    )
        anonymous = client.request(method, _path(template, world["own"]), json={})
        if anonymous.status_code != 401:
            failures.append(f"{method} {template} without a key: {anonymous.status_code}, want 401")
    assert failures == [], "\n".join(failures)
