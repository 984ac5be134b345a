"""Settings from the environment (``ARCONNECT_*``) and an optional ``.env`` file.

One :class:`Settings` object per process (:func:`get_settings`). A bad value is a
:class:`~arconnect.errors.ConfigError` with a one-line message naming the variable and the fix;
the CLI prints it without a traceback.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from arconnect.errors import ConfigError

M = TypeVar("M", bound=BaseSettings)

DEFAULT_DATABASE_URL = "sqlite:///./arconnect.db"
_URL_SCHEMES = ("sqlite", "postgresql", "postgres")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    """Every ``ARCONNECT_*`` setting; see the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="ARCONNECT_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str | None = None
    secret_keys: str | None = Field(
        default=None, description="comma-separated keys, newest first (key rotation)"
    )

    # Each platform's own settings (ARCONNECT_XERO_*, ARCONNECT_QBO_*) live with it:
    # adapters/xero/settings.py, adapters/quickbooks/settings.py.

    mappings_dir: str | None = Field(
        default=None, description="folder whose <platform>.yaml replaces the shipped mapping"
    )
    rules_file: str | None = Field(
        default=None, description="segment rules: a file path or a preset name"
    )
    redis_url: str | None = None
    public_url: str | None = None

    time_scale: float = Field(1.0, gt=0, description="clock seconds per real second (tests)")
    sync_overlap_seconds: int = Field(60, ge=0)
    grant_warn_days: float = Field(
        2.0, ge=0, description="warn when a tenant's grant lapses within this many days")
    http_timeout: float = 60.0
    http_max_attempts: int = 6
    log_level: str = "WARNING"
    writeback_daily_share: float = Field(
        0.5, gt=0, le=1,
        description="share of a tenant's daily API calls one day's write-back may use",
    )
    writeback_approval: bool = Field(
        False, description="every write-back plan waits for an approval before it is applied",
    )
    writeback_approval_share: float = Field(
        0.2, ge=0, le=1,
        description="a plan moving more than this share of a tenant's customers needs approval",
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in _URL_SCHEMES:
            raise ValueError(
                f"unknown scheme {scheme!r}; use sqlite:///path.db or "
                "postgresql+psycopg://user@host/db"
            )
        if value.startswith("postgres://"):
            value = "postgresql" + value[len("postgres") :]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"unknown level {value!r}; use one of {', '.join(_LOG_LEVELS)}")
        return level

    def secret_key_list(self) -> list[str]:
        """The configured encryption keys, newest first; empty when none is set.

        One of the two variables, never both: ``ARCONNECT_SECRET_KEY`` is the single key,
        ``ARCONNECT_SECRET_KEYS`` the list used while rotating. With both set, which key
        encrypts would be a guess (a rotation could silently keep the old key), so it is refused.

        Raises:
            ConfigError: both variables are set.
        """
        keys = [k.strip() for k in (self.secret_keys or "").split(",") if k.strip()]
        single = (self.secret_key or "").strip()
        if single and keys:
            raise ConfigError(
                "ARCONNECT_SECRET_KEY and ARCONNECT_SECRET_KEYS are both set (environment or "
                ".env): unset ARCONNECT_SECRET_KEY and list every key in ARCONNECT_SECRET_KEYS, "
                "newest first (the first one encrypts). Nothing was changed"
            )
        return keys or ([single] if single else [])


def load_model(model: type[M], prefix: str, **overrides: object) -> M:
    """Settings of ``model`` from the environment plus ``overrides``; a bad value is a
    ConfigError naming the variable (``prefix`` + the field, upper case)."""
    try:
        return model(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        first = err.errors()[0]
        name = prefix + str(first["loc"][0]).upper() if first["loc"] else "setting"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus ``overrides``; bad values raise ConfigError."""
    return load_model(Settings, "ARCONNECT_", **overrides)


class FollowingCache(Generic[M]):
    """A platform's settings, read again whenever the engine's are (one
    ``get_settings.cache_clear()`` after an environment change re-reads both); ``load`` gets
    the engine settings they are read with."""

    def __init__(self, load: Callable[[object], M]) -> None:
        self._load = load
        self._held: tuple[object, M] | None = None  # (the engine settings read with, ours)
        self._lock = threading.Lock()

    def get(self, engine: object | None = None) -> M:
        """Ours for ``engine`` (default: the process-wide engine settings)."""
        engine = engine if engine is not None else get_settings()
        with self._lock:
            # the engine settings are held, so their identity is not reused while cached
            if self._held is None or self._held[0] is not engine:
                self._held = (engine, self._load(engine))
            return self._held[1]

    def of(self, settings: object | None, kind: type[M], nested: str | None = None) -> M:
        """A platform's settings for a call that takes "settings": ``settings`` itself when it
        is a ``kind`` (tests, the sandbox), its ``nested`` attribute when that is one, else
        ours for the engine settings given (None: the process-wide ones)."""
        if isinstance(settings, kind):
            return settings
        inner = getattr(settings, nested, None) if nested else None
        if isinstance(inner, kind):
            return inner
        return self.get(settings)

    def clear(self) -> None:
        with self._lock:
            self._held = None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return load_settings()
