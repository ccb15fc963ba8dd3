"""Input the service reads one way only: a JSON object naming a key twice, a header sent
twice, `If-Match: *` and a path id that is not plain digits are refused, never guessed at."""

import json
import re

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection
from sqlmodel import Session

from app.projects.models import Project
from tests.auth.test_matrix import MATRIX, ROLES, build_world
from tests.factories import Keys, if_match, payment

JSON = {"Content-Type": "application/json"}


def _ledger_total(client: TestClient, keys: Keys, project_id: int | None) -> int:
    listing = client.get(
        "/api/v1/disbursements", params={"project_id": project_id}, headers=keys.viewer
    )
    assert listing.status_code == 200, listing.text
    total: int = listing.json()["total"]
    return total


def test_an_amount_sent_twice_in_one_body_pays_nothing(
    client: TestClient, keys: Keys, project: Project
) -> None:
    body = json.dumps(payment(project.id, "1.00", "DUP-1"), ensure_ascii=False)
    for twice in (
        body[:-1] + ', "amount": "900000000.00"}',
        # The same key, written with an escape: one name once decoded.
        body[:-1] + ', "\\u0061mount": "900000000.00"}',
    ):
        response = client.post(
            "/api/v1/disbursements", content=twice.encode(), headers={**keys.finance, **JSON}
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert [(e["field"], e["location"]) for e in problem["errors"]] == [("amount", "body")]
        assert 'duplicate key "amount"' in problem["errors"][0]["message"]
        assert "amount" in problem["detail"]
    assert _ledger_total(client, keys, project.id) == 0


def _put_funding(client: TestClient, keys: Keys, project: Project, sources: str) -> Response:
    """A funding plan sent as written (`sources`: the list's members, as JSON text)."""
    url = f"/api/v1/projects/{project.id}"
    response: Response = client.put(
        f"{url}/funding",
        content=f'{{"sources": [{sources}]}}',
        headers={**keys.finance, **JSON, **if_match(client, keys, url)},
    )
    return response


def test_a_key_twice_in_a_nested_object_is_named_by_its_path(
    client: TestClient, keys: Keys, project: Project
) -> None:
    before = client.get(f"/api/v1/projects/{project.id}/funding", headers=keys.viewer)
    response = _put_funding(
        client,
        keys,
        project,
        '{"funding_source": "county", "planned": "10.00"},'
        ' {"funding_source": "county", "planned": "1.00", "planned": "2.00"}',
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["sources.1.planned"]
    after = client.get(f"/api/v1/projects/{project.id}/funding", headers=keys.viewer)
    assert after.json() == before.json()


def test_the_same_key_in_two_objects_is_not_a_duplicate(
    client: TestClient, keys: Keys, project: Project
) -> None:
    response = _put_funding(
        client,
        keys,
        project,
        '{"funding_source": "county", "planned": "10.00"},'
        ' {"funding_source": "central_budget", "planned": "2.00"}',
    )
    assert response.status_code == 200, response.text
    plan = client.get(f"/api/v1/projects/{project.id}/funding", headers=keys.viewer).json()
    assert {(s["funding_source"], s["planned"]) for s in plan["sources"]} >= {
        ("county", "10.00"),
        ("central_budget", "2.00"),
    }


def test_two_authorization_headers_are_refused_naming_the_header(
    client: TestClient, keys: Keys
) -> None:
    admin = keys.admin["Authorization"]
    for second in (admin, keys.viewer["Authorization"], "Bearer unknown"):
        response = client.get(
            "/api/v1/programmes", headers=[("Authorization", admin), ("Authorization", second)]
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert [(e["field"], e["location"]) for e in problem["errors"]] == [
            ("Authorization", "header")
        ]
        assert "once" in problem["detail"]
    assert client.get("/api/v1/programmes", headers=[("Authorization", admin)]).status_code == 200


def test_two_idempotency_keys_post_nothing(
    client: TestClient, keys: Keys, project: Project
) -> None:
    response = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "100.00", "IDEM-TWICE"),
        headers=[
            *keys.finance.items(),
            ("Idempotency-Key", "first-key"),
            ("Idempotency-Key", "second-key"),
        ],
    )
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["Idempotency-Key"]
    assert _ledger_total(client, keys, project.id) == 0


def test_the_repeated_header_refusal_is_documented(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/disbursements"]["post"]
    assert "400" in operation["responses"]


def _numeric_world(client: TestClient, keys: Keys, session: Session) -> dict[str, str]:
    """The matrix's own objects by their numeric ids, each `ref` (project, programme, site,
    funding source) among them."""
    ids = build_world(client, keys, session)["own"]
    programme = client.get(f"/api/v1/programmes/{ids['programme']}", headers=keys.admin)
    sources = client.get("/api/v1/funding-sources", headers=keys.admin).json()
    [source] = [s["id"] for s in sources if s["code"] == ids["source"]]
    return {**ids, "programme": str(programme.json()["id"]), "source": str(source)}


def _number(template: str, name: str, ids: dict[str, str]) -> str:
    if name != "ref":
        return ids[name]
    for prefix, key in (
        ("/api/v1/projects", "project"),
        ("/api/v1/programmes", "programme"),
        ("/api/v1/sites", "site"),
        ("/api/v1/funding-sources", "source"),
    ):
        if template.startswith(prefix):
            return ids[key]
    raise AssertionError(f"no object for {template}")


# A body that would pass, where the route reads its path's object only after its body.
BODIES = {("POST", "/api/v1/programmes/{ref}/plan-items"): {"code": "专栏9", "name": "路径"}}


def _fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1).split(":")[0]], template)


