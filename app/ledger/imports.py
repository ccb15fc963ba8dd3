"""A month of payments from a spreadsheet: CSV in UTF-8 (with or without BOM) or GB18030, as
Excel in China saves it. All rows or none; every error names its row and column.

Each row is held to the same rules as a single payment (app.ledger.service.check_payment:
budget policy, contract limit, dates, payee), in file order and inside one transaction, as if
the rows before it had been posted one by one. The rows are checked in memory against each
project's context, read once under its lock; then the entries go in together, each balance
moves once, and every entry has its audit entry, as a single payment's would. A voucher number
already in the ledger with the same details is reported as already posted and skipped, so
importing the same file twice posts nothing new.
"""

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import IO, Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.contracts.service import contracts_of, match_contract
from app.errors import DomainError, FieldError, InvalidInput, RowErrors
from app.exports.service import undo_inert
from app.funding.models import FundingSource
from app.funding.service import Sources
from app.inputs import check_text, identifier_key, normalise_identifier
from app.labels import ENTRY_KIND
from app.ledger import service, xlsx
from app.ledger import statements as sql
from app.ledger.models import EntryKind
from app.ledger.schemas import BudgetWarning, DisbursementCreate
from app.ledger.service import DuplicateVoucher, ProjectCancelled
from app.params import chunks, plain_id
from app.programmes.models import PlanItem
from app.projects.models import Project
from app.projects.service import budget_lines_of, match_budget_line

MAX_ROWS = 100_000
MAX_ERRORS = 500

