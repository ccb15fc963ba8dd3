"""The time series (docs/REPORTS.md, Time series): the S-curve of a project, a programme or
every project the caller can see. Per period: what was paid in it, and at its end (or the
as-of date) the cumulative AC, PV, EV and BAC, each point equal to the portfolio totals as
of that day. Five SQL statements whatever the number of projects, payments and periods (six
naming a project or a programme: finding it): the projects, their milestones, the revisions,
the progress reports and the payments per month are read once, then swept through the
periods in date order with the figures' earned-value formula (evm.py).
"""

import heapq
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlmodel import Session

from app.auth.actor import Actor
from app.errors import InvalidInput, NotFound
from app.milestones.models import Milestone, MilestoneProgress
from app.money import fen, half_up, yuan
from app.programmes.models import PlanItem, Programme
from app.projects.service import get_project
from app.reports.asof import paid_by_month
from app.reports.evm import earned_value, planned_ramp
from app.reports.figures import P, project_ids
from app.reports.portfolio import portfolio_scope
from app.reports.schemas import TimeseriesPoint, TimeseriesReport
from app.revisions.models import ProjectRevision
from app.timeutil import later


class Interval(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


MAX_PERIODS = 600
STEP_MONTHS = {Interval.month: 1, Interval.quarter: 3, Interval.year: 12}


def periods(start: date, end: date, interval: Interval) -> list[tuple[str, date, date]]:
    """(label, first day, last day) of each period from the one holding `start` to the one
    holding `end`, at most MAX_PERIODS of them (422 beyond: ask for a longer interval or a
    later `from`)."""
    step = STEP_MONTHS[interval]
    first_month = start.month - (start.month - 1) % step
    count = ((end.year - start.year) * 12 + end.month - first_month) // step + 1
    if count > MAX_PERIODS:
        raise InvalidInput(
            f"{count} periods from {start} to {end}; at most {MAX_PERIODS}: choose a longer "
            "interval or a later `from`",
            field="interval",
            location="query",
        )
    first = date(start.year, first_month, 1)
    found = []
    for _ in range(count):
        following = later(first, months=step)
        last = date.max if following == date.max else following - timedelta(days=1)
        if interval is Interval.month:
            label = f"{first.year}-{first.month:02d}"
        elif interval is Interval.quarter:
            label = f"{first.year}-Q{(first.month - 1) // 3 + 1}"
        else:
            label = str(first.year)
        found.append((label, first, last))
        first = following
    return found


def timeseries(
    *,
    session: Session,
    actor: Actor,
    project: str | None,
    programme: str | None,
    interval: Interval,
    since: date | None,
    as_of: date,
) -> TimeseriesReport:
    """Per period: disbursed, and at the period's end (or the as-of date) the cumulative AC,
    PV, EV and BAC — the S-curve of a project, a programme, or (naming neither) every project
    the caller can see. Periods run from `since` (default: the earliest payment, planned start
    or milestone, but not before the programme's start) to `as_of`. Five statements whatever
    the number of projects, payments and periods (six naming a project or a programme): the
    dated facts are read once and swept through the periods in order."""
    if project is not None and programme is not None:
        raise InvalidInput(
            "name a project or a programme, not both", field="programme", location="query"
        )
    if project is not None:
        try:
            found = get_project(session=session, actor=actor, ref=project)
        except NotFound as missing:
            raise InvalidInput(str(missing), field="project", location="query") from None
        scope, label = project_ids(P.c.id == found.id), f"project {found.code}"
    else:
        scope, code = portfolio_scope(session=session, actor=actor, programme=programme)
        label = "all projects" if code is None else f"programme {code}"
    history = _History.read(session, scope=scope, as_of=as_of)
    starts = [day for day in history.first_days() if day <= as_of]
    if starts and history.programme_start is not None:
        # Never before the programme's start: one entry dated decades early must not make
        # the series unreadable; what came before is in the first point's AC.
        starts = [min(max(min(starts), history.programme_start), as_of)]
    if since is not None:
        starts = [since] if since <= as_of else []
    spans = periods(min(starts), as_of, interval) if starts else []
    # Earned value over the projects with a measure of progress; none: null, as the portfolio.
    measured = any(plan.dates for plan in history.plans.values())
    points = []
    cumulative = sum(
        amount for month, amount in history.paid_by_month.items() if spans and month < spans[0][1]
    )
    for period, first, last in spans:
        end = min(last, as_of)
        paid = sum(
            amount for month, amount in history.paid_by_month.items() if first <= month <= last
        )
        cumulative += paid
        bac, pv, ev = history.values_at(end)
        points.append(
            TimeseriesPoint(
                period=period,
                start=first,
                end=end,
                disbursed=yuan(paid),
                ac=yuan(cumulative),
                pv=yuan(pv) if measured else None,
                ev=yuan(ev) if measured else None,
                bac=yuan(bac),
            )
        )
    return TimeseriesReport(scope=label, interval=interval.value, as_of=as_of, points=points)


@dataclass
class _Plan:
    """One project's state in the sweep: its estimate in force, its distinct planned dates in
    order with Σ weight of the milestones on each, and Σ weight × percent of the progress
    reported so far."""

    revised: int
    start: date | None
    dates: list[date]
    weights: list[int]
    due: list[int]  # due[k] = Σ weights of the milestones on the first k dates
    percent: dict[int, int]
    weight_of: dict[int, int]
    weighted: int = 0
    passed: int = 0  # planned dates on or before the sweep's date

    def first_move(self) -> date:
        """The first day the project's PV may differ from 0: the day after its start, or its
        first planned date if that is earlier or it has no start."""
        if self.start is None:
            return self.dates[0]
        return min(later(self.start, days=1), self.dates[0])

    def ramp(self, day: date) -> tuple[date | None, tuple[int, int, int, int]]:
        """PV from `day` until the next planned date (returned, None: for good), by the same
        formula: (a, b, since, scale) with PV on a day d = half_up(a + b × max(0, d − since),
        scale), d and since as day numbers."""
        k, previous, following, next_weight = self._advance(day)
        since, base, slope, scale = planned_ramp(
            self.due[-1], self.due[k], next_weight, previous, following
        )
        start = since.toordinal() if since is not None else 0
        return following, (self.revised * base, self.revised * slope, start, scale)

    def _advance(self, day: date) -> tuple[int, date | None, date | None, int]:
        """Move past the planned dates by `day`: how many there are, the previous one (else
        the start), the next one and Σ weight on it."""
        dates, k = self.dates, self.passed
        while k < len(dates) and dates[k] <= day:
            k += 1
        self.passed = k
        if k < len(dates):
            return k, dates[k - 1] if k else self.start, dates[k], self.weights[k]
        return k, dates[k - 1] if k else self.start, None, 0


@dataclass
class _History:
    """The dated facts of the projects in scope, read once, replayed in date order."""

    plans: dict[int, _Plan]
    revisions: list[tuple[date, int, int, int]]  # approved_on, id, project, estimate
    reports: list[tuple[date, int, int, int]]  # as_of, id, milestone, percent
    milestone_project: dict[int, int]
    paid_by_month: dict[date, int]
    first_planned: list[date]
    programme_start: date | None  # 1 January of the earliest start year of their programmes
    applied_revisions: int = 0
    applied_reports: int = 0
    sweep: "_Sweep | None" = None

    @classmethod
    def read(cls, session: Session, *, scope: Select[Any], as_of: date) -> "_History":
        m = Milestone.__table__  # type: ignore[attr-defined]
        mp = MilestoneProgress.__table__  # type: ignore[attr-defined]
        r = ProjectRevision.__table__  # type: ignore[attr-defined]
        pi = PlanItem.__table__  # type: ignore[attr-defined]
        pg = Programme.__table__  # type: ignore[attr-defined]
        projects = session.execute(
            select(P.c.id, fen(P.c.original_estimate), P.c.planned_start, pg.c.start_year)
            .select_from(
                P.join(pi, pi.c.id == P.c.plan_item_id).join(pg, pg.c.id == pi.c.programme_id)
            )
            .where(P.c.id.in_(scope))
        ).all()
        milestones = session.execute(
            select(m.c.id, m.c.project_id, fen(m.c.weight), m.c.planned_date)
            .where(m.c.project_id.in_(scope))
            .order_by(m.c.project_id, m.c.planned_date, m.c.id)
        ).all()
        revisions = session.execute(
            select(r.c.approved_on, r.c.id, r.c.project_id, fen(r.c.new_estimate))
            .where(r.c.project_id.in_(scope), r.c.approved_on <= as_of)
            .order_by(r.c.approved_on, r.c.id)
        ).all()
        reports = session.execute(
            select(mp.c.as_of, mp.c.id, mp.c.milestone_id, fen(mp.c.percent_complete))
            .select_from(mp.join(m, m.c.id == mp.c.milestone_id))
            .where(m.c.project_id.in_(scope), mp.c.as_of <= as_of)
            .order_by(mp.c.as_of, mp.c.id)
        ).all()
        paid = session.execute(paid_by_month(scope=scope, as_of=as_of)).all()
        plans = {
            pid: _Plan(
                revised=int(original),
                start=start,
                dates=[],
                weights=[],
                due=[0],
                percent={},
                weight_of={},
            )
            for pid, original, start, _year in projects
        }
        start_years = [year for _pid, _original, _start, year in projects]
        milestone_project = {}
        for mid, pid, weight, planned in milestones:
            plan = plans.get(pid)
            if plan is None:
                continue
            if plan.dates and plan.dates[-1] == planned:
                # Milestones sharing a planned date ramp together: one step of their Σ weight.
                plan.weights[-1] += int(weight)
                plan.due[-1] += int(weight)
            else:
                plan.dates.append(planned)
                plan.weights.append(int(weight))
                plan.due.append(plan.due[-1] + int(weight))
            plan.weight_of[mid] = int(weight)
            milestone_project[mid] = pid
        first_planned = [plan.start for plan in plans.values() if plan.start is not None]
        first_planned += [plan.dates[0] for plan in plans.values() if plan.dates]
        return cls(
            plans=plans,
            revisions=[tuple(row) for row in revisions],
            reports=[tuple(row) for row in reports],
            milestone_project=milestone_project,
            paid_by_month={month: int(amount) for month, amount in paid},
            first_planned=first_planned,
            programme_start=date(min(start_years), 1, 1) if start_years else None,
        )

    def first_days(self) -> list[date]:
        """The planned starts, the first planned milestones, and the first month paid."""
        paid = [min(self.paid_by_month)] if self.paid_by_month else []
        return [*self.first_planned, *paid]

    def values_at(self, day: date) -> tuple[int, int, int]:
        """(BAC, PV, EV) summed over the projects as of `day`; days must not go back.

        A project's EV moves only with its estimate or a progress report, and its PV also
        with the day, linearly between planned dates (rounded per project). So EV is
        recomputed only for the projects a report or revision changed since the last call;
        PV is summed from each begun project's ramp (a few integers, set again when a planned
        date passes or the project changes), and is 0 before a project begins: in any one
        period most of a province's projects are finished (a constant) or not yet begun."""
        sweep = self.sweep
        if sweep is None:
            sweep = self.sweep = _Sweep(
                waiting=sorted(
                    ((plan.first_move(), pid) for pid, plan in self.plans.items() if plan.dates),
                    reverse=True,
                ),
                bac=sum(plan.revised for plan in self.plans.values()),
            )
        changed, repriced = set(), set()  # EV moved; EV and the PV ramp moved
        plans, revisions, reports = self.plans, self.revisions, self.reports
        n = self.applied_revisions
        while n < len(revisions) and revisions[n][0] <= day:
            _approved_on, _id, pid, estimate = revisions[n]
            n += 1
            plan = plans.get(pid)
            if plan is not None:
                sweep.bac += estimate - plan.revised
                plan.revised = estimate
                changed.add(pid)
                repriced.add(pid)
        self.applied_revisions = n
        n, owner = self.applied_reports, self.milestone_project
        while n < len(reports) and reports[n][0] <= day:
            _reported_on, _id, mid, percent = reports[n]
            n += 1
            pid = owner.get(mid, -1)
            plan = plans.get(pid)
            if plan is not None:
                plan.weighted += plan.weight_of[mid] * (percent - plan.percent.get(mid, 0))
                plan.percent[mid] = percent
                changed.add(pid)
        self.applied_reports = n
        moved = set()
        while sweep.waiting and sweep.waiting[-1][0] <= day:
            moved.add(sweep.waiting.pop()[1])
        number = day.toordinal()
        while sweep.ends and sweep.ends[0][0] <= number:
            end, pid = heapq.heappop(sweep.ends)
            if sweep.end_of.get(pid) == end:  # else a later ramp replaced it
                moved.add(pid)
        for pid in changed:
            plan = plans[pid]
            ev = earned_value(plan.revised, plan.weighted, plan.due[-1]) if plan.dates else 0
            sweep.ev += ev - sweep.ev_of.get(pid, 0)
            sweep.ev_of[pid] = ev
        moved.update(sweep.begun.intersection(repriced))
        for pid in moved:
            sweep.begun.add(pid)
            following, ramp = plans[pid].ramp(day)
            if following is None:  # past its last planned date: PV stays as it is now
                sweep.ramps.pop(pid, None)
                sweep.end_of.pop(pid, None)
                a, _b, _since, scale = ramp
                flat = half_up(a, scale)
                sweep.flat += flat - sweep.flat_of.get(pid, 0)
                sweep.flat_of[pid] = flat
            else:
                sweep.ramps[pid] = ramp
                sweep.end_of[pid] = end = following.toordinal()
                heapq.heappush(sweep.ends, (end, pid))
        pv = sweep.flat + sum(
            half_up(a + b * (number - since if number > since else 0), scale)
            for a, b, since, scale in sweep.ramps.values()
        )
        return sweep.bac, pv, sweep.ev


@dataclass
class _Sweep:
    """The sweep's state: the projects not yet begun (by the day their PV may first move,
    last first), each begun project's PV ramp and the day number it ends (a heap of them),
    the PV of those past their last planned date, each project's EV, and the sums."""

    waiting: list[tuple[date, int]]
    bac: int
    ev: int = 0
    ev_of: dict[int, int] = field(default_factory=dict)
    begun: set[int] = field(default_factory=set)
    ramps: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    flat: int = 0  # Σ PV of the projects past their last planned date
    flat_of: dict[int, int] = field(default_factory=dict)
    end_of: dict[int, int] = field(default_factory=dict)
    ends: list[tuple[int, int]] = field(default_factory=list)
