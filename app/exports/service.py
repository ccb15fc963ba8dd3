"""Writing sheets as CSV or XLSX.

CSV: UTF-8 with a BOM (so Excel reads Chinese right), `\\r\\n` lines, minimal quoting, money as
plain two-decimal strings (`1234.50`, `-5.00`), shares with four decimals, ISO dates, booleans
TRUE/FALSE (是/否 in Chinese), and text
that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return)
prefixed with `'`, as is text starting with `'` (undo_inert takes exactly that prefix off).

XLSX (openpyxl, write-only): one worksheet per sheet, bold frozen heading row, column widths,
money as number cells formatted `#,##0.00`, shares as number cells formatted `0.00%` (the
ratio 0.5 shows as 50.00%, the four decimals of the JSON figure), ratios (CPI, SPI) as number
cells formatted `0.0000`, dates as date cells
`yyyy-mm-dd`, booleans as TRUE/FALSE, text always as text (never a formula).

Amounts are Decimal or integer fen throughout: numbers go into the XLSX file as their exact
decimal text. With Unit.wan (render only) money is in 万元, two decimals (money.yuan_to_wan),
and headings say （万元）.
"""

import csv
import io
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Context as DecimalContext
from decimal import Decimal, Inexact
from itertools import chain, islice
from typing import IO, Any
from urllib.parse import quote

import anyio
from fastapi import Response
from fastapi.responses import StreamingResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from starlette.concurrency import run_in_threadpool

from app.exports.dependencies import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, ExportFormat, Lang, Unit
from app.exports.tables import Column, ColumnBatch, ColumnBatches, CsvLines, Kind, Rows, Sheet
from app.labels import BOOLEAN
from app.money import fen_text, fen_texts, yuan, yuan_to_wan
from app.timeutil import as_utc

BOM = "\ufeff"
FEN = Decimal("0.01")
SHARE_PLACES = Decimal("0.0001")
# Quantizing money must never round: an amount with a third decimal is a bug, not a rounding.
_EXACT = DecimalContext(traps=[Inexact])
ROWS_PER_CHUNK = 500
CHUNK_BYTES = 64 * 1024
# Excel's limit is 1,048,576 rows a worksheet: the heading plus this many; more continue on
# another worksheet.
XLSX_MAX_DATA_ROWS = 1_048_575
XLSX_SPOOL_BYTES = 16 * 1024 * 1024
XLSX_TEXT_LIMIT = 32_767
MONEY_FORMAT = "#,##0.00"
SHARE_FORMAT = "0.00%"
RATIO_FORMAT = "0.0000"
DATE_FORMAT = "yyyy-mm-dd"
# A leading `'` is protected too (doubled), so that undo_inert can take off exactly the one
# the exporter put there and a re-imported export reads what was exported.
CSV_UNSAFE_START = "=+-@\t\r'"

Row = Mapping[str, Any] | Sequence[Any]


def money_text(value: Decimal) -> str:
    """`1234.5` → `"1234.50"`; decimal.Inexact for an amount with more than two decimals."""
    quantized = value.quantize(FEN, context=_EXACT)
    return format(quantized, "f") if quantized else "0.00"


def share_text(value: Decimal) -> str:
    """A ratio with four decimals, as the JSON reports write it: `"0.5000"`."""
    return format(value.quantize(SHARE_PLACES), "f")


