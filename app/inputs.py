"""What every client-sent value goes through before it reaches a service.

Text must be storable on every engine: no NUL or other control characters (tab and line
breaks aside) and no lone surrogates, which PostgreSQL and UTF-8 refuse. Body models also
refuse unknown fields, so a client can't set a field it doesn't own.
"""

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def check_text(value: str) -> str:
    if _UNSTORABLE.search(value):
        raise ValueError("text must not contain control characters or lone surrogates")
    return value


def _check_nested(value: Any) -> Any:
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, list | tuple | set):
        for item in value:
            _check_nested(item)
    return value


SafeText = Annotated[str, AfterValidator(check_text)]


class InputModel(BaseModel):
    """Base of every Create/Update body."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return _check_nested(value)
