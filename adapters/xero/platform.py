"""Xero on the platform port: everything the engine needs of Xero, in one object.

The engine finds it by name (``arconnect.platforms.get_platform("xero")``) and never imports
this package otherwise. Limits: https://developer.xero.com/documentation/guides/oauth2/limits/
(5 concurrent, 60 a minute and 5,000 a day per organisation — 1,000 on the Starter tier —,
10,000 a minute per app). Tenants: https://developer.xero.com/documentation/guides/oauth2/tenants
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any

import requests

from arconnect.adapters.base import (
    Discovered,
    ErrorVerdict,
    RateInfo,
    TenantInfo,
    TokenSet,
    oauth2_headless_grant,
)
from arconnect.adapters.xero.adapter import XeroAdapter
from arconnect.adapters.xero.oauth import XeroOAuth
from arconnect.adapters.xero.scopes import scope_refusal
from arconnect.adapters.xero.settings import xero_settings
from arconnect.adapters.xero.transforms import TRANSFORMS
from arconnect.auth.oauth import Now, utcnow
from arconnect.errors import ConfigError
from arconnect.pacing import Limits

# https://developer.xero.com/documentation/guides/oauth2/limits/#api-rate-limits
_MIN_REMAINING = "x-minlimit-remaining"
_DAY_REMAINING = "x-daylimit-remaining"
_APP_REMAINING = "x-appminlimit-remaining"
_PROBLEM = "x-rate-limit-problem"  # "minute", "day" or "appminute" on a 429


def _int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return None if value is None else int(str(value).strip())
    except ValueError:
        return None


def _seconds(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    try:
        return None if value is None else max(float(str(value).strip()), 0.0)
    except ValueError:
        return None


class XeroPlatform:
    """Xero's reader, writer, OAuth, limits and error reading."""

    name = "xero"
    label = "Xero"
    tenant_word = "organisation"
    customer_entity = "contacts"
    # A refresh token unused for 60 days expires (https://developer.xero.com/faq/oauth2).
    idle_expiry_days: int | None = 60
    per_tenant_disconnect = True
    env_prefix = "ARCONNECT_XERO"
    tenant_id_option = "tenant-id"
    callback_params: tuple[str, ...] = ()

    def configured_app(self, settings: Any) -> tuple[str | None, str | None]:
        x = xero_settings(settings)
        return x.client_id, x.client_secret

    def redirect_uri(self, settings: Any) -> str:
        return xero_settings(settings).redirect_uri

    def adapter(self, settings: Any) -> XeroAdapter:
        return XeroAdapter(getattr(settings, "sync_overlap_seconds", 60),
                           xero_settings(settings).page_size)

    def writer(self, settings: Any, outbound: Any) -> Any:
        from arconnect.adapters.xero.writer import XeroWriter

        return XeroWriter(outbound.batch_size)

    def limits(self, settings: Any) -> Limits:
        x = xero_settings(settings)
        return Limits(
            per_minute=x.minute_limit,
            concurrency=x.concurrency,
            per_day=x.day_limit,
            app_per_minute=x.app_minute_limit,
        )

    def base_url(self, settings: Any, tenant: TenantInfo) -> str:
        return xero_settings(settings).api_url.rstrip("/")

    def headers(self, tenant: TenantInfo) -> dict[str, str]:
        return XeroAdapter.headers(tenant)

    def signer(self, settings: Any) -> None:
        return None  # an OAuth 2.0 bearer token

    def oauth(self, settings: Any, client_id: str, client_secret: str,
              now: Now | None = None, tenant: str | None = None) -> XeroOAuth:
        return XeroOAuth(xero_settings(settings), client_id, client_secret, now=now or utcnow)

    def headless_grant(self, settings: Any, options: Mapping[str, str | None]
                       ) -> tuple[str, str, str]:
        return oauth2_headless_grant(self.label, options)

    def app_credentials(self, settings: Any) -> tuple[str, str]:
        x = xero_settings(settings)
        if not x.client_id or not x.client_secret:
            raise ConfigError(
                "ARCONNECT_XERO_CLIENT_ID and ARCONNECT_XERO_CLIENT_SECRET are not set: use your "
                "Xero app's credentials (https://developer.xero.com/app/manage)"
            )
        return x.client_id, x.client_secret

    def discover(self, oauth: Any, token: TokenSet,
                 callback: Mapping[str, str]) -> list[Discovered]:
        # /connections also lists practice (XPM) connections; only organisations hold ledgers.
        connections = oauth.connections(str(token["access_token"]))
        return [
            Discovered(str(c["tenantId"]), str(c.get("tenantName") or c["tenantId"]),
                       str(c["id"]) if c.get("id") else None)
            for c in connections
            if c.get("tenantId")
            and str(c.get("tenantType") or "ORGANISATION") == "ORGANISATION"
        ]

    def remove_connection(self, oauth: Any, access_token: str, connection_id: str) -> bool:
        removed: bool = oauth.remove_connection(access_token, connection_id)
        return removed

    def parse_error(self, response: requests.Response) -> ErrorVerdict | None:
        if response.status_code == 429:
            problem = response.headers.get("X-Rate-Limit-Problem", "").strip().lower()
            # Only the daily limit is worth stopping for; the others reset within a minute.
            if problem == "day":
                return ErrorVerdict("quota", "the daily API limit is spent")
            return ErrorVerdict("rate_limited", f"limit {problem or 'unnamed'}")
        return None

    def explain_401(self, settings: Any, tenant_name: str,
                    granted_scopes: Callable[[], str | None]) -> Any:
        return scope_refusal(tenant_name, xero_settings(settings).scopes, granted_scopes)

    def rate_info(self, headers: Mapping[str, str]) -> RateInfo | None:
        h = {str(k).lower(): str(v) for k, v in headers.items()}
        info = RateInfo(
            minute=_int(h, _MIN_REMAINING), day=_int(h, _DAY_REMAINING),
            app_minute=_int(h, _APP_REMAINING),
            day_spent=h.get(_PROBLEM, "").strip().lower() == "day",
            retry_after=_seconds(h, "retry-after"),
        )
        return info if info != RateInfo(retry_after=info.retry_after) else None

    def error_message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text[:300]
        if isinstance(body, dict):
            return str(body.get("Detail") or body.get("Message") or body.get("Title") or "")
        return ""

    def transforms(self) -> Mapping[str, Any]:
        return TRANSFORMS

    def verify_webhook(self, settings: Any, body: bytes, headers: Mapping[str, str]) -> bool:
        # https://developer.xero.com/documentation/guides/webhooks/configuring-your-server/
        # (x-xero-signature: base64 HMAC-SHA256 of the raw body with the webhook key)
        key = xero_settings(settings).webhook_key
        given = {str(k).lower(): v for k, v in headers.items()}.get("x-xero-signature")
        if not key or not given:
            return False
        digest = hmac.new(str(key).encode(), body, hashlib.sha256).digest()
        return hmac.compare_digest(base64.b64encode(digest).decode(), str(given))
