"""As of a date: the running figures for today, the dated facts for an earlier date.

The rule (docs/REPORTS.md, As of a date): the ledger moves its balance rows (per project,
budget line, contract and funding source) in the transaction of each entry, a 概算调整 sets
the project's revised estimate, and a progress report sets its milestone's percent complete;
nothing may be dated after today. So a figure as of today (or later) is read from those
running rows, and one as of an earlier date from the facts dated on or before it: the
entries summed through their covering indexes, the revision approved last by then (else the
original estimate), each milestone's latest report by then (else 0). Every report and the
budget read model ask this module which to read; none decides it for itself. Money comes
back in integer fen, percentages in hundredths.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import Select, Subquery, extract, func, select
from sqlmodel import Session

from app.contracts.models import ContractBalance
from app.funding.models import ProjectFunding
from app.ledger.models import BudgetLineBalance, Disbursement, EntryKind, ProjectBalance
from app.milestones.models import Milestone, MilestoneProgress
from app.money import fen
from app.revisions.service import revisions_in_force

D = Disbursement.__table__  # type: ignore[attr-defined]


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
    columns = [D.c.project_id, func.sum(fen(D.c.amount)).label("paid")]
    if counted:
        # Not by default: the kind is not in the covering index the sums read.
        columns += [
            func.count().filter(D.c.kind == EntryKind.payment.value).label("payments"),
            func.count().filter(D.c.kind == EntryKind.reversal.value).label("reversals"),
        ]
    return (
        select(*columns)
        .where(D.c.paid_on <= as_of, D.c.project_id.in_(scope))
        .group_by(D.c.project_id)
        .subquery()
    )


def paid_by_contract(*, scope: Select[Any] | None, as_of: date, today: date) -> Subquery:
    """(contract_id, paid) of the contracts of the projects `scope` selects (None: all)."""
    if current(as_of=as_of, today=today):
        cb = ContractBalance.__table__  # type: ignore[attr-defined]
        return select(cb.c.contract_id, fen(cb.c.paid).label("paid")).subquery()
    dated = [D.c.paid_on <= as_of, D.c.contract_id.is_not(None)]
    if scope is not None:
        dated.append(D.c.project_id.in_(scope))
    return (
        select(D.c.contract_id, func.sum(fen(D.c.amount)).label("paid"))
        .where(*dated)
        .group_by(D.c.contract_id)
        .subquery()
    )


def paid_by_budget_line(*, scope: Select[Any], as_of: date, today: date) -> Subquery:
    """(budget_line_id, paid) of the budget lines of the projects `scope` selects."""
    if current(as_of=as_of, today=today):
        blb = BudgetLineBalance.__table__  # type: ignore[attr-defined]
        return select(blb.c.budget_line_id, fen(blb.c.disbursed).label("paid")).subquery()
    return (
        select(D.c.budget_line_id, func.sum(fen(D.c.amount)).label("paid"))
        .where(D.c.paid_on <= as_of, D.c.project_id.in_(scope), D.c.budget_line_id.is_not(None))
        .group_by(D.c.budget_line_id)
        .subquery()
    )


def paid_by_funding_source(*, scope: Select[Any], as_of: date, today: date) -> Subquery:
    """(project_id, funding_source_id, paid) of the projects `scope` selects."""
    if current(as_of=as_of, today=today):
        pf = ProjectFunding.__table__  # type: ignore[attr-defined]
        return select(
            pf.c.project_id, pf.c.funding_source_id, fen(pf.c.disbursed).label("paid")
        ).subquery()
    return (
        select(D.c.project_id, D.c.funding_source_id, func.sum(fen(D.c.amount)).label("paid"))
        .where(D.c.paid_on <= as_of, D.c.project_id.in_(scope))
        .group_by(D.c.project_id, D.c.funding_source_id)
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


def paid_by_period(*, scope: Select[Any], as_of: date, monthly: bool) -> Select[Any]:
    """(year, paid) or, `monthly`, (year, month, paid) of the entries of the projects `scope`
    selects dated by the date: always summed from the entries, no balance being kept per
    period."""
    periods: list[Any] = [extract("year", D.c.paid_on)]
    if monthly:
        periods.append(extract("month", D.c.paid_on))
    return (
        select(*periods, func.sum(fen(D.c.amount)))
        .where(D.c.paid_on <= as_of, D.c.project_id.in_(scope))
        .group_by(*periods)
    )
