"""The payment path's SQL, built once at import and executed with parameters on the request's
connection: a payment costs a handful of cached Core statements, not ORM bookkeeping."""

from typing import Any

from sqlalchemy import Table, and_, bindparam, exists, func, insert, literal, or_, select

from app.contractors.models import Contractor
from app.contracts.models import ChangeOrder, Contract, ContractBalance
from app.funding.models import FundingSource, ProjectFunding
from app.ledger.models import BudgetLineBalance, Disbursement, ProjectBalance
from app.money import MoneyType
from app.programmes.models import PlanItem, Programme
from app.projects.models import BudgetLine, Project


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


project = _table(Project)
plan_item = _table(PlanItem)
programme = _table(Programme)
contractor = _table(Contractor)
budget_line = _table(BudgetLine)
source = _table(FundingSource)
entry = _table(Disbursement)
project_balance = _table(ProjectBalance)
line_balance = _table(BudgetLineBalance)
project_funding = _table(ProjectFunding)
contract = _table(Contract)
change_order = _table(ChangeOrder)
contract_balance = _table(ContractBalance)

# A source named as source_keys (app/funding/service.py) compares: its code, its name.
_named_source = or_(
    source.c.code == bindparam("source_code"), source.c.name == bindparam("source_name")
)
# Everything a payment is checked against, read in one statement once the lock is held (for
# one project, or for a batch's projects; a batch names no source: it resolves each row's).
_PROJECT_CONTEXT = select(
    project.c.id,
    project.c.code,
    project.c.original_estimate,
    project.c.revised_estimate,
    project.c.budget_policy,
    project.c.warn_threshold,
    project.c.status,
    plan_item.c.programme_id,
    programme.c.start_year.label("programme_start_year"),
    programme.c.preparatory_months,
    exists().where(budget_line.c.project_id == project.c.id).label("has_lines"),
    # Codes and names never collide (funding service); order and limit make it certain.
    select(source.c.id)
    .where(_named_source, source.c.active.is_(True))
    .order_by(source.c.id)
    .limit(1)
    .scalar_subquery()
    .label("source_id"),
    select(source.c.code)
    .where(_named_source, source.c.active.is_(True))
    .order_by(source.c.id)
    .limit(1)
    .scalar_subquery()
    .label("source_code"),
).select_from(
    project.join(plan_item, plan_item.c.id == project.c.plan_item_id).join(
        programme, programme.c.id == plan_item.c.programme_id
    )
)
PROJECT_CONTEXT = _PROJECT_CONTEXT.where(project.c.id == bindparam("project_id"))
PROJECT_CONTEXTS = _PROJECT_CONTEXT.where(
    project.c.id.in_(bindparam("project_ids", expanding=True))
)
_LINE_CONTEXT = select(
    budget_line.c.id,
    budget_line.c.project_id,
    budget_line.c.code,
    budget_line.c.name,
    budget_line.c.estimate,
    budget_line.c.budget_policy,
    budget_line.c.warn_threshold,
    func.coalesce(line_balance.c.disbursed, literal(0, MoneyType())).label("disbursed"),
).select_from(
    budget_line.outerjoin(line_balance, line_balance.c.budget_line_id == budget_line.c.id)
)
LINE_CONTEXT = _LINE_CONTEXT.where(
    budget_line.c.id == bindparam("line_id"),
    budget_line.c.project_id == bindparam("project_id"),
)
# Every line of a batch's projects.
LINES_OF_PROJECTS = _LINE_CONTEXT.where(
    budget_line.c.project_id.in_(bindparam("project_ids", expanding=True))
)
# A contract's terms and what has been paid on it (under the project's lock).
_CONTRACT_CONTEXT = select(
    contract.c.id,
    contract.c.project_id,
    contract.c.contract_no,
    contract.c.signed_on,
    contractor.c.name.label("contractor_name"),
    contract.c.amount,
    contract.c.retention_rate,
    contract.c.accepted_on,
    contract.c.defects_months,
    contract.c.retention_released_on,
    select(func.coalesce(func.sum(change_order.c.delta), 0))
    .where(change_order.c.contract_id == contract.c.id)
    .scalar_subquery()
    .label("changes"),
    func.coalesce(contract_balance.c.paid, 0).label("paid"),
).select_from(
    contract.join(contractor, contractor.c.id == contract.c.contractor_id).outerjoin(
        contract_balance, contract_balance.c.contract_id == contract.c.id
    )
)
CONTRACT_CONTEXT = _CONTRACT_CONTEXT.where(contract.c.id == bindparam("contract_id"))
# Every contract of a batch's projects.
CONTRACTS_OF_PROJECTS = _CONTRACT_CONTEXT.where(
    contract.c.project_id.in_(bindparam("project_ids", expanding=True))
)
VOUCHER_OWNER = select(entry.c.id, entry.c.voucher_no).where(
    and_(
        entry.c.programme_id == bindparam("programme_id"),
        entry.c.voucher_key == bindparam("voucher_key"),
    )
)
_new = {c.name: bindparam(c.name, type_=c.type) for c in entry.c if c.name != "id"}
# The entry, unless its voucher number is taken in the programme: then nothing is inserted
# and no id comes back (a 409). A voucher taken at the same moment by a payment on another
# project is refused by the unique constraint instead.
APPEND_ENTRY = (
    insert(entry)
    .from_select(
        list(_new),
        select(*_new.values()).where(
            ~exists().where(
                entry.c.programme_id == _new["programme_id"],
                entry.c.voucher_key == _new["voucher_key"],
            )
        ),
    )
    .returning(entry.c.id)
)
# Active funding sources by code and name: a batch resolves each row's source from these, as
# PROJECT_CONTEXT does (the lowest id first, should a code and a name ever name two).
ACTIVE_SOURCES = (
    select(source.c.id, source.c.code, source.c.name)
    .where(source.c.active.is_(True))
    .order_by(source.c.id)
)
# The entries that hold any of a batch's voucher keys in a programme.
VOUCHERS_HELD = select(
    entry.c.id,
    entry.c.voucher_no,
    entry.c.voucher_key,
    entry.c.kind,
    entry.c.project_id,
    entry.c.amount,
    entry.c.paid_on,
    entry.c.payee,
    entry.c.budget_line_id,
    entry.c.contract_id,
    entry.c.funding_source_id,
).where(
    entry.c.programme_id == bindparam("programme_id"),
    entry.c.voucher_key.in_(bindparam("voucher_keys", expanding=True)),
)
