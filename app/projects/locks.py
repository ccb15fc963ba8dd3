"""The one lock every change to a project's money takes first: its balance row.

Payments, reversals, revisions, funding plans, contracts and edits of the estimate, policy or
budget lines all take it before anything else of the project, so the budget check never
reads a figure that is being changed, and locks are always taken in the same order (no
deadlocks). On SQLite the write transaction is exclusive already; the same statements run.
"""

from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.errors import InvalidInput
from app.ledger.models import ProjectBalance
from app.projects.models import Project

_balance = ProjectBalance.__table__  # type: ignore[attr-defined]
_LOCK = (
    select(_balance.c.disbursed, _balance.c.payments, _balance.c.reversals)
    .where(_balance.c.project_id == bindparam("project_id"))
    .with_for_update()
)
_EXISTS = select(Project.__table__.c.id).where(  # type: ignore[attr-defined]
    Project.__table__.c.id == bindparam("project_id")  # type: ignore[attr-defined]
)
_CREATE = insert(_balance).values(
    project_id=bindparam("project_id"), disbursed=Decimal(0), payments=0, reversals=0
)


def lock_project_balance(session: Session, project_id: int) -> Row[Any]:
    """Take the project's balance row (disbursed, payments, reversals) for the rest of the
    transaction, creating it on the project's first change. InvalidInput if there is no such
    project."""
    connection = session.connection()
    row = connection.execute(_LOCK, {"project_id": project_id}).first()
    if row is not None:
        return row
    if connection.execute(_EXISTS, {"project_id": project_id}).first() is None:
        raise InvalidInput(f"project {project_id} does not exist", field="project_id")
    try:
        # Another transaction may be creating it at this moment: then this one waits for it
        # to commit, is refused the duplicate, and locks the row it made.
        with session.begin_nested():
            # Asked of the session inside the block, so that its SAVEPOINT is emitted first.
            session.connection().execute(_CREATE, {"project_id": project_id})
    except IntegrityError:
        pass
    return connection.execute(_LOCK, {"project_id": project_id}).one()
