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


def _changed(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = DEMO.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new, 1)
    changed = tmp_path / "demo.toml"
    changed.write_text(text, encoding="utf-8")
    return changed


def test_a_changed_file_is_reported_not_applied(session: Session, tmp_path: Path) -> None:
    load_file(session=session, path=DEMO)
    changed = _changed(tmp_path, ('estimate_wan = "1234.5678"', 'estimate_wan = "1300"'))
    result = load_file(session=session, path=changed)
    assert not result.changed
    assert result.report == [
        "DEMO-1 original_estimate: database 12345678.00, seed 13000000.00 "
        "(kept; run seed --update to apply)"
    ]
    assert result.summary() == (
        "nothing changed; 1 difference with the database kept (run seed --update to apply)"
    )
    project = session.exec(select(Project).where(Project.code == "DEMO-1")).one()
    assert str(project.original_estimate) == "12345678.00"
    assert project.version == 1


def test_update_applies_a_changed_file(session: Session, tmp_path: Path) -> None:
    load_file(session=session, path=DEMO)
    changed = _changed(tmp_path, ('estimate_wan = "1234.5678"', 'estimate_wan = "1300"'))
    result = load_file(session=session, path=changed, update=True)
    assert result.updated == {"projects": 1}
    assert result.report == [
        "DEMO-1 original_estimate: database 12345678.00, seed 13000000.00 (updated)"
    ]
    project = session.exec(select(Project).where(Project.code == "DEMO-1")).one()
    assert str(project.original_estimate) == "13000000.00"
    assert project.revised_estimate == project.original_estimate
    assert project.version == 2
    assert load_file(session=session, path=changed).summary() == (
        "nothing to change: the register already holds this file"
    )


def test_update_lowers_lines_before_the_estimate_they_fit_in(
    session: Session, tmp_path: Path
) -> None:
    load_file(session=session, path=DEMO)
    changed = _changed(
        tmp_path,
        ('estimate_wan = "1234.5678"', 'estimate_wan = "1200"'),
        ('estimate_wan = "234.5678"', 'estimate_wan = "200"'),
    )
    result = load_file(session=session, path=changed, update=True)
    assert result.updated == {"budget lines": 1, "projects": 1}
    project = session.exec(select(Project).where(Project.code == "DEMO-1")).one()
    assert str(project.revised_estimate) == "12000000.00"


def test_what_the_file_adds_is_created_beside_what_is_kept(
    session: Session, tmp_path: Path
) -> None:
    load_file(session=session, path=DEMO)
    extra_line = (
        '\n[[projects.budget_lines]]\ncode = "DEMO-1-C"\nname = "监理费"\n'
        'cost_category = "other"\nestimate_wan = "10"\n'
    )
    changed = tmp_path / "demo.toml"
    changed.write_text(DEMO.read_text(encoding="utf-8") + extra_line, encoding="utf-8")
    kept = load_file(session=session, path=changed)
    assert not kept.changed
    assert kept.report == [
        "DEMO-1 budget line DEMO-1-C: not created: budget lines would total 12445678.00, "
        "above the project's estimate 12345678.00 (kept; run seed --update to apply)"
    ]
    fits = changed.read_text(encoding="utf-8").replace(
        'estimate_wan = "1234.5678"', 'estimate_wan = "1244.5678"'
    )
    changed.write_text(fits, encoding="utf-8")
    assert load_file(session=session, path=changed).summary() == (
        "nothing changed; 2 differences with the database kept (run seed --update to apply)"
    )
    applied = load_file(session=session, path=changed, update=True)
    assert applied.summary() == "created 1 budget lines, updated 1 projects"


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


def test_programme_plan_items_and_sites_are_compared_too(
    client: TestClient, keys: Keys, session: Session, tmp_path: Path
) -> None:
    load_file(session=session, path=DEMO)
    changed = _changed(
        tmp_path,
        ("end_year = 2028", "end_year = 2029"),
        ('name = "校舍改造"', 'name = "校舍加固"'),
        ('kind = "complete_secondary"', 'kind = "junior_secondary"'),
        ('region = "示例县"', 'region = "另一县"'),
    )
    kept = load_file(session=session, path=changed)
    assert kept.report == [
        "programme DEMO-COUNTY-2026 region: database 示例县, seed 另一县 "
        "(kept: a programme's sites are found in its region; a seed does not move it)",
        "programme DEMO-COUNTY-2026 end_year: database 2028, seed 2029 "
        "(kept; run seed --update to apply)",
        "plan item 第二章 name: database 校舍改造, seed 校舍加固 "
        "(kept; run seed --update to apply)",
        "site 陶乐中学 kind: database complete_secondary, seed junior_secondary "
        "(kept; run seed --update to apply)",
    ]
    applied = load_file(session=session, path=changed, update=True)
    assert applied.updated == {"plan items": 1, "programmes": 1, "sites": 1}
    session.commit()
    programme = client.get("/api/v1/programmes/DEMO-COUNTY-2026", headers=keys.viewer).json()
    assert (programme["region"], programme["end_year"]) == ("示例县", 2029)
    assert [i["name"] for i in programme["plan_items"]] == ["同名专栏也不冲突", "校舍加固"]
    sites = client.get("/api/v1/sites", params={"region": "示例县"}, headers=keys.viewer).json()
    assert sorted(s["kind"] for s in sites["items"]) == ["junior_secondary", "primary"]
