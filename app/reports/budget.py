"""The budget read model, `GET /api/v1/projects/{ref}/budget` (docs/REPORTS.md, Budget): a
project's estimate in force, disbursed, remaining and physical completion as of a date, with
the same per budget line and per funding source (planned against disbursed).

Three SQL statements as of today, four as of an earlier date (the revision in force then):
the project's position (estimate, disbursed, payments and reversals, milestone sums), its
budget lines, its funding sources. The project report takes its budget lines and funding
rows from `budget_lines` and `funding` here; the portfolio its funding from `funding_query`.
"""

from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import Select, func, select
from sqlmodel import Session

from app.funding.models import FundingSource, ProjectFunding
from app.ledger.schemas import LineFigures
from app.money import fen, share, yuan
from app.projects.models import BudgetLine, Project
from app.reports import asof
from app.reports.evm import milestone_sums, physical_fraction
from app.reports.figures import P, project_ids
from app.reports.schemas import FundingFigures, ProjectBudget

BL = BudgetLine.__table__  # type: ignore[attr-defined]
PF = ProjectFunding.__table__  # type: ignore[attr-defined]
FS = FundingSource.__table__  # type: ignore[attr-defined]


class LinePosition(NamedTuple):
    """A budget line as of a date; money in fen."""

    budget_line_id: int
    code: str
    name: str
    estimate: int
    disbursed: int

    def figures(self) -> dict[str, Any]:
        """The fields of LineFigures (and of the project report's LineReport)."""
        return {
            "budget_line_id": self.budget_line_id,
            "code": self.code,
            "estimate": yuan(self.estimate),
            "disbursed": yuan(self.disbursed),
            "remaining": yuan(self.estimate - self.disbursed),
            "financial_completion": share(self.disbursed, self.estimate),
        }


class FundingPosition(NamedTuple):
    """A project's funding from one source as of a date; money in fen."""

    funding_source: str
    name: str
    planned: int
    disbursed: int

    def figures(self) -> dict[str, Any]:
        """The fields of FundingFigures (and of the project report's FundingReport)."""
        return {
            "funding_source": self.funding_source,
            "name": self.name,
            "planned": yuan(self.planned),
            "disbursed": yuan(self.disbursed),
        }


def budget_lines(
    session: Session, *, project_id: int, as_of: date, today: date
) -> list[LinePosition]:
    """The project's budget lines by code, each with what was paid on it by the date."""
    paid = asof.paid_by_budget_line(
        scope=project_ids(P.c.id == project_id), as_of=as_of, today=today
    )
    rows = session.execute(
        select(BL.c.id, BL.c.code, BL.c.name, fen(BL.c.estimate), func.coalesce(paid.c.paid, 0))
        .select_from(BL.outerjoin(paid, paid.c.budget_line_id == BL.c.id))
        .where(BL.c.project_id == project_id)
        .order_by(BL.c.code)
    ).all()
    return [
        LinePosition(line_id, code, name, int(estimate), int(disbursed))
        for line_id, code, name, estimate, disbursed in rows
    ]


def funding_query(*, scope: Select[Any], as_of: date, today: date) -> Select[Any]:
    """(project_id, code, name, planned, paid) of each funding source in the funding plans of
    the projects `scope` selects: what is planned from it and what was paid from it by the
    date (fen)."""
    paid = asof.paid_by_funding_source(scope=scope, as_of=as_of, today=today)
    return (
        select(
            PF.c.project_id,
            FS.c.code,
            FS.c.name,
            fen(PF.c.planned).label("planned"),
            func.coalesce(paid.c.paid, 0).label("paid"),
        )
        .select_from(
            PF.join(FS, FS.c.id == PF.c.funding_source_id).outerjoin(
                paid,
                (paid.c.project_id == PF.c.project_id)
                & (paid.c.funding_source_id == PF.c.funding_source_id),
            )
        )
        .where(PF.c.project_id.in_(scope))
    )


def funding(
    session: Session, *, project_id: int, as_of: date, today: date
) -> list[FundingPosition]:
    """The project's funding sources in their order, planned against paid by the date."""
    query = funding_query(scope=project_ids(P.c.id == project_id), as_of=as_of, today=today)
    rows = session.execute(query.order_by(FS.c.sort_order, FS.c.id)).all()
    return [
        FundingPosition(code, name, int(planned), int(paid))
        for _project_id, code, name, planned, paid in rows
    ]


def project_budget(
    *, session: Session, project: Project, as_of: date, today: date
) -> ProjectBudget:
    """The project's budget position as of a date: payments, reversals, revisions and
    progress dated later don't count."""
    assert project.id is not None
    scope = project_ids(P.c.id == project.id)
    paid = asof.paid_by_project(scope=scope, as_of=as_of, today=today, counted=True)
    progress = milestone_sums(session, scope=scope, as_of=as_of, today=today).subquery()
    original, revised_now, disbursed, payments, reversals, weighted, weights = session.execute(
        select(
            fen(P.c.original_estimate),
            fen(P.c.revised_estimate),
            func.coalesce(paid.c.paid, 0),
            func.coalesce(paid.c.payments, 0),
            func.coalesce(paid.c.reversals, 0),
            func.coalesce(progress.c.weighted, 0),
            func.coalesce(progress.c.weights, 0),
        )
        .select_from(
            P.outerjoin(paid, paid.c.project_id == P.c.id).outerjoin(
                progress, progress.c.project_id == P.c.id
            )
        )
        .where(P.c.id == project.id)
    ).one()
    revised = asof.estimate_in_force(
        asof.revisions_as_of(session, scope=scope, as_of=as_of, today=today),
        project_id=project.id,
        original=int(original),
        revised=int(revised_now),
    )
    disbursed = int(disbursed)
    physical = physical_fraction(int(weighted), int(weights))
    return ProjectBudget(
        as_of=as_of,
        project_id=project.id,
        code=project.code,
        original_estimate=yuan(int(original)),
        revised_estimate=yuan(revised),
        disbursed=yuan(disbursed),
        remaining=yuan(revised - disbursed),
        financial_completion=share(disbursed, revised),
        physical_completion=None if physical is None else share(*physical),
        payments=int(payments),
        reversals=int(reversals),
        budget_lines=[
            LineFigures(**line.figures())
            for line in budget_lines(session, project_id=project.id, as_of=as_of, today=today)
        ],
        funding=[
            FundingFigures(**source.figures())
            for source in funding(session, project_id=project.id, as_of=as_of, today=today)
        ],
    )
