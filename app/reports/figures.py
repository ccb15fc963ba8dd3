"""The figures of docs/REPORTS.md (Definitions) for any set of projects, as of a date.

A fixed handful of SQL aggregates gathers, per project, the exact integers the definitions
start from (estimates, committed, disbursed in fen; milestone weights and progress in
hundredths; the planned dates around the date); `derive` turns them into the report's
figures with exact integer arithmetic, rounding half away from zero only where a figure is shown.
The project report, the portfolio and the alerts all use these functions, and the time
series the same earned-value formula (evm.py), so their figures agree to the fen. Which rows
a date reads (balances today, entries dated up to it before) is asof.py's to say.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlmodel import Session

from app.money import fen, half_up, share, yuan
from app.projects.models import Project
from app.reports import asof
from app.reports.commitments import changes_by_project, signed_by_project
from app.reports.evm import earned_and_planned, milestone_sums, next_milestones
from app.reports.schemas import ReportFlags

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


class Ingredients(NamedTuple):
    """What the definitions start from, for one project as of a date (money in fen)."""

    original: int
    revised: int
    committed: int
    disbursed: int
    weighted: int  # Σ weight × percent, both in hundredths
    weights: int  # Σ weight, in hundredths
    due_weights: int  # Σ weight of milestones planned on or before the date
    next_weight: int  # Σ weight of the milestones on the next planned date after the date
    previous_date: date | None  # last milestone planned by the date, else the project's start
    next_date: date | None


# Tuples, not dataclasses: a portfolio makes one per project, and sums them column by column.
class Figures(NamedTuple):
    """One project's (or one group's) figures; money in fen, shares in ten-thousandths."""

    original: int
    revised: int
    committed: int
    disbursed: int
    ev: int  # 0 for a project without a measure of progress, which shows it as null
    pv: int
    # Fractions kept exact (numerator, denominator) so groups can be weighed; None = undefined.
    physical: tuple[int, int] | None
    planned: tuple[int, int] | None
    # The projects with a measure of progress (milestones), and their BAC and AC: the earned
    # value figures stand on these alone (a project: 1 and its own, or 0, 0, 0).
    measured: int
    measured_revised: int
    measured_disbursed: int
    eac: int | None
    over_budget: bool
    forecast_over: bool
    needs_revision: bool
    behind_schedule: bool


def derive(ing: Ingredients, as_of: date, thresholds: Thresholds) -> Figures:
    """One project's figures as of the date, from its ingredients."""
    (original, revised, committed, disbursed, weighted, weights, due_weights, next_weight,
     previous, following) = ing  # fmt: skip
    ev, pv, physical, planned = earned_and_planned(
        revised=revised,
        weighted=weighted,
        weights=weights,
        due_weights=due_weights,
        next_weight=next_weight,
        previous=previous,
        following=following,
        as_of=as_of,
    )
    measured = (1, revised, disbursed) if physical is not None else (0, 0, 0)
    return _with_flags(
        original, revised, committed, disbursed, ev, pv, physical, planned, measured, thresholds
    )


def _with_flags(
    original: int,
    revised: int,
    committed: int,
    disbursed: int,
    ev: int,
    pv: int,
    physical: tuple[int, int] | None,
    planned: tuple[int, int] | None,
    measured: tuple[int, int, int],
    thresholds: Thresholds,
) -> Figures:
    """The figures with their EAC and flags, of a project or of a group's sums. `measured`:
    how many projects have a measure of progress, and their BAC and AC."""
    count, measured_revised, measured_disbursed = measured
    # EAC = BAC / CPI = BAC × AC / EV over the measured projects; undefined when AC or EV is 0.
    eac = (
        half_up(measured_revised * measured_disbursed, ev)
        if measured_disbursed and ev > 0
        else None
    )
    return Figures(
        original,
        revised,
        committed,
        disbursed,
        ev,
        pv,
        physical,
        planned,
        count,
        measured_revised,
        measured_disbursed,
        eac,
        disbursed > revised,
        eac is not None and eac > revised,
        # The largest of disbursed, committed and EAC above the ceiling: money already spent
        # needs a 概算调整 as much as money forecast.
        thresholds.above_ceiling(max(disbursed, committed, eac or 0), revised),
        thresholds.behind(ev, pv),
    )