def _misspelt(number: str) -> list[str]:
    """Ways to write a number that are not its plain digits (percent-encoded as sent)."""
    full_width = "".join(chr(ord(d) + 0xFEE0) for d in number)
    return [
        f"{number}%20",
        f"%20{number}",
        f"{number}%0A",
        f"+{number}",
        f"%2B{number}",
        f"0{number}",
        f"{number}.0",
        f"{number}_0",
        full_width,
        f"-{number}",
    ]


def test_a_path_id_is_its_plain_digits_on_every_route(
    client: TestClient, keys: Keys, session: Session, connection: Connection
) -> None:
    ids = _numeric_world(client, keys, session)
    failures = []
    routes = sorted(k for k, (allowed, _) in MATRIX.items() if allowed != "public" and "{" in k[1])
    assert len(routes) > 20
    for method, template in routes:
        role = ROLES[MATRIX[(method, template)][0][0]]
        names = [n.split(":")[0] for n in re.findall(r"\{([^}]+)\}", template)]
        numbers = {name: _number(template, name, ids) for name in names}
        for name in names:
            for written in _misspelt(numbers[name]):
                path = _fill(template, {**numbers, name: written})
                savepoint = connection.begin_nested()
                try:
                    response = client.request(
                        method,
                        path,
                        json=BODIES.get((method, template), {}),
                        headers={**keys.for_role(role), "If-Match": "x"},
                    )
                finally:
                    savepoint.rollback()
                refused = response.status_code == 404 or (
                    response.status_code == 422
                    and any(e["location"] == "path" for e in response.json()["errors"])
                )
                if not refused:
                    failures.append(f"{method} {path} as {role}: {response.status_code}")
    assert not failures, "\n".join(failures)


def _if_match_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every operation that takes If-Match, from the OpenAPI document."""
    paths = client.get("/openapi.json").json()["paths"]
    return sorted(
        (method.upper(), template)
        for template, operations in paths.items()
        for method, operation in operations.items()
        if any(p["name"] == "If-Match" for p in operation.get("parameters", []))
    )


# A body each route would take; the write is refused for its If-Match alone.
WRITES = {
    ("PUT", "/api/v1/projects/{ref}/funding"): {
        "sources": [{"funding_source": "county", "planned": "5.00"}]
    },
    ("PATCH", "/api/v1/contracts/{contract_id}"): {"title": "改名"},
}
# The read whose ETag guards each write.
READS = {"/api/v1/projects/{ref}/funding": "/api/v1/projects/{ref}"}


def test_if_match_star_is_refused_on_every_write_that_takes_if_match(
    client: TestClient, keys: Keys, session: Session
) -> None:
    ids = _numeric_world(client, keys, session)
    routes = _if_match_routes(client)
    assert len(routes) >= 5, routes
    for method, template in routes:
        values = {
            name: _number(template, name, ids) for name in re.findall(r"\{([^}]+)\}", template)
        }
        read_url = _fill(READS.get(template, template), values)
        before = client.get(read_url, headers=keys.admin)
        body = WRITES.get((method, template), {"name": "改名"})
        for star in ("*", 'W/"x", *'):
            response = client.request(
                method,
                _fill(template, values),
                json=body,
                headers={**keys.admin, "If-Match": star},
            )
            assert response.status_code == 428, (method, template, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert "ETag" in response.json()["detail"]
        after = client.get(read_url, headers=keys.admin)
        assert (after.headers.get("ETag"), after.json()) == (
            before.headers.get("ETag"),
            before.json(),
        )
        # With the ETag read, the same write goes through: the refusal was for `*` alone.
        done = client.request(
            method,
            _fill(template, values),
            json=body,
            headers={**keys.admin, "If-Match": before.headers["ETag"]},
        )
        assert done.status_code == 200, (method, template, done.text)


def test_an_id_too_large_or_zero_is_refused_not_an_error(client: TestClient, keys: Keys) -> None:
    for template in (
        "/api/v1/contracts/{}",
        "/api/v1/disbursements/{}",
        "/api/v1/projects/{}",
        "/api/v1/programmes/{}",
    ):
        for number in ("0", "2147483648", "99999999999", "9" * 60, "9" * 5000):
            response = client.get(template.format(number), headers=keys.admin)
            assert response.status_code in (404, 422), (template, number[:12], response.text)
            assert response.headers["content-type"] == "application/problem+json"
