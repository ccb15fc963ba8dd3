from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from app.inputs import IsoDate
from app.reports.cache import ReportCache
from app.reports.figures import Thresholds


def thresholds(
    request: Request,
    revision_threshold: Annotated[
        Decimal | None,
        Query(
            ge=0,
            le=10,
            max_digits=6,
            decimal_places=4,
            description="needs_revision when EAC or committed exceed the revised estimate by "
            "more than this share (default 0.10, or the service's setting)",
        ),
    ] = None,
    spi_threshold: Annotated[
        Decimal | None,
        Query(
            gt=0,
            le=2,
            max_digits=6,
            decimal_places=4,
            description="behind_schedule when SPI is below this (default 0.9)",
        ),
    ] = None,
) -> Thresholds:
    settings = request.app.state.settings
    return Thresholds(
        needs_revision=(
            settings.needs_revision_threshold if revision_threshold is None else revision_threshold
        ),
        behind_schedule_spi=(
            settings.behind_schedule_spi if spi_threshold is None else spi_threshold
        ),
    )


ThresholdsDep = Annotated[Thresholds, Depends(thresholds)]


def report_cache(request: Request) -> ReportCache:
    cache: ReportCache = request.app.state.report_cache
    return cache


ReportCacheDep = Annotated[ReportCache, Depends(report_cache)]
IfNoneMatch = Annotated[
    str | None,
    Header(max_length=500, description="An ETag from an earlier answer: 304 if still current"),
]
# Every report's (and the OC4IDS export's) `as_of`: the route reads `as_of or today`.
AsOf = Annotated[IsoDate | None, Query(description="Default: today")]
