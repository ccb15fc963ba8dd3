"""The guard's answers in the OpenAPI document: every /api/ operation may be refused for a key
in its address (400) or a rate limit (429); one that takes a body, for its size (413) or its
pace (408). Added to what each route documents, never replacing it."""

from typing import Any

from fastapi import FastAPI

from app.errors import problem_responses
from app.guard.middleware import API_PREFIX

EVERY_OPERATION = problem_responses(400, 429)
WITH_A_BODY = problem_responses(408, 413)


def document_guard(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        documented = app.openapi_schema is not None
        spec = build()
        if documented:
            return spec
        for path, operations in spec.get("paths", {}).items():
            if not path.startswith(API_PREFIX):
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                extra = {**EVERY_OPERATION, **(WITH_A_BODY if "requestBody" in operation else {})}
                for status, response in extra.items():
                    responses.setdefault(str(status), response)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
