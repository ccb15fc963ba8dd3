"""render() and its rules, on sheets made here: what a report route hands it."""

import csv
import io
import zipfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, Inexact
from typing import Any

import anyio
import pytest
from fastapi.responses import StreamingResponse
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy.dialects import sqlite

from app.exports import service
from app.exports.dependencies import XLSX_MEDIA_TYPE, ExportFormat, Lang, negotiate
from app.exports.service import (
    content_disposition,
    money_text,
    render,
    text_of,
    utc_text_iso,
    utc_texts_iso,
    worksheet_title,
)
from app.exports.tables import Column, ColumnBatches, Kind, Sheet
from app.money import fen_text, fen_texts

COLUMNS = [
    Column("id", "id", "编号", Kind.INT),
    Column("name", "name", "名称"),
    Column("amount", "amount", "金额（元）", Kind.MONEY),
    Column("share", "share", "占比", Kind.SHARE),
    Column("on", "paid_on", "支付日期", Kind.DATE),
    Column("due", "due", "到期", Kind.BOOL),
]
ROWS: list[Mapping[str, Any] | Sequence[Any]] = [
    {
        "id": 1,
        "name": "青铜峡市第二中学",
        "amount": Decimal("1234.5"),
        "share": Decimal("0.5"),
        "on": date(2023, 6, 30),
        "due": True,
    },
    (2, "-2", Decimal("-5.00"), None, None, False),
    (3, "@SUM(A1)", Decimal("0.07"), Decimal("1"), date(2024, 2, 29), None),
    (4, "\r=x", None, None, None, None),
    {"id": 5, "name": datetime(2026, 11, 30, 8, 0, tzinfo=UTC)},
]


def _csv(sheets: list[Sheet], lang: Lang = Lang.en) -> str:
    response = render(sheets, fmt=ExportFormat.csv, lang=lang, filename="t")
    body = bytes(response.body)
    assert body.startswith(b"\xef\xbb\xbf")
    return body.decode("utf-8-sig")


def test_csv_cells() -> None:
    text = _csv([Sheet("T", "表", COLUMNS, ROWS)])
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["id", "name", "amount", "share", "paid_on", "due"],
        ["1", "青铜峡市第二中学", "1234.50", "0.5000", "2023-06-30", "TRUE"],
        ["2", "'-2", "-5.00", "", "", "FALSE"],
        ["3", "'@SUM(A1)", "0.07", "1.0000", "2024-02-29", ""],
        ["4", "'\r=x", "", "", "", ""],
        ["5", "2026-11-30T08:00:00Z", "", "", "", ""],
    ]
    assert text.count("\r\n") == 6


def test_csv_of_several_sheets_titles_each_and_separates_them() -> None:
    first = Sheet("Certified", "已确认", COLUMNS[:2], [(1, "a")])
    second = Sheet("Retention", "质保金", COLUMNS[:1], [])
    assert _csv([first, second], Lang.zh) == (
        "已确认\r\n编号,名称\r\n1,a\r\n\r\n质保金\r\n编号\r\n"
    )


def test_money_is_never_rounded() -> None:
    assert money_text(Decimal("-0.00")) == "0.00"
    assert money_text(Decimal("10")) == "10.00"
    with pytest.raises(Inexact):
        money_text(Decimal("1.005"))
    with pytest.raises(Inexact):
        _csv([Sheet("T", "表", COLUMNS[2:3], [(Decimal("0.001"),)])])


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.integers(min_value=-99_999_999_999_999, max_value=99_999_999_999_999))
def test_fen_are_written_as_money_is(fen: int) -> None:
    assert fen_text(fen) == money_text(Decimal(fen).scaleb(-2))


def _as_sqlite_keeps(moment: datetime) -> str:
    keep = sqlite.DATETIME().bind_processor(sqlite.dialect())  # type: ignore[no-untyped-call]
    assert keep is not None
    return str(keep(moment))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.datetimes(min_value=datetime(1000, 1, 1)))
