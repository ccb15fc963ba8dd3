"""What is committed on a date (docs/REPORTS.md, Definitions: committed): a contract counts
from the day it is signed, a price change order from the day it is approved. Per project for
the figures; per contract, with what was paid on it, for the contract terms of the project
report and of the dues report (app/contracts/terms.py)."""

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, func, select
from sqlmodel import Session

from app.contractors.models import Contractor
from app.contracts.models import ChangeOrder, Contract
from app.contracts.terms import ContractTerms, contract_terms
from app.money import fen, yuan
from app.projects.models import Project
from app.reports import asof

C = Contract.__table__  # type: ignore[attr-defined]
CO = ChangeOrder.__table__  # type: ignore[attr-defined]


def signed_by_project(*, scope: Select[Any], as_of: date) -> Subquery:
    """(project_id, amount): the prices of the contracts signed by the date, per project."""
    return (
        select(C.c.project_id, func.sum(fen(C.c.amount)).label("amount"))
        .where(C.c.signed_on <= as_of, C.c.project_id.in_(scope))
        .group_by(C.c.project_id)
        .subquery()
    )


def changes_by_project(*, scope: Select[Any], as_of: date) -> Subquery:
    """(project_id, amount): the price change orders approved by the date on the contracts
    signed by then, per project."""
    return (
        select(C.c.project_id, func.sum(fen(CO.c.delta)).label("amount"))
        .select_from(CO.join(C, C.c.id == CO.c.contract_id))
        .where(CO.c.approved_on <= as_of, C.c.signed_on <= as_of, C.c.project_id.in_(scope))
        .group_by(C.c.project_id)
        .subquery()
    )


def contracts_as_of(
    session: Session,
    *,
    where: list[ColumnElement[bool]],
    order_by: tuple[Any, ...],
    scope: Select[Any] | None,
    as_of: date,
    today: date,
) -> list[tuple[Any, ContractTerms]]:
    """The contracts `where` selects, each row (id, contract_no, signed_on, accepted_on,
    retention_rate, defects_months, retention_released_on, project_id, project_code,
    contractor) with its terms as of the date: change orders approved and payments dated
    later don't count, nor does a 竣工验收 or an early release of the retention dated later.
    `scope`: the projects they belong to (None: any), to sum fewer entries. One statement."""
    changes = (
        select(CO.c.contract_id, func.sum(fen(CO.c.delta)).label("delta"))
        .where(CO.c.approved_on <= as_of)
        .group_by(CO.c.contract_id)
        .subquery()
    )
    paid = asof.paid_by_contract(scope=scope, as_of=as_of, today=today)
    p = Project.__table__  # type: ignore[attr-defined]
    k = Contractor.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        select(
            C.c.id,
            C.c.contract_no,
            C.c.signed_on,
            C.c.accepted_on,
            C.c.amount,
            C.c.retention_rate,
            C.c.defects_months,
            C.c.retention_released_on,
            p.c.id.label("project_id"),
            p.c.code.label("project_code"),
            k.c.name.label("contractor"),
            func.coalesce(changes.c.delta, 0).label("delta"),
            func.coalesce(paid.c.paid, 0).label("paid"),
        )
        .select_from(
            C.join(p, p.c.id == C.c.project_id)
            .join(k, k.c.id == C.c.contractor_id)
            .outerjoin(changes, changes.c.contract_id == C.c.id)
            .outerjoin(paid, paid.c.contract_id == C.c.id)
        )
        .where(*where)
        .order_by(*order_by)
    ).all()
    return [
        (
            row,
            contract_terms(
                amount=row.amount,
                changes=yuan(int(row.delta)),
                paid=yuan(int(row.paid)),
                retention_rate=row.retention_rate,
                accepted_on=dated_by(row.accepted_on, as_of),
                defects_months=row.defects_months,
                released_on=dated_by(row.retention_released_on, as_of),
                on=as_of,
            ),
        )
        for row in rows
    ]


def dated_by(day: date | None, as_of: date) -> date | None:
    """The date of an event (竣工验收, a release) if it was by `as_of`, else None (not yet
    then)."""
    return day if day is not None and day <= as_of else None
