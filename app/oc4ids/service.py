"""The programme as open data: an OC4IDS 0.9 project package (docs/REPORTS.md, OC4IDS).

Each project the caller sees (of one programme, if named) as of a date, with what the
service knows of it: its budget (the estimate in force, the original and every 概算调整 by
then, the planned funding per source, the budget lines), its sites, parties (the programme's
owner as public authority, the funding sources as funders, the contractors with their
统一社会信用代码, other payees), its contracts signed by then with their change orders and
payments, the payments without a contract, its milestones, its financial and physical
progress and its completion. Entries dated after the date are left out, as in the reports,
whose figures (app/reports/figures.py) give the budget and progress, so the package's budget
total is the portfolio's revised total. A fixed number of statements whatever the size of the
programme: the figures (three, or four) and one for each kind of fact.

Amounts are Decimals built from integer fen, written as JSON numbers by `encoding.exact_json`.
"""

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlmodel import Session

from app.audit.models import AuditEntry
from app.auth.actor import Actor
from app.config import Settings
from app.contractors.models import Contractor
from app.contracts.models import ChangeKind, ChangeOrder, Contract, ContractStatus
from app.errors import NotFound
from app.funding.models import FundingSource, ProjectFunding
from app.inputs import party_key
from app.ledger.models import Disbursement
from app.milestones.models import Milestone
from app.money import fen, share, yuan
from app.programmes.models import PlanItem, Programme
from app.projects.models import BudgetLine, Category, ProjectSite
from app.reports.asof import percent_complete
from app.reports.commitments import dated_by
from app.reports.completion import accepted_on
from app.reports.figures import Figures, P, Thresholds, each_row, figures_by_project
from app.reports.portfolio import portfolio_scope
from app.revisions.models import ProjectRevision
from app.sites.models import Site
from app.timeutil import utcnow

VERSION = "0.9"
CURRENCY = "CNY"
SECTOR = "education"
# projectType: what the work does to the asset. Buying equipment (设备购置) builds, extends
# or restores none, so those projects carry no type.
PROJECT_TYPE = {
    Category.new_build: "construction",
    Category.expansion: "expansion",
    Category.renovation: "rehabilitation",
}
# modificationType (open codelist): a change order's kind.
MODIFICATION_TYPE = {
    ChangeKind.price: "value",
    ChangeKind.duration: "duration",
    ChangeKind.scope: "scope",
}
PERCENT = {"name": "percent", "id": "P1", "scheme": "UNCEFACT"}
FULL = 10_000  # a milestone's percent complete in hundredths: 100%


@dataclass(frozen=True)
class Publication:
    """Who publishes the package and under what terms (the OC4IDS_* settings)."""

    prefix: str
    package_uri: str
    publisher_name: str
    publisher_uri: str
    license: str
    publication_policy: str
    timezone: str

    @classmethod
    def of(cls, settings: Settings) -> "Publication":
        return cls(
            prefix=settings.oc4ids_prefix,
            package_uri=settings.oc4ids_package_uri,
            publisher_name=settings.oc4ids_publisher_name,
            publisher_uri=settings.oc4ids_publisher_uri,
            license=settings.oc4ids_license,
            publication_policy=settings.oc4ids_publication_policy,
            timezone=settings.business_timezone,
        )


