from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import InputModel
from app.sites.models import SiteKind

SiteName = Annotated[str, Field(min_length=1, max_length=200)]


class SiteCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "region": "平罗县",
                    "name": "城关第六小学",
                    "kind": "primary",
                    "aliases": ["城关六小"],
                }
            ]
        },
    )

    region: str = Field(min_length=1, max_length=200)
    name: SiteName
    kind: SiteKind = SiteKind.other
    aliases: list[SiteName] = Field(default=[], max_length=20)


class SiteUpdate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"aliases": ["城关六小", "六小"]}]})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: SiteKind | None = None
    aliases: list[SiteName] | None = Field(
        default=None, max_length=20, description="Replaces the list"
    )


class SiteProjectRef(BaseModel):
    id: int
    code: str
    name: str


class SiteRead(BaseModel):
    id: int
    region: str
    name: str
    kind: SiteKind
    aliases: list[str]
    projects: list[SiteProjectRef]