def test_a_stored_utc_time_is_written_as_text_of_writes_it(moment: datetime) -> None:
    stored = _as_sqlite_keeps(moment)  # the text SQLite keeps
    assert utc_text_iso(stored) == text_of(moment.replace(tzinfo=UTC))
    whole_second = moment.replace(microsecond=0, tzinfo=UTC)
    assert utc_text_iso(stored[:19]) == utc_text_iso(stored[:19] + "Z") == text_of(whole_second)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.integers(min_value=-(10**16), max_value=10**16), max_size=30))
def test_a_column_of_fen_is_written_as_each_amount_is(amounts: list[int]) -> None:
    assert fen_texts(amounts) == [fen_text(fen) for fen in amounts]
    assert fen_texts(tuple(amounts)) == [fen_text(fen) for fen in amounts]


_STORED_TIME = st.datetimes(min_value=datetime(1000, 1, 1)).map(_as_sqlite_keeps)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.lists(st.one_of(_STORED_TIME, _STORED_TIME.map(lambda stored: stored[:19] + ".000000"))),
    st.lists(
        st.one_of(
            _STORED_TIME,
            _STORED_TIME.map(lambda stored: stored[:19]),
            _STORED_TIME.map(lambda stored: stored[:19] + "Z"),
        ),
        max_size=12,
    ),
)
def test_a_column_of_stored_times_is_written_as_each_time_is(
    as_kept: list[str], any_form: list[str]
) -> None:
    for stored in (as_kept, any_form, as_kept + any_form):
        assert utc_texts_iso(stored) == [utc_text_iso(value) for value in stored]


_CELL_TEXT = st.one_of(
    st.none(),
    st.text(),
    st.sampled_from(
        ["", "=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\r=x", "'=x", "a,b", 'a"b', "\n"]
    ),
)


def _as_the_csv_module_writes(rows: list[tuple[Any, ...]], kinds: list[Kind]) -> str:
    """The rule stated once more, the slow way: each cell formatted, then csv.writer."""

    def cell(value: Any, kind: Kind) -> Any:
        if value is None:
            return None
        if kind is Kind.TEXT:
            return "'" + value if value[:1] and value[0] in "=+-@\t\r'" else value
        if kind is Kind.FEN:
            return money_text(Decimal(value).scaleb(-2))
        return value

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([kind.value for kind in kinds])
    writer.writerows([cell(v, k) for v, k in zip(row, kinds, strict=True)] for row in rows)
    return buffer.getvalue()


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers()),
            _CELL_TEXT,
            _CELL_TEXT,
            st.one_of(st.none(), st.integers(min_value=-(10**14), max_value=10**14)),
            st.one_of(st.none(), st.dates()),
        ),
        max_size=40,
    ),
    st.integers(min_value=1, max_value=5),
)
def test_csv_fields_are_those_the_csv_module_writes(
    rows: list[tuple[Any, ...]], width: int
) -> None:
    kinds = [Kind.INT, Kind.TEXT, Kind.TEXT, Kind.FEN, Kind.DATE][:width]
    columns = [Column(kind.value, kind.value, kind.value, kind) for kind in kinds]
    narrow = [row[:width] for row in rows]
    assert _csv([Sheet("T", "表", columns, narrow)]) == _as_the_csv_module_writes(narrow, kinds)


