"""The figures of PRODUCT.md "Reports: definitions" for any set of projects, as of a date.

A fixed handful of SQL aggregates gathers, per project, the exact integers the definitions
start from (estimates, committed, disbursed in fen; milestone weights and progress in
hundredths; the planned dates around the date); `derive` turns them into the report's
figures with exact integer arithmetic, rounding half to even only where a figure is shown.
The project report, the portfolio, the time series and the alerts all use these functions,
so their figures agree to the fen.

Today's figures come from the ledger's balance rows; an earlier date sums the entries dated
up to it through the covering index (project_id, paid_on, amount, funding_source_id).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlmodel import Session

from app.contracts.models import ChangeOrder, Contract
from app.ledger.models import Disbursement, ProjectBalance
from app.milestones.models import Milestone, MilestoneProgress
from app.money import fen
from app.projects.models import Project
from app.revisions.models import ProjectRevision

HUNDREDTHS_SQUARED = 10_000
SHARE_SCALE = 10_000  # shares are shown with four decimals

P = Project.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a project needs a 概算调整 and when it is behind schedule."""

    needs_revision: Decimal = Decimal("0.10")
    behind_schedule_spi: Decimal = Decimal("0.9")
    # The same as exact integer ratios, for comparisons without rounding.
    _ceiling: tuple[int, int] = field(init=False, repr=False, compare=False)
    _spi: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ceiling", (1 + self.needs_revision).as_integer_ratio())
        object.__setattr__(self, "_spi", self.behind_schedule_spi.as_integer_ratio())

    def above_ceiling(self, amount: int, revised: int) -> bool:
        """amount > revised × (1 + needs_revision)"""
        numerator, denominator = self._ceiling
        return amount * denominator > revised * numerator

    def behind(self, ev: int, pv: int) -> bool:
        """SPI = ev / pv below behind_schedule_spi (false when pv is zero)"""
        numerator, denominator = self._spi
        return pv > 0 and ev * denominator < pv * numerator


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
        needs_revision=(eac is not None and thresholds.above_ceiling(eac, revised))
        or thresholds.above_ceiling(ing.committed, revised),
        behind_schedule=thresholds.behind(ev, pv),
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


