"""What a route needs to offer an export: `?format=` (or the Accept header) and `?lang=`."""

from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from app.errors import InvalidInput

CSV_MEDIA_TYPE = "text/csv"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON_MEDIA_TYPE = "application/json"


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class Lang(StrEnum):
    en = "en"
    zh = "zh"


class Unit(StrEnum):
    """The unit of money in a CSV or XLSX export: 元, or 万元 (two decimals)."""

    yuan = "yuan"
    wan = "wan"


_BY_MEDIA_TYPE = {
    JSON_MEDIA_TYPE: ExportFormat.json,
    CSV_MEDIA_TYPE: ExportFormat.csv,
    XLSX_MEDIA_TYPE: ExportFormat.xlsx,
}


def _quality(params: str) -> int:
    """An Accept entry's q in thousandths (q=0.5 → 500); malformed counts as 0."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() != "q":
            continue
        whole, _, fraction = value.strip().partition(".")
        if whole not in ("0", "1") or not (fraction + "0").isdigit() or len(fraction) > 3:
            return 0
        return min(1000, int(whole) * 1000 + int(fraction.ljust(3, "0") or "0"))
    return 1000


def negotiate(accept: str | None) -> ExportFormat:
    """The format an Accept header prefers among JSON, CSV and XLSX; JSON when it names none
    of them (wildcards included)."""
    best, best_quality = ExportFormat.json, 0
    for entry in (accept or "").split(","):
        media_type, _, params = entry.partition(";")
        fmt = _BY_MEDIA_TYPE.get(media_type.strip().lower())
        if fmt is None:
            continue
        quality = _quality(params)
        if quality > best_quality:
            best, best_quality = fmt, quality
    return best


async def export_format(
    request: Request,
    fmt: Annotated[
        ExportFormat | None,
        Query(
            alias="format",
            description="`json` (default), `csv` (UTF-8 with BOM) or `xlsx`. Without it, the "
            f"Accept header decides: `{CSV_MEDIA_TYPE}` or `{XLSX_MEDIA_TYPE}`.",
        ),
    ] = None,
) -> ExportFormat:
    if fmt is not None:
        return fmt
    return negotiate(request.headers.get("accept"))


async def export_lang(
    lang: Annotated[
        Lang,
        Query(
            description="`en` or `zh`: language of CSV/XLSX headings, sheet names and "
            "enumeration values, and of report labels, alert messages and notes"
        ),
    ] = Lang.en,
) -> Lang:
    return lang


FormatDep = Annotated[ExportFormat, Depends(export_format)]
LangDep = Annotated[Lang, Depends(export_lang)]


async def export_unit(
    unit: Annotated[
        Unit,
        Query(
            description="Money in CSV/XLSX: `yuan` (元, default) or `wan` (万元, two decimals, "
            "rounded half away from zero). JSON always carries 元: `wan` there is a 422."
        ),
    ] = Unit.yuan,
) -> Unit:
    return unit


def unit_for(fmt: ExportFormat, unit: Unit) -> Unit:
    """The unit of an export; InvalidInput (naming `unit`) for 万元 asked of JSON."""
    if unit is Unit.wan and fmt is ExportFormat.json:
        raise InvalidInput(
            "unit=wan is for CSV and XLSX exports: JSON carries money in 元",
            field="unit",
            location="query",
        )
    return unit


UnitDep = Annotated[Unit, Depends(export_unit)]

# Merge into a route's `responses=`: the 200 may also be CSV or XLSX.
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON by default; CSV or XLSX with `?format=` or the Accept header",
        "content": {
            CSV_MEDIA_TYPE: {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
