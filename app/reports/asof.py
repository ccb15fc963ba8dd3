"""As of a date: the running figures for today, the dated facts for an earlier date.

The rule (docs/REPORTS.md, As of a date): the ledger moves its balances (per project,
budget line, contract and funding source, each running and per calendar month:
app/ledger/balances.py) in the transaction of each entry, a 概算调整 sets the project's
revised estimate, and a progress report sets its milestone's percent complete; nothing may
be dated after today. So a figure as of today (or later) is read from the running rows, and
one as of an earlier date from the facts dated on or before it: the month balances of the
months before the date's own, plus the entries of its own month up to the date (read through
their covering index), so the rows read grow with the months and not with the ledger; the
revision approved last by then (else the original estimate); each milestone's latest report
by then (else 0). Every report and the budget read model ask this module which to read; none
decides it for itself. Money comes back in integer fen, percentages in hundredths.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    Subquery,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlmodel import Session

from app.contracts.models import Contract, ContractBalance
from app.funding.models import ProjectFunding
from app.ledger.models import (
    BudgetLineBalance,
    BudgetLineMonth,
    ContractMonth,
    Disbursement,
    FundingMonth,
    ProjectBalance,
    ProjectMonth,
)
from app.milestones.models import Milestone, MilestoneProgress
from app.money import fen
from app.projects.models import BudgetLine
from app.revisions.service import revisions_in_force
from app.timeutil import month_start

D = Disbursement.__table__  # type: ignore[attr-defined]
C = Contract.__table__  # type: ignore[attr-defined]
BL = BudgetLine.__table__  # type: ignore[attr-defined]


def current(*, as_of: date, today: date) -> bool:
    """Whether a figure as of the date is read from the running rows (today or later)."""
    return as_of >= today


def paid_by_project(
    *, scope: Select[Any], as_of: date, today: date, counted: bool = False
) -> Subquery:
    """(project_id, paid) of the projects `scope` selects; `counted` adds how many payments
    and reversals. The balance rows are one per project: the caller's join picks its own."""
    if current(as_of=as_of, today=today):
        pb = ProjectBalance.__table__  # type: ignore[attr-defined]
        columns = [pb.c.project_id, fen(pb.c.disbursed).label("paid")]
        if counted:
            columns += [pb.c.payments, pb.c.reversals]
        return select(*columns).subquery()
    pm = ProjectMonth.__table__  # type: ignore[attr-defined]
    closed = [pm.c.project_id, fen(pm.c.disbursed).label("paid")]
    own = [D.c.project_id, fen(D.c.amount)]
    if counted:
        closed += [pm.c.payments, pm.c.reversals]
        # A payment is positive and a reversal negative (the entry's shape): the sign counts
        # them from the covering index, which doesn't hold the kind.
        own += [cast(D.c.amount > 0, Integer), cast(D.c.amount < 0, Integer)]
    return _summed(
        select(*closed).where(pm.c.month < month_start(as_of), pm.c.project_id.in_(scope)),
        select(*own).where(*_own_month(as_of), D.c.project_id.in_(scope)),
        keys=1,
    )


def paid_by_contract(*, scope: Select[Any] | None, as_of: date, today: date) -> Subquery:
    """(contract_id, paid) of the contracts of the projects `scope` selects (None: all)."""
    if current(as_of=as_of, today=today):
        cb = ContractBalance.__table__  # type: ignore[attr-defined]
        return select(cb.c.contract_id, fen(cb.c.paid).label("paid")).subquery()
    cm = ContractMonth.__table__  # type: ignore[attr-defined]
    closed = [cm.c.month < month_start(as_of)]
    own = [*_own_month(as_of), D.c.contract_id.is_not(None)]
    if scope is not None:
        closed.append(cm.c.contract_id.in_(select(C.c.id).where(C.c.project_id.in_(scope))))
        own.append(D.c.project_id.in_(scope))
    return _summed(
        select(cm.c.contract_id, fen(cm.c.paid).label("paid")).where(*closed),
        select(D.c.contract_id, fen(D.c.amount)).where(*own),
        keys=1,
    )


def paid_by_budget_line(*, scope: Select[Any], as_of: date, today: date) -> Subquery:
    """(budget_line_id, paid) of the budget lines of the projects `scope` selects."""
    if current(as_of=as_of, today=today):
        blb = BudgetLineBalance.__table__  # type: ignore[attr-defined]
        return select(blb.c.budget_line_id, fen(blb.c.disbursed).label("paid")).subquery()
    lm = BudgetLineMonth.__table__  # type: ignore[attr-defined]
    lines = select(BL.c.id).where(BL.c.project_id.in_(scope))
    return _summed(
        select(lm.c.budget_line_id, fen(lm.c.disbursed).label("paid")).where(
            lm.c.month < month_start(as_of), lm.c.budget_line_id.in_(lines)
        ),
        select(D.c.budget_line_id, fen(D.c.amount)).where(
            *_own_month(as_of), D.c.project_id.in_(scope), D.c.budget_line_id.is_not(None)
        ),
        keys=1,
    )