def project_package(
    *,
    session: Session,
    actor: Actor,
    programme: str | None,
    as_of: date,
    today: date,
    publication: Publication,
) -> dict[str, Any]:
    """The OC4IDS project package of the caller's projects (of one programme, if named) as
    of a date. NotFound if there is no project to publish (a package holds at least one)."""
    scope, code = portfolio_scope(session=session, actor=actor, programme=programme)
    figures = figures_by_project(
        session=session, scope=scope, as_of=as_of, today=today, thresholds=Thresholds()
    )
    facts = _Facts(session=session, scope=scope, as_of=as_of, today=today)
    on = _Dates(publication.timezone)
    projects = [
        _project(row, figures[row.id], facts=facts, as_of=as_of, on=on, publication=publication)
        for row in facts.projects
        if row.id in figures  # created after the figures were read: the next export has it
    ]
    if not projects:
        raise NotFound(
            f"programme {code} has no project to publish" if code else "no project to publish"
        )
    owners = sorted({row.owner for row in facts.projects if row.owner})
    publisher: dict[str, Any] = {
        "name": publication.publisher_name or "、".join(owners) or "capital-tracker"
    }
    if publication.publisher_uri:
        publisher["uri"] = publication.publisher_uri
    query = urlencode({**({"programme": code} if code else {}), "as_of": as_of.isoformat()})
    package: dict[str, Any] = {
        "uri": f"{publication.package_uri}?{query}",
        # Generated on demand: the time of the last change to the data (OC4IDS's advice).
        "publishedDate": _timestamp(facts.last_change),
        "publisher": publisher,
        "version": VERSION,
    }
    if publication.license:
        package["license"] = publication.license
    if publication.publication_policy:
        package["publicationPolicy"] = publication.publication_policy
    package["projects"] = projects
    return package


class _Dates:
    """Business dates as OC4IDS date-times: midnight where the programme's office is."""

    def __init__(self, timezone: str) -> None:
        self._zone = ZoneInfo(timezone)

    def __call__(self, day: date) -> str:
        return datetime.combine(day, time(), tzinfo=self._zone).isoformat()