def gather(
    session: Session,
    *,
    scope: Select[Any],
    as_of: date,
    current: bool,
    disbursed: bool = True,
    committed: bool = True,
) -> dict[int, Ingredients]:
    """Ingredients by project id for the projects whose ids `scope` selects: six or seven
    aggregate statements (each a plain GROUP BY the engines do well), merged by project id.
    Without `disbursed` (or `committed`), the ledger (or the contracts) are not read and the
    figure is 0."""
    m = Milestone.__table__  # type: ignore[attr-defined]
    c = Contract.__table__  # type: ignore[attr-defined]
    co = ChangeOrder.__table__  # type: ignore[attr-defined]

    projects = session.execute(
        select(
            P.c.id, fen(P.c.original_estimate), fen(P.c.revised_estimate), P.c.planned_start
        ).where(P.c.id.in_(scope))
    ).all()
    if current:
        revised = {pid: int(rev) for pid, _original, rev, _start in projects}
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
        in_force = _pairs(
            session, select(ranked.c.project_id, ranked.c.estimate).where(ranked.c.rank == 1)
        )
        revised = {
            pid: in_force.get(pid, int(original)) for pid, original, _rev, _start in projects
        }

    paid: dict[int, int] = {}
    if disbursed and current:
        pb = ProjectBalance.__table__  # type: ignore[attr-defined]
        paid = _pairs(
            session,
            select(pb.c.project_id, fen(pb.c.disbursed)).where(pb.c.project_id.in_(scope)),
        )
    elif disbursed:
        d = Disbursement.__table__  # type: ignore[attr-defined]
        paid = _pairs(
            session,
            select(d.c.project_id, func.sum(fen(d.c.amount)))
            .where(d.c.paid_on <= as_of, d.c.project_id.in_(scope))
            .group_by(d.c.project_id),
        )

    weight = fen(m.c.weight)
    due = m.c.planned_date <= as_of
    if current:
        percent: Any = fen(m.c.percent_complete)
        milestones_from: Any = m
    else:
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
        latest = (
            select(reports.c.milestone_id, reports.c.percent).where(reports.c.rank == 1).subquery()
        )
        percent = func.coalesce(latest.c.percent, 0)
        milestones_from = m.outerjoin(latest, latest.c.milestone_id == m.c.id)
    milestones = {
        row[0]: row[1:]
        for row in session.execute(
            select(
                m.c.project_id,
                func.sum(weight * percent),
                func.sum(weight),
                func.sum(case((due, weight), else_=0)),
                func.max(case((due, m.c.planned_date))),
            )
            .select_from(milestones_from)
            .where(m.c.project_id.in_(scope))
            .group_by(m.c.project_id)
        ).all()
    }
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
    following = {
        pid: (planned, int(next_weight))
        for pid, planned, next_weight in session.execute(
            select(upcoming.c.project_id, upcoming.c.planned_date, upcoming.c.weight).where(
                upcoming.c.rank == 1
            )
        ).all()
    }

    contracts: dict[int, int] = {}
    changes: dict[int, int] = {}
    if committed:
        signed = c.c.signed_on <= as_of
        contracts = _pairs(
            session,
            select(c.c.project_id, func.sum(fen(c.c.amount)))
            .where(signed, c.c.project_id.in_(scope))
            .group_by(c.c.project_id),
        )
        changes = _pairs(
            session,
            select(c.c.project_id, func.sum(fen(co.c.delta)))
            .select_from(co.join(c, c.c.id == co.c.contract_id))
            .where(co.c.approved_on <= as_of, signed, c.c.project_id.in_(scope))
            .group_by(c.c.project_id),
        )

    found = {}
    none: tuple[Any, ...] = (0, 0, 0, None)
    for pid, original, _rev, start in projects:
        weighted, weights, due_weights, last_due = milestones.get(pid, none)
        next_date, next_weight = following.get(pid, (None, 0))
        found[pid] = Ingredients(
            project_id=pid,
            original=int(original),
            revised=revised[pid],
            committed=contracts.get(pid, 0) + changes.get(pid, 0),
            disbursed=paid.get(pid, 0),
            weighted=int(weighted or 0),
            weights=int(weights or 0),
            due_weights=int(due_weights or 0),
            next_weight=next_weight,
            previous_date=last_due if last_due is not None else start,
            next_date=next_date,
        )
    return found


def _pairs(session: Session, query: Select[Any]) -> dict[int, int]:
    return {key: int(value or 0) for key, value in session.execute(query).all()}


def project_ids(*clauses: ColumnElement[bool]) -> Select[Any]:
    """The ids of the projects matching every clause (a scope for ingredients_query)."""
    return select(P.c.id).where(and_(True, *clauses))


def _weighed(figures: list[Figures], fraction: str, value: str) -> tuple[int, int] | None:
    """A group's physical (or planned) completion: Σ EV (or PV) / Σ BAC over the projects
    that have milestones, so a project without any doesn't read as 0% done."""
    measured = [f for f in figures if getattr(f, fraction) is not None]
    budget = sum(f.revised for f in measured)
    if not measured or not budget:
        return None
    return sum(getattr(f, value) for f in measured), budget


def add(figures: list[Figures], thresholds: Thresholds) -> Figures:
    """A group's figures: money summed, each project's flags counted by the caller; the
    group's ratios are the same formulas applied to the sums (e.g. CPI = ΣEV / ΣAC), and its
    completion shares weigh the projects that have milestones by their budgets."""
    revised = sum(f.revised for f in figures)
    disbursed = sum(f.disbursed for f in figures)
    ev = sum(f.ev for f in figures)
    pv = sum(f.pv for f in figures)
    eac = half_even(revised * disbursed, ev) if disbursed and ev > 0 else None
    committed = sum(f.committed for f in figures)
    return Figures(
        original=sum(f.original for f in figures),
        revised=revised,
        committed=committed,
        disbursed=disbursed,
        ev=ev,
        pv=pv,
        physical=_weighed(figures, "physical", "ev"),
        planned=_weighed(figures, "planned", "pv"),
        eac=eac,
        over_budget=disbursed > revised,
        forecast_over=eac is not None and eac > revised,
        needs_revision=(eac is not None and thresholds.above_ceiling(eac, revised))
        or thresholds.above_ceiling(committed, revised),
        behind_schedule=thresholds.behind(ev, pv),
    )
