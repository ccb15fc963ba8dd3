"""retention release: an early release of a contract's retention, with its reason

Revision ID: 5d1c7e0a9b42
Revises: b479a202d47e
Create Date: 2026-12-06 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1c7e0a9b42"
down_revision: str | None = "b479a202d47e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_released_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("retention_release_reason", sa.String(length=2000), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.drop_column("retention_release_reason")
        batch_op.drop_column("retention_released_on")
