"""`python -m app export oc4ids`: the same document as the API, to a file or standard output."""

import json
from pathlib import Path

from fastapi.testclient import TestClient

from app.auth.actor import CLI_ACTOR
from app.auth.models import Role
from app.config import Settings
from app.db import SessionFactory, make_engine
from app.keys import service as key_service
from app.keys.schemas import ApiKeyCreate
from app.main import create_app
from tests.oc4ids.conftest import Oc4idsSchema
from tests.test_cli import run_cli


def test_the_command_writes_the_document_the_api_serves(
    scratch_url: str, tmp_path: Path, oc4ids_schema: Oc4idsSchema
) -> None:
    assert run_cli(scratch_url, "migrate").returncode == 0
    assert run_cli(scratch_url, "seed").returncode == 0
    # The key first: its audit entry is a change to the data (the package's publishedDate).
    factory = SessionFactory(make_engine(Settings(database_url=scratch_url)))
    with factory.begin(write=True) as session:
        _, key = key_service.create_key(
            session=session,
            actor=CLI_ACTOR,
            data=ApiKeyCreate(name="开放数据", role=Role.viewer),
            key_prefix="ctk",
        )
    output = tmp_path / "zl7.json"
    done = run_cli(
        scratch_url, "export", "oc4ids", "--programme", "PL-EDU-2021-2025",
        "--as-of", "2025-12-31", "--output", str(output),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{output}: 7 projects as of 2025-12-31"
    written = output.read_bytes()
    assert oc4ids_schema.errors(json.loads(written)) == []

    with TestClient(create_app(Settings(database_url=scratch_url), factory)) as client:
        served = client.get(
            "/api/v1/exports/oc4ids",
            params={"programme": "PL-EDU-2021-2025", "as_of": "2025-12-31"},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert served.status_code == 200, served.text
    assert written == served.content

    to_stdout = run_cli(scratch_url, "export", "oc4ids", "--as-of", "2025-12-31")
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert json.loads(to_stdout.stdout)["projects"] == json.loads(written)["projects"]


def test_the_command_refuses_what_the_api_refuses(scratch_url: str) -> None:
    assert run_cli(scratch_url, "migrate").returncode == 0
    empty = run_cli(scratch_url, "export", "oc4ids")
    assert empty.returncode == 2 and "no project to publish" in empty.stderr
    assert run_cli(scratch_url, "seed").returncode == 0
    unknown = run_cli(scratch_url, "export", "oc4ids", "--programme", "NO-SUCH")
    assert unknown.returncode == 2 and "NO-SUCH" in unknown.stderr
    bad_date = run_cli(scratch_url, "export", "oc4ids", "--as-of", "2025-02-30")
    assert bad_date.returncode == 2 and "--as-of" in bad_date.stderr