def text_of(value: Any) -> str:
    """A TEXT cell's value as text: datetimes in ISO 8601 (UTC as `Z`), decimals in full."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def utc_text_iso(stored: str) -> str:
    """A UTC time in the text SQLite stores (timeutil.UtcText) as text_of writes that time:
    `2026-11-30 08:00:00.250000` → `2026-11-30T08:00:00.250000Z`; a whole second has no
    fraction (`2026-11-30T08:00:00Z`), as in datetime.isoformat()."""
    if len(stored) == 26 and stored[10] == " " and stored[19] == ".":
        fraction = "" if stored.endswith(".000000") else stored[19:]
        return f"{stored[:10]}T{stored[11:19]}{fraction}Z"
    return text_of(as_utc(datetime.fromisoformat(stored)))


def utc_texts_iso(stored: Sequence[str]) -> list[str]:
    """utc_text_iso of each value of a column. When every value has the form SQLite stores
    (26 characters, a space at 10 and a point at 19, as UtcText reads on either engine), the
    column's text is rewritten in one pass over it joined, not value by value."""
    count = len(stored)
    joined = "\x00".join(stored) + "\x00"
    if (
        len(joined) == 27 * count
        and joined.count("\x00") == count
        and joined[26::27] == "\x00" * count
        and joined[10::27] == " " * count
        and joined[19::27] == "." * count
        and joined.count(" ") == count
    ):
        # Each value's only space becomes the T; a whole second's ".000000" goes.
        rewritten = joined.replace(" ", "T").replace(".000000\x00", "\x00")
        return rewritten.replace("\x00", "Z\x00").split("\x00")[:count]
    return list(map(utc_text_iso, stored))


def _inert(value: Any) -> str | None:
    """A CSV text cell that no spreadsheet will run as a formula (OWASP CSV injection)."""
    if value is None:
        return None
    text = value if type(value) is str else text_of(value)
    if text and text[0] in CSV_UNSAFE_START:
        return "'" + text
    return text


def undo_inert(cell: str) -> str:
    """The text a CSV cell written by this service stood for: _inert's exact inverse (a `'`
    comes off only where _inert put one, before one of CSV_UNSAFE_START)."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in CSV_UNSAFE_START:
        return cell[1:]
    return cell


# A column's values as CSV fields (text, quoted where needed), formatted a whole column of a
# batch at a time. The csv module's rules for its minimal quoting: a field with a comma, a
# quote or a line break is quoted, its quotes doubled; None is an empty field.
_NEEDS_QUOTES = re.compile('[,"\r\n]')
# Separated by NULs, a value's first character is the one after a NUL (or the very first).
_FORMULA_AFTER_NUL = re.compile("\x00[" + re.escape(CSV_UNSAFE_START) + "]")
_FORMULA_STARTS = tuple(CSV_UNSAFE_START)


def _quoted(fields: Sequence[str], joined: str) -> Sequence[str]:
    """Fields quoted as the csv module quotes them; `joined` is the fields joined by NULs."""
    # Four substring tests are many times faster than one search for a character class.
    if not ("," in joined or '"' in joined or "\n" in joined or "\r" in joined):
        return fields
    return [
        '"' + field.replace('"', '""') + '"' if _NEEDS_QUOTES.search(field) else field
        for field in fields
    ]


def _text_fields(values: Sequence[Any]) -> Sequence[str]:
    """TEXT cells, neutralised as _inert does. Searching the column's text joined by NULs
    finds the few values that need a prefix or quotes without a Python call per value."""
    fields: Sequence[str] = values
    try:
        joined = "\x00".join(fields)
    except TypeError:  # None (an empty cell), or not all text
        fields = ["" if value is None else value for value in values]
        try:
            joined = "\x00".join(fields)
        except TypeError:  # not all text (datetimes, decimals): cell by cell
            fields = [_inert(value) or "" for value in values]
            return _quoted(fields, "\x00".join(fields))
    if joined.startswith(_FORMULA_STARTS) or _FORMULA_AFTER_NUL.search(joined):
        # The prefix adds no character that needs quotes: `joined` still tells.
        fields = [
            "'" + field if field and field[0] in CSV_UNSAFE_START else field for field in fields
        ]
    return _quoted(fields, joined)


def _each(write: Callable[[Any], str], *, plain: bool) -> Callable[[Sequence[Any]], Sequence[str]]:
    """Fields written value by value; `plain`: what `write` writes never needs quotes."""

    def fields(values: Sequence[Any]) -> Sequence[str]:
        if None in values:
            written = ["" if value is None else write(value) for value in values]
        else:
            written = list(map(write, values))
        return written if plain else _quoted(written, "\x00".join(written))

    return fields


def _fen_fields(amounts: Sequence[Any]) -> Sequence[str]:
    """Amounts in fen, a whole column at a time unless a cell is empty."""
    if None in amounts:
        return ["" if amount is None else fen_text(amount) for amount in amounts]
    return fen_texts(amounts)


# The csv module wrote ints and dates through str() (ISO dates); so does this, and quotes the
# result should a value of another type be there.
_CSV_FIELDS: dict[Kind, Callable[[Sequence[Any]], Sequence[str]]] = {
    Kind.TEXT: _text_fields,
    Kind.MONEY: _each(money_text, plain=True),
    Kind.FEN: _fen_fields,
    Kind.SHARE: _each(share_text, plain=True),
    Kind.RATIO: _each(share_text, plain=True),
    Kind.INT: _each(str, plain=False),
    Kind.DATE: _each(str, plain=False),
}


def _in_column_order(columns: Sequence[Column]) -> Callable[[Row], Sequence[Any]]:
    keys = [c.key for c in columns]
    width = len(keys)

    def values(row: Row) -> Sequence[Any]:
        if isinstance(row, Mapping):
            return [row.get(key) for key in keys]
        if len(row) != width:
            raise ValueError(f"a row has {len(row)} values for {width} columns")
        return row

    return values


def _plain_rows(batch: Sequence[Row], width: int) -> bool:
    """Whether every row of a batch is a sequence of `width` values (checked per type and
    length at C speed, not per row in Python)."""
    if any(issubclass(kind, Mapping) for kind in set(map(type, batch))):
        return False
    lengths = set(map(len, batch))
    if lengths != {width}:
        raise ValueError(f"rows have {sorted(lengths)} values for {width} columns")
    return True


def _column_batches(columns: Sequence[Column], rows: Rows) -> Iterator[ColumnBatch]:
    """A sheet's rows as ColumnBatches (of ROWS_PER_CHUNK rows when given row by row)."""
    if isinstance(rows, ColumnBatches):
        yield from rows.batches
        return
    if isinstance(rows, CsvLines):
        raise TypeError("CsvLines are already written as CSV: they have no values")
    values = _in_column_order(columns)
    width = len(columns)
    remaining = iter(rows)
    while batch := list(islice(remaining, ROWS_PER_CHUNK)):
        plain = batch if _plain_rows(batch, width) else [values(row) for row in batch]
        yield list(zip(*plain, strict=True))


