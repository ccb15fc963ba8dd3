"""When a project was completed (docs/REPORTS.md, 竣工验收): the `actual_date` of its milestone
coded 竣工验收 if on or before the date; otherwise, if every contract signed by the date was
accepted by then, the latest of those acceptance dates; otherwise none. The alerts (竣工财务决算
due) and the OC4IDS export (`completion`) both read it from here."""

from datetime import date
from typing import Any

from sqlalchemy import Select, Subquery, case, func, select

from app.contracts.models import Contract
from app.inputs import identifier_key
from app.milestones.models import Milestone
from app.reports.figures import P

ACCEPTANCE_CODE = "竣工验收"


def accepted_on(*, scope: Select[Any], as_of: date) -> Subquery:
    """(project_id, accepted_on) of each project `scope` selects: its 竣工验收 date by the
    date, or null."""
    m = Milestone.__table__  # type: ignore[attr-defined]
    c = Contract.__table__  # type: ignore[attr-defined]
    reached = (
        select(m.c.project_id, func.max(m.c.actual_date).label("on"))
        .where(m.c.code_key == identifier_key(ACCEPTANCE_CODE), m.c.actual_date <= as_of)
        .group_by(m.c.project_id)
        .subquery()
    )
    accepted_contract = c.c.accepted_on <= as_of
    contracts = (
        select(
            c.c.project_id,
            func.max(case((accepted_contract, c.c.accepted_on))).label("on"),
            func.count().label("signed"),
            func.count(case((accepted_contract, 1))).label("accepted"),
        )
        .where(c.c.signed_on <= as_of)
        .group_by(c.c.project_id)
        .subquery()
    )
    all_accepted = case((contracts.c.signed == contracts.c.accepted, contracts.c.on), else_=None)
    return (
        select(
            P.c.id.label("project_id"),
            func.coalesce(reached.c.on, all_accepted).label("accepted_on"),
        )
        .select_from(
            P.outerjoin(reached, reached.c.project_id == P.c.id).outerjoin(
                contracts, contracts.c.project_id == P.c.id
            )
        )
        .where(P.c.id.in_(scope))
        .subquery()
    )