def test_rows_given_in_batches_of_columns_are_written_as_rows_are() -> None:
    rows: list[Sequence[Any]] = [
        [row.get(c.key) for c in COLUMNS] if isinstance(row, Mapping) else row for row in ROWS
    ]

    def batches() -> ColumnBatches:
        # Batches of any size, an empty one among them.
        parts = [rows[:2], [], rows[2:]]
        return ColumnBatches(
            [[[row[n] for row in part] for n in range(len(COLUMNS))] for part in parts]
        )

    def cells(sheet: Sheet) -> list[list[Any]]:
        response = render([sheet], fmt=ExportFormat.xlsx, lang=Lang.en, filename="t")
        book = load_workbook(io.BytesIO(bytes(response.body)))
        return [[c.value for c in row] for row in book.worksheets[0].iter_rows()]

    assert _csv([Sheet("T", "表", COLUMNS, batches())]) == _csv([Sheet("T", "表", COLUMNS, ROWS)])
    assert cells(Sheet("T", "表", COLUMNS, batches())) == cells(Sheet("T", "表", COLUMNS, ROWS))
    one_column = ColumnBatches([[["", None, "a"]]])
    assert _csv([Sheet("T", "表", COLUMNS[1:2], one_column)]) == 'name\r\n""\r\n""\r\na\r\n'
    with pytest.raises(ValueError, match="2 columns for 6"):
        _csv([Sheet("T", "表", COLUMNS, ColumnBatches([[[1], ["a"]]]))])


def test_rows_must_fit_the_columns() -> None:
    with pytest.raises(ValueError, match="values for 6 columns"):
        _csv([Sheet("T", "表", COLUMNS, [(1, "short")])])


def test_xlsx_cells() -> None:
    response = render(
        [Sheet("T", "表", COLUMNS, ROWS)], fmt=ExportFormat.xlsx, lang=Lang.zh, filename="t"
    )
    body = bytes(response.body)
    sheet = load_workbook(io.BytesIO(body)).worksheets[0]
    assert sheet.title == "表"
    assert [c.value for c in sheet[1]] == ["编号", "名称", "金额（元）", "占比", "支付日期", "到期"]
    first, second, third, _, fifth = sheet.iter_rows(min_row=2)
    assert [c.number_format for c in first] == [
        "0",
        "General",
        "#,##0.00",
        "0.00%",
        "yyyy-mm-dd",
        "General",
    ]
    assert [c.value for c in first] == [
        1,
        "青铜峡市第二中学",
        1234.5,
        0.5,
        datetime(2023, 6, 30),
        True,
    ]
    assert [c.value for c in second] == [2, "-2", -5, None, None, False]
    assert (third[1].value, third[1].data_type) == ("@SUM(A1)", "s")
    assert fifth[1].value == "2026-11-30T08:00:00Z"
    # The exact decimal text is in the file, not a float's 16 digits (0.07000000000000001).
    xml = zipfile.ZipFile(io.BytesIO(body)).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>0.07</v>" in xml and "<v>1234.50</v>" in xml and "<v>-5.00</v>" in xml
    # Heading widths count Chinese characters double: "金额（元）" is 10 wide.
    assert sheet.column_dimensions["C"].width == 18
    assert sheet.column_dimensions["B"].width == 14


def test_xlsx_text_that_looks_like_a_formula_or_error_stays_text() -> None:
    rows = [('=HYPERLINK("x")',), ("#N/A",), ("bell\x07",), ("+1",)]
    response = render(
        [Sheet("T", "表", COLUMNS[1:2], rows)], fmt=ExportFormat.xlsx, lang=Lang.en, filename="t"
    )
    sheet = load_workbook(io.BytesIO(bytes(response.body))).worksheets[0]
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [(c.value, c.data_type) for c in cells] == [
        ('=HYPERLINK("x")', "s"),
        ("#N/A", "s"),
        ("bell\ufffd", "s"),
        ("+1", "s"),
    ]


def test_worksheet_titles() -> None:
    taken: set[str] = set()
    assert worksheet_title("Dues: [2023/24]?", taken) == "Dues_ _2023_24__"
    assert worksheet_title("'x'", taken) == "x"
    long = "项目" * 20
    assert worksheet_title(long, taken) == long[:31]
    assert worksheet_title(long, taken) == long[:27] + " (2)"
    assert worksheet_title("X", taken) == "X (2)"  # Excel compares titles case-insensitively
    assert worksheet_title("", taken) == "Sheet"


