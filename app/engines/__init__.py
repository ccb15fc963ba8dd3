"""What differs between the two database engines, and nothing else.

Every query of the service is portable SQL. The few things SQLite and PostgreSQL must do
differently are functions of the same names in `app/engines/sqlite.py` and
`app/engines/postgresql.py`; `rules()` picks the module for a dialect. docs/ARCHITECTURE.md
lists each difference and the reason (or the benchmark) that keeps it.
"""

from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.engine import URL

from app.config import Settings
from app.engines import postgresql, sqlite


class EngineRules(Protocol):
    def create_engine(self, url: URL, settings: Settings) -> Engine: ...

    def read_options(self) -> dict[str, Any]: ...

    def lookup_options(self, *, snapshot: bool) -> dict[str, Any]: ...

    def claim_request(self, connection: Connection, key: int) -> bool: ...

    def append_audit_entries(
        self, connection: Connection, contents: list[dict[str, Any]]
    ) -> None: ...

    def insert_rows(
        self, connection: Connection, table: Table, rows: list[dict[str, Any]]
    ) -> None: ...

    def new_ids(self, connection: Connection, table: Table, count: int) -> list[int]: ...

    def upsert(self, table: Table) -> Any: ...

    # The database writes each CSV line of a big export itself, read with COPY.
    CSV_LINES_IN_SQL: bool

    def write_queue(self, engine: Engine, *, wait_s: float) -> sqlite.WriteQueue | None: ...


def rules(dialect_name: str) -> EngineRules:
    """The rules of the engine behind a dialect ("sqlite" or "postgresql")."""
    return sqlite if dialect_name == "sqlite" else postgresql
