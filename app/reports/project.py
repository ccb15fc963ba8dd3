"""The project report (docs/REPORTS.md, Definitions): one project's variance, completion and
earned-value figures as of a date, with its flags, and the same per budget line, per funding
source (planned against disbursed) and per contract (committed, paid, retention held,
payable now). Six SQL statements as of today, seven as of an earlier date: the figures
(figures.gather: three, or four), the budget lines and the funding sources (budget.py), the
contracts (commitments.py).
"""

from datetime import date

from sqlmodel import Session

from app.contracts.models import Contract
from app.money import yuan
from app.projects.models import Project
from app.reports.budget import budget_lines, funding
from app.reports.commitments import contracts_as_of, dated_by
from app.reports.figures import (
    P,
    Thresholds,
    figures_by_project,
    project_ids,
    report_figures,
    report_flags,
)
from app.reports.schemas import ContractReport, FundingReport, LineReport, ProjectReport


def project_report(
    *, session: Session, project: Project, as_of: date, today: date, thresholds: Thresholds
) -> ProjectReport:
    """One project's figures as of a date, with its budget lines, funding sources and the
    contracts signed by then."""
    assert project.id is not None
    figures = figures_by_project(
        session=session,
        scope=project_ids(P.c.id == project.id),
        as_of=as_of,
        today=today,
        thresholds=thresholds,
    )[project.id]
    return ProjectReport(
        project_id=project.id,
        code=project.code,
        name=project.name,
        as_of=as_of,
        **report_figures(figures),
        flags=report_flags(figures),
        budget_lines=[
            LineReport(**line.figures(), name=line.name)
            for line in budget_lines(session, project_id=project.id, as_of=as_of, today=today)
        ],
        funding=[
            FundingReport(**source.figures(), remaining=yuan(source.planned - source.disbursed))
            for source in funding(session, project_id=project.id, as_of=as_of, today=today)
        ],
        contracts=_contracts(session=session, project_id=project.id, as_of=as_of, today=today),
    )


def _contracts(
    *, session: Session, project_id: int, as_of: date, today: date
) -> list[ContractReport]:
    """Each contract signed by the date, in signing order, with its terms then."""
    c = Contract.__table__  # type: ignore[attr-defined]
    return [
        ContractReport(
            contract_id=row.id,
            contract_no=row.contract_no,
            contractor=row.contractor,
            signed_on=row.signed_on,
            accepted_on=dated_by(row.accepted_on, as_of),
            committed=terms.committed,
            paid=terms.paid,
            retention_planned=terms.retention_planned,
            retention_held=terms.retention_held,
            retention_release_date=terms.retention_release_date,
            payable_now=terms.payable_now,
        )
        for row, terms in contracts_as_of(
            session,
            where=[c.c.project_id == project_id, c.c.signed_on <= as_of],
            order_by=(c.c.signed_on, c.c.id),
            scope=project_ids(P.c.id == project_id),
            as_of=as_of,
            today=today,
        )
    ]
