"""codes compared by key

Codes are compared the way voucher and contract numbers are: by a key kept beside them (NFKC
of the case-folded, NFKC-normalised, trimmed text: app.inputs.identifier_key), unique where
the code is: a project's and a programme's code, a budget line's and a milestone's within
their project, a plan item's within its programme. Funding-source codes are not keyed.

Existing rows keep their code as written. Their key is computed here with the rule as it is
today (copied, not imported, so this migration means the same thing later). Where two
existing rows already share a key ('ZL7-2B' and 'zl7-2b'), the earlier row keeps it and each
later one's key gets a unit separator (U+001F, which no code may contain) and its own id, so
both stay as they were, the later one found by its id, and no new row can take either code.

Revision ID: 3b8d2f61c0e7
Revises: 7c1e5a90d2b4
Create Date: 2026-12-06 17:20:00.000000
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b8d2f61c0e7"
down_revision: str | None = "7c1e5a90d2b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEPARATOR = "\x1f"

# Each table with a code, and the column its code is unique within (None: unique overall).
_SCOPES: dict[str, str | None] = {
    "programme": None,
    "plan_item": "programme_id",
    "project": None,
    "budget_line": "project_id",
    "milestone": "project_id",
}


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).strip().casefold())


def _index(table: str) -> str:
    scope = _SCOPES[table]
    return f"uq_{table}_{scope}_code_key" if scope else f"uq_{table}_code_key"


def _backfill(connection: sa.Connection, table: str) -> None:
    """Each row's key in id order, the later of two rows sharing a key in a scope keeping it
    apart with its id."""
    scope = _SCOPES[table]
    rows = connection.execute(
        sa.text(f"SELECT id, {scope or '0'}, code FROM {table} ORDER BY id")
    ).all()
    seen: set[tuple[int, str]] = set()
    keyed: list[dict[str, object]] = []
    for row_id, within, code in rows:
        key = _key(code)
        if (within, key) in seen:
            key = f"{key}{_SEPARATOR}{row_id}"
        seen.add((within, key))
        keyed.append({"b_id": row_id, "b_key": key})
    if keyed:
        rows_of = sa.table(table, sa.column("id"), sa.column("code_key"))
        connection.execute(
            rows_of.update()
            .where(rows_of.c.id == sa.bindparam("b_id"))
            .values(code_key=sa.bindparam("b_key")),
            keyed,
        )


def upgrade() -> None:
    # Columns and indexes only: SQLite would rebuild a table to change its constraints, which
    # fails on tables other rows point to.
    for table, scope in _SCOPES.items():
        op.add_column(table, sa.Column("code_key", sa.String(length=255), nullable=True))
        _backfill(op.get_bind(), table)
        op.create_index(
            _index(table), table, [scope, "code_key"] if scope else ["code_key"], unique=True
        )


def downgrade() -> None:
    for table in reversed(_SCOPES):
        op.drop_index(_index(table), table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("code_key")
