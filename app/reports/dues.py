"""The dues report (docs/REPORTS.md, Dues): what is certified and not yet paid, overdue first
(保障中小企业款项支付条例 第9条: pay within the contract's term, at most 60 days after
certification), and the retention (质保金) not yet paid on contracts whose release date is
known: due when their defects-liability period ends, or when released early. As of a date:
certifications, payments, change orders, 竣工验收 and early releases dated later don't count.
Two SQL statements: the certifications, the contracts.
"""

from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, literal, or_, select
from sqlmodel import Session

from app.auth.actor import Actor
from app.auth.scope import own_contracts, visible_projects
from app.contractors.models import Contractor
from app.contracts.models import Contract
from app.milestones.models import Milestone
from app.money import fen, yuan
from app.projects.models import Project
from app.reports import asof
from app.reports.commitments import contracts_as_of, dated_by
from app.reports.schemas import CertifiedDue, DuesReport, RetentionDue
from app.timeutil import later


def dues(*, session: Session, actor: Actor, as_of: date, today: date) -> DuesReport:
    """What is certified and unpaid, and retention falling due, as of a date, on the
    contracts the caller may see."""
    certified = _certified_unpaid(session=session, actor=actor, as_of=as_of, today=today)
    return DuesReport(
        as_of=as_of,
        certified=certified,
        certified_unpaid_total=sum((d.unpaid for d in certified), Decimal(0)),
        overdue_total=sum((d.unpaid for d in certified if d.overdue_days > 0), Decimal(0)),
        retention=_retention(session=session, actor=actor, as_of=as_of, today=today),
    )


def _certified_unpaid(
    *, session: Session, actor: Actor, as_of: date, today: date
) -> list[CertifiedDue]:
    """Each certification not yet covered by the payments on its contract."""
    m = Milestone.__table__  # type: ignore[attr-defined]
    c = Contract.__table__  # type: ignore[attr-defined]
    p = Project.__table__  # type: ignore[attr-defined]
    k = Contractor.__table__  # type: ignore[attr-defined]
    cb = asof.paid_by_contract(scope=None, as_of=as_of, today=today)
    # Payments on a contract cover its certifications oldest first: each certification's
    # unpaid part is what the running total of certifications exceeds the paid amount by.
    certified = (
        select(
            m.c.id,
            m.c.contract_id,
            m.c.name,
            m.c.certified_on,
            m.c.certification_reason,
            fen(m.c.certified_amount).label("amount"),
            func.sum(fen(m.c.certified_amount))
            .over(partition_by=m.c.contract_id, order_by=(m.c.certified_on, m.c.id))
            .label("running"),
        )
        .where(
            m.c.certified_amount.is_not(None),
            m.c.contract_id.is_not(None),
            m.c.certified_on <= as_of,
        )
        .subquery()
    )
    paid = func.coalesce(cb.c.paid, literal(0))
    left = certified.c.running - paid
    unpaid = case((left <= 0, 0), (left >= certified.c.amount, certified.c.amount), else_=left)
    rows = session.execute(
        select(
            certified.c.id,
            certified.c.name,
            certified.c.certified_on,
            certified.c.certification_reason,
            certified.c.amount,
            unpaid.label("unpaid"),
            c.c.id.label("contract_id"),
            c.c.contract_no,
            c.c.payment_term_days,
            p.c.id.label("project_id"),
            p.c.code,
            k.c.name.label("contractor"),
        )
        .select_from(
            certified.join(c, c.c.id == certified.c.contract_id)
            .outerjoin(cb, cb.c.contract_id == c.c.id)
            .join(p, p.c.id == c.c.project_id)
            .join(k, k.c.id == c.c.contractor_id)
        )
        .where(unpaid > 0, visible_projects(actor), *own_contracts(actor, c.c.id))
    ).all()
    items = []
    for row in rows:
        due_on = later(row.certified_on, days=row.payment_term_days)
        items.append(
            CertifiedDue(
                milestone_id=row.id,
                milestone=row.name,
                project_id=row.project_id,
                project_code=row.code,
                contract_id=row.contract_id,
                contract_no=row.contract_no,
                contractor=row.contractor,
                certified_amount=yuan(int(row.amount)),
                unpaid=yuan(int(row.unpaid)),
                certified_on=row.certified_on,
                certification_reason=row.certification_reason,
                due_on=due_on,
                overdue_days=max(0, (as_of - due_on).days),
            )
        )
    items.sort(key=lambda d: (-d.overdue_days, d.due_on, d.milestone_id))
    return items


def _retention(*, session: Session, actor: Actor, as_of: date, today: date) -> list[RetentionDue]:
    """The retention not yet paid on each contract accepted (or its retention released) by
    the date, due ones first."""
    c = Contract.__table__  # type: ignore[attr-defined]
    retention = []
    for row, terms in contracts_as_of(
        session,
        where=[
            or_(c.c.accepted_on <= as_of, c.c.retention_released_on <= as_of),
            visible_projects(actor),
            *own_contracts(actor, c.c.id),
        ],
        order_by=(c.c.id,),
        scope=None,
        as_of=as_of,
        today=today,
    ):
        if terms.retention_unpaid <= 0 or terms.retention_release_date is None:
            continue
        retention.append(
            RetentionDue(
                contract_id=row.id,
                contract_no=row.contract_no,
                project_id=row.project_id,
                project_code=row.project_code,
                contractor=row.contractor,
                retention_unpaid=terms.retention_unpaid,
                retention_held=terms.retention_held,
                accepted_on=dated_by(row.accepted_on, as_of),
                due_on=terms.retention_release_date,
                due=terms.retention_release_date <= as_of,
            )
        )
    retention.sort(key=lambda r: (not r.due, r.due_on))
    return retention
