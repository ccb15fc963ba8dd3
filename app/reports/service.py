"""Reports. Dues: certified amounts not yet paid (保障中小企业款项支付条例 第9条: pay within the
contract's term, at most 60 days) and retention falling due when defects periods end."""

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import BigInteger, case, func, literal, select, type_coerce
from sqlmodel import Session, col

from app.auth.actor import Actor
from app.contractors.models import Contractor
from app.contracts.models import ChangeOrder, Contract, ContractBalance
from app.contracts.service import add_months, contract_scope, figures
from app.milestones.models import Milestone
from app.money import money_sum, share
from app.projects.models import Project
from app.projects.service import visible_to
from app.reports.schemas import (
    CertifiedDue,
    DuesReport,
    ProjectReport,
    ReportFlags,
    RetentionDue,
)

FEN = Decimal("0.01")


def _fen(column: Any) -> Any:
    """A money column as its raw integer fen, for exact arithmetic in SQL."""
    return type_coerce(column, BigInteger)


def dues(*, session: Session, actor: Actor, as_of: date) -> DuesReport:
    m = Milestone.__table__  # type: ignore[attr-defined]
    c = Contract.__table__  # type: ignore[attr-defined]
    cb = ContractBalance.__table__  # type: ignore[attr-defined]
    p = Project.__table__  # type: ignore[attr-defined]
    k = Contractor.__table__  # type: ignore[attr-defined]
    # Payments on a contract cover its certifications oldest first: each certification's
    # unpaid part is what the running total of certifications exceeds the paid amount by.
    certified = (
        select(
            m.c.id,
            m.c.contract_id,
            m.c.name,
            m.c.certified_on,
            _fen(m.c.certified_amount).label("amount"),
            func.sum(_fen(m.c.certified_amount))
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
    paid = func.coalesce(_fen(cb.c.paid), literal(0))
    left = certified.c.running - paid
    unpaid = case((left <= 0, 0), (left >= certified.c.amount, certified.c.amount), else_=left)
    rows = session.execute(
        select(
            certified.c.id,
            certified.c.name,
            certified.c.certified_on,
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
        .where(unpaid > 0, visible_to(actor), *contract_scope(actor))
    ).all()
    items = []
    for row in rows:
        due_on = row.certified_on + timedelta(days=row.payment_term_days)
        items.append(
            CertifiedDue(
                milestone_id=row.id,
                milestone=row.name,
                project_id=row.project_id,
                project_code=row.code,
                contract_id=row.contract_id,
                contract_no=row.contract_no,
                contractor=row.contractor,
                certified_amount=Decimal(row.amount) * FEN,
                unpaid=Decimal(row.unpaid) * FEN,
                certified_on=row.certified_on,
                due_on=due_on,
                overdue_days=max(0, (as_of - due_on).days),
            )
        )
    items.sort(key=lambda d: (-d.overdue_days, d.due_on, d.milestone_id))
    retention = []
    co = ChangeOrder.__table__  # type: ignore[attr-defined]
    changes = (
        select(co.c.contract_id, func.sum(_fen(co.c.delta)).label("delta"))
        .group_by(co.c.contract_id)
        .subquery()
    )
    for row in session.execute(
        select(
            c.c.id,
            c.c.contract_no,
            c.c.amount,
            c.c.retention_rate,
            c.c.accepted_on,
            c.c.defects_months,
            func.coalesce(changes.c.delta, 0).label("delta"),
            func.coalesce(_fen(cb.c.paid), 0).label("paid"),
            p.c.code,
            k.c.name.label("contractor"),
        )
        .select_from(
            c.outerjoin(changes, changes.c.contract_id == c.c.id)
            .outerjoin(cb, cb.c.contract_id == c.c.id)
            .join(p, p.c.id == c.c.project_id)
            .join(k, k.c.id == c.c.contractor_id)
        )
        .where(c.c.accepted_on.is_not(None), visible_to(actor), *contract_scope(actor))
        .order_by(c.c.accepted_on, c.c.id)
    ).all():
        terms = figures(
            amount=row.amount,
            changes=Decimal(row.delta) * FEN,
            paid=Decimal(row.paid) * FEN,
            rate=row.retention_rate,
            accepted_on=None,
            defects_months=row.defects_months,
        )
        held = min(
            terms["committed"] * row.retention_rate, terms["committed"] - Decimal(row.paid) * FEN
        )
        if held <= 0:
            continue
        due_on = add_months(row.accepted_on, row.defects_months)
        retention.append(
            RetentionDue(
                contract_id=row.id,
                contract_no=row.contract_no,
                project_code=row.code,
                contractor=row.contractor,
                retention_held=held.quantize(FEN),
                accepted_on=row.accepted_on,
                due_on=due_on,
                due=due_on <= as_of,
            )
        )
    retention.sort(key=lambda r: (not r.due, r.due_on))
    return DuesReport(
        as_of=as_of,
        certified=items,
        certified_unpaid_total=sum((d.unpaid for d in items), Decimal(0)),
        overdue_total=sum((d.unpaid for d in items if d.overdue_days > 0), Decimal(0)),
        retention=retention,
    )


NEEDS_REVISION_OVER = Decimal("0.10")
BEHIND_SCHEDULE_SPI = Decimal("0.9")


def _money(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_EVEN)


def committed_as_of(session: Session, project_id: int, as_of: date) -> Decimal:
    """Contracts signed by the date plus change orders approved by it, summed in SQL."""
    contracts = session.execute(
        select(money_sum(Contract.amount)).where(
            col(Contract.project_id) == project_id, col(Contract.signed_on) <= as_of
        )
    ).scalar_one()
    changes = session.execute(
        select(money_sum(ChangeOrder.delta))
        .join(Contract, col(Contract.id) == ChangeOrder.contract_id)
        .where(
            col(Contract.project_id) == project_id,
            col(ChangeOrder.approved_on) <= as_of,
            col(Contract.signed_on) <= as_of,
        )
    ).scalar_one()
    return Decimal(contracts) + Decimal(changes)


def project_report(
    *, session: Session, project: Project, as_of: date, today: date
) -> ProjectReport:
    """The figures of PRODUCT.md for one project as of a date (earned value included)."""
    from app.ledger.service import project_budget
    from app.milestones.service import physical_fraction, planned_fraction

    assert project.id is not None
    budget = project_budget(session=session, project=project, as_of=as_of, today=today)
    revised, disbursed = budget.revised_estimate, budget.disbursed
    committed = committed_as_of(session, project.id, as_of)
    physical = physical_fraction(
        session=session, project_id=project.id, as_of=None if as_of >= today else as_of
    )
    planned = planned_fraction(
        session=session, project_id=project.id, start=project.planned_start, as_of=as_of
    )
    ev = _money((physical or Decimal(0)) * revised)
    pv = _money((planned or Decimal(0)) * revised)
    cpi = None if disbursed == 0 else ev / disbursed
    spi = None if pv == 0 else ev / pv
    eac = None if not cpi else _money(revised / cpi)
    ceiling = revised * (1 + NEEDS_REVISION_OVER)
    return ProjectReport(
        project_id=project.id,
        code=project.code,
        as_of=as_of,
        original_estimate=project.original_estimate,
        revised_estimate=revised,
        committed=committed,
        uncommitted=revised - committed,
        disbursed=disbursed,
        remaining=revised - disbursed,
        budget_variance=revised - disbursed,
        budget_variance_pct=share(revised - disbursed, revised),
        financial_completion=share(disbursed, revised),
        physical_completion=None if physical is None else share(physical, Decimal(1)),
        planned_completion=None if planned is None else share(planned, Decimal(1)),
        bac=revised,
        pv=pv,
        ev=ev,
        ac=disbursed,
        cv=ev - disbursed,
        sv=ev - pv,
        cpi=None if cpi is None else share(cpi, Decimal(1)),
        spi=None if spi is None else share(spi, Decimal(1)),
        eac=eac,
        vac=None if eac is None else revised - eac,
        flags=ReportFlags(
            over_budget=disbursed > revised,
            forecast_over=eac is not None and eac > revised,
            needs_revision=(eac is not None and eac > ceiling) or committed > ceiling,
            behind_schedule=spi is not None and spi < BEHIND_SCHEDULE_SPI,
        ),
    )