# Spreadsheet headings, in English or Chinese, and the field each one fills.
COLUMNS: dict[str, tuple[str, ...]] = {
    "project": ("project", "project_code", "project_id", "项目编号", "项目代码", "项目"),
    "budget_line": (
        "budget_line",
        "budget_line_code",
        "budget_line_id",
        "预算科目",
        "概算科目",
        "科目编号",
    ),
    "contract": ("contract", "contract_no", "contract_id", "合同编号"),
    "amount": ("amount", "金额", "金额（元）", "金额(元)", "支付金额", "拨付金额"),
    "paid_on": ("paid_on", "支付日期", "拨付日期", "日期"),
    "payee": ("payee", "收款单位", "收款人"),
    "voucher_no": ("voucher_no", "凭证号", "凭证编号"),
    "funding_source": ("funding_source", "资金来源"),
    "memo": ("memo", "摘要", "备注"),
    "payee_differs_reason": ("payee_differs_reason", "收款人不一致原因"),
    # An export's entry kind: its reversals re-import as already posted, never as new entries.
    "kind": ("kind", "类型"),
}
REQUIRED = ("project", "amount", "paid_on", "payee", "voucher_no", "funding_source")
_HEADING = {alias.lower(): name for name, aliases in COLUMNS.items() for alias in aliases}
_GROUPED = re.compile(r"^-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_DATE = re.compile(r"^([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?$")


def detect_encoding(upload: IO[bytes]) -> str:
    """UTF-8 (BOM or not) if the whole file decodes as such, else GB18030; read in chunks."""
    upload.seek(0)
    if upload.read(3) == codecs.BOM_UTF8:
        upload.seek(0)
        return "utf-8-sig"
    upload.seek(0)
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := upload.read(64 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            upload.seek(0)
            continue
        upload.seek(0)
        return encoding
    raise RowErrors(
        "the file is neither UTF-8 nor GB18030 text; save it from Excel as CSV",
        [
            FieldError(
                field="file",
                location="body",
                message="unreadable encoding",
                type="encoding",
                row=None,
            )
        ],
    )


def _storable(value: str) -> bool:
    try:
        check_text(value)
    except ValueError:
        return False
    return True


def _amount(text: str) -> str:
    """Excel may group thousands (1,234.56); that is unambiguous, so it is accepted here."""
    return text.replace(",", "") if _GROUPED.match(text) else text


def _date(text: str) -> str:
    """2023-06-30, 2023/6/30, 2023.6.30 and 2023年6月30日 are the same day; year first only."""
    match = _DATE.match(text)
    if not match:
        return text
    year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return text


@dataclass
class ParsedRow:
    row: int
    data: DisbursementCreate
    programme_id: int
    # A reversal's row (from an export) holds its amount as a positive number here.
    kind: EntryKind = EntryKind.payment


@dataclass
class ImportResult:
    dry_run: bool
    rows: int = 0
    posted: int = 0
    already_posted: int = 0
    total: Decimal = Decimal(0)
    entries: list[int] = field(default_factory=list)
    skipped_vouchers: list[str] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def message(self) -> str:
        verb = "would post" if self.dry_run else "posted"
        if self.posted == 0 and self.already_posted:
            return (
                f"nothing new: all {self.already_posted} vouchers in this file are already posted"
            )
        text = f"{verb} {self.posted} payments totalling {self.total:.2f}"
        if self.already_posted:
            text += f"; {self.already_posted} vouchers were already posted and were skipped"
        return text


class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, row: int, column: str, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(
                FieldError(
                    field=column, location="body", message=message, type="value_error", row=row
                )
            )

    def raise_if_any(self, rows: int) -> None:
        if self.items:
            bad_rows = len({e.row for e in self.items})
            raise RowErrors(
                f"{bad_rows} of {rows} rows can't be imported; nothing was posted", self.items
            )


def _headings(fieldnames: Sequence[str], errors: _Errors) -> dict[int, str]:
    """The field each column fills, by position. A heading twice, or two headings for one
    field, is an error naming them: which column would count is anyone's guess."""
    mapping: dict[int, str] = {}
    headings: dict[str, str] = {}
    for position, heading in enumerate(fieldnames):
        name = _HEADING.get(heading.strip().lstrip("\ufeff").lower())
        if name is None:
            continue
        if name in headings:
            errors.add(
                1,
                name,
                f"the heading {heading.strip()!r} is there twice"
                if headings[name] == heading.strip()
                else f"both {headings[name]!r} and {heading.strip()!r} are {name}",
            )
            continue
        headings[name] = heading.strip()
        mapping[position] = name
    for required in REQUIRED:
        if required not in mapping.values():
            errors.add(
                1,
                required,
                f"no column for {required} "
                f"(e.g. {COLUMNS[required][0]} or {COLUMNS[required][-1]})",
            )
    return mapping


def _projects_named(session: Session, refs: set[str]) -> dict[str, tuple[int, str, int] | None]:
    """The project each reference names (by code, typed in any Unicode form, or by id written
    plainly), as (id, code, programme): a few statements for every reference of a file."""
    typed: dict[str, str | None] = {}
    for ref in refs:
        try:
            typed[ref] = normalise_identifier(ref)
        except ValueError:
            typed[ref] = None
    named = [ref for ref in typed.values() if ref is not None]
    keys = sorted({identifier_key(ref) for ref in named})
    ids = sorted({n for ref in named if ref.isascii() and (n := plain_id(ref)) is not None})
    query = (
        select(col(Project.id), col(Project.code), col(Project.code_key))
        .add_columns(col(PlanItem.programme_id))
        .join(PlanItem, col(PlanItem.id) == Project.plan_item_id)
    )
    by_key: dict[str, tuple[int, str, int]] = {}
    by_id: dict[int, tuple[int, str, int]] = {}
    connection = session.connection()
    for column, values in ((col(Project.code_key), keys), (col(Project.id), ids)):
        for chunk in chunks(values):
            for pid, code, code_key, programme_id in connection.execute(
                query.where(column.in_(chunk))
            ):
                by_key[code_key] = by_id[pid] = (pid, code, programme_id)
    found: dict[str, tuple[int, str, int] | None] = {}
    for ref, name in typed.items():
        if name is None:
            found[ref] = None
            continue
        number = plain_id(name) if name.isascii() else None
        found[ref] = by_id.get(number) if number in by_id else by_key.get(identifier_key(name))
    return found


XLSX_MAGIC = b"PK\x03\x04"


def _file_error(detail: str, message: str, kind: str) -> RowErrors:
    return RowErrors(
        detail, [FieldError(field="file", location="body", message=message, type=kind, row=None)]
    )


def _rows(upload: IO[bytes]) -> Iterator[list[str]]:
    """The file's rows as text cells, heading first: an XLSX workbook's first worksheet, or
    CSV lines with the export's formula protection taken off exactly."""
    upload.seek(0)
    head = upload.read(4)
    upload.seek(0)
    if head in (b"", codecs.BOM_UTF8):
        raise _file_error("the body is empty: send the CSV or XLSX file", "empty body", "empty")
    if head == XLSX_MAGIC:
        return _xlsx_rows(upload)
    text = io.TextIOWrapper(upload, encoding=detect_encoding(upload), newline="")
    # csv.reader, not DictReader: it yields blank lines too, so row numbers stay Excel's.
    return ([undo_inert(cell) for cell in cells] for cells in csv.reader(text))


def _xlsx_rows(upload: IO[bytes]) -> Iterator[list[str]]:
    try:
        yield from xlsx.rows(upload)
    except xlsx.Unreadable as exc:
        raise _file_error(f"the XLSX workbook can't be imported: {exc}", str(exc), "xlsx") from exc


# An export in Chinese names the kinds by their words (app.labels).
_KIND_WORDS = {word: EntryKind(code) for code, word in ENTRY_KIND.items()}


def _kind(text: str) -> EntryKind | None:
    if text in _KIND_WORDS:
        return _KIND_WORDS[text]
    try:
        return EntryKind(text.lower() or EntryKind.payment.value)
    except ValueError:
        return None


def parse(*, session: Session, upload: IO[bytes]) -> list[ParsedRow]:
    """Read and check every row; raise RowErrors naming each bad row and column."""
    reader = _rows(upload)
    errors = _Errors()
    try:
        fieldnames = next(reader, [])
        mapping = _headings(fieldnames, errors)
    except csv.Error as exc:
        raise RowErrors(
            "the file is not CSV",
            [FieldError(field="file", location="body", message=str(exc), type="csv", row=1)],
        ) from exc
    errors.raise_if_any(0)
    # The file is read first, then every project, budget line and contract it names is
    # looked up at once: a month's rows name the same few over and over.
    read: list[tuple[int, dict[str, str]]] = []
    # A problem of the file itself (the row after the last one read): reported last, as it
    # comes after every row's own.
    unreadable: tuple[int, str] | None = None
    row_no = 1
    try:
        for cells in reader:
            row_no += 1
            if row_no - 1 > MAX_ROWS:
                unreadable = (row_no, f"more than {MAX_ROWS} rows; split the file")
                break
            values = {
                name: (cells[position] if position < len(cells) else "").strip()
                for position, name in mapping.items()
            }
            if any(values.values()):  # else a blank line, or the empty rows at a sheet's end
                read.append((row_no, values))
    except csv.Error as exc:
        unreadable = (row_no, f"not valid CSV: {exc}")
    except UnicodeDecodeError as exc:  # pragma: no cover - detect_encoding read it all already
        unreadable = (row_no, f"unreadable text: {exc.reason}")
    projects = _projects_named(session, {values["project"] for _, values in read})
    project_ids = sorted({found[0] for found in projects.values() if found is not None})
    lines_of = budget_lines_of(session=session, project_ids=project_ids)
    contracts_of_project = contracts_of(session=session, project_ids=project_ids)
    lines: dict[tuple[int, str], int | str] = {}
    contracts: dict[tuple[int, str], int | None] = {}
    seen: dict[tuple[int, str], int] = {}
    parsed: list[ParsedRow] = []
    for row, values in read:
        unstorable = [name for name, value in values.items() if not _storable(value)]
        if unstorable:
            for name in unstorable:
                errors.add(row, name, "contains control characters")
            continue
        kind = _kind(values.get("kind", ""))
        if kind is None:
            errors.add(row, "kind", f"{values['kind']!r} is neither payment nor reversal")
            continue
        amount = _amount(values["amount"])
        if kind is EntryKind.reversal:
            if not amount.startswith("-"):
                errors.add(row, "amount", "a reversal's amount is negative")
                continue
            amount = amount[1:]
        project = projects[values["project"]]
        if project is None:
            errors.add(row, "project", f"no project {values['project']!r}")
            continue
        project_id, project_code, programme_id = project
        line_id = None
        if values.get("budget_line"):
            named = (project_id, values["budget_line"])
            if named not in lines:
                lines[named] = match_budget_line(lines_of[project_id], values["budget_line"])
            line = lines[named]
            if isinstance(line, str):
                errors.add(row, "budget_line", f"{project_code}: {line}")
                continue
            line_id = line
        contract_id = None
        if values.get("contract"):
            named = (project_id, values["contract"])
            if named not in contracts:
                contracts[named] = match_contract(
                    contracts_of_project[project_id], values["contract"]
                )
            contract_id = contracts[named]
            if contract_id is None:
                errors.add(
                    row, "contract", f"{project_code} has no contract {values['contract']!r}"
                )
                continue
        try:
            data = DisbursementCreate.model_validate(
                {
                    "project_id": project_id,
                    "budget_line_id": line_id,
                    "contract_id": contract_id,
                    "amount": amount,
                    "paid_on": _date(values["paid_on"]),
                    "payee": values["payee"],
                    "voucher_no": values["voucher_no"],
                    "funding_source": values["funding_source"],
                    "memo": values.get("memo") or None,
                    "payee_differs_reason": values.get("payee_differs_reason") or None,
                }
            )
        except ValidationError as exc:
            for err in exc.errors():
                column = _column(str(err["loc"][0])) if err["loc"] else "row"
                errors.add(row, column, err["msg"])
            continue
        key = (programme_id, identifier_key(data.voucher_no))
        if key in seen:
            errors.add(row, "voucher_no", f"voucher {data.voucher_no} is also on row {seen[key]}")
            continue
        seen[key] = row
        parsed.append(ParsedRow(row=row, data=data, programme_id=programme_id, kind=kind))
    if unreadable is not None:
        errors.add(unreadable[0], "file", unreadable[1])
    errors.raise_if_any(row_no - 1)
    if not parsed:
        raise _file_error("the file has no rows to import", "no data rows", "empty")
    return parsed


def _posted_vouchers(session: Session, rows: Sequence[ParsedRow]) -> dict[tuple[int, str], Any]:
    """The ledger's entries holding any of the rows' voucher numbers (however they were typed
    there), by programme and voucher key: a few statements for the whole file."""
    keys: dict[int, set[str]] = {}
    for row in rows:
        keys.setdefault(row.programme_id, set()).add(identifier_key(row.data.voucher_no))
    connection = session.connection()
    found: dict[tuple[int, str], Any] = {}
    for programme_id, programme_keys in keys.items():
        for chunk in chunks(sorted(programme_keys)):
            for entry in connection.execute(
                sql.VOUCHERS_HELD, {"programme_id": programme_id, "voucher_keys": list(chunk)}
            ):
                found[(programme_id, entry.voucher_key)] = entry
    return found


def _same_payment(entry: Any, row: ParsedRow, sources: Sources) -> bool:
    """Whether the ledger's entry with the row's voucher is the row (a re-imported export)."""
    data = row.data
    amount = -data.amount if row.kind is EntryKind.reversal else data.amount
    return bool(
        entry.kind == row.kind.value
        and entry.project_id == data.project_id
        and entry.amount == amount
        and entry.paid_on == data.paid_on
        and entry.payee.strip() == data.payee.strip()
        and entry.budget_line_id == data.budget_line_id
        and entry.contract_id == data.contract_id
        and entry.funding_source_id == (sources.find(data.funding_source) or (None,))[0]
    )


def _refusal_column(error: DomainError) -> str:
    """The column a refused row's error names."""
    if isinstance(error, InvalidInput):
        return _column(error.errors[0].field)
    if isinstance(error, DuplicateVoucher):
        return "voucher_no"
    if isinstance(error, ProjectCancelled):
        return "project"
    return "amount"  # the budget policy or the contract's limit refused the amount


def import_payments(
    *,
    session: Session,
    actor: Actor,
    upload: IO[bytes],
    dry_run: bool,
    today: date,
    request_id: str | None,
) -> ImportResult:
    """Post every new row of the file, or none of them."""
    rows = parse(session=session, upload=upload)
    result = ImportResult(dry_run=dry_run, rows=len(rows))
    # Everything from here is undone on a dry run or an error, new balance rows included.
    savepoint = session.begin_nested()
    mark = audit.pending_count(session)
    # Every project in the file is locked up front, in id order, so two imports can't
    # deadlock; its context is read once and the rows are checked against it in memory.
    contexts = service.lock_payment_contexts(session, (r.data.project_id for r in rows))
    sources = Sources(
        session.connection().execute(
            select(col(FundingSource.id), col(FundingSource.code), col(FundingSource.name))
        )
    )
    posted_already = _posted_vouchers(session, rows)
    # (row, column, message), put in row order before they are reported.
    refusals: list[tuple[int, str, str]] = []
    new: list[ParsedRow] = []
    for row in rows:
        existing = posted_already.get((row.programme_id, identifier_key(row.data.voucher_no)))
        if existing is not None:
            if _same_payment(existing, row, sources):
                result.already_posted += 1
                result.skipped_vouchers.append(row.data.voucher_no)
            else:
                refusals.append(
                    (
                        row.row,
                        "voucher_no",
                        f"voucher {row.data.voucher_no} is already posted as entry "
                        f"{existing.id} with other details",
                    )
                )
            continue
        if row.kind is EntryKind.reversal:
            refusals.append(
                (
                    row.row,
                    "kind",
                    f"reversal {row.data.voucher_no} is not in the ledger: a reversal is posted "
                    "against its payment (POST /api/v1/disbursements/{id}/reversals), not "
                    "imported",
                )
            )
            continue
        new.append(row)
    accepted, refused = service.check_payments(
        session=session,
        actor=actor,
        contexts=contexts,
        payments=[row.data for row in new],
        today=today,
        request_id=request_id,
    )
    for refusal in refused:
        refusals.append(
            (new[refusal.index].row, _refusal_column(refusal.error), refusal.error.detail)
        )
    errors = _Errors()
    for row_no, column, message in sorted(refusals, key=lambda refusal: refusal[0]):
        errors.add(row_no, column, message)
    for item in accepted:
        row = new[item.index]
        result.posted += 1
        result.total += row.data.amount
        result.warnings += [_row_warning(row.row, w) for w in item.warnings]
    if errors.items or dry_run:
        savepoint.rollback()
        audit.discard_pending(session, since=mark)
        errors.raise_if_any(len(rows))
        result.entries = []
        return result
    result.entries = service.write_payments(session=session, actor=actor, accepted=accepted)
    savepoint.commit()
    if result.posted:
        audit.record(
            session,
            actor=actor,
            action="import",
            entity="disbursement",
            entity_id="csv",
            after={
                "rows": result.rows,
                "posted": result.posted,
                "total": result.total,
                "already_posted": result.already_posted,
                "entries": result.entries,
            },
        )
    return result


def _column(field: str) -> str:
    """The spreadsheet column for a payment field."""
    return {
        "project_id": "project",
        "budget_line_id": "budget_line",
        "contract_id": "contract",
    }.get(field, field)


def _row_warning(row: int, warning: BudgetWarning) -> dict[str, Any]:
    return {"row": row, "code": warning.code, "message": warning.message}
