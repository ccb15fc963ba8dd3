"""The alerts report (docs/REPORTS.md, Alerts): every project or contract with a flag, most
severe first, each with the figures that raised it: over budget, payments overdue, forecast
over, needs a 概算调整, 竣工财务决算 due (three months after 竣工验收), behind schedule,
retention due. Six SQL statements as of today, seven as of an earlier date: the figures
(figures.gather: three, or four), the projects' 竣工验收 dates (completion.py), and the dues
report (two).
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.auth.actor import Actor
from app.auth.scope import visible_projects
from app.exports.dependencies import Lang
from app.labels import alert_messages
from app.reports.completion import accepted_on
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
SEVERITY = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def alerts(
    *, session: Session, actor: Actor, as_of: date, today: date, thresholds: Thresholds
) -> AlertsReport:
    """Every project or contract with a flag, most severe first, each with its figures."""
    scope = project_ids(visible_projects(actor))
    by_project = figures_by_project(
        session=session, scope=scope, as_of=as_of, today=today, thresholds=thresholds
    )
    completed = accepted_on(scope=scope, as_of=as_of)
    projects = session.execute(
        select(
            P.c.id,
            P.c.code,
            P.c.name,
            P.c.final_accounts_on,
            completed.c.accepted_on,
        ).select_from(P.join(completed, completed.c.project_id == P.c.id))
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
            _alert(
                alert_messages(
                    "payments_overdue",
                    contract_no=first.contract_no,
                    contractor=first.contractor,
                    unpaid=unpaid,
                    overdue_days=first.overdue_days,
                ),
                kind="payments_overdue",
                severity="high",
                project_id=first.project_id,
                project_code=first.project_code,
                contract_id=first.contract_id,
                contract_no=first.contract_no,
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
                _alert(
                    alert_messages(
                        "retention_due",
                        contract_no=held.contract_no,
                        contractor=held.contractor,
                        retention_unpaid=held.retention_unpaid,
                        due_on=held.due_on,
                    ),
                    kind="retention_due",
                    severity="medium",
                    project_id=held.project_id,
                    project_code=held.project_code,
                    contract_id=held.contract_id,
                    contract_no=held.contract_no,
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
    project = (row.code, row.name)
    raised: list[tuple[str, str, dict[str, str], date | None]] = []
    if f.over_budget:
        raised.append(
            (
                "over_budget",
                "critical",
                alert_messages("over_budget", project=project, **shown),
                None,
            )
        )
    if f.forecast_over:
        raised.append(
            (
                "forecast_over",
                "high",
                alert_messages("forecast_over", project=project, **shown),
                None,
            )
        )
    if f.needs_revision:
        threshold = f"{thresholds.needs_revision:%}"
        messages = alert_messages("needs_revision", project=project, threshold=threshold)
        raised.append(("needs_revision", "high", messages, None))
    if f.behind_schedule:
        messages = alert_messages(
            "behind_schedule",
            project=project,
            spi=shown["spi"],
            threshold=thresholds.behind_schedule_spi,
        )
        raised.append(("behind_schedule", "medium", messages, None))
    approved = row.final_accounts_on is not None and row.final_accounts_on <= as_of
    if row.accepted_on is not None and not approved:
        due_on = later(row.accepted_on, months=FINAL_ACCOUNTS_MONTHS)
        late = due_on < as_of
        messages = alert_messages(
            "final_accounts_overdue" if late else "final_accounts_due",
            project=project,
            due_on=due_on,
            accepted_on=row.accepted_on,
        )
        raised.append(("final_accounts_due", "high" if late else "low", messages, due_on))
    return [
        _alert(
            messages,
            kind=kind,
            severity=severity,
            project_id=row.id,
            project_code=row.code,
            due_on=due_on,
            figures=shown,
        )
        for kind, severity, messages, due_on in raised
    ]


def _alert(messages: dict[str, str], **fields: Any) -> Alert:
    """An alert whose message is in English, and in Chinese for `?lang=zh`."""
    alert = Alert(message=messages[Lang.en], **fields)
    alert._messages = messages
    return alert
