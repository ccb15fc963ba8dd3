"""The payment path's SQL, built once at import and executed with parameters on the request's
connection: a payment costs a handful of cached Core statements, not ORM bookkeeping."""

from functools import cache
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.contracts.models import ChangeOrder, Contract, ContractBalance
from app.funding.models import FundingSource, ProjectFunding
from app.ledger.models import BudgetLineBalance, Disbursement, ProjectBalance
from app.money import MoneyType
from app.programmes.models import PlanItem
from app.projects.models import BudgetLine, Project


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


project = _table(Project)
plan_item = _table(PlanItem)
budget_line = _table(BudgetLine)
source = _table(FundingSource)
entry = _table(Disbursement)
project_balance = _table(ProjectBalance)
line_balance = _table(BudgetLineBalance)
project_funding = _table(ProjectFunding)
contract = _table(Contract)
change_order = _table(ChangeOrder)
contract_balance = _table(ContractBalance)

LOCK_BALANCE = (
    select(project_balance.c.disbursed, project_balance.c.payments, project_balance.c.reversals)
    .where(project_balance.c.project_id == bindparam("project_id"))
    .with_for_update()
)
PROJECT_EXISTS = select(project.c.id).where(project.c.id == bindparam("project_id"))

_named_source = or_(source.c.code == bindparam("source"), source.c.name == bindparam("source"))
# Everything a payment is checked against, read in one statement once the lock is held.
PROJECT_CONTEXT = (
    select(
        project.c.id,
        project.c.code,
        project.c.original_estimate,
        project.c.revised_estimate,
        project.c.budget_policy,
        project.c.warn_threshold,
        plan_item.c.programme_id,
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
    )
    .select_from(project.join(plan_item, plan_item.c.id == project.c.plan_item_id))
    .where(project.c.id == bindparam("project_id"))
)
# SQLite, whose write transaction is exclusive already (nothing to lock): the balance and the
# project's context in one statement. Balance columns are null for a project's first entry.
BALANCE_AND_CONTEXT = PROJECT_CONTEXT.add_columns(
    project_balance.c.disbursed, project_balance.c.payments, project_balance.c.reversals
).outerjoin(project_balance, project_balance.c.project_id == project.c.id)
LINE_CONTEXT = (
    select(
        budget_line.c.id,
        budget_line.c.code,
        budget_line.c.name,
        budget_line.c.estimate,
        budget_line.c.budget_policy,
        budget_line.c.warn_threshold,
        func.coalesce(line_balance.c.disbursed, literal(0, MoneyType())).label("disbursed"),
    )
    .select_from(
        budget_line.outerjoin(line_balance, line_balance.c.budget_line_id == budget_line.c.id)
    )
    .where(
        budget_line.c.id == bindparam("line_id"),
        budget_line.c.project_id == bindparam("project_id"),
    )
)
# A contract's terms and what has been paid on it (under the project's lock).
CONTRACT_CONTEXT = (
    select(
        contract.c.id,
        contract.c.project_id,
        contract.c.contract_no,
        contract.c.amount,
        contract.c.retention_rate,
        contract.c.accepted_on,
        contract.c.defects_months,
        select(func.coalesce(func.sum(change_order.c.delta), 0))
        .where(change_order.c.contract_id == contract.c.id)
        .scalar_subquery()
        .label("changes"),
        func.coalesce(contract_balance.c.paid, 0).label("paid"),
    )
    .select_from(
        contract.outerjoin(contract_balance, contract_balance.c.contract_id == contract.c.id)
    )
    .where(contract.c.id == bindparam("contract_id"))
)
VOUCHER_OWNER = select(entry.c.id).where(
    and_(
        entry.c.programme_id == bindparam("programme_id"),
        entry.c.voucher_no == bindparam("voucher_no"),
    )
)
MOVE_PROJECT_BALANCE = (
    update(project_balance)
    .where(project_balance.c.project_id == bindparam("b_project_id"))
    .values(
        disbursed=project_balance.c.disbursed + bindparam("b_amount", type_=MoneyType()),
        payments=project_balance.c.payments + bindparam("b_payments"),
        reversals=project_balance.c.reversals + bindparam("b_reversals"),
    )
)


