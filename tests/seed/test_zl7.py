"""The 专栏7 seed: the plan's facts, exactly, through the API."""

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.models import metadata
from seed import DEFAULT_SEED
from seed.loader import load_file
from tests.factories import Keys


def test_seven_projects_with_exact_estimates(client: TestClient, keys: Keys, zl7: None) -> None:
    body = client.get("/api/v1/projects", headers=keys.viewer).json()
    assert body["total"] == 7
    estimates = {p["code"]: p["original_estimate"] for p in body["items"]}
    assert estimates == {
        "ZL7-1": "57413600.00",
        "ZL7-2A": "111900000.00",
        "ZL7-2B": "67216000.00",
        "ZL7-3": "120860000.00",
        "ZL7-4": "5685000.00",
        "ZL7-5": "43500000.00",
        "ZL7-6": "47429400.00",
    }


def test_programme_total_is_45400_40_wan(client: TestClient, keys: Keys, zl7: None) -> None:
    programme = client.get("/api/v1/programmes/PL-EDU-2021-2025", headers=keys.viewer).json()
    assert programme["original_estimate"] == "454004000.00"
    assert programme["project_count"] == 7
    assert [(i["code"], i["original_estimate"]) for i in programme["plan_items"]] == [
        ("专栏7", "454004000.00")
    ]


def test_zl7_6_has_six_budget_lines_summing_to_its_estimate(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    project = client.get("/api/v1/projects/ZL7-6", headers=keys.viewer).json()
    lines = project["budget_lines"]
    assert [(line["name"], line["quantity"], line["unit"], line["estimate"]) for line in lines] == [
        ("生活设施", "3752.00", "台/件", "3600000.00"),
        ("学生可调式课桌凳", "21236.00", "单人套", "6356200.00"),
        ("计算机", "3463.00", "台", "16660000.00"),
        ("实验实习设备", "94837.00", "台/件", "18184800.00"),
        ("音体美器材", "9202.00", "台/件", "2072200.00"),
        ("图书", "27810.00", "册", "556200.00"),
    ]
    from decimal import Decimal

    assert sum(Decimal(line["estimate"]) for line in lines) == Decimal("47429400.00")
    assert project["original_estimate"] == "47429400.00"


def test_scope_of_zl7_2b(client: TestClient, keys: Keys, zl7: None) -> None:
    project = client.get("/api/v1/projects/ZL7-2B", headers=keys.viewer).json()
    assert project["name"] == "新建平罗县城关第九小学"
    assert project["land_area_m2"] == "48150.00"
    assert project["building_area_m2"] == "13203.00"
    assert [s["name"] for s in project["sites"]] == ["城关第九小学"]
    assert project["category"] == "new_build"
    assert project["stages"] == ["compulsory"]


def test_taole_middle_school_belongs_to_two_projects(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    body = client.get("/api/v1/sites", params={"q": "陶乐中学"}, headers=keys.viewer).json()
    assert body["total"] == 1
    assert [p["code"] for p in body["items"][0]["projects"]] == ["ZL7-2A", "ZL7-5"]
    by_site = client.get(
        "/api/v1/projects", params={"site": "陶乐中学"}, headers=keys.viewer
    ).json()
    assert [p["code"] for p in by_site["items"]] == ["ZL7-2A", "ZL7-5"]


def test_alias_finds_the_site(client: TestClient, keys: Keys, zl7: None) -> None:
    body = client.get("/api/v1/sites", params={"q": "城关六小"}, headers=keys.viewer).json()
    assert [s["name"] for s in body["items"]] == ["城关第六小学"]
    assert "城关六小" in body["items"][0]["aliases"]
    for alias, name in [("城关二小", "城关第二小学"), ("平罗四中", "平罗县第四中学")]:
        found = client.get("/api/v1/sites", params={"q": alias}, headers=keys.viewer).json()
        assert [s["name"] for s in found["items"]] == [name]


def _row_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.exec(select(func.count()).select_from(table)).one()
        for table in metadata.sorted_tables
    }


def _snapshot(session: Session) -> dict[str, list[tuple[object, ...]]]:
    return {
        table.name: sorted(
            (tuple(row) for row in session.connection().execute(table.select())), key=repr
        )
        for table in metadata.sorted_tables
        if table.name != "api_key"
    }


def test_loading_twice_changes_nothing(session: Session, zl7: None) -> None:
    before = _snapshot(session)
    result = load_file(session=session, path=DEFAULT_SEED)
    assert not result.changed
    assert _snapshot(session) == before
    assert _row_counts(session)["project"] == 7