def _timestamp(moment: datetime) -> str:
    """A UTC timestamp to the second, as OC4IDS's examples write them."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _value(amount_fen: int) -> dict[str, Any]:
    return {"amount": yuan(amount_fen), "currency": CURRENCY}


def _percent(fraction: Decimal | None) -> Decimal | None:
    """A four-decimal share as a percentage with two decimals (0.6289 → 62.89), exactly."""
    return None if fraction is None else fraction.scaleb(2)


class _Facts:
    """Every fact the package holds about the projects of the scope, read with one statement
    per kind and grouped by project (or contract)."""

    def __init__(self, *, session: Session, scope: Any, as_of: date, today: date) -> None:
        self.projects = self._projects(session, scope, as_of)
        ps = ProjectSite.__table__  # type: ignore[attr-defined]
        site = Site.__table__  # type: ignore[attr-defined]
        self.sites = _grouped(
            session,
            select(ps.c.project_id, site.c.id, site.c.name, site.c.region)
            .select_from(ps.join(site, site.c.id == ps.c.site_id))
            .where(ps.c.project_id.in_(scope))
            .order_by(ps.c.project_id, site.c.name),
        )
        bl = BudgetLine.__table__  # type: ignore[attr-defined]
        self.budget_lines = _grouped(
            session,
            select(
                bl.c.project_id, bl.c.code, bl.c.name, bl.c.quantity, bl.c.unit, fen(bl.c.estimate)
            )
            .where(bl.c.project_id.in_(scope))
            .order_by(bl.c.project_id, bl.c.code),
        )
        fs = FundingSource.__table__  # type: ignore[attr-defined]
        self.sources = {
            row.id: row for row in session.execute(select(fs.c.id, fs.c.code, fs.c.name))
        }
        pf = ProjectFunding.__table__  # type: ignore[attr-defined]
        self.funding = _grouped(
            session,
            select(pf.c.project_id, pf.c.funding_source_id, fen(pf.c.planned))
            .select_from(pf.join(fs, fs.c.id == pf.c.funding_source_id))
            .where(pf.c.project_id.in_(scope))
            .order_by(pf.c.project_id, fs.c.sort_order, fs.c.id),
        )
        pr = ProjectRevision.__table__  # type: ignore[attr-defined]
        self.revisions = _grouped(
            session,
            select(
                pr.c.project_id,
                pr.c.id,
                fen(pr.c.new_estimate),
                pr.c.approved_on,
                pr.c.document_no,
                pr.c.reason,
            )
            .where(pr.c.project_id.in_(scope), pr.c.approved_on <= as_of)
            .order_by(pr.c.project_id, pr.c.approved_on, pr.c.id),
        )
        c = Contract.__table__  # type: ignore[attr-defined]
        signed = [c.c.project_id.in_(scope), c.c.signed_on <= as_of]
        k = Contractor.__table__  # type: ignore[attr-defined]
        co = ChangeOrder.__table__  # type: ignore[attr-defined]
        # A duration change order moves the contract's planned finish: with one (of any
        # date), the finish it was signed with is no longer known.
        finish_changed = (
            select(co.c.id).where(co.c.contract_id == c.c.id, co.c.new_finish.is_not(None)).exists()
        )
        self.contracts = _grouped(
            session,
            select(
                c.c.project_id,
                c.c.id,
                c.c.contract_no,
                c.c.title,
                fen(c.c.amount).label("amount"),
                c.c.signed_on,
                case((finish_changed, None), else_=c.c.planned_finish).label("signed_finish"),
                c.c.status,
                c.c.accepted_on,
                c.c.contractor_id,
                k.c.name.label("contractor"),
                k.c.credit_code,
            )
            .select_from(c.join(k, k.c.id == c.c.contractor_id))
            .where(*signed)
            .order_by(c.c.project_id, c.c.signed_on, c.c.id),
        )
        self.change_orders = _grouped(
            session,
            select(
                co.c.contract_id,
                co.c.id,
                co.c.kind,
                fen(co.c.delta).label("delta"),
                co.c.new_finish,
                co.c.document_no,
                co.c.approved_on,
                co.c.reason,
            )
            .select_from(co.join(c, c.c.id == co.c.contract_id))
            .where(*signed, co.c.approved_on <= as_of)
            .order_by(co.c.contract_id, co.c.approved_on, co.c.id),
        )
        d = Disbursement.__table__  # type: ignore[attr-defined]
        self.entries = _grouped(
            session,
            select(
                d.c.project_id,
                d.c.id,
                d.c.contract_id,
                d.c.funding_source_id,
                d.c.kind,
                fen(d.c.amount).label("amount"),
                d.c.paid_on,
                d.c.payee,
                d.c.voucher_no,
            )
            .where(d.c.project_id.in_(scope), d.c.paid_on <= as_of)
            .order_by(d.c.project_id, d.c.paid_on, d.c.id),
        )
        m = Milestone.__table__  # type: ignore[attr-defined]
        percent, milestones = percent_complete(as_of=as_of, today=today)
        self.milestones = _grouped(
            session,
            select(
                m.c.project_id,
                m.c.code,
                m.c.name,
                m.c.planned_date,
                m.c.actual_date,
                percent.label("percent"),
                fen(m.c.certified_amount).label("certified"),
                m.c.certified_on,
            )
            .select_from(milestones)
            .where(m.c.project_id.in_(scope))
            .order_by(m.c.project_id, m.c.planned_date, m.c.id),
        )
        audit = AuditEntry.__table__  # type: ignore[attr-defined]
        self.last_change: datetime = (
            session.execute(select(func.max(audit.c.at))).scalar() or utcnow()
        )

    @staticmethod
    def _projects(session: Session, scope: Any, as_of: date) -> list[Any]:
        pi = PlanItem.__table__  # type: ignore[attr-defined]
        pg = Programme.__table__  # type: ignore[attr-defined]
        completed = accepted_on(scope=scope, as_of=as_of)
        return list(
            each_row(
                session,
                select(
                    P.c.id,
                    P.c.code,
                    P.c.name,
                    P.c.description,
                    P.c.scope_note,
                    P.c.status,
                    P.c.category,
                    P.c.planned_start,
                    P.c.planned_finish,
                    P.c.final_accounts_on,
                    P.c.updated_at,
                    pg.c.code.label("programme"),
                    pg.c.owner,
                    completed.c.accepted_on,
                )
                .select_from(
                    P.join(pi, pi.c.id == P.c.plan_item_id)
                    .join(pg, pg.c.id == pi.c.programme_id)
                    .join(completed, completed.c.project_id == P.c.id)
                )
                .order_by(pg.c.code, P.c.code),
            )
        )


def _grouped(session: Session, query: Any) -> dict[int, list[Any]]:
    """The rows of a query whose first column is the key (a project or contract id), by it."""
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in each_row(session, query):
        grouped[row[0]].append(row)
    return grouped


class _Parties:
    """A project's parties, each once, in the order first named, with every role it plays."""

    def __init__(self) -> None:
        self._parties: dict[str, dict[str, Any]] = {}

    def add(self, party_id: str, name: str, role: str, **details: Any) -> dict[str, str]:
        """The party's reference ({id, name}), adding it (or the role) if new."""
        party = self._parties.setdefault(party_id, {"id": party_id, "name": name, "roles": []})
        party.update(details)
        if role not in party["roles"]:
            party["roles"].append(role)
        return {"id": party_id, "name": name}

    def listed(self) -> list[dict[str, Any]]:
        return list(self._parties.values())