@cache
def dialect_statements(dialect: str) -> dict[str, Any]:
    """Statements whose SQL differs by engine only in their INSERT … ON CONFLICT construct."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    new_line = insert(line_balance)
    new_funding = insert(project_funding)
    new_contract = insert(contract_balance)
    statements = {
        "create_balance": insert(project_balance).on_conflict_do_nothing(),
        "insert_entry": insert(entry).on_conflict_do_nothing().returning(entry.c.id),
        "add_to_line": new_line.on_conflict_do_update(
            index_elements=["budget_line_id"],
            set_={"disbursed": line_balance.c.disbursed + new_line.excluded.disbursed},
        ),
        "add_to_contract": new_contract.on_conflict_do_update(
            index_elements=["contract_id"],
            set_={"paid": contract_balance.c.paid + new_contract.excluded.paid},
        ),
        "add_to_funding": new_funding.on_conflict_do_update(
            index_elements=["project_id", "funding_source_id"],
            set_={"disbursed": project_funding.c.disbursed + new_funding.excluded.disbursed},
        ),
    }
    if dialect == "postgresql":
        statements["append_entry"] = _append_entry_pg()
    return statements


def _append_entry_pg() -> Any:
    """PostgreSQL: the entry inserted and every balance it moves, in one statement (one round
    trip instead of three to five). Each balance change reads the inserted row, so a voucher
    already posted (nothing inserted) moves nothing. Run under the project's balance lock, as
    the separate statements are. Parameters: the entry's columns prefixed `new_`, and
    b_payments / b_reversals."""
    new = (
        pg_insert(entry)
        # Prefixed: a parameter named after a column (project_id) would also be taken as a
        # value to SET in the other statements' columns of that name.
        .values(
            {c.name: bindparam(f"new_{c.name}", type_=c.type) for c in entry.c if c.name != "id"}
        )
        .on_conflict_do_nothing()
        .returning(
            entry.c.id,
            entry.c.project_id,
            entry.c.budget_line_id,
            entry.c.contract_id,
            entry.c.funding_source_id,
            entry.c.amount,
        )
        .cte("new_entry")
    )
    moved = (
        update(project_balance)
        .where(project_balance.c.project_id == new.c.project_id)
        .values(
            disbursed=project_balance.c.disbursed + new.c.amount,
            payments=project_balance.c.payments + bindparam("b_payments"),
            reversals=project_balance.c.reversals + bindparam("b_reversals"),
        )
        .cte("moved")
    )
    line = pg_insert(line_balance).from_select(
        ["budget_line_id", "disbursed"],
        select(new.c.budget_line_id, new.c.amount).where(new.c.budget_line_id.is_not(None)),
    )
    paid = pg_insert(contract_balance).from_select(
        ["contract_id", "paid"],
        select(new.c.contract_id, new.c.amount).where(new.c.contract_id.is_not(None)),
    )
    funded = pg_insert(project_funding).from_select(
        ["project_id", "funding_source_id", "planned", "disbursed"],
        select(new.c.project_id, new.c.funding_source_id, literal_column("0"), new.c.amount),
    )
    return select(new.c.id).add_cte(
        moved,
        line.on_conflict_do_update(
            index_elements=["budget_line_id"],
            set_={"disbursed": line_balance.c.disbursed + line.excluded.disbursed},
        ).cte("line_moved"),
        paid.on_conflict_do_update(
            index_elements=["contract_id"],
            set_={"paid": contract_balance.c.paid + paid.excluded.paid},
        ).cte("contract_moved"),
        funded.on_conflict_do_update(
            index_elements=["project_id", "funding_source_id"],
            set_={"disbursed": project_funding.c.disbursed + funded.excluded.disbursed},
        ).cte("funding_moved"),
    )
