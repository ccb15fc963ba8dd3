"""The balances the ledger keeps, each declared once: the running totals (per project, budget
line, contract, and project and funding source) and the same again per calendar month.

Every entry moves each balance it has a key for, in the transaction that appends it and under
its project's lock (app/projects/locks.py), a back-dated entry moving the month it is dated
in. Reports read the running totals for today and the month balances for an earlier date
(app/reports/asof.py). From the declarations follow the statements that move a balance, the
reconciliation that recomputes it from the entries (`ledger reconcile`), and the bulk fill
the benchmark generator uses (`rebuild_statement`, and `refill_statement` for a table
with rows already).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)

from app.contracts.models import ContractBalance
from app.engines import rules
from app.funding.models import ProjectFunding
from app.ledger.models import (
    BudgetLineBalance,
    BudgetLineMonth,
    ContractMonth,
    Disbursement,
    EntryKind,
    FundingMonth,
    ProjectBalance,
    ProjectMonth,
)
from app.money import MoneyType, money_sum
from app.timeutil import MonthStart, month_start


@dataclass(frozen=True)
class Balance:
    """One balance: its table, the entry columns that key it (the table's columns of the same
    names), its money column, whether it is kept per month, and whether it counts payments
    and reversals."""

    label: str
    table: Table
    keys: tuple[str, ...]
    amount: str
    monthly: bool = False
    counted: bool = False
    # Columns a new row gets besides its keys and amount (a funding row's plan: none yet).
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key_columns(self) -> tuple[str, ...]:
        return self.keys + (("month",) if self.monthly else ())

    def add_statement(self, dialect: str) -> Insert:
        """Add to the balance row, making it if it isn't there yet: one INSERT … ON CONFLICT DO
        UPDATE (the dialect's), for one row or, executed with many, for a batch of them."""
        table = self.table
        values: dict[str, Any] = {name: bindparam(name) for name in self.key_columns}
        values[self.amount] = bindparam(self.amount, type_=MoneyType())
        if self.counted:
            values["payments"] = bindparam("payments")
            values["reversals"] = bindparam("reversals")
        statement = rules(dialect).upsert(table).values({**self.defaults, **values})
        added: Insert = statement.on_conflict_do_update(
            index_elements=list(self.key_columns),
            set_={
                name: table.c[name] + statement.excluded[name]
                for name in (self.amount, *(("payments", "reversals") if self.counted else ()))
            },
        )
        return added

    def recomputed(self) -> Select[Any]:
        """The balance recomputed from the entries: its keys (and month), amount and counts."""
        keys = [ENTRY.c[name] for name in self.keys]
        columns: list[Any] = list(keys)
        if self.monthly:
            columns.append(MonthStart(ENTRY.c.paid_on).label("month"))
        columns.append(money_sum(ENTRY.c.amount).label(self.amount))
        if self.counted:
            columns += [
                func.count().filter(ENTRY.c.kind == EntryKind.payment.value).label("payments"),
                func.count().filter(ENTRY.c.kind == EntryKind.reversal.value).label("reversals"),
            ]
        grouping = columns[: len(self.key_columns)]
        return select(*columns).where(*(key.is_not(None) for key in keys)).group_by(*grouping)

    @property
    def values(self) -> tuple[str, ...]:
        """The columns that add up: its amount, and its counts if it keeps them."""
        return (self.amount, *(("payments", "reversals") if self.counted else ()))

    def stacked(self) -> CompoundSelect[Any]:
        """The stored rows over the recomputed ones, for `reconcile`: each row's keys, its
        values as held (0 in a recomputed row), as summed from the entries (0 in a stored
        row), and whether it is a stored row."""
        recomputed = self.recomputed().subquery()
        table = self.table

        def zeros(side: str) -> list[Any]:
            return [literal(0, table.c[v].type).label(f"{side}_{v}") for v in self.values]

        return union_all(
            select(
                *(table.c[k] for k in self.key_columns),
                *(table.c[v].label(f"held_{v}") for v in self.values),
                *zeros("summed"),
                literal(1).label("held"),
            ),
            select(
                *(recomputed.c[k] for k in self.key_columns),
                *zeros("held"),
                *(recomputed.c[v].label(f"summed_{v}") for v in self.values),
                literal(0).label("held"),
            ),
        )

    def rebuild_statement(self) -> Insert:
        """Fill the table, empty, from the entries in one statement (for entries loaded in
        bulk, not through `move`)."""
        recomputed = self.recomputed().subquery()
        names = [c.name for c in recomputed.c]
        defaults = [
            literal(value, type_=self.table.c[name].type).label(name)
            for name, value in self.defaults.items()
        ]
        return insert(self.table).from_select(
            names + list(self.defaults), select(*recomputed.c, *defaults)
        )

    def refill_statement(self) -> Update:
        """Set the amounts of the rows the table has already from the entries (for entries
        loaded in bulk into a table whose rows exist before them: the funding plans). A row
        the entries need and the table lacks is not made: `reconcile` reports it."""
        recomputed = self.recomputed().subquery()
        return (
            update(self.table)
            .where(*(self.table.c[name] == recomputed.c[name] for name in self.key_columns))
            .values({name: recomputed.c[name] for name in self.values})
        )


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


BALANCES = (
    Balance("project", _table(ProjectBalance), ("project_id",), "disbursed", counted=True),
    Balance("budget line", _table(BudgetLineBalance), ("budget_line_id",), "disbursed"),
    Balance("contract", _table(ContractBalance), ("contract_id",), "paid"),
    Balance(
        "project and source",
        _table(ProjectFunding),
        ("project_id", "funding_source_id"),
        "disbursed",
        defaults={"planned": Decimal(0)},  # a row made by a payment: no plan from the source
    ),
    Balance(
        "project month",
        _table(ProjectMonth),
        ("project_id",),
        "disbursed",
        monthly=True,
        counted=True,
    ),
    Balance(
        "budget line month", _table(BudgetLineMonth), ("budget_line_id",), "disbursed", monthly=True
    ),
    Balance("contract month", _table(ContractMonth), ("contract_id",), "paid", monthly=True),
    Balance(
        "project and source month",
        _table(FundingMonth),
        ("project_id", "funding_source_id"),
        "disbursed",
        monthly=True,
    ),
)
ENTRY = _table(Disbursement)
_ADD: dict[str, list[Insert]] = {}


def move(connection: Connection, entries: Iterable[Mapping[str, Any]]) -> None:
    """Move every balance the entries change by their sums: each balance row once, made on
    the first entry that moves it, one statement per balance for the whole batch. Called
    under the lock of each entry's project, so no other transaction moves the same rows."""
    sums: list[dict[tuple[Any, ...], list[Any]]] = [{} for _ in BALANCES]
    for entry in entries:
        payment = entry["kind"] == EntryKind.payment.value
        month = month_start(entry["paid_on"])
        for balance, rows in zip(BALANCES, sums, strict=True):
            key = tuple(entry.get(name) for name in balance.keys)
            if None in key:
                continue
            if balance.monthly:
                key += (month,)
            moved = rows.get(key)
            if moved is None:
                moved = rows[key] = [Decimal(0), 0, 0]
            moved[0] += entry["amount"]
            moved[1 if payment else 2] += 1
    dialect = connection.dialect.name
    statements = _ADD.get(dialect)
    if statements is None:
        statements = _ADD[dialect] = [balance.add_statement(dialect) for balance in BALANCES]
    for balance, statement, rows in zip(BALANCES, statements, sums, strict=True):
        if rows:
            connection.execute(
                statement,
                [
                    dict(zip(balance.key_columns, key, strict=True))
                    | {balance.amount: amount, "payments": payments, "reversals": reversals}
                    for key, (amount, payments, reversals) in rows.items()
                ],
            )


def reconcile(connection: Connection) -> list[str]:
    """Every balance row against its recomputation from the entries; a line per difference
    (a row missing on either side included). The stored rows and the recomputed ones are
    stacked and summed by key (UNION ALL, GROUP BY): one aggregate that both engines sort
    or hash, where a join of the two aggregates would run row by row on SQLite."""
    problems: list[str] = []
    for balance in BALANCES:
        values = balance.values
        keys = len(balance.key_columns)
        stacked = balance.stacked().subquery()
        columns = list(stacked.c)
        held = [func.sum(c) for c in columns[keys : keys + len(values)]]
        summed = [func.sum(c) for c in columns[keys + len(values) : -1]]
        rows = connection.execute(
            select(*columns[:keys], *held, *summed, func.sum(columns[-1]))
            .group_by(*columns[:keys])
            .having(or_(*(h != s for h, s in zip(held, summed, strict=True))))
            .order_by(*columns[:keys])
        ).all()
        for row in rows:
            where = " ".join(str(part) for part in row[:keys])
            stored = row[keys : keys + len(values)]
            entries = row[keys + len(values) : -1]
            shown = ", ".join(map(str, stored)) if row[-1] else "None"
            problems.append(
                f"{balance.label} {where}: balance {shown} "
                f"but entries sum to {', '.join(map(str, entries))}"
            )
    return problems
