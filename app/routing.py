"""The router every feature uses: JSON bodies are parsed with exact decimals, never floats, and
a sync endpoint may end its request's transaction in its own thread (app.db)."""

import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from app.db import ending_in_its_thread
from app.money import parse_json_constant, parse_json_float


class ExactJSONRequest(Request):
    """Parses JSON numbers as Decimal, so 0.1 stays 0.1 and 1e5 can be refused as money."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                text = body.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                # Reported like any other malformed JSON: a 422 naming the body.
                raise json.JSONDecodeError(
                    f"body is not UTF-8 ({exc.reason})", body.decode("utf-8", "replace"), exc.start
                ) from exc
            self._json = json.loads(
                text, parse_float=parse_json_float, parse_constant=parse_json_constant
            )
        return self._json


class ExactRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if inspect.isfunction(endpoint) and not (
            inspect.iscoroutinefunction(endpoint)
            or inspect.isgeneratorfunction(endpoint)
            or inspect.isasyncgenfunction(endpoint)
        ):
            endpoint = ending_in_its_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact_handler(request: Request) -> Response:
            return await handler(ExactJSONRequest(request.scope, request.receive))

        return exact_handler


class FeatureRouter(APIRouter):
    """A feature's APIRouter: its routes parse JSON bodies with exact decimals."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(route_class=ExactRoute, **kwargs)
