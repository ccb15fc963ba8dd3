"""The loader is general: any programme file loads, beside others, and bad files write nothing."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.projects.models import Project
from seed.loader import SeedError, load_file
from tests.conftest import DATA
from tests.factories import Keys

DEMO = DATA / "demo_programme.toml"


def test_a_second_programme_loads_beside_zl7(
    client: TestClient, keys: Keys, session: Session, zl7: None
) -> None:
    result = load_file(session=session, path=DEMO)
    session.commit()
    assert result.created["projects"] == 1
    programmes = client.get("/api/v1/programmes", headers=keys.viewer).json()
    assert [(p["code"], p["original_estimate"]) for p in programmes["items"]] == [
        ("PL-EDU-2021-2025", "454004000.00"),
        ("DEMO-COUNTY-2026", "12345678.00"),
    ]
    demo = client.get("/api/v1/projects/DEMO-1", headers=keys.viewer).json()
    assert demo["budget_policy"] == "block" and demo["warn_threshold"] == "0.95"
    assert demo["building_area_m2"] == "3200.50"
    assert [line["estimate"] for line in demo["budget_lines"]] == ["10000000.00", "2345678.00"]
    # Two schools called 陶乐中学, one per county; each keeps its own projects.
    taole = client.get("/api/v1/sites", params={"q": "陶乐中学"}, headers=keys.viewer).json()
    assert sorted((s["region"], len(s["projects"])) for s in taole["items"]) == [
        ("平罗县", 2),
        ("示例县", 1),
    ]
    only_demo = client.get(
        "/api/v1/projects", params={"programme": "DEMO-COUNTY-2026"}, headers=keys.viewer
    ).json()
    assert [p["code"] for p in only_demo["items"]] == ["DEMO-1"]
    assert not load_file(session=session, path=DEMO).changed


def test_a_changed_file_updates_in_place(session: Session, tmp_path: Path) -> None:
    load_file(session=session, path=DEMO)
    changed = tmp_path / "demo.toml"
    changed.write_text(
        DEMO.read_text(encoding="utf-8").replace(
            'estimate_wan = "1234.5678"', 'estimate_wan = "1300"'
        ),
        encoding="utf-8",
    )
    result = load_file(session=session, path=changed)
    assert result.updated == {"projects": 1}
    project = session.exec(select(Project).where(Project.code == "DEMO-1")).one()
    assert str(project.original_estimate) == "13000000.00"
    assert project.revised_estimate == project.original_estimate
    assert project.version == 2


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('estimate_wan = "1234.5678"', "estimate_wan = 1234.5678", "estimate_wan"),
        ('estimate_wan = "1234.5678"', 'estimate_wan = "1234.5678901"', "estimate_wan"),
        ('category = "renovation"', 'category = "palace"', "category"),
        ('sites = ["示例县实验小学", "陶乐中学"]', 'sites = ["不存在的学校"]', "不存在的学校"),
        ('estimate_wan = "1000"', 'estimate_wan = "2000"', "above the project's estimate"),
    ],
    ids=["float", "below-a-fen", "bad-category", "unknown-site", "lines-over-estimate"],
)
def test_bad_file_is_refused(
    session: Session, tmp_path: Path, old: str, new: str, message: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(DEMO.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    savepoint = session.begin_nested()
    with pytest.raises(SeedError, match=message):
        load_file(session=session, path=bad)
    savepoint.rollback()
    assert session.exec(select(func.count()).select_from(Project)).one() == 0
