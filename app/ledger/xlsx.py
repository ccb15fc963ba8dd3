"""An import's XLSX workbook: the first worksheet's cells as the text a CSV would hold.

The reader (python-calamine, in Rust) holds a worksheet as a grid from its first cell to its
last: one cell at XFD1048576 in a workbook of a few KB would make that grid hundreds of GB,
and the process would be killed, not told. So the worksheet's bounds are read from its XML
first (every cell's and row's reference, and the cells and rows written without one), and a
sheet larger than MAX_CELLS is refused before the reader sees it.
"""

import posixpath
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any
from xml.etree import ElementTree

from python_calamine import CalamineWorkbook, SheetTypeEnum

# An import's rows (100,000 and the headings) × 30 columns: room for a sheet's own notes.
MAX_CELLS = 100_001 * 30
# The worksheet's XML, unpacked: 100,000 rows of an import take about 30 MB.
MAX_SHEET_BYTES = 256 * 1024 * 1024


class Unreadable(Exception):
    """The workbook can't be read as an import: why, for the person who sent it."""


def _local(name: str) -> str:
    """An XML name without its namespace (transitional and strict OOXML name them apart)."""
    return name.rsplit("}", 1)[-1]


def _first_worksheet_part(archive: zipfile.ZipFile) -> str | None:
    """The zip member of the workbook's first worksheet (chart sheets skipped), in the
    workbook's order of sheets, as the reader finds it; None if it has none."""

    def xml(member: str) -> ElementTree.Element:
        return ElementTree.fromstring(archive.read(member))

    def target(base: str, relation: ElementTree.Element) -> str:
        path = relation.get("Target", "")
        return path.lstrip("/") if path.startswith("/") else posixpath.join(base, path)

    workbook = next(
        target("", relation)
        for relation in xml("_rels/.rels")
        if _local(relation.get("Type", "")).endswith("officeDocument")
    )
    folder, name = posixpath.split(workbook)
    relations = {
        relation.get("Id"): relation
        for relation in xml(posixpath.join(folder, "_rels", name + ".rels"))
    }
    for sheet in xml(workbook).iter():
        if _local(sheet.tag) != "sheet":
            continue
        rid = next((v for k, v in sheet.attrib.items() if _local(k) == "id"), None)
        relation = relations.get(rid)
        if relation is not None and relation.get("Type", "").endswith("/worksheet"):
            return posixpath.normpath(target(folder, relation))
    return None


# A cell written as Excel and most writers write it: its reference first. Any other cell, or
# a row without a reference, takes the slower general count.
_PLAIN_CELL_REF = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"')
_PREFIXED = re.compile(rb"<\w+:(?:c|row)[\s/>]")
_CELL = re.compile(rb"<(?:\w+:)?c[\s/>]")
_ROW = re.compile(rb"<(?:\w+:)?row[\s/>]")
_CELL_REF = re.compile(rb'<(?:\w+:)?c\s[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
_ROW_REF = re.compile(rb'<(?:\w+:)?row\s[^>]*?\br="([0-9]{1,7})"')
_ROW_XML = re.compile(rb"<(?:\w+:)?row[\s>].*?</(?:\w+:)?row>", re.DOTALL)


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _span(references: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """The furthest row and column of these cell references."""
    rows = max((int(row) for row in {row for _, row in references}), default=0)
    columns = max(
        (_column_number(letters) for letters in {letters for letters, _ in references}),
        default=0,
    )
    return rows, columns


def _grid_cells(sheet: bytes) -> int:
    """How many cells the reader's grid of this worksheet XML would hold, at most: from A1 to
    the furthest reference, plus the rows and cells written without one (each placed after
    the one before it)."""
    every_cell = sheet.count(b"<c ") + sheet.count(b"<c>") + sheet.count(b"<c/>")
    plain = _PLAIN_CELL_REF.findall(sheet)
    if len(plain) == every_cell and not _PREFIXED.search(sheet):
        last_row, last_column = _span(plain)
        return last_row * last_column
    cells = _CELL_REF.findall(sheet)
    last_row, last_column = _span(cells)
    rows = _ROW_REF.findall(sheet)
    last_row = max(last_row, max((int(row) for row in rows), default=0))
    last_row += len(_ROW.findall(sheet)) - len(rows)
    if len(_CELL.findall(sheet)) > len(cells):
        # Cells without a reference follow the one before them in their row.
        last_column += max((len(_CELL.findall(row)) for row in _ROW_XML.findall(sheet)), default=0)
    return last_row * last_column


def _check_size(upload: IO[bytes]) -> None:
    """Refuse a workbook whose first worksheet the reader would hold in more than MAX_CELLS
    cells, or whose worksheet XML is larger than MAX_SHEET_BYTES unpacked."""
    try:
        with zipfile.ZipFile(upload) as archive:
            part = _first_worksheet_part(archive)
            if part is None:
                return
            with archive.open(part) as member:
                sheet = member.read(MAX_SHEET_BYTES + 1)
    except (zipfile.BadZipFile, KeyError, StopIteration, ElementTree.ParseError) as exc:
        raise Unreadable(f"not an XLSX workbook: {exc}"[:200]) from exc
    finally:
        upload.seek(0)
    if len(sheet) > MAX_SHEET_BYTES:
        raise Unreadable(
            f"the first worksheet is more than {MAX_SHEET_BYTES // 2**20} MB of XML unpacked"
        )
    cells = _grid_cells(sheet)
    if cells > MAX_CELLS:
        raise Unreadable(
            f"the first worksheet spans {cells:,} cells from A1 to its last cell, more than "
            f"{MAX_CELLS:,}: delete what lies beyond the table"
        )


def cell_text(value: Any) -> str:
    """A cell's value as the text a CSV would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # An XLSX number cell is a double: the only float near money here, and never computed
        # with. Its shortest round-trip text is the decimal the cell holds (1234.5), parsed as
        # text by the same exact amount check as CSV, so a double that is no two-decimal
        # amount (a formula's 0.30000000000000004) is refused, never rounded. A whole number
        # is written as one (a voucher 20230012, not 20230012.0).
        shortest = Decimal(repr(value))
        return format(shortest.to_integral_value() if value.is_integer() else shortest, "f")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def rows(upload: IO[bytes]) -> Iterator[list[str]]:
    """The first worksheet's rows from A1 (row numbers and columns are Excel's), each cell as
    text. Raises Unreadable for what isn't a workbook, or one too large to hold."""
    _check_size(upload)
    try:
        book = CalamineWorkbook.from_filelike(upload)
    except Exception as exc:  # a damaged or foreign zip: whatever the reader raises
        raise Unreadable(f"not an XLSX workbook: {exc}"[:200]) from exc
    try:
        sheets = [
            index
            for index, sheet in enumerate(book.sheets_metadata)
            if sheet.typ == SheetTypeEnum.WorkSheet
        ]
        if not sheets:
            return
        sheet = book.get_sheet_by_index(sheets[0])
        # The reader's rows start at row 1, but at the first column with a value.
        padding = [""] * (sheet.start[1] if sheet.start else 0)
        for values in sheet.iter_rows():
            yield padding + [cell_text(value) for value in values]
    except Exception as exc:
        raise Unreadable(f"the workbook can't be read: {exc}"[:200]) from exc
    finally:
        book.close()
