"""Earned value from milestones (docs/REPORTS.md, Earned value).

Physical completion is Σ(weight × percent complete) / Σ weight over a project's milestones;
planned completion is the weight of the milestones planned by the date, plus those of the next
planned date pro rata between the previous planned date (or the project's start) and their own,
over Σ weight.
EV and PV are the revised estimate (BAC) times each. Weights and percentages are hundredths,
so every figure is an exact fraction of integers, rounded (四舍五入) only to the fen.
`earned_and_planned` is the one formula of the project figures (figures.derive), made of
`earned_value` and `planned_ramp`, which the S-curve's sweep through the periods
(timeseries) calls directly. `milestone_sums` is the one
physical-completion query: the figures and the budget read model both read it.
"""

from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlmodel import Session

from app.milestones.models import Milestone
from app.money import fen, half_up
from app.reports.asof import percent_complete

HUNDREDTHS_SQUARED = 10_000  # weight × percent, both in hundredths

M = Milestone.__table__  # type: ignore[attr-defined]


# A project's (ev, pv, physical, planned): EV and PV in fen, and the completions they are
# of its BAC as exact (numerator, denominator) fractions, None without milestones (undefined,
# not 0% done). A plain tuple: the S-curve makes one per project per period.
EarnedValue = tuple[int, int, tuple[int, int] | None, tuple[int, int] | None]

NONE_EARNED: EarnedValue = (0, 0, None, None)


def physical_fraction(weighted: int, weights: int) -> tuple[int, int] | None:
    """Σ(weight × percent) / Σ weight as an exact fraction of 1, or None without milestones."""
    return (weighted, weights * HUNDREDTHS_SQUARED) if weights else None


def earned_and_planned(
    revised: int,
    weighted: int,
    weights: int,
    due_weights: int,
    next_weight: int,
    previous: date | None,
    following: date | None,
    as_of: date,
) -> EarnedValue:
    """EV and PV of a project as of a date. `weighted`: Σ weight × percent reported by then;
    `weights`: Σ weight; `due_weights`: Σ weight of the milestones planned by then;
    `next_weight` and `following`: the next planned date after and Σ weight of the milestones
    planned on it; `previous`: the last planned date by then, else the project's start."""
    if not weights:
        return NONE_EARNED
    due, out_of = planned_fraction(weights, due_weights, next_weight, previous, following, as_of)
    physical = weights * HUNDREDTHS_SQUARED
    return (
        earned_value(revised, weighted, weights),
        half_up(revised * due, out_of),
        (weighted, physical),
        (due, out_of),
    )


def earned_value(revised: int, weighted: int, weights: int) -> int:
    """EV = BAC × physical completion, in fen (weights > 0)."""
    return half_up(revised * weighted, weights * HUNDREDTHS_SQUARED)


def planned_fraction(
    weights: int,
    due_weights: int,
    next_weight: int,
    previous: date | None,
    following: date | None,
    as_of: date,
) -> tuple[int, int]:
    """Planned completion as an exact fraction (PV = BAC × it): the weight planned by the
    date, plus the next date's pro rata since the previous date (or the start)."""
    since, base, slope, scale = planned_ramp(weights, due_weights, next_weight, previous, following)
    if since is not None and since < as_of:
        return base + slope * (as_of - since).days, scale
    return base, scale


def planned_ramp(
    weights: int,
    due_weights: int,
    next_weight: int,
    previous: date | None,
    following: date | None,
) -> tuple[date | None, int, int, int]:
    """Planned completion on the days before the next planned date, as (since, base, slope,
    scale): (base + slope × the days after `since`, none on or before it) / scale. Between a
    previous date (or the start) and the next, it ramps; otherwise it is flat (no `since`)."""
    if previous is not None and following is not None and previous < following:
        span = (following - previous).days
        return previous, due_weights * span, next_weight, weights * span
    return None, due_weights, 0, weights


def milestone_sums(session: Session, *, scope: Select[Any], as_of: date, today: date) -> Any:
    """Per project of the scope with milestones, one GROUP BY: (project_id, weighted: Σ weight
    × percent complete as of the date, weights: Σ weight, due_weights: Σ weight of those
    planned by the date, last_due: the last of their planned dates)."""
    weight = fen(M.c.weight)
    due = M.c.planned_date <= as_of
    percent, milestones = percent_complete(as_of=as_of, today=today)
    return (
        select(
            M.c.project_id,
            func.sum(weight * percent).label("weighted"),
            func.sum(weight).label("weights"),
            func.sum(case((due, weight), else_=0)).label("due_weights"),
            func.max(case((due, M.c.planned_date))).label("last_due"),
        )
        .select_from(milestones)
        .where(M.c.project_id.in_(scope))
        .group_by(M.c.project_id)
    )


def next_milestones(*, scope: Select[Any], as_of: date) -> Select[Any]:
    """(project_id, planned_date, weight) of each project's next planned date after the date,
    with Σ weight of every milestone planned on it: milestones sharing a date ramp together."""
    first_date = (
        select(M.c.project_id, func.min(M.c.planned_date).label("planned_date"))
        .where(M.c.planned_date > as_of, M.c.project_id.in_(scope))
        .group_by(M.c.project_id)
        .subquery()
    )
    return (
        select(M.c.project_id, M.c.planned_date, func.sum(fen(M.c.weight)))
        .select_from(
            M.join(
                first_date,
                and_(
                    first_date.c.project_id == M.c.project_id,
                    first_date.c.planned_date == M.c.planned_date,
                ),
            )
        )
        .group_by(M.c.project_id, M.c.planned_date)
    )
