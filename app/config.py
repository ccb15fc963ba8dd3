"""Settings, read once from the environment."""

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import Field
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
    import_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
