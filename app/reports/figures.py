"""The figures of PRODUCT.md "Reports: definitions" for any set of projects, as of a date.

One SQL statement gathers, per project, the exact integers the definitions start from
(estimates, committed, disbursed in fen; milestone weights and progress in hundredths; the
planned dates around the date); `derive` turns them into the report's figures with exact
integer arithmetic, rounding half to even only where a figure is shown. The project report,
the portfolio, the time series and the alerts all use these two functions, so their figures
agree to the fen.

Today's figures come from the ledger's balance rows; an earlier date sums the entries dated
up to it through the covering index (project_id, paid_on, amount).
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    select,
    type_coerce,
)

from app.contracts.models import ChangeOrder, Contract
from app.ledger.models import Disbursement, ProjectBalance
from app.milestones.models import Milestone, MilestoneProgress
from app.projects.models import Project
from app.revisions.models import ProjectRevision

HUNDREDTHS_SQUARED = 10_000
SHARE_SCALE = 10_000  # shares are shown with four decimals

P = Project.__table__  # type: ignore[attr-defined]


def fen(column: Any) -> Any:
    """A money (or hundredths) column as its raw stored integer, for exact SQL arithmetic."""
    return type_coerce(column, BigInteger)


def _int_sum(expression: Any) -> Any:
    return type_coerce(func.coalesce(func.sum(expression), 0), BigInteger)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a project needs a 概算调整 and when it is behind schedule."""

    needs_revision: Decimal = Decimal("0.10")
    behind_schedule_spi: Decimal = Decimal("0.9")


@dataclass(frozen=True, slots=True)
class Ingredients:
    """What the definitions start from, for one project as of a date (money in fen)."""

    project_id: int
    original: int
    revised: int
    committed: int
    disbursed: int
    weighted: int  # Σ weight × percent, both in hundredths
    weights: int  # Σ weight, in hundredths
    due_weights: int  # Σ weight of milestones planned on or before the date
    next_weight: int  # weight of the first milestone planned after the date
    previous_date: date | None  # last milestone planned by the date, else the project's start
    next_date: date | None


@dataclass(frozen=True, slots=True)
class Figures:
    """One project's (or one group's) figures; money in fen, shares in ten-thousandths."""

    original: int
    revised: int
    committed: int
    disbursed: int
    ev: int
    pv: int
    # Fractions kept exact (numerator, denominator) so groups can be weighed; None = undefined.
    physical: tuple[int, int] | None
    planned: tuple[int, int] | None
    eac: int | None
    over_budget: bool
    forecast_over: bool
    needs_revision: bool
    behind_schedule: bool


def half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half to even, exactly (denominator > 0)."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def ratio(numerator: int, denominator: int) -> Decimal | None:
    """A four-decimal share, or None when the denominator is zero."""
    if denominator == 0:
        return None
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    return Decimal(half_even(numerator * SHARE_SCALE, denominator)).scaleb(-4)


def money(value_fen: int | None) -> Decimal | None:
    return None if value_fen is None else Decimal(value_fen).scaleb(-2)


def derive(ing: Ingredients, as_of: date, thresholds: Thresholds) -> Figures:
    revised, disbursed = ing.revised, ing.disbursed
    physical = (ing.weighted, ing.weights * HUNDREDTHS_SQUARED) if ing.weights else None
    planned = _planned(ing, as_of)
    ev = half_even(revised * physical[0], physical[1]) if physical else 0
    pv = half_even(revised * planned[0], planned[1]) if planned else 0
    # EAC = BAC / CPI = BAC × AC / EV; undefined when AC or EV is zero.
    eac = half_even(revised * disbursed, ev) if disbursed and ev > 0 else None
    ceiling = Decimal(revised) * (1 + thresholds.needs_revision)
    return Figures(
        original=ing.original,
        revised=revised,
        committed=ing.committed,
        disbursed=disbursed,
        ev=ev,
        pv=pv,
        physical=physical,
        planned=planned,
        eac=eac,
        over_budget=disbursed > revised,
        forecast_over=eac is not None and eac > revised,
        needs_revision=(eac is not None and eac > ceiling) or ing.committed > ceiling,
        # SPI = EV / PV < threshold, compared without rounding.
        behind_schedule=pv > 0 and Decimal(ev) < thresholds.behind_schedule_spi * pv,
    )


