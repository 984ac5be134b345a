"""QuickBooks Online settings from the environment (``ARCONNECT_QBO_*``) and ``.env``.

The hosts are settings so that a sandbox (``arconnect sandbox serve quickbooks``) can stand in
for Intuit: it serves the consent page, the token and revocation endpoints and the Accounting API
on one host, and :meth:`QboSettings.on_host` points every URL at it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from arconnect.settings import FollowingCache, load_model

# Intuit's OpenID discovery document lists these endpoints
# (https://developer.intuit.com/.well-known/openid_configuration/; section "Discovery document"
# of https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0).
AUTH_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"


class QboSettings(BaseSettings):
    """Every ``ARCONNECT_QBO_*`` setting (the README's settings table names them)."""

    model_config = SettingsConfigDict(env_prefix="ARCONNECT_QBO_", env_file=".env",
                                      extra="ignore")

    # Production base URL; development keys use https://sandbox-quickbooks.api.intuit.com
    # (https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/customer).
    api_url: str = "https://quickbooks.api.intuit.com"
    auth_url: str = "https://appcenter.intuit.com" + AUTH_PATH
    token_url: str = "https://oauth.platform.intuit.com" + TOKEN_PATH
    revoke_url: str = "https://developer.api.intuit.com" + REVOKE_PATH
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str = "http://localhost:8765/callback/quickbooks"
    scopes: str = "com.intuit.quickbooks.accounting"
    # Intuit accepts lower values but answers as 75 since August 2025 (blog "Changes to our
    # accounting API that may impact your application", https://blogs.intuit.com/2025/01/21/).
    minor_version: int = Field(75, ge=1)
    # 500 requests a minute per company and 10 at once, batch requests 40 a minute
    # (https://blogs.intuit.com/2016/08/08/idg-concurrent-api-use-changes-coming-soon/).
    minute_limit: int = Field(500, ge=1)
    concurrency: int = Field(10, ge=1)
    batch_minute_limit: int = Field(40, ge=1)
    # Builder tier of the Intuit App Partner Program: 500,000 read (CorePlus) calls a month
    # (https://blogs.intuit.com/2026/01/08/understanding-builder-tier-api-limits-for-you-and-your-customers/).
    month_read_budget: int = Field(500_000, ge=1)
    page_size: int = Field(1000, ge=1, le=1000,
                           description="records per query page (QBO's maximum, 1000)")
    webhook_verifier: str | None = None
    http_timeout: float = Field(60.0, gt=0)

    def on_host(self, url: str) -> QboSettings:
        """A copy whose OAuth and API URLs all point at one host (a sandbox)."""
        base = url.rstrip("/")
        return self.model_copy(update={
            "api_url": base, "auth_url": base + AUTH_PATH, "token_url": base + TOKEN_PATH,
            "revoke_url": base + REVOKE_PATH,
        })


def load_qbo_settings(**overrides: object) -> QboSettings:
    """QBO settings from the environment plus ``overrides``; a bad value is a ConfigError.

    Raises:
        ConfigError: a variable has a value of the wrong kind (the message names it).
    """
    return load_model(QboSettings, "ARCONNECT_QBO_", **overrides)


_cache = FollowingCache(lambda engine: load_qbo_settings())


def get_qbo_settings() -> QboSettings:
    """The process-wide QBO settings, read again whenever the engine's settings are
    (``arconnect.settings.get_settings.cache_clear()`` re-reads both, so one call after an
    environment change is enough)."""
    return _cache.get()


get_qbo_settings.cache_clear = _cache.clear  # type: ignore[attr-defined]


def qbo_settings(settings: Any = None) -> QboSettings:
    """The QBO settings: ``settings`` itself when it is one (tests, the sandbox), its ``qbo``
    attribute when it has one, else those of the environment (``ARCONNECT_QBO_*``), read again
    whenever the engine's settings object is a new one (the engine reloads its settings; the
    QBO ones follow)."""
    return _cache.of(settings, QboSettings, "qbo")
