"""Xero's settings (``ARCONNECT_XERO_*``): hosts, the app, scopes, limits, page size, webhooks.

Read from the environment and the same ``.env`` as the engine's settings, and read again
whenever those are (``arconnect.settings.get_settings.cache_clear()``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from arconnect.settings import FollowingCache, load_model


class XeroSettings(BaseSettings):
    """Every ``ARCONNECT_XERO_*`` setting (the README's settings table names them)."""

    model_config = SettingsConfigDict(env_prefix="ARCONNECT_XERO_", env_file=".env",
                                      extra="ignore")

    api_url: str = "https://api.xero.com"
    identity_url: str = "https://identity.xero.com"
    login_url: str = "https://login.xero.com"
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str = "http://localhost:8765/callback/xero"
    # Apps created since 2 March 2026 must ask for Xero's granular scopes
    # (https://developer.xero.com/faq/granular-scopes; the list per endpoint:
    # https://developer.xero.com/documentation/guides/oauth2/scopes/); an older app may set the
    # broad `accounting.transactions.read` instead.
    scopes: str = (
        "openid profile email offline_access accounting.contacts accounting.invoices.read "
        "accounting.payments.read accounting.settings.read"
    )
    # https://developer.xero.com/documentation/guides/oauth2/limits/#api-rate-limits
    day_limit: int = Field(5000, ge=1, description="5000, or 1000 on Xero's Starter tier")
    minute_limit: int = Field(60, ge=1)
    concurrency: int = Field(5, ge=1)
    app_minute_limit: int = Field(10000, ge=1)
    page_size: int = Field(1000, ge=1, le=1000, description="records per page (Xero max 1000)")
    # The webhook signing key Xero shows for the app's webhook subscription
    # (https://developer.xero.com/documentation/guides/webhooks/configuring-your-server/).
    webhook_key: str | None = None
    http_timeout: float = Field(60.0, gt=0, description="seconds per OAuth call")


def load_xero_settings(**overrides: object) -> XeroSettings:
    """Xero settings from the environment plus ``overrides``; a bad value is a ConfigError.

    Raises:
        ConfigError: a variable has a value of the wrong kind (the message names it).
    """
    return load_model(XeroSettings, "ARCONNECT_XERO_", **overrides)


def _from_environment(engine: object) -> XeroSettings:
    ours = load_xero_settings()
    timeout = getattr(engine, "http_timeout", None)
    if timeout is None:
        return ours
    return ours.model_copy(update={"http_timeout": float(timeout)})


_cache = FollowingCache(_from_environment)


def xero_settings(settings: Any = None) -> XeroSettings:
    """The Xero settings: ``settings`` itself when it is one (tests, the sandbox), else those
    of the environment, read again whenever the engine's settings are, with the engine's HTTP
    timeout."""
    return _cache.of(settings, XeroSettings)
