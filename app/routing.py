"""The router every feature uses: JSON bodies are parsed with exact decimals, never floats; a
query parameter the route does not declare is a 422 naming it; a sync endpoint may end its
request's transaction in its own thread (app.db); a path outside a router's routes is told at
once."""

import inspect
import json
import re
from collections.abc import Callable, Coroutine, Mapping
from importlib.resources.abc import Traversable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

from app.db import ending_in_its_thread
from app.errors import UNKNOWN_PARAMETER, NotFound
from app.money import parse_json_constant, parse_json_float


class _RepeatedKey(Exception):
    """Raised while parsing: a JSON object names a key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads(object_pairs_hook=...)`: an object naming a key twice is refused, never
    read as whichever came last ("1.00" then "900000000.00" would pay the second)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _RepeatedKey
    return found


class _Pairs(list[tuple[str, Any]]):
    """An object's members in the order written, duplicates kept (to say where one is)."""


def _repeated_key_path(value: Any) -> list[str | int] | None:
    """Where the first key named twice is, in document order: `["lines", 0, "planned"]`."""
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, _ in value:
            if key in seen:
                return [key]
            seen.add(key)
        members: list[tuple[str | int, Any]] = list(value)
    elif isinstance(value, list):
        members = list(enumerate(value))
    else:
        return None
    for name, member in members:
        inner = _repeated_key_path(member)
        if inner is not None:
            return [name, *inner]
    return None


class DuplicateKeyError(json.JSONDecodeError):
    """A JSON body naming a key twice in one object; `path` is where (a 422 naming it)."""

    def __init__(self, path: list[str | int], doc: str) -> None:
        super().__init__(f'duplicate key "{path[-1]}"', doc, 0)
        self.path = path


def duplicate_key_error(cause: DuplicateKeyError) -> RequestValidationError:
    """The 422 for a body naming a key twice: its location is the key, like any bad field."""
    return RequestValidationError(
        [
            {
                "loc": ("body", *cause.path),
                "msg": f"{cause.msg}: a key may appear once in an object",
                "type": "duplicate_key",
            }
        ]
    )


def _exact_loads(text: str, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any]) -> Any:
    return json.loads(
        text,
        parse_float=parse_json_float,
        parse_constant=parse_json_constant,
        object_pairs_hook=object_pairs_hook,
    )


class ExactJSONRequest(Request):
    """Parses JSON numbers as Decimal, so 0.1 stays 0.1 and 1e5 can be refused as money, and
    refuses an object that names a key twice."""

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
            try:
                self._json = _exact_loads(text, _unique_keys)
            except _RepeatedKey:
                path = _repeated_key_path(_exact_loads(text, _Pairs))
                assert path is not None
                raise DuplicateKeyError(path, text) from None
        return self._json


def _field_names(name: str, info: FieldInfo) -> set[str]:
    """The names a client may send one parameter under: its alias (or its own name), or each
    of its alias choices."""
    if isinstance(info.validation_alias, AliasChoices):
        return {c for c in info.validation_alias.choices if isinstance(c, str)}
    if isinstance(info.validation_alias, str):
        return {info.validation_alias}
    return {info.alias or name}


def query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter a route reads: its own, its dependencies' (at any depth), and
    the fields of a parameter model (`Annotated[Filters, Query()]`)."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        pending.extend(current.dependencies)
        for field in current.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                for name, info in model.model_fields.items():
                    names |= _field_names(name, info)
            else:
                names |= _field_names(field.name, field.field_info)
    return frozenset(names)


def unknown_query(request: Request, known: frozenset[str]) -> None:
    """A query parameter the route does not read is refused, never ignored: a filter the
    service does not know would otherwise answer for everything."""
    unknown = sorted(request.query_params.keys() - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"unknown query parameter; this route takes: {takes}",
                    "type": UNKNOWN_PARAMETER,
                }
                for name in unknown
            ]
        )


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
        known = query_names(self.dependant)

        async def exact_handler(request: Request) -> Response:
            exact = ExactJSONRequest(request.scope, request.receive)
            unknown_query(exact, known)  # its parsed query is the one the handler reads
            try:
                return await handler(exact)
            except RequestValidationError as exc:
                if isinstance(exc.__cause__, DuplicateKeyError):
                    raise duplicate_key_error(exc.__cause__) from exc
                raise

        return exact_handler


class FeatureRouter(APIRouter):
    """A feature's APIRouter (route class ExactRoute). FastAPI asks each route of each included
    router in turn whether it matches, at a few microseconds a route; this router first tries
    its routes' path patterns alone and answers "no match" at once when none fits the path (a
    pattern that fits goes on to FastAPI, which also tells a wrong method, 405, from no route,
    404). Measured: 0.1-0.13 ms less CPU per request, 6-7% of a cached report's
    (docs/PERFORMANCE.md). Include it without a prefix (its routes carry their own): the
    patterns are its routes' own paths."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(route_class=ExactRoute, **kwargs)
        self._patterns: tuple[int, list[re.Pattern[str]] | None] = (-1, None)

    def _path_patterns(self) -> list[re.Pattern[str]] | None:
        """Every route's path pattern; None if a route has none (then FastAPI decides)."""
        count, patterns = self._patterns
        if count != len(self.routes):
            found = [getattr(route, "path_regex", None) for route in self.routes]
            patterns = None if None in found else [p for p in found if p is not None]
            self._patterns = (len(self.routes), patterns)
        return patterns

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        patterns = self._path_patterns()
        if patterns is not None:
            path = get_route_path(scope)
            if not any(pattern.match(path) for pattern in patterns):
                return Match.NONE, {}
        return super().matches(scope)


def packaged_file(
    folder: Traversable,
    name: str,
    *,
    media_types: Mapping[str, str],
    headers: Mapping[str, str],
    transform: Callable[[bytes], bytes] = lambda content: content,
) -> Response:
    """One of the files a page loads, from a package the app ships (its own or a pinned
    dependency): only the names listed, never a path the caller makes up."""
    media_type = media_types.get(name)
    if media_type is None:
        raise NotFound(f"no asset named {name}")
    return Response(
        transform((folder / name).read_bytes()), media_type=media_type, headers=dict(headers)
    )