def gather(
    session: Session, *, scope: Select[Any], as_of: date, today: date
) -> Iterator[tuple[int, Ingredients]]:
    """(project id, ingredients) for each project `scope` selects, from three statements
    whatever their number (four as of a past date: the revisions in force): the projects
    with disbursed and committed (plain GROUP BYs joined by project id), their milestones'
    weights and progress, and each one's next milestone. Lazily, and the rows a thousand at
    a time: what lives only until it is derived never reaches the garbage collector's
    oldest generation, whose full passes cost more than the arithmetic."""
    revisions = asof.revisions_as_of(session, scope=scope, as_of=as_of, today=today)
    paid = asof.paid_by_project(scope=scope, as_of=as_of, today=today)
    signed = signed_by_project(scope=scope, as_of=as_of)
    changes = changes_by_project(scope=scope, as_of=as_of)
    joined = (
        P.outerjoin(paid, paid.c.project_id == P.c.id)
        .outerjoin(signed, signed.c.project_id == P.c.id)
        .outerjoin(changes, changes.c.project_id == P.c.id)
    )
    projects = each_row(
        session,
        select(
            P.c.id,
            fen(P.c.original_estimate),
            fen(P.c.revised_estimate),
            func.coalesce(signed.c.amount, 0) + func.coalesce(changes.c.amount, 0),
            func.coalesce(paid.c.paid, 0),
            P.c.planned_start,
        )
        .select_from(joined)
        .where(P.c.id.in_(scope)),
    )
    milestones = {
        pid: (int(weighted), int(weights), int(due_weights), last_due)
        for pid, weighted, weights, due_weights, last_due in each_row(
            session, milestone_sums(session, scope=scope, as_of=as_of, today=today)
        )
    }
    following = {
        pid: (planned, int(next_weight))
        for pid, planned, next_weight in each_row(
            session, next_milestones(scope=scope, as_of=as_of)
        )
    }

    none = (0, 0, 0, None)
    no_next = (None, 0)
    for pid, original, revised, committed, disbursed, start in projects:
        weighted, weights, due_weights, last_due = milestones.get(pid, none)
        next_date, next_weight = following.get(pid, no_next)
        yield (
            pid,
            Ingredients(
                int(original),
                asof.estimate_in_force(
                    revisions, project_id=pid, original=int(original), revised=int(revised)
                ),
                int(committed),
                int(disbursed),
                weighted,
                weights,
                due_weights,
                next_weight,
                last_due if last_due is not None else start,
                next_date,
            ),
        )


ROWS_AT_A_TIME = 1000


def each_row(session: Session, query: Select[Any]) -> Iterator[Any]:
    """A query's rows, fetched a thousand at a time (not a list of all of them alive at once:
    see gather)."""
    for rows in session.execute(query).partitions(ROWS_AT_A_TIME):
        yield from rows


def project_ids(*clauses: ColumnElement[bool]) -> Select[Any]:
    """The ids of the projects matching every clause: the scope of a report's queries."""
    return select(P.c.id).where(and_(True, *clauses))


def add(figures: list[Figures], thresholds: Thresholds) -> Figures:
    """A group's figures: money summed, each project's flags counted by the caller; the
    group's ratios are the same formulas applied to the sums (e.g. CPI = ΣEV / ΣAC), its
    earned value figures and completion shares over the projects that have a measure of
    progress (milestones), so a project without one doesn't read as 0% done."""

    # Column by column, in C (map, sum): a portfolio adds 10,000s of projects.
    def column(name: str) -> Iterator[Any]:
        return map(attrgetter(name), figures)

    ev, pv = sum(column("ev")), sum(column("pv"))  # 0 from the projects without a measure
    measured_revised = sum(column("measured_revised"))
    return _with_flags(
        sum(column("original")),
        sum(column("revised")),
        sum(column("committed")),
        sum(column("disbursed")),
        ev,
        pv,
        (ev, measured_revised) if measured_revised else None,
        (pv, measured_revised) if measured_revised else None,
        (sum(column("measured")), measured_revised, sum(column("measured_disbursed"))),
        thresholds,
    )