def _authority_id(programme: str) -> str:
    return f"publicAuthority-{programme}"


def _funder(parties: _Parties, source: Any, role: str) -> dict[str, str]:
    return parties.add(f"funder-{source.code}", source.name, role)


def _contractor(parties: _Parties, row: Any, role: str) -> dict[str, str]:
    """A contractor, identified by its 统一社会信用代码 where it has one (scheme CN-SAMR: the
    State Administration for Market Regulation's register)."""
    if row.credit_code:
        return parties.add(
            f"CN-SAMR-{row.credit_code}",
            row.contractor,
            role,
            identifier={"scheme": "CN-SAMR", "id": row.credit_code, "legalName": row.contractor},
        )
    return parties.add(f"contractor-{row.contractor_id}", row.contractor, role)


def _project(
    row: Any,
    figures: Figures,
    *,
    facts: _Facts,
    as_of: date,
    on: _Dates,
    publication: Publication,
) -> dict[str, Any]:
    parties = _Parties()
    project: dict[str, Any] = {
        "id": f"{publication.prefix}-{row.code}",
        "updated": _timestamp(row.updated_at),
        "language": "zh",
        "identifiers": [{"id": row.code, "scheme": row.programme}],
        "title": row.name,
    }
    if row.description or row.scope_note:
        project["description"] = row.description or row.scope_note
    project["status"] = row.status
    project_type = PROJECT_TYPE.get(Category(row.category))
    if project_type:
        project["type"] = project_type
    project["sector"] = [SECTOR]
    if row.owner:
        project["publicAuthority"] = parties.add(
            _authority_id(row.programme), row.owner, "publicAuthority"
        )
        parties.add(_authority_id(row.programme), row.owner, "buyer")
    locations = [
        {"id": str(site_id), "description": name, "address": {"locality": region}}
        for _, site_id, name, region in facts.sites.get(row.id, [])
    ]
    if locations:
        project["locations"] = locations
    period = {
        name: on(day)
        for name, day in (("startDate", row.planned_start), ("endDate", row.planned_finish))
        if day is not None
    }
    if period:
        project["period"] = period
    project["budget"] = _budget(row.id, figures, facts=facts, on=on, parties=parties)
    contracts = facts.contracts.get(row.id, [])
    entries = facts.entries.get(row.id, [])
    on_contract: dict[int, list[Any]] = defaultdict(list)
    for entry in entries:
        on_contract[entry.contract_id].append(entry)
    payees = {party_key(c.contractor): c for c in contracts}
    pay = _Payer(facts=facts, parties=parties, payees=payees, on=on)
    if contracts:
        project["contractingProcesses"] = [
            _contracting_process(
                contract,
                facts.change_orders.get(contract.id, []),
                on_contract.pop(contract.id, []),
                as_of=as_of,
                on=on,
                parties=parties,
                pay=pay,
            )
            for contract in contracts
        ]
    # Payments without a contract (and any on a contract signed after the date: none can be,
    # a payment on a contract is never dated before its signing).
    unattached = [entry for group in on_contract.values() for entry in group]
    if unattached:
        project["transactions"] = [pay(entry) for entry in unattached]
    milestones = [_milestone(m, as_of=as_of, on=on) for m in facts.milestones.get(row.id, [])]
    if milestones:
        project["milestones"] = milestones
    if row.accepted_on is not None:
        completion: dict[str, Any] = {"endDate": on(row.accepted_on)}
        if dated_by(row.final_accounts_on, as_of) is not None:
            completion["finalValue"] = _value(figures.disbursed)
            completion["finalValueDetails"] = f"竣工财务决算 {row.final_accounts_on.isoformat()}"
        project["completion"] = completion
    project["metrics"] = _metrics(figures, as_of=as_of, on=on)
    listed = parties.listed()
    if listed:
        project["parties"] = listed
    return project


