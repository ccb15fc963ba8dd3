"""Programme reads: staff see every programme's totals; a contractor reads nothing
programme-wide beyond the projects it holds a contract on."""

from decimal import Decimal

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import Keys, make_contract, make_plan_item, make_programme, make_project


def _two_programmes(session: Session, client: TestClient, keys: Keys) -> tuple[str, str]:
    """Programme A: its project with the contractor's contract (1,000.00) and another in a
    second plan item (20,000.00); programme B: one project (300,000.00), no contract."""
    programme_a, item_a = make_programme(session)
    other_item = make_plan_item(session, programme_a, "专栏2", "他人专栏")
    own = make_project(session, item_a, estimate=Decimal("1000.00"))
    make_project(session, item_a, estimate=Decimal("20000.00"))
    make_project(session, other_item, estimate=Decimal("50000.00"))
    programme_b, item_b = make_programme(session)
    make_project(session, item_b, estimate=Decimal("300000.00"))
    make_contract(client, keys, own.id, "HT-SCOPE-1", "900.00")
    return programme_a.code, programme_b.code


def test_contractor_reads_only_its_own_projects_figures(
    session: Session, client: TestClient, keys: Keys
) -> None:
    code_a, code_b = _two_programmes(session, client, keys)

    listing = client.get("/api/v1/programmes", headers=keys.contractor)
    assert listing.status_code == 200, listing.text
    assert listing.json()["total"] == 1
    [seen] = listing.json()["items"]
    one = client.get(f"/api/v1/programmes/{code_a}", headers=keys.contractor)
    assert one.status_code == 200, one.text
    for read in (seen, one.json()):
        assert read["code"] == code_a
        assert (read["project_count"], read["original_estimate"]) == (1, "1000.00")
        assert read["revised_estimate"] == "1000.00"
        assert [
            (i["code"], i["project_count"], i["original_estimate"]) for i in read["plan_items"]
        ] == [("专栏1", 1, "1000.00")]

    # A programme with no project of its own does not exist for it, by code or by id.
    programme_b = client.get(f"/api/v1/programmes/{code_b}", headers=keys.admin).json()
    for ref in (code_b, str(programme_b["id"])):
        hidden = client.get(f"/api/v1/programmes/{ref}", headers=keys.contractor)
        assert hidden.status_code == 404, hidden.text
        assert "300000.00" not in hidden.text


def test_staff_read_every_programme_with_all_its_projects(
    session: Session, client: TestClient, keys: Keys
) -> None:
    code_a, code_b = _two_programmes(session, client, keys)
    for role in ("admin", "finance", "viewer"):
        reads = {
            p["code"]: p
            for p in client.get(
                "/api/v1/programmes", params={"limit": 500}, headers=keys.for_role(role)
            ).json()["items"]
        }
        assert (reads[code_a]["project_count"], reads[code_a]["original_estimate"]) == (
            3,
            "71000.00",
        )
        assert [i["project_count"] for i in reads[code_a]["plan_items"]] == [2, 1]
        assert reads[code_b]["original_estimate"] == "300000.00"


def test_a_contractor_without_contracts_sees_no_programme(
    session: Session, client: TestClient, keys: Keys
) -> None:
    programme, item = make_programme(session)
    make_project(session, item)
    listing = client.get("/api/v1/programmes", headers=keys.contractor).json()
    assert (listing["total"], listing["items"]) == (0, [])
    hidden = client.get(f"/api/v1/programmes/{programme.id}", headers=keys.contractor)
    assert hidden.status_code == 404
