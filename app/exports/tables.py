"""The shape of an export: named sheets of typed columns, rows as dicts or tuples."""

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.exports.dependencies import Lang


class Kind(StrEnum):
    """How a column's values are written.

    TEXT: str (other values as text; datetimes as ISO 8601). MONEY: Decimal 元 with at most two
    places. FEN: int, money in fen as stored, written as MONEY is. SHARE: Decimal ratio, written
    with four places, a percentage in XLSX (completion shares). RATIO: the same, shown as a
    ratio in XLSX (CPI, SPI). INT: int. DATE: datetime.date, or its ISO text (as SQLite stores it).
    BOOL: bool. None is an empty cell in every kind.
    """

    TEXT = "text"
    MONEY = "money"
    FEN = "fen"
    SHARE = "share"
    RATIO = "ratio"
    INT = "int"
    DATE = "date"
    BOOL = "bool"


_BASE_WIDTH = {
    Kind.TEXT: 14,
    Kind.MONEY: 18,
    Kind.FEN: 18,
    Kind.SHARE: 10,
    Kind.RATIO: 10,
    Kind.INT: 9,
    Kind.DATE: 12,
    Kind.BOOL: 8,
}
MAX_WIDTH = 60


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@dataclass(frozen=True)
class Column:
    key: str
    en: str
    zh: str
    kind: Kind = Kind.TEXT
    width: int | None = None  # XLSX width in characters; None: from the kind and the heading

    def title(self, lang: Lang) -> str:
        return self.zh if lang is Lang.zh else self.en

    def width_for(self, lang: Lang) -> int:
        if self.width is not None:
            return self.width
        return min(MAX_WIDTH, max(_BASE_WIDTH[self.kind], display_width(self.title(lang)) + 2))


# A batch of rows given column by column: one sequence of values per column, all as long.
ColumnBatch = Sequence[Sequence[Any]]


@dataclass(frozen=True)
class ColumnBatches:
    """Rows in batches, each given column by column (a ColumnBatch), read once: for very many
    rows read from a database cursor, written without making a row of each."""

    batches: Iterable[ColumnBatch]


@dataclass(frozen=True)
class CsvLines:
    """Rows the database has already written as CSV lines (UTF-8, each ending `\\r\\n`, as
    the CSV writer writes them), in chunks of whole lines: a CSV made of them is those bytes
    after the heading. Only CSV: nothing else can be written from them."""

    chunks: Iterable[bytes]


Rows = Iterable[Mapping[str, Any] | Sequence[Any]] | ColumnBatches | CsvLines


@dataclass
class Sheet:
    """One table. Rows are dicts keyed by Column.key (missing keys are empty cells),
    sequences in column order, ColumnBatches, or (CSV only) CsvLines; they are read once, so
    a generator streams."""

    name: str
    name_zh: str
    columns: Sequence[Column]
    rows: Rows

    def title(self, lang: Lang) -> str:
        return self.name_zh if lang is Lang.zh else self.name
