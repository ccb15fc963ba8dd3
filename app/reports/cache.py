"""Finished reports, kept until the data change.

Every write the service accepts appends to the audit chain in its own transaction, so the
chain's head sequence is a version of all the data: a report computed at version N holds
until the next write commits. A report request reads the version (one statement) and serves
the report computed for the same question at that version, or computes and keeps it. The
version also makes the report's ETag, so a dashboard polling with If-None-Match gets 304
until something changes.

Writes made outside the API (SQL by hand, bulk loads) do not move the version: restart the
service after one, or run it with REPORT_CACHE_ENTRIES=0.
"""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import select
from sqlmodel import Session, col

from app.audit.models import AuditHead

T = TypeVar("T")


class ReportCache:
    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._lock = threading.Lock()
        self._reports: OrderedDict[tuple[int, str], object] = OrderedDict()

    def fetch(
        self, session: Session, question: Hashable, compute: Callable[[], T]
    ) -> tuple[T, str]:
        """The report answering `question` at the data's current version, and its ETag."""
        version = (
            session.execute(select(col(AuditHead.seq)).where(col(AuditHead.id) == 1)).scalar() or 0
        )
        # By its text: 0.1 and 0.10 are equal decimals but the report shows what was asked.
        asked = repr(question)
        digest = hashlib.sha256(asked.encode()).hexdigest()[:16]
        etag = f'W/"r{version}-{digest}"'
        key = (version, asked)
        with self._lock:
            if key in self._reports:
                self._reports.move_to_end(key)
                return self._reports[key], etag  # type: ignore[return-value]
        report = compute()
        if self._entries > 0:
            with self._lock:
                self._reports[key] = report
                while len(self._reports) > self._entries:
                    self._reports.popitem(last=False)
        return report, etag
