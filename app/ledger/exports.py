"""The ledger as CSV or XLSX: every entry that the list's filters match, streamed.

Where the engine writes CSV lines itself (PostgreSQL, app/engines/postgresql.py), one SELECT
builds each entry's line by the CSV writer's rules and COPY sends it. Otherwise (XLSX, and
SQLite's CSV):

One Core SELECT of the entries' own columns, read in batches as the database driver returns
them (db.driver_batches: no ORM objects, no SQLAlchemy Row, no pydantic per row): a
server-side cursor on PostgreSQL, fetchmany on SQLite. Amounts are read as their stored
integer fen and timestamps as their stored UTC text, so no Decimal or datetime is made per
row (paid_on is a date on PostgreSQL and its ISO text on SQLite: the CSV has the same text
either way); the names of projects, budget lines, contracts and funding sources come from
dictionaries read once, in the same snapshot, instead of four joins per row.

The request's session has committed and closed before the body is sent, so the rows are read
through a connection of their own, opened when the first row is wanted and closed when the
last is written or the client hangs up. It only reads, so it never takes SQLite's write turn.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi.responses import StreamingResponse
from sqlalchemy import Connection, Select, case, func, literal
from sqlmodel import col, select

from app.auth.actor import Actor
from app.contracts.models import Contract
from app.db import SessionFactory
from app.engines.postgresql import (
    copy_lines,
    csv_line,
    date_cell,
    fen_cell,
    int_cell,
    text_cell,
    utc_cell,
)
from app.exports.batches import driver_batches
from app.exports.dependencies import ExportFormat, Lang
from app.exports.service import stream, utc_texts_iso
from app.exports.tables import Column, ColumnBatch, ColumnBatches, CsvLines, Kind, Rows, Sheet
from app.funding.models import FundingSource
from app.labels import ENTRY_KIND, word
from app.ledger.models import Disbursement
from app.ledger.service import LedgerFilters, ledger_clauses, ledger_order
from app.money import fen
from app.projects.models import BudgetLine, Project
from app.timeutil import UtcText

BATCH_ROWS = 500

# Headings, in either language, are those the CSV import reads (a re-imported export posts
# nothing twice).
LEDGER_COLUMNS: list[Column] = [
    Column("id", "id", "编号", Kind.INT),
    Column("kind", "kind", "类型", width=10),
    Column("paid_on", "paid_on", "支付日期", Kind.DATE),
    Column("project_code", "project_code", "项目编号"),
    Column("project_name", "project_name", "项目名称", width=36),
    Column("budget_line", "budget_line_code", "预算科目"),
    Column("budget_line_name", "budget_line_name", "预算科目名称", width=20),
    Column("contract_no", "contract_no", "合同编号"),
    Column("amount", "amount", "金额（元）", Kind.FEN),
    Column("payee", "payee", "收款单位", width=32),
    Column("voucher_no", "voucher_no", "凭证号", width=18),
    Column("funding_source", "funding_source", "资金来源代码"),
    Column("funding_source_name", "funding_source_name", "资金来源", width=18),
    Column("memo", "memo", "摘要", width=36),
    Column("payee_differs_reason", "payee_differs_reason", "收款人不一致原因", width=30),
    Column("reverses_id", "reverses_id", "冲销的支付编号", Kind.INT),
    Column("reason", "reason", "冲销原因", width=30),
    Column("created_at", "created_at", "录入时间（UTC）", width=22),
]


# The entry's own columns, in the order _Names.rows reads them.
_ENTRY_COLUMNS: list[Any] = [
    col(Disbursement.id),
    col(Disbursement.kind),
    col(Disbursement.paid_on),
    col(Disbursement.project_id),
    col(Disbursement.budget_line_id),
    col(Disbursement.contract_id),
    fen(col(Disbursement.amount)),
    col(Disbursement.payee),
    col(Disbursement.voucher_no),
    col(Disbursement.funding_source_id),
    col(Disbursement.memo),
    col(Disbursement.payee_differs_reason),
    col(Disbursement.reverses_id),
    col(Disbursement.reason),
    UtcText(col(Disbursement.created_at)),
]


def ledger_export_query(
    *,
    actor: Actor,
    filters: LedgerFilters,
    sort: Sequence[tuple[str, bool]],
    columns: Sequence[Any] = _ENTRY_COLUMNS,
) -> Select[Any]:
    """Every entry the list would page through for this caller and these filters, in its
    order, as tuples of `columns` (of the entry's own table)."""
    clauses = ledger_clauses(actor, filters)
    query: Select[Any] = select(*columns).select_from(Disbursement)
    # Only a clause that names the project (a contractor's scope) needs it joined: reading
    # every entry's project row costs a third of the export's reading time on SQLite.
    named = select(col(Disbursement.id)).where(*clauses).get_final_froms()
    if Project.__table__ in named:  # type: ignore[attr-defined]
        query = query.join(Project, col(Project.id) == Disbursement.project_id)
    return query.where(*clauses).order_by(*ledger_order(sort))


def _named(*cells: Any) -> Any:
    """The text cells of a code and a name (or of a contract number alone), as one piece of a
    line."""
    return csv_line([text_cell(cell) for cell in cells])


def ledger_csv_query(
    *,
    actor: Actor,
    filters: LedgerFilters,
    sort: Sequence[tuple[str, bool]],
    lang: Lang = Lang.en,
) -> Select[Any]:
    """ledger_export_query's entries, each as its whole line of the CSV (PostgreSQL). The
    names' cells are written once per project, budget line, contract and funding source, and
    joined by id. In Chinese the entry's kind is a word (支付, 红字冲销)."""
    projects = select(Project.id, _named(Project.code, Project.name).label("cells")).subquery()
    lines = select(
        BudgetLine.id, _named(BudgetLine.code, BudgetLine.name).label("cells")
    ).subquery()
    contracts = select(Contract.id, _named(Contract.contract_no).label("cells")).subquery()
    sources = select(
        FundingSource.id, _named(FundingSource.code, FundingSource.name).label("cells")
    ).subquery()
    line = csv_line(
        [
            int_cell(col(Disbursement.id)),
            text_cell(_kind_in(lang)),
            date_cell(col(Disbursement.paid_on)),
            projects.c.cells,
            func.coalesce(lines.c.cells, ","),  # no budget line: its code and name empty
            func.coalesce(contracts.c.cells, ""),
            fen_cell(fen(col(Disbursement.amount))),
            text_cell(col(Disbursement.payee)),
            text_cell(col(Disbursement.voucher_no)),
            sources.c.cells,
            text_cell(col(Disbursement.memo)),
            text_cell(col(Disbursement.payee_differs_reason)),
            int_cell(col(Disbursement.reverses_id)),
            text_cell(col(Disbursement.reason)),
            utc_cell(col(Disbursement.created_at)),
        ]
    )
    query = ledger_export_query(actor=actor, filters=filters, sort=sort, columns=[line])
    return (
        query.join(projects, projects.c.id == Disbursement.project_id)
        .outerjoin(lines, lines.c.id == Disbursement.budget_line_id)
        .outerjoin(contracts, contracts.c.id == Disbursement.contract_id)
        .join(sources, sources.c.id == Disbursement.funding_source_id)
    )


def _kind_in(lang: Lang) -> Any:
    """The entry's kind as the export shows it in `lang` (a SQL expression)."""
    kind = col(Disbursement.kind)
    if lang is Lang.en:
        return kind
    return case(
        *((kind == code, literal(word(ENTRY_KIND, code, lang))) for code in ENTRY_KIND),
        else_=kind,
    )


@dataclass(frozen=True)
class _Names:
    """Codes and names by id, read once per export."""

    project_code: dict[int, str]
    project_name: dict[int, str]
    line_code: dict[int, str]
    line_name: dict[int, str]
    contract_no: dict[int, str]
    source_code: dict[int, str]
    source_name: dict[int, str]
    kind: dict[str, str | None]

    @classmethod
    def read(cls, connection: Connection, lang: Lang = Lang.en) -> "_Names":
        projects = connection.execute(select(Project.id, Project.code, Project.name)).all()
        lines = connection.execute(select(BudgetLine.id, BudgetLine.code, BudgetLine.name)).all()
        contracts = connection.execute(select(Contract.id, Contract.contract_no)).all()
        sources = connection.execute(
            select(FundingSource.id, FundingSource.code, FundingSource.name)
        ).all()
        return cls(
            project_code={id_: code for id_, code, _ in projects},
            project_name={id_: name for id_, _, name in projects},
            line_code={id_: code for id_, code, _ in lines},
            line_name={id_: name for id_, _, name in lines},
            contract_no=dict(contracts),
            source_code={id_: code for id_, code, _ in sources},
            source_name={id_: name for id_, _, name in sources},
            kind={code: word(ENTRY_KIND, code, lang) for code in ENTRY_KIND},
        )

    def columns(self, batch: Sequence[tuple[Any, ...]]) -> ColumnBatch:
        """A batch of the query's rows as the columns of LEDGER_COLUMNS."""
        (
            ids,
            kinds,
            paid_on,
            projects,
            lines,
            contracts,
            amounts,
            payees,
            vouchers,
            sources,
            memos,
            differs,
            reverses,
            reasons,
            created_at,
        ) = zip(*batch, strict=True)
        return [
            ids,
            list(map(self.kind.__getitem__, kinds)),
            paid_on,
            list(map(self.project_code.__getitem__, projects)),
            list(map(self.project_name.__getitem__, projects)),
            list(map(self.line_code.get, lines)),
            list(map(self.line_name.get, lines)),
            list(map(self.contract_no.get, contracts)),
            amounts,
            payees,
            vouchers,
            list(map(self.source_code.__getitem__, sources)),
            list(map(self.source_name.__getitem__, sources)),
            memos,
            differs,
            reverses,
            reasons,
            utc_texts_iso(created_at),
        ]


def _batches(
    factory: SessionFactory, query: Select[Any], lang: Lang = Lang.en
) -> Iterator[ColumnBatch]:
    """The query's rows, read in batches through a connection of their own (see above), with
    the names read in the same snapshot."""
    with factory.lookup(snapshot=True) as connection:
        names = _Names.read(connection, lang)
        for batch in driver_batches(connection, query, size=BATCH_ROWS):
            yield names.columns(batch)


def _copied_lines(factory: SessionFactory, query: Select[Any]) -> Iterator[bytes]:
    """ledger_csv_query's lines, read with COPY through a connection of their own."""
    with factory.lookup(snapshot=True) as connection:
        yield from copy_lines(connection, query)


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
    rows: Rows
    if fmt is ExportFormat.csv and factory.rules.CSV_LINES_IN_SQL:
        query = ledger_csv_query(actor=actor, filters=filters, sort=sort, lang=lang)
        rows = CsvLines(_copied_lines(factory, query))
    else:
        # XLSX needs the values.
        query = ledger_export_query(actor=actor, filters=filters, sort=sort)
        rows = ColumnBatches(_batches(factory, query, lang))
    sheet = Sheet(name="Ledger", name_zh="支付台账", columns=LEDGER_COLUMNS, rows=rows)
    return stream(sheet, fmt=fmt, lang=lang, filename=f"disbursements-{today.isoformat()}")
