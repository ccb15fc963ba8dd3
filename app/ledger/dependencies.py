import tempfile
from collections.abc import AsyncIterator
from typing import IO, Annotated

from fastapi import Depends, Request

from app.errors import PayloadTooLarge

SPOOL_IN_MEMORY = 1024 * 1024


async def csv_upload(request: Request) -> AsyncIterator[IO[bytes]]:
    """The request body, streamed to a spooled temporary file (memory, then disk past 1 MB),
    refused with 413 past IMPORT_MAX_BYTES. Read before the transaction opens."""
    limit: int = request.app.state.settings.import_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the file is larger than {limit} bytes; split it")
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the file is larger than {limit} bytes; split it")
            spool.write(chunk)
        spool.seek(0)
        yield spool
    finally:
        spool.close()


CsvUploadDep = Annotated[IO[bytes], Depends(csv_upload, scope="function")]
