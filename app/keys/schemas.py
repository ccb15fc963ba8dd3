from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.auth.models import Role
from app.inputs import InputModel


class ApiKeyCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "计财股 张会计", "role": "finance"}]},
    )

    name: str = Field(min_length=1, max_length=200)
    role: Role
    contractor_id: int | None = Field(default=None, ge=1, le=2_147_483_647, validate_default=True)

    @field_validator("contractor_id", mode="after")
    @classmethod
    def contractor_binding(cls, contractor_id: int | None, info: ValidationInfo) -> int | None:
        role = info.data.get("role")
        if role is Role.contractor and contractor_id is None:
            raise ValueError("contractor_id is required for the contractor role")
        if role is not None and role is not Role.contractor and contractor_id is not None:
            raise ValueError("contractor_id is only for the contractor role")
        return contractor_id


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    contractor_id: int | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The API key. Shown once: store it now; only its hash is kept.")


class KeyHolder(BaseModel):
    """Who the caller's key says it is: what a client shows and which views it offers."""

    key_id: int | None
    name: str
    role: Role
    contractor_id: int | None