def _each_row(columns: Sequence[Column], rows: Rows) -> Iterator[Sequence[Any]]:
    """A sheet's rows one by one, each in column order."""
    if isinstance(rows, ColumnBatches):
        for batch in rows.batches:
            yield from zip(*batch, strict=True)
        return
    if isinstance(rows, CsvLines):
        raise TypeError("CsvLines are already written as CSV: they have no values")
    yield from map(_in_column_order(columns), rows)


def _bool_fields(words: tuple[str, str]) -> Callable[[Sequence[Any]], Sequence[str]]:
    """Booleans as the words for (False, True)."""
    return _each(lambda value: words[bool(value)], plain=True)


# A CSV's booleans: TRUE/FALSE, or in Chinese 是/否 (app.labels). XLSX has boolean cells.
_CSV_BOOL = {lang: _bool_fields(words) for lang, words in BOOLEAN.items()}


def _csv_lines(columns: Sequence[Column], lang: Lang = Lang.en) -> Callable[[ColumnBatch], str]:
    """Writes a batch of rows, given column by column, as CSV lines: each column's
    formatting is looked up once and applied to all its values together."""
    formats = [_CSV_BOOL[lang] if c.kind is Kind.BOOL else _CSV_FIELDS[c.kind] for c in columns]
    width = len(columns)

    def lines(batch: ColumnBatch) -> str:
        if len(batch) != width:
            raise ValueError(f"a batch has {len(batch)} columns for {width} columns")
        if not batch[0]:
            return ""
        fields = [write(column) for write, column in zip(formats, batch, strict=True)]
        if width == 1:
            # A line of one empty field is `""`, so that it isn't a blank line.
            fields[0] = [field or '""' for field in fields[0]]
        return "\r\n".join(map(",".join, zip(*fields, strict=True))) + "\r\n"

    return lines