def paid_by_funding_source(*, scope: Select[Any], as_of: date, today: date) -> Subquery:
    """(project_id, funding_source_id, paid) of the projects `scope` selects."""
    if current(as_of=as_of, today=today):
        pf = ProjectFunding.__table__  # type: ignore[attr-defined]
        return select(
            pf.c.project_id, pf.c.funding_source_id, fen(pf.c.disbursed).label("paid")
        ).subquery()
    fm = FundingMonth.__table__  # type: ignore[attr-defined]
    return _summed(
        select(fm.c.project_id, fm.c.funding_source_id, fen(fm.c.disbursed).label("paid")).where(
            fm.c.month < month_start(as_of), fm.c.project_id.in_(scope)
        ),
        select(D.c.project_id, D.c.funding_source_id, fen(D.c.amount)).where(
            *_own_month(as_of), D.c.project_id.in_(scope)
        ),
        keys=2,
    )


def _own_month(as_of: date) -> list[ColumnElement[bool]]:
    """The entries of the date's own month up to the date: the part no month balance holds."""
    return [D.c.paid_on >= month_start(as_of), D.c.paid_on <= as_of]


def _summed(closed: Select[Any], own: Select[Any], *, keys: int) -> Subquery:
    """The month balances of the closed months and the entries of the date's own month, summed
    by their first `keys` columns (named as the closed months' columns)."""
    both = union_all(closed, own).subquery()
    columns = list(both.c)
    return (
        select(*columns[:keys], *(func.sum(c).label(c.name) for c in columns[keys:]))
        .group_by(*columns[:keys])
        .subquery()
    )


def revisions_as_of(
    session: Session, *, scope: Select[Any], as_of: date, today: date
) -> Mapping[int, int] | None:
    """The estimate (fen) of each project of the scope whose revision in force on a past
    date sets it, read on its own (a few rows: joined, SQLite would scan them once per
    project); None as of today, when every project's revised estimate is in force. Give it
    to `estimate_in_force`."""
    if current(as_of=as_of, today=today):
        return None
    in_force = revisions_in_force(as_of=as_of, projects=scope)
    return {
        project_id: int(estimate)
        for project_id, estimate in session.execute(
            select(in_force.c.project_id, fen(in_force.c.estimate))
        ).all()
    }


def estimate_in_force(
    revisions: Mapping[int, int] | None, *, project_id: int, original: int, revised: int
) -> int:
    """A project's estimate in force, given `revisions_as_of`: its revised estimate today;
    on an earlier date, its revision in force then, else its original estimate."""
    if revisions is None:
        return revised
    return revisions.get(project_id, original)


def percent_complete(*, as_of: date, today: date) -> tuple[Any, Any]:
    """Each milestone's percent complete on the date (hundredths), and the FROM clause
    (the milestone table, maybe joined) that provides it."""
    m = Milestone.__table__  # type: ignore[attr-defined]
    if current(as_of=as_of, today=today):
        return fen(m.c.percent_complete), m
    mp = MilestoneProgress.__table__  # type: ignore[attr-defined]
    later = mp.alias("later")
    # Each milestone's last report by the date: one that no later report (or a report of the
    # same day recorded after it) follows. Within 10% of the fastest engine-specific form on
    # each engine (docs/PERFORMANCE.md).
    latest = (
        select(mp.c.milestone_id, fen(mp.c.percent_complete).label("percent"))
        .where(
            mp.c.as_of <= as_of,
            ~select(later.c.id)
            .where(
                later.c.milestone_id == mp.c.milestone_id,
                later.c.as_of <= as_of,
                (later.c.as_of > mp.c.as_of)
                | ((later.c.as_of == mp.c.as_of) & (later.c.id > mp.c.id)),
            )
            .exists(),
        )
        .subquery()
    )
    return func.coalesce(latest.c.percent, 0), m.outerjoin(latest, latest.c.milestone_id == m.c.id)


def paid_by_month(*, scope: Select[Any], as_of: date) -> Select[Any]:
    """(month, paid) of the entries of the projects `scope` selects dated by the date, each
    month by its first day: the project month balances of the closed months, and the
    entries of the date's own month up to it."""
    pm = ProjectMonth.__table__  # type: ignore[attr-defined]
    closed = select(pm.c.month.label("month"), fen(pm.c.disbursed).label("paid")).where(
        pm.c.month < month_start(as_of), pm.c.project_id.in_(scope)
    )
    own = select(literal(month_start(as_of), Date()), fen(D.c.amount)).where(
        *_own_month(as_of), D.c.project_id.in_(scope)
    )
    both = union_all(closed, own).subquery()
    return select(both.c.month, func.sum(both.c.paid)).group_by(both.c.month)