FLAGS = ("over_budget", "forecast_over", "needs_revision", "behind_schedule")


def flag_counts(figures: list[Figures]) -> list[int]:
    """How many of the figures raise each flag: over budget, forecast over, needs revision,
    behind schedule."""
    return [sum(map(attrgetter(flag), figures)) for flag in FLAGS]


def figures_by_project(
    *, session: Session, scope: Select[Any], as_of: date, today: date, thresholds: Thresholds
) -> dict[int, Figures]:
    """Every project of the scope's figures as of the date, from a fixed number of SQL
    aggregates whatever the number of projects (see gather)."""
    return {
        project_id: derive(ingredients, as_of, thresholds)
        for project_id, ingredients in gather(session, scope=scope, as_of=as_of, today=today)
    }


def report_figures(figures: Figures) -> dict[str, Any]:
    """The fields of ReportFigures from exact figures (docs/REPORTS.md, Definitions). Without
    a measure of progress, the earned value figures are null, not zero."""
    revised, disbursed = figures.revised, figures.disbursed
    remaining = revised - disbursed
    earned = _earned_value(figures) if figures.measured else dict.fromkeys(EARNED_VALUE)
    return {
        "original_estimate": yuan(figures.original),
        "revised_estimate": yuan(revised),
        "committed": yuan(figures.committed),
        "uncommitted": yuan(revised - figures.committed),
        "disbursed": yuan(disbursed),
        "remaining": yuan(remaining),
        "budget_variance": yuan(remaining),
        "budget_variance_pct": share(remaining, revised),
        "financial_completion": share(disbursed, revised),
        "physical_completion": None if figures.physical is None else share(*figures.physical),
        "planned_completion": None if figures.planned is None else share(*figures.planned),
        "bac": yuan(revised),
        "ac": yuan(disbursed),
        **earned,
    }


EARNED_VALUE = ("pv", "ev", "cv", "sv", "cpi", "spi", "eac", "vac")


def _earned_value(figures: Figures) -> dict[str, Any]:
    """EV, PV and what follows from them, over the projects that have a measure: of a group,
    CV = ΣEV − ΣAC and CPI = ΣEV / ΣAC with AC (and BAC, for EAC and VAC) of those projects."""
    ev, pv, eac = figures.ev, figures.pv, figures.eac
    return {
        "pv": yuan(pv),
        "ev": yuan(ev),
        "cv": yuan(ev - figures.measured_disbursed),
        "sv": yuan(ev - pv),
        "cpi": share(ev, figures.measured_disbursed),
        "spi": share(ev, pv),
        "eac": None if eac is None else yuan(eac),
        "vac": None if eac is None else yuan(figures.measured_revised - eac),
    }


def evm_coverage(figures: Figures) -> dict[str, Any]:
    """What a group's earned value stands on: how many of its projects have a measure of
    progress, and their share of its BAC."""
    return {
        "evm_projects": figures.measured,
        "evm_coverage": share(figures.measured_revised, figures.revised),
    }


def report_flags(figures: Figures) -> ReportFlags:
    """A project's flags as the reports show them."""
    return ReportFlags(
        over_budget=figures.over_budget,
        forecast_over=figures.forecast_over,
        needs_revision=figures.needs_revision,
        behind_schedule=figures.behind_schedule,
    )


def threshold_strings(thresholds: Thresholds) -> dict[str, str]:
    """The thresholds a report applied, as it states them."""
    return {
        "needs_revision": str(thresholds.needs_revision),
        "behind_schedule_spi": str(thresholds.behind_schedule_spi),
    }