def _csv_text(columns: Sequence[Column], rows: Rows, lang: Lang = Lang.en) -> Iterator[str | bytes]:
    """A sheet's rows as CSV lines, a batch at a time (as text, or as the UTF-8 bytes the
    database wrote)."""
    if isinstance(rows, CsvLines):
        yield from rows.chunks
    elif columns:
        yield from map(_csv_lines(columns, lang), _column_batches(columns, rows))
    elif not isinstance(rows, ColumnBatches):
        # No columns: an empty line a row, as the csv module writes it.
        yield "\r\n" * sum(1 for _ in rows)


def _csv_line(values: Sequence[Any]) -> str:
    """One line as the csv module writes it (headings, titles)."""
    line = io.StringIO()
    csv.writer(line, lineterminator="\r\n").writerow(values)
    return line.getvalue()


def _csv_pieces(sheets: Sequence[Sheet], *, lang: Lang) -> Iterator[str | bytes]:
    titled = len(sheets) > 1
    yield BOM
    for number, sheet in enumerate(sheets):
        if titled:
            if number:
                yield "\r\n"
            yield _csv_line([_inert(sheet.title(lang))])
        yield _csv_line([c.title(lang) for c in sheet.columns])
        yield from _csv_text(sheet.columns, sheet.rows, lang)


def csv_chunks(sheets: Sequence[Sheet], *, lang: Lang) -> Iterator[bytes]:
    """The CSV file in chunks of about CHUNK_BYTES: BOM, then each sheet's heading and rows.
    Several sheets: each preceded by its title on a line of its own, one blank line between."""
    pending: list[bytes] = []
    size = 0
    for piece in _csv_pieces(sheets, lang=lang):
        encoded = piece if isinstance(piece, bytes) else piece.encode("utf-8")
        pending.append(encoded)
        size += len(encoded)
        if size >= CHUNK_BYTES:
            yield b"".join(pending)
            pending.clear()
            size = 0
    yield b"".join(pending)


_SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def worksheet_title(name: str, taken: set[str]) -> str:
    """A title Excel accepts (≤ 31 characters, none of []:*?/\\, no quote at either end),
    unique in the workbook (case-insensitively, as Excel compares them)."""
    base = _SHEET_TITLE_FORBIDDEN.sub("_", name).strip("'").strip() or "Sheet"
    title, number = base[:31], 1
    while title.lower() in taken:
        number += 1
        suffix = f" ({number})"
        title = base[: 31 - len(suffix)] + suffix
    taken.add(title.lower())
    return title


def _clean_text(value: Any) -> str:
    text = value if type(value) is str else text_of(value)
    if ILLEGAL_CHARACTERS_RE.search(text):
        # Control characters can't be stored in XLSX at all; inputs refuse them anyway.
        text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    return text[:XLSX_TEXT_LIMIT]


class _Cells:
    """How one column's values become cells in a write-only worksheet.

    A styled cell is one reusable WriteOnlyCell per column (append() writes it out at once),
    given its value directly: numbers as their exact decimal text (openpyxl would otherwise
    write a Decimal through "%.16g", i.e. a float), text as text even when it starts with `=`.
    """

    def __init__(self, worksheet: WriteOnlyWorksheet, column: Column) -> None:
        self.kind = column.kind
        self.template = WriteOnlyCell(worksheet)
        number_format = {
            Kind.MONEY: MONEY_FORMAT,
            Kind.FEN: MONEY_FORMAT,
            Kind.SHARE: SHARE_FORMAT,
            Kind.RATIO: RATIO_FORMAT,
            Kind.INT: "0",
            Kind.DATE: DATE_FORMAT,
            Kind.TEXT: "@",
        }.get(self.kind)
        if number_format is not None:
            # Every template has a style: append() replaces a styled cell after writing it
            # instead of reusing it for the next value.
            self.template.number_format = number_format
        self.template.data_type = {Kind.TEXT: "s", Kind.DATE: "d"}.get(self.kind, "n")

    def __call__(self, value: Any) -> Any:
        if value is None:
            return None
        kind = self.kind
        if kind is Kind.TEXT:
            text = _clean_text(value)
            if text.startswith("=") or text in ERROR_CODES:
                return self._set(text)
            return text
        if kind is Kind.MONEY:
            return self._set(money_text(value))
        if kind is Kind.FEN:
            return self._set(fen_text(value))
        if kind is Kind.SHARE or kind is Kind.RATIO:
            return self._set(share_text(value))
        if kind is Kind.INT:
            return self._set(str(int(value)))
        if kind is Kind.DATE:
            return self._set(date.fromisoformat(value) if isinstance(value, str) else value)
        return bool(value)

    def _set(self, value: object) -> Cell:
        self.template._value = value  # type: ignore[attr-defined]
        return self.template