def _planned(ing: Ingredients, as_of: date) -> tuple[int, int] | None:
    """Weights of milestones due by the date, plus the next one pro rata between the previous
    planned date (or the project's start) and its own, over all weights."""
    if not ing.weights:
        return None
    previous, following = ing.previous_date, ing.next_date
    if previous is not None and following is not None and previous < as_of:
        span = (following - previous).days
        elapsed = (as_of - previous).days
        return ing.due_weights * span + ing.next_weight * elapsed, ing.weights * span
    return ing.due_weights, ing.weights


def ingredients_query(
    *, scope: Select[Any], as_of: date, current: bool, disbursed: bool = True
) -> Select[Any]:
    """One statement: a row of Ingredients per project whose id `scope` selects (without
    `disbursed`, the ledger is not read and disbursed is 0)."""
    m = Milestone.__table__  # type: ignore[attr-defined]
    in_scope = P.c.id.in_(scope)

    if current:
        revised: Any = fen(P.c.revised_estimate)
        pb = ProjectBalance.__table__  # type: ignore[attr-defined]
        paid_q = select(pb.c.project_id, fen(pb.c.disbursed).label("disbursed")).where(
            pb.c.project_id.in_(scope)
        )
        percent: Any = fen(m.c.percent_complete)
        progress = None
    else:
        r = ProjectRevision.__table__  # type: ignore[attr-defined]
        ranked = (
            select(
                r.c.project_id,
                fen(r.c.new_estimate).label("estimate"),
                func.row_number()
                .over(partition_by=r.c.project_id, order_by=(r.c.approved_on.desc(), r.c.id.desc()))
                .label("rank"),
            )
            .where(r.c.approved_on <= as_of, r.c.project_id.in_(scope))
            .subquery()
        )
        revision = (
            select(ranked.c.project_id, ranked.c.estimate).where(ranked.c.rank == 1).subquery()
        )
        revised = func.coalesce(revision.c.estimate, fen(P.c.original_estimate))
        d = Disbursement.__table__  # type: ignore[attr-defined]
        paid_q = (
            select(d.c.project_id, _int_sum(fen(d.c.amount)).label("disbursed"))
            .where(d.c.paid_on <= as_of, d.c.project_id.in_(scope))
            .group_by(d.c.project_id)
        )
        mp = MilestoneProgress.__table__  # type: ignore[attr-defined]
        reports = (
            select(
                mp.c.milestone_id,
                fen(mp.c.percent_complete).label("percent"),
                func.row_number()
                .over(partition_by=mp.c.milestone_id, order_by=(mp.c.as_of.desc(), mp.c.id.desc()))
                .label("rank"),
            )
            .where(mp.c.as_of <= as_of)
            .subquery()
        )
        progress = (
            select(reports.c.milestone_id, reports.c.percent).where(reports.c.rank == 1).subquery()
        )
        percent = func.coalesce(progress.c.percent, 0)
    if not disbursed:
        paid_q = select(P.c.id.label("project_id"), literal(0).label("disbursed")).where(false())
    paid = paid_q.subquery()

    weight = fen(m.c.weight)
    due = m.c.planned_date <= as_of
    milestones_from: Any = m
    if progress is not None:
        milestones_from = m.outerjoin(progress, progress.c.milestone_id == m.c.id)
    milestones = (
        select(
            m.c.project_id,
            _int_sum(weight * percent).label("weighted"),
            _int_sum(weight).label("weights"),
            _int_sum(case((due, weight), else_=0)).label("due_weights"),
            func.max(case((due, m.c.planned_date))).label("last_due"),
        )
        .select_from(milestones_from)
        .where(m.c.project_id.in_(scope))
        .group_by(m.c.project_id)
        .subquery()
    )
    upcoming = (
        select(
            m.c.project_id,
            m.c.planned_date,
            weight.label("weight"),
            func.row_number()
            .over(partition_by=m.c.project_id, order_by=(m.c.planned_date, m.c.id))
            .label("rank"),
        )
        .where(m.c.planned_date > as_of, m.c.project_id.in_(scope))
        .subquery()
    )
    following = (
        select(upcoming.c.project_id, upcoming.c.planned_date, upcoming.c.weight)
        .where(upcoming.c.rank == 1)
        .subquery()
    )

    c = Contract.__table__  # type: ignore[attr-defined]
    co = ChangeOrder.__table__  # type: ignore[attr-defined]
    signed = c.c.signed_on <= as_of
    contracts = (
        select(c.c.project_id, _int_sum(fen(c.c.amount)).label("amount"))
        .where(signed, c.c.project_id.in_(scope))
        .group_by(c.c.project_id)
        .subquery()
    )
    changes = (
        select(c.c.project_id, _int_sum(fen(co.c.delta)).label("delta"))
        .select_from(co.join(c, c.c.id == co.c.contract_id))
        .where(co.c.approved_on <= as_of, signed, c.c.project_id.in_(scope))
        .group_by(c.c.project_id)
        .subquery()
    )

    joined: Any = (
        P.outerjoin(paid, paid.c.project_id == P.c.id)
        .outerjoin(milestones, milestones.c.project_id == P.c.id)
        .outerjoin(following, following.c.project_id == P.c.id)
        .outerjoin(contracts, contracts.c.project_id == P.c.id)
        .outerjoin(changes, changes.c.project_id == P.c.id)
    )
    if not current:
        joined = joined.outerjoin(revision, revision.c.project_id == P.c.id)
    zero = 0
    return (
        select(
            P.c.id,
            fen(P.c.original_estimate).label("original"),
            type_coerce(revised, BigInteger).label("revised"),
            (func.coalesce(contracts.c.amount, zero) + func.coalesce(changes.c.delta, zero)).label(
                "committed"
            ),
            func.coalesce(paid.c.disbursed, zero).label("disbursed"),
            func.coalesce(milestones.c.weighted, zero).label("weighted"),
            func.coalesce(milestones.c.weights, zero).label("weights"),
            func.coalesce(milestones.c.due_weights, zero).label("due_weights"),
            func.coalesce(following.c.weight, zero).label("next_weight"),
            milestones.c.last_due,
            P.c.planned_start,
            following.c.planned_date.label("next_date"),
        )
        .select_from(joined)
        .where(in_scope)
        .order_by(P.c.id)
    )


