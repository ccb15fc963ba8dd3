import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from typing import IO, Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from app.errors import InvalidInput

SPOOL_IN_MEMORY = 1024 * 1024


async def _spooled(upload: IO[bytes]) -> AsyncGenerator[bytes, None]:
    while chunk := upload.read(64 * 1024):
        yield chunk


async def csv_upload(request: Request) -> AsyncIterator[IO[bytes]]:
    """The request body, streamed to a spooled temporary file (memory, then disk past 1 MB),
    refused with 413 past IMPORT_MAX_BYTES by the request guard (app/guard) as it streams.
    Read before the transaction opens. A multipart form (`-F file=@payments.csv`) gives its
    `file` part instead."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    form: FormData | None = None
    try:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            form = await _form(request, spool)
            yield _file_part(form)
        else:
            yield spool
    finally:
        if form is not None:
            await form.close()
        spool.close()


async def _form(request: Request, body: IO[bytes]) -> FormData:
    """A multipart form already read into `body` (within the size limit)."""
    parser = MultiPartParser(request.headers, _spooled(body), max_files=1, max_fields=20)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise InvalidInput(f"the form can't be read: {exc.message}", field="file") from exc


def _file_part(form: FormData) -> IO[bytes]:
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise InvalidInput(
            "send the spreadsheet as the form's `file` part (-F file=@payments.csv)", field="file"
        )
    part.file.seek(0)
    return part.file


CsvUploadDep = Annotated[IO[bytes], Depends(csv_upload, scope="function")]