class _XlsxBook:
    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self.book = Workbook(write_only=True)
        self._titles: set[str] = set()

    def _worksheet(self, title: str, columns: Sequence[Column]) -> WriteOnlyWorksheet:
        worksheet: WriteOnlyWorksheet = self.book.create_sheet(worksheet_title(title, self._titles))
        # Write-only worksheets have column_dimensions at run time; the stubs don't say so.
        dimensions = worksheet.column_dimensions  # type: ignore[attr-defined]
        for number, column in enumerate(columns, 1):
            dimensions[get_column_letter(number)].width = column.width_for(self.lang)
        worksheet.freeze_panes = "A2"
        bold = Font(bold=True)
        heading = []
        for column in columns:
            cell = WriteOnlyCell(worksheet, value=column.title(self.lang))
            cell.font = bold
            heading.append(cell)
        worksheet.append(heading)
        return worksheet

    def add(self, sheet: Sheet) -> None:
        """The sheet's rows on one worksheet, or on as many as Excel's row limit needs."""
        title = sheet.title(self.lang)
        rows = _each_row(sheet.columns, sheet.rows)
        part = 1
        while True:
            worksheet = self._worksheet(title if part == 1 else f"{title} ({part})", sheet.columns)
            cells = [_Cells(worksheet, column) for column in sheet.columns]
            for row in islice(rows, XLSX_MAX_DATA_ROWS):
                worksheet.append([cell(value) for cell, value in zip(cells, row, strict=True)])
            following = next(rows, None)
            if following is None:
                return
            rows = chain([following], rows)
            part += 1

    def save(self, target: IO[bytes]) -> None:
        if not self.book.worksheets:
            self.book.create_sheet("Sheet")
        self.book.save(target)


