"""The one lock every change to a project's money takes first: its balance row.

Payments, reversals, revisions, funding plans and edits of the estimate, policy or budget
lines all take it before anything else of the project, so the budget check never reads a
figure that is being changed, and locks are always taken in the same order (no deadlocks).
"""

from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlmodel import Session

from app.errors import InvalidInput
from app.ledger import statements as sql


def lock_project_balance(session: Session, project_id: int) -> Row[*tuple[Any, ...]]:
    """Take the project's balance row for the rest of the transaction (creating it if new).
    Raises InvalidInput if there is no such project."""
    conn = session.connection()
    row = conn.execute(sql.LOCK_BALANCE, {"project_id": project_id}).first()
    if row is None:
        if conn.execute(sql.PROJECT_EXISTS, {"project_id": project_id}).first() is None:
            raise InvalidInput(f"project {project_id} does not exist", field="project_id")
        conn.execute(
            sql.dialect_statements(session.get_bind().dialect.name)["create_balance"],
            {"project_id": project_id, "disbursed": Decimal(0), "payments": 0, "reversals": 0},
        )
        row = conn.execute(sql.LOCK_BALANCE, {"project_id": project_id}).one()
    return row
