"""NetSuite settings from the environment (``ARCONNECT_NETSUITE_*``) and ``.env``.

Every NetSuite account has its own hosts: ``https://<account>.suitetalk.api.netsuite.com`` for
REST Web Services and the token endpoints, ``https://<account>.app.netsuite.com`` for the
consent page, where ``<account>`` is the account id in lower case with ``_`` as ``-``
(``1234567_SB1`` ─▶ ``1234567-sb1``; the consent page's address in
https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_158081944642.html). The
settings hold templates with ``{account}``; :meth:`NsSettings.on_host` points both at one host
(a sandbox), with the account as the first path segment.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from arconnect.settings import FollowingCache, load_model

PREFIX = "ARCONNECT_NETSUITE_"


def host_form(account: str) -> str:
    """An account id as it appears in host names: lower case, ``_`` as ``-``
    (``1234567_SB1`` ─▶ ``1234567-sb1``)."""
    return account.strip().lower().replace("_", "-")


class NsSettings(BaseSettings):
    """Every ``ARCONNECT_NETSUITE_*`` setting (the README's settings table names them)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=".env", extra="ignore")

    rest_url: str = "https://{account}.suitetalk.api.netsuite.com"
    app_url: str = "https://{account}.app.netsuite.com"
    client_id: str | None = None
    client_secret: str | None = None
    # NetSuite takes https:// or a custom scheme, never http:// (the integration record,
    # https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157771733782.html).
    redirect_uri: str = "https://localhost:8765/callback/netsuite"
    scopes: str = "rest_webservices"
    # Requests in flight per account: the account's limit is shared with every integration;
    # governanceLimits states it when the role may read it, and replaces this
    # (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/article_0625010817.html).
    concurrency: int = Field(5, ge=1)
    # NetSuite limits REST calls by concurrency, not by a rate; the pacer still wants a minute
    # window: this one is wide enough never to be what slows a sync down.
    minute_limit: int = Field(6000, ge=1)
    page_size: int = Field(1000, ge=1, le=1000,
                           description="rows per SuiteQL page (NetSuite's maximum, 1000)")
    # SuiteQL renders timestamps (TO_CHAR) and reads TO_TIMESTAMP literals in the time zone of
    # the account (Setup > Company > General Preferences, "Time Zone").
    timezone: str = "America/Los_Angeles"
    # How far before the newest change read the next run starts: commit lag, and the hour a
    # local clock repeats when daylight saving time ends.
    overlap_seconds: int = Field(3600, ge=0)
    # Refresh tokens of an authorization-code grant live 7 days (the sample tokens of
    # https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_160855594402.html).
    refresh_token_days: int = Field(7, ge=1)
    # Client credentials: the JWT's signing algorithm (PS256/384/512 or ES256/384/512;
    # https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_162755359851.html);
    # unset: the key's own (an RSA key signs PS256, an EC key the ES algorithm of its curve).
    jwt_algorithm: str | None = None
    http_timeout: float = Field(60.0, gt=0)

    def on_host(self, url: str) -> NsSettings:
        """A copy whose REST and UI URLs both point at one host (a sandbox), the account's
        host form as the first path segment."""
        base = url.rstrip("/") + "/{account}"
        return self.model_copy(update={"rest_url": base, "app_url": base})

    def rest_base(self, account: str) -> str:
        """The REST root of ``account`` (no trailing slash)."""
        return self.rest_url.replace("{account}", host_form(account)).rstrip("/")

    def app_base(self, account: str) -> str:
        """The UI root of ``account`` (the consent page's host)."""
        return self.app_url.replace("{account}", host_form(account)).rstrip("/")


def load_ns_settings(**overrides: object) -> NsSettings:
    """NetSuite settings from the environment plus ``overrides``; a bad value is a ConfigError.

    Raises:
        ConfigError: a variable has a value of the wrong kind (the message names it).
    """
    return load_model(NsSettings, PREFIX, **overrides)


_cache = FollowingCache(lambda engine: load_ns_settings())


def get_ns_settings() -> NsSettings:
    """The process-wide NetSuite settings, read again whenever the engine's settings are."""
    return _cache.get()


get_ns_settings.cache_clear = _cache.clear  # type: ignore[attr-defined]


def ns_settings(settings: Any) -> NsSettings:
    """The NetSuite settings: ``settings`` itself when it is one (tests, the sandbox), its
    ``netsuite`` attribute when it has one, else those of the environment, following the
    engine settings object given."""
    return _cache.of(settings, NsSettings, "netsuite")