def xlsx_write(sheets: Sequence[Sheet], *, lang: Lang, target: IO[bytes]) -> None:
    book = _XlsxBook(lang)
    for sheet in sheets:
        book.add(sheet)
    book.save(target)


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact one in RFC 5987 form."""
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _headers(filename: str, fmt: ExportFormat) -> dict[str, str]:
    return {"Content-Disposition": content_disposition(f"{filename}.{fmt.value}")}


def _wan_column(column: Column) -> Column:
    if column.kind is Kind.FEN or column.kind is Kind.MONEY:
        return replace(
            column,
            kind=Kind.MONEY,
            en=f"{column.en} (万元)",
            zh=column.zh.replace("元）", "万元）")
            if "元）" in column.zh
            else f"{column.zh}（万元）",
        )
    return column


def in_wan(sheet: Sheet) -> Sheet:
    """The sheet with its money in 万元 (two decimals, rounded half away from zero) and
    headings that say so; rows given as dicts or sequences."""
    if isinstance(sheet.rows, ColumnBatches | CsvLines):
        raise TypeError("in_wan() takes rows as dicts or sequences")
    money = {c.key for c in sheet.columns if c.kind is Kind.MONEY}
    fen = {c.key for c in sheet.columns if c.kind is Kind.FEN}
    order = [c.key for c in sheet.columns]

    def shifted(key: str, value: Any) -> Any:
        if value is None:
            return None
        if key in fen:
            return yuan_to_wan(yuan(value))
        return yuan_to_wan(value) if key in money else value

    def row_in_wan(row: Row) -> Row:
        if isinstance(row, Mapping):
            return {key: shifted(key, value) for key, value in row.items()}
        return [shifted(key, value) for key, value in zip(order, row, strict=True)]

    return Sheet(
        name=sheet.name,
        name_zh=sheet.name_zh,
        columns=[_wan_column(column) for column in sheet.columns],
        rows=map(row_in_wan, sheet.rows),
    )


def render(
    sheets: Sequence[Sheet],
    *,
    fmt: ExportFormat,
    lang: Lang,
    filename: str,
    unit: Unit = Unit.yuan,
) -> Response:
    """Sheets as a whole CSV or XLSX file (for reports: rows held in memory), money in 元 or
    in 万元.

    `filename` is the base name without extension, e.g. `portfolio-2026-11-30`.
    """
    if unit is Unit.wan:
        sheets = [in_wan(sheet) for sheet in sheets]
    if fmt is ExportFormat.csv:
        return Response(
            b"".join(csv_chunks(sheets, lang=lang)),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers=_headers(filename, fmt),
        )
    if fmt is ExportFormat.xlsx:
        target = io.BytesIO()
        xlsx_write(sheets, lang=lang, target=target)
        return Response(
            target.getvalue(), media_type=XLSX_MEDIA_TYPE, headers=_headers(filename, fmt)
        )
    raise ValueError(f"render() writes csv or xlsx, not {fmt}: JSON is the route's own")


async def _in_threadpool(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Pull a blocking iterator from worker threads, and close it (releasing its database
    connection or file) however the response ends, the client hanging up included."""
    try:
        while (chunk := await run_in_threadpool(next, chunks, None)) is not None:
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(close)


def stream_csv(
    columns: Sequence[Column], rows: Rows, *, lang: Lang, filename: str
) -> StreamingResponse:
    """One table as CSV, written while the rows are read: `rows` may be a generator over a
    database cursor (it runs in worker threads, after the route has returned)."""
    sheet = Sheet(name="", name_zh="", columns=columns, rows=rows)
    return StreamingResponse(
        _in_threadpool(csv_chunks([sheet], lang=lang)),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers=_headers(filename, ExportFormat.csv),
    )


def _file_chunks(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk


def stream_xlsx(
    columns: Sequence[Column],
    rows: Rows,
    *,
    lang: Lang,
    filename: str,
    sheet_name: str = "Sheet1",
    sheet_name_zh: str = "工作表1",
) -> StreamingResponse:
    """One table as XLSX: the rows are written now (call it from a sync route: it blocks)
    into a write-only workbook spooled to a temporary file, which is then streamed."""
    spool = tempfile.SpooledTemporaryFile(max_size=XLSX_SPOOL_BYTES)
    try:
        sheet = Sheet(name=sheet_name, name_zh=sheet_name_zh, columns=columns, rows=rows)
        xlsx_write([sheet], lang=lang, target=spool)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    headers = _headers(filename, ExportFormat.xlsx) | {"Content-Length": str(size)}
    return StreamingResponse(
        _in_threadpool(_file_chunks(spool)), media_type=XLSX_MEDIA_TYPE, headers=headers
    )


def stream(sheet: Sheet, *, fmt: ExportFormat, lang: Lang, filename: str) -> StreamingResponse:
    """A large table as CSV (streamed as read) or XLSX (written, then streamed)."""
    if fmt is ExportFormat.csv:
        return stream_csv(sheet.columns, sheet.rows, lang=lang, filename=filename)
    if fmt is ExportFormat.xlsx:
        return stream_xlsx(
            sheet.columns,
            sheet.rows,
            lang=lang,
            filename=filename,
            sheet_name=sheet.name,
            sheet_name_zh=sheet.name_zh,
        )
    raise ValueError(f"stream() writes csv or xlsx, not {fmt}")
