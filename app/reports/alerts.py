"""The alerts report (docs/REPORTS.md, Alerts): every project or contract with a flag, most
severe first, each with the figures that raised it: over budget, payments overdue, forecast
over, needs a 概算调整, 竣工财务决算 due (three months after 竣工验收), behind schedule,
retention due. Six SQL statements as of today, seven as of an earlier date: the figures
(figures.gather: three, or four), the projects' 竣工验收 dates, and the dues report (two).
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session

from app.auth.actor import Actor
from app.auth.scope import visible_projects
from app.contracts.models import Contract
from app.inputs import identifier_key
from app.milestones.models import Milestone
from app.reports.dues import dues
from app.reports.figures import (
    Figures,
    P,
    Thresholds,
    figures_by_project,
    project_ids,
    report_figures,
    threshold_strings,
)
from app.reports.schemas import Alert, AlertsReport, CertifiedDue
from app.timeutil import later

FINAL_ACCOUNTS_MONTHS = 3
ACCEPTANCE_CODE = "竣工验收"
SEVERITY = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def alerts(
    *, session: Session, actor: Actor, as_of: date, today: date, thresholds: Thresholds
) -> AlertsReport:
    """Every project or contract with a flag, most severe first, each with its figures."""
    scope = project_ids(visible_projects(actor))
    by_project = figures_by_project(
        session=session, scope=scope, as_of=as_of, today=today, thresholds=thresholds
    )
    m = Milestone.__table__  # type: ignore[attr-defined]
    c = Contract.__table__  # type: ignore[attr-defined]
    # 竣工验收: the project's milestone of that code reached, else every contract accepted.
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
    projects = session.execute(
        select(
            P.c.id,
            P.c.code,
            P.c.name,
            P.c.final_accounts_on,
            func.coalesce(reached.c.on, all_accepted).label("accepted_on"),
        )
        .select_from(
            P.outerjoin(reached, reached.c.project_id == P.c.id).outerjoin(
                contracts, contracts.c.project_id == P.c.id
            )
        )
        .where(P.c.id.in_(scope))
    ).all()
    # A project created after the figures were read (READ COMMITTED) waits for the next ask.
    found = [
        alert
        for row in projects
        if row.id in by_project
        for alert in _project_alerts(row, by_project[row.id], as_of, thresholds)
    ]
    owed = dues(session=session, actor=actor, as_of=as_of, today=today)
    by_contract: dict[int, list[CertifiedDue]] = defaultdict(list)
    for due in owed.certified:
        if due.overdue_days > 0:
            by_contract[due.contract_id].append(due)
    for items in by_contract.values():
        first = items[0]
        unpaid = sum((item.unpaid for item in items), Decimal(0))
        found.append(
            Alert(
                kind="payments_overdue",
                severity="high",
                project_id=first.project_id,
                project_code=first.project_code,
                contract_id=first.contract_id,
                contract_no=first.contract_no,
                message=f"{first.contract_no} ({first.contractor}): {unpaid} certified and "
                f"unpaid past the payment term, the oldest {first.overdue_days} days overdue",
                due_on=min(item.due_on for item in items),
                figures={
                    "overdue": str(unpaid),
                    "overdue_days": str(max(item.overdue_days for item in items)),
                    "certifications": str(len(items)),
                },
            )
        )
    for held in owed.retention:
        if held.due:
            found.append(
                Alert(
                    kind="retention_due",
                    severity="medium",
                    project_id=held.project_id,
                    project_code=held.project_code,
                    contract_id=held.contract_id,
                    contract_no=held.contract_no,
                    message=f"{held.contract_no} ({held.contractor}): retention "
                    f"{held.retention_unpaid} released on {held.due_on} and not yet paid",
                    due_on=held.due_on,
                    figures={"retention_unpaid": str(held.retention_unpaid)},
                )
            )
    found.sort(key=lambda a: (SEVERITY[a.severity], KINDS.index(a.kind), a.project_code))
    return AlertsReport(as_of=as_of, thresholds=threshold_strings(thresholds), alerts=found)


KINDS = (
    "over_budget",
    "payments_overdue",
    "forecast_over",
    "needs_revision",
    "final_accounts_due",
    "behind_schedule",
    "retention_due",
)


SHOWN = ("revised_estimate", "committed", "disbursed", "ev", "pv", "cpi", "spi", "eac")


def _project_alerts(row: Any, f: Figures, as_of: date, thresholds: Thresholds) -> list[Alert]:
    """The flags one project raises, each with the figures shown in alerts."""
    fields = report_figures(f)
    shown = {key: None if fields[key] is None else str(fields[key]) for key in SHOWN}
    raised: list[tuple[str, str, str, date | None]] = []
    if f.over_budget:
        raised.append(
            (
                "over_budget",
                "critical",
                f"disbursed {shown['disbursed']} exceeds the revised estimate "
                f"{shown['revised_estimate']}",
                None,
            )
        )
    if f.forecast_over:
        raised.append(
            (
                "forecast_over",
                "high",
                f"estimate at completion {shown['eac']} exceeds the revised estimate "
                f"{shown['revised_estimate']}",
                None,
            )
        )
    if f.needs_revision:
        raised.append(
            (
                "needs_revision",
                "high",
                "disbursed, committed or estimate at completion exceeds the revised estimate "
                "by more than "
                f"{thresholds.needs_revision:%}: 概算调整 needed",
                None,
            )
        )
    if f.behind_schedule:
        raised.append(
            (
                "behind_schedule",
                "medium",
                f"SPI {shown['spi']} below {thresholds.behind_schedule_spi}",
                None,
            )
        )
    approved = row.final_accounts_on is not None and row.final_accounts_on <= as_of
    if row.accepted_on is not None and not approved:
        due_on = later(row.accepted_on, months=FINAL_ACCOUNTS_MONTHS)
        late = due_on < as_of
        raised.append(
            (
                "final_accounts_due",
                "high" if late else "low",
                f"竣工财务决算 {'overdue since' if late else 'due by'} {due_on} "
                f"(竣工验收 {row.accepted_on})",
                due_on,
            )
        )
    return [
        Alert(
            kind=kind,
            severity=severity,
            project_id=row.id,
            project_code=row.code,
            message=f"{row.code} {row.name}: {message}",
            due_on=due_on,
            figures=shown,
        )
        for kind, severity, message, due_on in raised
    ]
