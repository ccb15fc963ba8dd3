import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, field_validator


class AuditEntryRead(BaseModel):
    model_config = {"from_attributes": True}

    id: int
    seq: int
    at: datetime
    actor_key_id: int | None
    actor_name: str
    actor_role: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    prev_hash: str
    hash: str

    @field_validator("before", "after", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class AuditVerification(BaseModel):
    ok: bool
    entries: int
    first_broken: int | None
    detail: str
