"""Settings: one object, read from SIFT_* environment variables, passed in everywhere."""

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def normalise_database_url(url: str) -> str:
    """Point postgres URLs at psycopg 3, whatever spelling the user gave."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """Everything Sift can be configured with; SQLite under ./var by default."""

    model_config = SettingsConfigDict(env_prefix="SIFT_", extra="ignore")

    mode: Literal["development", "production"] = "development"
    home: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    secret_key: str = ""
    # Session cookies carry Secure when the app is reached over HTTPS; force it behind a proxy.
    https: bool = False
    # Run import jobs in this process (on Postgres, several servers and `sift worker`s share
    # the queue; turn it off on servers that should only serve pages).
    run_worker: bool = True
    # Uploaded files wait here for their import job (default: <home>/uploads).
    upload_dir: Path | None = None
    # Upper bounds for anything a client sends (documented in the README).
    max_message_chars: int = 200_000
    max_messages: int = 1_000
    max_bulk_bytes: int = 64 * 1024 * 1024
    max_bulk_items: int = 10_000
    # Example lists count matches exactly up to this many, and estimate past it.
    exact_count_limit: int = Field(default=10_000, ge=0)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @model_validator(mode="after")
    def _defaults(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'sift.db'}"
        if self.mode == "production" and not self.secret_key:
            raise ValueError(
                "SIFT_SECRET_KEY must be set in production mode "
                '(generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        return self

    @property
    def uploads(self) -> Path:
        """Where uploaded files are kept until imported."""
        return self.upload_dir or self.home / "uploads"

    @property
    def is_sqlite(self) -> bool:
        """True when the store is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    def ensure_home(self) -> None:
        """Create the data directory that holds the SQLite file and the generated secret."""
        self.home.mkdir(parents=True, exist_ok=True)

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated on first run and kept under the home dir."""
        if self.secret_key:
            return self.secret_key
        self.ensure_home()
        path = self.home / "secret_key"
        try:  # created at most once, never readable by others, even for a moment
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process (or an earlier run) made it: use that one
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
        self.secret_key = path.read_text().strip()
        return self.secret_key


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