def test_xlsx_continues_on_another_worksheet_past_excels_row_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "XLSX_MAX_DATA_ROWS", 2)
    rows = ((n, Decimal(n)) for n in range(5))
    response = service.stream_xlsx(
        [COLUMNS[0], COLUMNS[2]], rows, lang=Lang.en, filename="t", sheet_name="Ledger"
    )
    assert response.headers["content-type"].startswith(XLSX_MEDIA_TYPE)
    book = load_workbook(io.BytesIO(_drain(response)))
    assert book.sheetnames == ["Ledger", "Ledger (2)", "Ledger (3)"]
    assert [[c.value for c in row] for row in book["Ledger (3)"].iter_rows()] == [
        ["id", "amount"],
        [4, 4],
    ]
    exactly_full = service.stream_xlsx(
        [COLUMNS[0]], [(n,) for n in range(4)], lang=Lang.en, filename="t", sheet_name="Ledger"
    )
    assert load_workbook(io.BytesIO(_drain(exactly_full))).sheetnames == ["Ledger", "Ledger (2)"]


def _drain(response: StreamingResponse) -> bytes:
    async def read() -> bytes:
        chunks = [chunk async for chunk in response.body_iterator]
        assert all(isinstance(chunk, bytes) for chunk in chunks)
        return b"".join(chunk for chunk in chunks if isinstance(chunk, bytes))

    return anyio.run(read)


def test_stream_csv_reads_rows_as_the_body_is_sent() -> None:
    pulled: list[int] = []

    def rows() -> Iterator[tuple[int, str]]:
        for n in range(2500):
            pulled.append(n)
            yield (n, f"收款单位{n}")

    response = service.stream_csv(COLUMNS[:2], rows(), lang=Lang.zh, filename="台账")
    assert pulled == []
    lines = _drain(response).decode("utf-8-sig").split("\r\n")
    assert lines[0] == "编号,名称" and lines[2500] == "2499,收款单位2499"
    assert len(pulled) == 2500


def test_a_stream_cut_short_closes_its_rows() -> None:
    """A client that hangs up: the rows' generator (holding a database connection) is closed."""
    closed: list[bool] = []

    def rows() -> Iterator[tuple[int, str]]:
        try:
            for n in range(1_000_000):
                yield (n, "收款单位")
        finally:
            closed.append(True)

    # Nothing else holds the generator, as in a route: closing the body lets it go.
    response = service.stream_csv(COLUMNS[:2], rows(), lang=Lang.en, filename="t")

    async def first_chunk_only() -> None:
        body = response.body_iterator
        assert isinstance(body, AsyncIterator)
        await anext(body)
        await body.aclose()  # type: ignore[attr-defined]

    anyio.run(first_chunk_only)
    assert closed == [True]


def test_render_is_for_files_only() -> None:
    with pytest.raises(ValueError):
        render([], fmt=ExportFormat.json, lang=Lang.en, filename="t")


def test_content_disposition() -> None:
    assert content_disposition("进度报表 2026-11-30.xlsx") == (
        'attachment; filename="_____2026-11-30.xlsx"; '
        "filename*=UTF-8''%E8%BF%9B%E5%BA%A6%E6%8A%A5%E8%A1%A8%202026-11-30.xlsx"
    )


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, ExportFormat.json),
        ("*/*", ExportFormat.json),
        ("text/csv", ExportFormat.csv),
        ("Text/CSV; charset=utf-8", ExportFormat.csv),
        (XLSX_MEDIA_TYPE, ExportFormat.xlsx),
        ("application/json, text/csv", ExportFormat.json),
        ("application/json;q=0.5, text/csv", ExportFormat.csv),
        (
            f"text/csv;q=0.2, {XLSX_MEDIA_TYPE};q=0.9",
            ExportFormat.xlsx,
        ),
        ("text/csv;q=0", ExportFormat.json),
        ("text/csv;q=bogus", ExportFormat.json),
        ("text/html, */*;q=0.8", ExportFormat.json),
    ],
)
def test_negotiation(accept: str | None, expected: ExportFormat) -> None:
    assert negotiate(accept) is expected