def read_ingredients(rows: Any) -> dict[int, Ingredients]:
    """Ingredients by project id, from the rows of `ingredients_query`."""
    found = {}
    for row in rows:
        found[row.id] = Ingredients(
            project_id=row.id,
            original=int(row.original),
            revised=int(row.revised),
            committed=int(row.committed),
            disbursed=int(row.disbursed),
            weighted=int(row.weighted),
            weights=int(row.weights),
            due_weights=int(row.due_weights),
            next_weight=int(row.next_weight),
            previous_date=row.last_due if row.last_due is not None else row.planned_start,
            next_date=row.next_date,
        )
    return found


def project_ids(*clauses: ColumnElement[bool]) -> Select[Any]:
    """The ids of the projects matching every clause (a scope for ingredients_query)."""
    return select(P.c.id).where(and_(True, *clauses))


def add(figures: list[Figures], thresholds: Thresholds) -> Figures:
    """A group's figures: money summed, each project's flags counted by the caller; the
    group's ratios are the same formulas applied to the sums (e.g. CPI = ΣEV / ΣAC)."""
    revised = sum(f.revised for f in figures)
    disbursed = sum(f.disbursed for f in figures)
    ev = sum(f.ev for f in figures)
    pv = sum(f.pv for f in figures)
    eac = half_even(revised * disbursed, ev) if disbursed and ev > 0 else None
    ceiling = Decimal(revised) * (1 + thresholds.needs_revision)
    committed = sum(f.committed for f in figures)
    return Figures(
        original=sum(f.original for f in figures),
        revised=revised,
        committed=committed,
        disbursed=disbursed,
        ev=ev,
        pv=pv,
        physical=(ev, revised) if revised and any(f.physical for f in figures) else None,
        planned=(pv, revised) if revised and any(f.planned for f in figures) else None,
        eac=eac,
        over_budget=disbursed > revised,
        forecast_over=eac is not None and eac > revised,
        needs_revision=(eac is not None and eac > ceiling) or committed > ceiling,
        behind_schedule=pv > 0 and Decimal(ev) < thresholds.behind_schedule_spi * pv,
    )
