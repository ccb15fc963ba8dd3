"""month balances: the ledger's balances again per calendar month, filled from the entries

A figure as of a past date reads the months before the date's own from these tables and the
entries of its own month through the new (paid_on, keys…, amount) index, instead of every
entry up to the date. The tables are filled here from the entries already posted; from now
on each entry moves them in its own transaction. The statements are written out here (not
imported from the app) so this migration means the same thing later.

Revision ID: 7c2e5a9d1b36
Revises: 9e4a6c2d7f15
Create Date: 2026-12-06 21:52:26.701354
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c2e5a9d1b36"
down_revision: str | None = "9e4a6c2d7f15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "funding_month",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("funding_source_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("disbursed", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["funding_source_id"],
            ["funding_source.id"],
            name=op.f("fk_funding_month_funding_source_id_funding_source"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_funding_month_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "funding_source_id", "month", name=op.f("pk_funding_month")
        ),
    )
    op.create_table(
        "project_month",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("disbursed", sa.BigInteger(), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("reversals", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_project_month_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "month", name=op.f("pk_project_month")),
    )
    op.create_table(
        "budget_line_month",
        sa.Column("budget_line_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("disbursed", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["budget_line_id"],
            ["budget_line.id"],
            name=op.f("fk_budget_line_month_budget_line_id_budget_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("budget_line_id", "month", name=op.f("pk_budget_line_month")),
    )
    op.create_table(
        "contract_month",
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
            name=op.f("fk_contract_month_contract_id_contract"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contract_id", "month", name=op.f("pk_contract_month")),
    )
    # Not in batch mode: on SQLite that could rebuild the table, and drop its triggers.
    op.drop_index("ix_disbursement_paid_on_amount", table_name="disbursement")
    op.create_index(
        "ix_disbursement_paid_on_keys",
        "disbursement",
        ["paid_on", "project_id", "contract_id", "budget_line_id", "funding_source_id", "amount"],
    )
    month = (
        "date(paid_on, 'start of month')"
        if op.get_bind().dialect.name == "sqlite"
        else "CAST(date_trunc('month', paid_on) AS DATE)"
    )
    counts = "COUNT(*) FILTER (WHERE kind = 'payment'), COUNT(*) FILTER (WHERE kind = 'reversal')"
    for table, keys, amount, counted in (
        ("project_month", "project_id", "disbursed", True),
        ("budget_line_month", "budget_line_id", "disbursed", False),
        ("contract_month", "contract_id", "paid", False),
        ("funding_month", "project_id, funding_source_id", "disbursed", False),
    ):
        not_null = " AND ".join(f"{key.strip()} IS NOT NULL" for key in keys.split(","))
        op.execute(
            f"INSERT INTO {table} ({keys}, month, {amount}"
            + (", payments, reversals" if counted else "")
            + f") SELECT {keys}, {month}, SUM(amount)"
            + (f", {counts}" if counted else "")
            + f" FROM disbursement WHERE {not_null} GROUP BY {keys}, {month}"
        )


def downgrade() -> None:
    op.drop_index("ix_disbursement_paid_on_keys", table_name="disbursement")
    op.create_index("ix_disbursement_paid_on_amount", "disbursement", ["paid_on", "amount"])

    op.drop_table("contract_month")
    op.drop_table("budget_line_month")
    op.drop_table("project_month")
    op.drop_table("funding_month")
