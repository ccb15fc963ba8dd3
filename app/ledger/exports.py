"""The ledger as CSV or XLSX: every entry that the list's filters match, streamed.

One Core SELECT of plain tuples in column order (no ORM objects, no pydantic per row), read in
batches: a server-side cursor on PostgreSQL, fetchmany on SQLite. The request's session has
committed and closed before the body is sent, so the rows are read through a connection of
their own, opened when the first row is wanted and closed when the last is written or the
client hangs up. It only reads, so it never takes SQLite's write turn.
"""

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from fastapi.responses import StreamingResponse
from sqlalchemy import Row, Select
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from app.auth.actor import Actor
from app.contracts.models import Contract
from app.db import SessionFactory
from app.exports.dependencies import ExportFormat, Lang
from app.exports.service import stream
from app.exports.tables import Column, Kind, Sheet
from app.funding.models import FundingSource
from app.ledger.models import Disbursement
from app.ledger.service import LedgerFilters, ledger_clauses, ledger_order
from app.projects.models import BudgetLine, Project

BATCH_ROWS = 5000

# Aliases: the scope and filter clauses have subqueries over these tables, which must not
# correlate with the joins below.
_line = aliased(BudgetLine)
_contract = aliased(Contract)
_source = aliased(FundingSource)

# Each column with the expression that fills it, so the two can't drift apart. Headings, in
# either language, are those the CSV import reads (a re-imported export posts nothing twice).
_FIELDS: list[tuple[Column, Any]] = [
    (Column("id", "id", "编号", Kind.INT), col(Disbursement.id)),
    (Column("kind", "kind", "类型", width=10), col(Disbursement.kind)),
    (Column("paid_on", "paid_on", "支付日期", Kind.DATE), col(Disbursement.paid_on)),
    (Column("project_code", "project_code", "项目编号"), col(Project.code)),
    (Column("project_name", "project_name", "项目名称", width=36), col(Project.name)),
    (Column("budget_line", "budget_line_code", "预算科目"), col(_line.code)),
    (Column("budget_line_name", "budget_line_name", "预算科目名称", width=20), col(_line.name)),
    (Column("contract_no", "contract_no", "合同编号"), col(_contract.contract_no)),
    (Column("amount", "amount", "金额（元）", Kind.MONEY), col(Disbursement.amount)),
    (Column("payee", "payee", "收款单位", width=32), col(Disbursement.payee)),
    (Column("voucher_no", "voucher_no", "凭证号", width=18), col(Disbursement.voucher_no)),
    (Column("funding_source", "funding_source", "资金来源代码"), col(_source.code)),
    (Column("funding_source_name", "funding_source_name", "资金来源", width=18), col(_source.name)),
    (Column("memo", "memo", "摘要", width=36), col(Disbursement.memo)),
    (
        Column("reverses_id", "reverses_id", "冲销的支付编号", Kind.INT),
        col(Disbursement.reverses_id),
    ),
    (Column("reason", "reason", "冲销原因", width=30), col(Disbursement.reason)),
    (Column("created_at", "created_at", "录入时间（UTC）", width=22), col(Disbursement.created_at)),
]
LEDGER_COLUMNS: list[Column] = [column for column, _ in _FIELDS]


def ledger_export_query(
    *, actor: Actor, filters: LedgerFilters, sort: Sequence[tuple[str, bool]]
) -> Select[Any]:
    """Every entry the list would page through for this caller and these filters, in its
    order, as tuples in LEDGER_COLUMNS order."""
    query: Select[Any] = (
        select(*[expression for _, expression in _FIELDS])
        .select_from(Disbursement)
        .join(Project, col(Project.id) == Disbursement.project_id)
        .outerjoin(_line, col(_line.id) == Disbursement.budget_line_id)
        .outerjoin(_contract, col(_contract.id) == Disbursement.contract_id)
        .join(_source, col(_source.id) == Disbursement.funding_source_id)
        .where(*ledger_clauses(actor, filters))
        .order_by(*ledger_order(sort))
    )
    return query


def _rows(factory: SessionFactory, query: Select[Any]) -> Iterator[Row[Any]]:
    """The query's rows, read in batches through a connection of their own (see above)."""
    with (
        factory.lookup() as connection,
        connection.execute(
            query.execution_options(stream_results=True, yield_per=BATCH_ROWS)
        ) as result,
    ):
        for batch in result.partitions():
            yield from batch


def export_ledger(
    *,
    factory: SessionFactory,
    actor: Actor,
    filters: LedgerFilters,
    sort: Sequence[tuple[str, bool]],
    fmt: ExportFormat,
    lang: Lang,
    today: date,
) -> StreamingResponse:
    """The matching entries as a CSV (streamed while read) or XLSX file. The caller's role has
    been checked and its scope is in the query before anything is read."""
    sheet = Sheet(
        name="Ledger",
        name_zh="支付台账",
        columns=LEDGER_COLUMNS,
        rows=_rows(factory, ledger_export_query(actor=actor, filters=filters, sort=sort)),
    )
    return stream(sheet, fmt=fmt, lang=lang, filename=f"disbursements-{today.isoformat()}")
