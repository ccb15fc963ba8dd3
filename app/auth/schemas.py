from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.auth.models import Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "计财股 张会计", "role": "finance"}]},
    )

    name: str = Field(min_length=1, max_length=200)
    role: Role
    contractor_id: int | None = Field(default=None, ge=1, le=2**62)

    @model_validator(mode="after")
    def contractor_binding(self) -> "ApiKeyCreate":
        if self.role is Role.contractor and self.contractor_id is None:
            raise ValueError("contractor_id is required for the contractor role")
        if self.role is not Role.contractor and self.contractor_id is not None:
            raise ValueError("contractor_id is only for the contractor role")
        return self


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
