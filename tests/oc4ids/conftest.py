"""The OC4IDS 0.9.5 schemas, read at test time from the reference copy beside the repository
(`../shared/reference/oc4ids/`, or OC4IDS_SCHEMA_DIR), never from the network: the package
schema names the project schema by its published URL, which a local registry resolves."""

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT4

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = Path(
    os.environ.get("OC4IDS_SCHEMA_DIR") or ROOT.parent / "shared" / "reference" / "oc4ids"
)
FILES = ("project-package-schema.json", "project-schema.json")

formats = FormatChecker(["email", "regex"])


@formats.checks("date-time", raises=ValueError)
def _date_time(text: object) -> bool:
    """RFC 3339: a date, a time and an offset (Z or ±hh:mm)."""
    if not isinstance(text, str):
        return True
    if "T" not in text or not (text.endswith("Z") or text[-6] in "+-"):
        raise ValueError(f"{text} has no time or no offset")
    datetime.fromisoformat(text)
    return True


@formats.checks("uri", raises=ValueError)
def _uri(text: object) -> bool:
    """An absolute URI: a scheme and, for http(s), a host."""
    if not isinstance(text, str):
        return True
    parts = urlsplit(text)
    if not parts.scheme or (parts.scheme in ("http", "https") and not parts.netloc):
        raise ValueError(f"{text} is not an absolute URI")
    return True


class Oc4idsSchema:
    """Validates a package against the project-package schema, each project against the
    project schema (the package schema's $ref), with the formats checked."""

    def __init__(self, folder: Path) -> None:
        package, project = (json.loads((folder / name).read_text("utf-8")) for name in FILES)
        registry: Registry[Any] = Registry().with_resources(
            (schema["id"], DRAFT4.create_resource(schema)) for schema in (package, project)
        )
        self.package = Draft4Validator(package, registry=registry, format_checker=formats)
        self.example = json.loads((folder / "example.json").read_text("utf-8"))

    def errors(self, document: Any) -> list[str]:
        """Each way the document breaks the schema, as `path: message`."""
        return [
            f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}"
            for error in sorted(self.package.iter_errors(document), key=str)
        ]


@pytest.fixture(scope="session")
def oc4ids_schema() -> Oc4idsSchema:
    missing = [name for name in FILES if not (SCHEMA_DIR / name).is_file()]
    if missing:
        pytest.skip(
            f"the OC4IDS 0.9.5 schema is not at {SCHEMA_DIR} ({', '.join(missing)} missing): "
            "put the reference files there or set OC4IDS_SCHEMA_DIR"
        )
    return Oc4idsSchema(SCHEMA_DIR)