def _budget(
    project_id: int, figures: Figures, *, facts: _Facts, on: _Dates, parties: _Parties
) -> dict[str, Any]:
    """The estimate in force as the amount; the original and each 概算调整 by the date, the
    planned funding per source and the budget lines as breakdowns."""
    revisions = facts.revisions.get(project_id, [])
    estimate = [{"id": "original", "description": "原概算", "amount": _value(figures.original)}]
    estimate += [
        {
            "id": f"revision-{revision_id}",
            "description": f"概算调整 {document_no}：{reason}",
            "amount": _value(new_estimate),
            "approvalDate": on(approved_on),
        }
        for _, revision_id, new_estimate, approved_on, document_no, reason in revisions
    ]
    breakdowns = [{"id": "estimate", "description": "概算及概算调整", "budgetBreakdown": estimate}]
    funding = [
        {
            "id": facts.sources[source_id].code,
            "description": facts.sources[source_id].name,
            "amount": _value(planned),
            "sourceParty": _funder(parties, facts.sources[source_id], "funder"),
        }
        for _, source_id, planned in facts.funding.get(project_id, [])
    ]
    if funding:
        breakdowns.append(
            {"id": "fundingSources", "description": "资金来源（计划）", "budgetBreakdown": funding}
        )
    lines = [
        {
            "id": code,
            "description": _line(name, quantity, unit),
            "amount": _value(estimate_fen),
        }
        for _, code, name, quantity, unit, estimate_fen in facts.budget_lines.get(project_id, [])
    ]
    if lines:
        breakdowns.append(
            {"id": "budgetLines", "description": "概算明细", "budgetBreakdown": lines}
        )
    budget: dict[str, Any] = {"amount": _value(figures.revised)}
    if revisions:
        budget["approvalDate"] = on(revisions[-1].approved_on)
    budget["budgetBreakdowns"] = breakdowns
    return budget


def _line(name: str, quantity: Decimal | None, unit: str | None) -> str:
    """A budget line as the plan writes it: 计算机 3463 台."""
    if quantity is None:
        return name
    return f"{name} {format(quantity.normalize(), 'f')} {unit or ''}".rstrip()


class _Payer:
    """A ledger entry as an OC4IDS transaction: paid from its funding source (the payer, a
    funder) to its payee (the contractor whose name it bears, or a party of its own)."""

    def __init__(
        self, *, facts: _Facts, parties: _Parties, payees: dict[str, Any], on: _Dates
    ) -> None:
        self._facts, self._parties, self._payees, self._on = facts, parties, payees, on

    def __call__(self, entry: Any) -> dict[str, Any]:
        source = self._facts.sources[entry.funding_source_id]
        contractor = self._payees.get(party_key(entry.payee))
        if contractor is not None:
            payee = _contractor(self._parties, contractor, "payee")
        else:
            digest = hashlib.sha256(party_key(entry.payee).encode()).hexdigest()[:12]
            payee = self._parties.add(f"payee-{digest}", entry.payee, "payee")
        return {
            "id": entry.voucher_no or f"entry-{entry.id}",
            "date": self._on(entry.paid_on),
            "value": _value(entry.amount),
            "payer": _funder(self._parties, source, "payer"),
            "payee": payee,
        }


