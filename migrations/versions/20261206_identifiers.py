"""identifiers compared by key; every reversal has its voucher number

Voucher and contract numbers are compared by a key kept beside them (NFKC of the case-folded,
NFKC-normalised, trimmed text: app.inputs.identifier_key), and the uniqueness the database
enforces extends from the text to the key (a unique index): a programme's vouchers (payments
and reversals, one number space) and a project's contract numbers.

Existing rows keep their text as written. Their key is computed here with the rule as it is
today (copied, not imported, so this migration means the same thing later). Where two
existing rows already share a key ('VCX-1' and 'vcx-1'), the earlier row keeps it and each
later one's key gets a unit separator (U+001F, which no identifier may contain) and its own
id, so that both stay in the ledger as they were and no new entry can take either number.

A reversal posted before reversals carried their own voucher number (红字冲销凭证号) gets
`红字冲销-<entry id>` (with `-2`, `-3`… should that be taken): the API now requires one.

Revision ID: 7c1e5a90d2b4
Revises: 5d1c7e0a9b42
Create Date: 2026-12-06 16:40:00.000000
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c1e5a90d2b4"
down_revision: str | None = "5d1c7e0a9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEPARATOR = "\x1f"


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).strip().casefold())


def _keyed(rows: Sequence[tuple[int, int, str]]) -> list[dict[str, object]]:
    """(id, scope, text) in id order → each row's id, text and key, the later of two rows
    sharing a key in a scope keeping it apart with its id."""
    seen: set[tuple[int, str]] = set()
    keyed: list[dict[str, object]] = []
    for row_id, scope, text in rows:
        key = _key(text)
        if (scope, key) in seen:
            key = f"{key}{_SEPARATOR}{row_id}"
        seen.add((scope, key))
        keyed.append({"b_id": row_id, "b_text": text, "b_key": key})
    return keyed


def _vouchers(connection: sa.Connection) -> list[tuple[int, int, str]]:
    """Every entry's voucher number; a reversal without one gets its generated number."""
    rows = connection.execute(
        sa.text("SELECT id, programme_id, voucher_no FROM disbursement ORDER BY id")
    ).all()
    taken = {(programme, _key(voucher)) for _, programme, voucher in rows if voucher is not None}
    vouchers = []
    for entry_id, programme, voucher in rows:
        if voucher is None:
            voucher, number = f"红字冲销-{entry_id}", 1
            while (programme, _key(voucher)) in taken:
                number += 1
                voucher = f"红字冲销-{entry_id}-{number}"
            taken.add((programme, _key(voucher)))
        vouchers.append((entry_id, programme, voucher))
    return vouchers


def _backfill(connection: sa.Connection) -> None:
    entry = sa.table(
        "disbursement", sa.column("id"), sa.column("voucher_no"), sa.column("voucher_key")
    )
    contract = sa.table("contract", sa.column("id"), sa.column("contract_key"))
    by_id = entry.c.id == sa.bindparam("b_id")
    if vouchers := _keyed(_vouchers(connection)):
        connection.execute(
            entry.update()
            .where(by_id)
            .values(voucher_no=sa.bindparam("b_text"), voucher_key=sa.bindparam("b_key")),
            vouchers,
        )
    numbers = connection.execute(
        sa.text("SELECT id, project_id, contract_no FROM contract ORDER BY id")
    ).all()
    if contracts := _keyed([tuple(row) for row in numbers]):
        connection.execute(
            contract.update()
            .where(contract.c.id == sa.bindparam("b_id"))
            .values(contract_key=sa.bindparam("b_key")),
            contracts,
        )


def upgrade() -> None:
    # Columns and indexes only: SQLite would rebuild a table to change its constraints, which
    # fails on a ledger whose rows point to each other (a reversal to its payment).
    op.add_column("disbursement", sa.Column("voucher_key", sa.String(length=255), nullable=True))
    op.add_column("contract", sa.Column("contract_key", sa.String(length=255), nullable=True))
    _backfill(op.get_bind())
    op.create_index(
        "uq_disbursement_programme_id_voucher_key",
        "disbursement",
        ["programme_id", "voucher_key"],
        unique=True,
    )
    op.create_index(
        "uq_contract_project_id_contract_key",
        "contract",
        ["project_id", "contract_key"],
        unique=True,
    )


def downgrade() -> None:
    # The reversals' generated voucher numbers stay: they are unique by the old rule too.
    op.drop_index("uq_contract_project_id_contract_key", table_name="contract")
    op.drop_index("uq_disbursement_programme_id_voucher_key", table_name="disbursement")
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.drop_column("contract_key")
    with op.batch_alter_table("disbursement", schema=None) as batch_op:
        batch_op.drop_column("voucher_key")
