"""Settings, read once from the environment."""

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from limits import parse as parse_rate_limit
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("data") / "capital-tracker.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    db_pool_size: int = Field(default=10, ge=1)
    log_level: str = "INFO"
    key_prefix: str = Field(default="ctk", pattern=r"^[a-z]{2,8}$")
    business_timezone: str = Field(
        default="Asia/Shanghai",
        description="Where 'today' is, for dates that can't be in the future",
    )
    # A key found valid is trusted this long without a lookup (0: look up every request); a
    # revocation reaches the other server processes within it (app/auth/cache.py).
    api_key_cache_seconds: int = Field(default=5, ge=0, le=300)
    idempotency_retention_hours: int = Field(default=72, ge=24)
    import_max_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # Limits before work (app/guard): a JSON body past MAX_BODY_BYTES is a 413 before it is
    # read (the import has IMPORT_MAX_BYTES); a body not in within BODY_READ_TIMEOUT_SECONDS
    # of its headers is a 408; an idle kept-alive connection closes after KEEP_ALIVE_SECONDS.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    body_read_timeout_seconds: float = Field(default=30, gt=0, le=3600)
    keep_alive_seconds: int = Field(default=5, ge=1, le=300)
    # Per worker process (`limits` syntax, "N/second|minute|hour"): writes per API key, and
    # failed authentications per client address; over either, a 429 with Retry-After.
    write_rate_limit: str = "120/minute"
    auth_failure_rate_limit: str = "20/minute"
    # Origins (comma-separated) whose pages may call the API from a browser; empty: none.
    cors_allow_origins: str = Field(
        default="", pattern=r"^(https?://[^\s,/]+(,\s*https?://[^\s,/]+)*)?$"
    )
    # Report flags (docs/REPORTS.md, Flags): needs 概算调整 when EAC or committed exceed the revised
    # estimate by more than this share; behind schedule when SPI is below this.
    needs_revision_threshold: Decimal = Field(default=Decimal("0.10"), ge=0, le=10)
    behind_schedule_spi: Decimal = Field(default=Decimal("0.9"), gt=0, le=2)
    # Finished portfolio, time-series and alert reports kept per data version (0: none).
    report_cache_entries: int = Field(default=64, ge=0, le=10_000)
    # The OC4IDS export (app/oc4ids): a project's id is `{prefix}-{code}`, the prefix one the
    # OC4IDS registry assigned to the publisher (the default is a placeholder to replace).
    oc4ids_prefix: str = Field(default="oc4ids-xxxxxx", pattern=r"^oc4ids-[a-z0-9]{6}$")
    # Where the packages are published: the package's `uri` is this with the programme and date.
    oc4ids_package_uri: str = Field(
        default="http://127.0.0.1:8000/api/v1/exports/oc4ids", pattern=r"^https?://[^\s?#]+$"
    )
    # Empty: the owner (public authority) of the programme published.
    oc4ids_publisher_name: str = Field(default="", max_length=200)
    oc4ids_publisher_uri: str = Field(default="", pattern=r"^(https?://\S+)?$")
    oc4ids_license: str = Field(
        default="https://creativecommons.org/licenses/by/4.0/", pattern=r"^(https?://\S+)?$"
    )
    # A page describing what is published, when and how (empty: left out of the package).
    oc4ids_publication_policy: str = Field(default="", pattern=r"^(https?://\S+)?$")

    @field_validator("write_rate_limit", "auth_failure_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        parse_rate_limit(value)  # a ValueError names what it can't read
        return value

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.cors_allow_origins.split(",") if o.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