def _contracting_process(
    contract: Any,
    change_orders: list[Any],
    entries: list[Any],
    *,
    as_of: date,
    on: _Dates,
    parties: _Parties,
    pay: _Payer,
) -> dict[str, Any]:
    closed = (
        dated_by(contract.accepted_on, as_of) is not None
        or contract.status == ContractStatus.terminated
    )
    finishes = [order.new_finish for order in change_orders if order.new_finish is not None]
    finish = finishes[-1] if finishes else contract.signed_finish
    period = {"startDate": on(contract.signed_on)}
    if finish is not None:
        period["endDate"] = on(finish)  # as the change orders approved by the date left it
    summary: dict[str, Any] = {
        "externalReference": contract.contract_no,
        "title": contract.title,
        "status": "closed" if closed else "active",
        "suppliers": [_contractor(parties, contract, "supplier")],
        "contractValue": _value(contract.amount),
        "contractPeriod": period,
    }
    modifications = list(_modifications(contract, change_orders, on=on))
    if modifications:
        summary["modifications"] = modifications
    if entries:
        summary["transactions"] = [pay(entry) for entry in entries]
    return {"id": contract.contract_no, "summary": summary}


def _modifications(
    contract: Any, change_orders: list[Any], *, on: _Dates
) -> Iterable[dict[str, Any]]:
    """Each approved change order, in order, with the contract's value (price changes) or
    finish (duration changes) before (where known) and after it."""
    value, finish = contract.amount, contract.signed_finish
    for _, order_id, kind, delta, new_finish, document_no, approved_on, reason in change_orders:
        modification: dict[str, Any] = {
            "id": f"change-order-{order_id}",
            "date": on(approved_on),
            "description": document_no,
            "rationale": reason,
            "type": MODIFICATION_TYPE[ChangeKind(kind)],
        }
        if delta:
            modification["oldContractValue"] = _value(value)
            value += delta
            modification["newContractValue"] = _value(value)
        if new_finish is not None:
            if finish is not None:
                modification["oldContractPeriod"] = {"endDate": on(finish)}
            finish = new_finish
            modification["newContractPeriod"] = {"endDate": on(finish)}
        yield modification


def _milestone(row: Any, *, as_of: date, on: _Dates) -> dict[str, Any]:
    """A milestone as of the date: met at 100%, scheduled while not yet due, partly met or
    not met once due."""
    _, code, name, planned_date, actual_date, percent, certified, certified_on = row
    percent = int(percent)
    if percent >= FULL:
        status = "met"
    elif planned_date > as_of:
        status = "scheduled"
    else:
        status = "partiallyMet" if percent > 0 else "notMet"
    milestone: dict[str, Any] = {
        "id": code,
        "title": name,
        "type": "delivery",
        "dueDate": on(planned_date),
        "status": status,
    }
    if status == "met" and dated_by(actual_date, as_of) is not None:
        milestone["dateMet"] = on(actual_date)
    if certified is not None and dated_by(certified_on, as_of) is not None:
        milestone["value"] = _value(int(certified))
    return milestone


def _metrics(figures: Figures, *, as_of: date, on: _Dates) -> list[dict[str, Any]]:
    """Financial progress (disbursed ÷ the estimate in force, and the amount) and, where the
    project has milestones to measure it, physical progress, as observed on the date."""
    observed = {"startDate": on(as_of), "endDate": on(as_of)}
    financial: dict[str, Any] = {"id": f"financialProgress-{as_of.isoformat()}", "period": observed}
    measure = _percent(share(figures.disbursed, figures.revised))
    if measure is not None:
        financial |= {"measure": measure, "unit": PERCENT}
    financial["value"] = _value(figures.disbursed)
    metrics = [
        {
            "id": "financialProgress",
            "title": "财务进度（已拨付 ÷ 调整后概算）",
            "observations": [financial],
        }
    ]
    if figures.physical is not None:
        metrics.append(
            {
                "id": "physicalProgress",
                "title": "形象进度（里程碑加权完成率）",
                "observations": [
                    {
                        "id": f"physicalProgress-{as_of.isoformat()}",
                        "period": observed,
                        "measure": _percent(share(*figures.physical)),
                        "unit": PERCENT,
                    }
                ],
            }
        )
    return metrics
