"""QuickBooks Online on the platform port: everything the engine needs of QBO, in one object.

The engine finds it by name (``arconnect.platforms.get_platform("quickbooks")``) and never
imports this package otherwise. A tenant is a company (realm); one grant reaches one company, the
``realmId`` of the consent redirect. Limits: 500 requests a minute and 10 at once per company,
40 batch requests a minute (https://blogs.intuit.com/2016/08/08/idg-concurrent-api-use-changes-coming-soon/);
on the Builder tier of the Intuit App Partner Program, 500,000 read calls a month
(https://blogs.intuit.com/2026/01/08/understanding-builder-tier-api-limits-for-you-and-your-customers/).
Settings: :class:`arconnect.adapters.quickbooks.settings.QboSettings` (``ARCONNECT_QBO_*``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson
import requests

from arconnect.adapters.base import (
    Discovered,
    ErrorVerdict,
    HttpClient,
    Page,
    RateInfo,
    TenantInfo,
    TokenSet,
    oauth2_headless_grant,
)
from arconnect.adapters.quickbooks._common import fault_errors, fault_text
from arconnect.adapters.quickbooks.adapter import QuickBooksAdapter
from arconnect.adapters.quickbooks.oauth import QboOAuth
from arconnect.adapters.quickbooks.settings import qbo_settings
from arconnect.auth.oauth import Now, utcnow
from arconnect.errors import AuthError, ConfigError, NotFoundError
from arconnect.pacing import Limits

# Fault codes (https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes):
# 3200 AuthenticationFailed (the access token expired or is wrong), 3100
# ApplicationAuthorizationFailed (the app may not do this), 1-499 authorization, 5010 stale
# object, 6240 duplicate name, 610 object not found, 2000-4999 validation (4000 a query the
# parser refused); the ranges as ej2/python-quickbooks reads them (client.py, handle_exceptions).
_REFRESH_CODES = {"3200"}


def _authorization(code: str) -> bool:
    return code == "3100" or (code.isdigit() and 1 <= int(code) <= 499)


class QuickBooksPlatform:
    """QuickBooks Online's reader, OAuth, limits, error reading and webhook check."""

    name = "quickbooks"
    label = "QuickBooks Online"
    tenant_word = "company"
    customer_entity = "customers"
    # "valid for 100 days. This expiry date is rolling and gets extended each time it's used"
    # (https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/faq).
    idle_expiry_days: int | None = 100
    per_tenant_disconnect = False
    env_prefix = "ARCONNECT_QBO"
    tenant_id_option = "realm-id"
    callback_params: tuple[str, ...] = ("realmId",)

    def configured_app(self, settings: Any) -> tuple[str | None, str | None]:
        qbo = qbo_settings(settings)
        return qbo.client_id, qbo.client_secret

    def redirect_uri(self, settings: Any) -> str:
        return qbo_settings(settings).redirect_uri

    def adapter(self, settings: Any) -> QuickBooksAdapter:
        overlap = getattr(settings, "sync_overlap_seconds", 60)
        qbo = qbo_settings(settings)
        return QuickBooksAdapter(qbo.minor_version, overlap if isinstance(overlap, int) else 60,
                                 page_size=qbo.page_size)

    def writer(self, settings: Any, outbound: Any) -> Any:
        from arconnect.adapters.quickbooks.writer import QuickBooksWriter

        return QuickBooksWriter(outbound.batch_size, qbo_settings(settings).minor_version)

    def limits(self, settings: Any) -> Limits:
        qbo = qbo_settings(settings)
        return Limits(per_minute=qbo.minute_limit, concurrency=qbo.concurrency,
                      batch_per_minute=qbo.batch_minute_limit,
                      per_month=qbo.month_read_budget)

    def base_url(self, settings: Any, tenant: TenantInfo) -> str:
        # https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/customer
        return f"{qbo_settings(settings).api_url.rstrip('/')}/v3/company/{tenant.external_id}"

    def headers(self, tenant: TenantInfo) -> dict[str, str]:
        return QuickBooksAdapter.headers(tenant)

    def signer(self, settings: Any) -> None:
        return None  # an OAuth 2.0 bearer token

    def oauth(self, settings: Any, client_id: str, client_secret: str,
              now: Now | None = None, tenant: str | None = None) -> QboOAuth:
        return QboOAuth(qbo_settings(settings), client_id, client_secret, now=now or utcnow)

    def headless_grant(self, settings: Any, options: Mapping[str, str | None]
                       ) -> tuple[str, str, str]:
        return oauth2_headless_grant(self.label, options)

    def app_credentials(self, settings: Any) -> tuple[str, str]:
        client_id, client_secret = self.configured_app(settings)
        if not client_id or not client_secret:
            raise ConfigError(
                "ARCONNECT_QBO_CLIENT_ID and ARCONNECT_QBO_CLIENT_SECRET are not set: use your "
                "Intuit app's keys (https://developer.intuit.com/app/developer/dashboard, "
                "your app, Keys and credentials)"
            )
        return client_id, client_secret

    def discover(self, oauth: Any, token: TokenSet,
                 callback: Mapping[str, str]) -> list[Discovered]:
        """The company the consent chose: the redirect's ``realmId``, named by its
        ``CompanyInfo`` read with the new access token.

        Raises:
            AuthError: the redirect carries no ``realmId`` (the consent was not for a company).
        """
        realm = str(callback.get("realmId") or "").strip()
        if not realm.isdigit():
            raise AuthError(
                "the QuickBooks redirect carries no realmId (company id): connect again and "
                "pick a company on Intuit's consent page"
            )
        try:
            info = oauth.company_info(str(token["access_token"]), realm)
        except AuthError:
            # The grant is valid (the refresh just worked): it is for another company.
            raise NotFoundError(
                f"the grant does not reach QuickBooks company {realm} (Intuit refused to read "
                "its CompanyInfo with the grant's new token); check the realm id: the redirect "
                "after consent shows it as realmId, and QuickBooks under Settings ─▶ Account "
                "and settings ─▶ Billing & subscription. Nothing was stored") from None
        return [Discovered(realm, str(info.get("CompanyName") or realm))]

    def remove_connection(self, oauth: Any, access_token: str, connection_id: str) -> bool:
        # One grant reaches one company: disconnecting it is revoking the grant.
        return False

    def parse_error(self, response: requests.Response) -> ErrorVerdict | None:
        """QBO's reading of a non-2xx reply: its ``Fault`` codes, or the status alone."""
        status = response.status_code
        if status < 400:
            return None
        body = _json(response)
        codes = {str(e.get("code") or "") for e in fault_errors(body)}
        message = fault_text(body) or None
        if status == 401 or codes & _REFRESH_CODES:
            return ErrorVerdict("refresh", message)
        if status == 429:
            # ThrottleExceeded (errorCode 003001); QBO sends no Retry-After
            # (https://blogs.intuit.com/2016/08/08/idg-concurrent-api-use-changes-coming-soon/).
            return ErrorVerdict("rate_limited", message or "ThrottleExceeded")
        if status >= 500:
            return ErrorVerdict("retry", message)
        if status == 403 or any(_authorization(c) for c in codes):
            return ErrorVerdict("config", message or "QuickBooks refused the app (HTTP 403)")
        # 5010 stale object, 6240 duplicate name, 610 not found, 2xxx validation, 4000 query:
        # this request's data was refused; the caller reads the message.
        return ErrorVerdict("data", message)

    def explain_401(self, settings: Any, tenant_name: str, granted_scopes: Any) -> Any:
        return None

    def rate_info(self, headers: Mapping[str, str]) -> RateInfo | None:
        return None  # QBO states no remaining budget in its headers

    def error_message(self, response: requests.Response) -> str:
        body = _json(response)
        text = fault_text(body)
        if text:
            return text
        tid = response.headers.get("intuit_tid") if response.headers is not None else None
        suffix = f" (intuit_tid {tid})" if tid else ""
        return (response.text or "")[:300] + suffix

    def transforms(self) -> Mapping[str, Any]:
        return {}

    def verify_webhook(self, settings: Any, body: bytes, headers: Mapping[str, str]) -> bool:
        """True when ``intuit-signature`` is the base64 HMAC-SHA256 of the raw body with the
        app's verifier token (``ARCONNECT_QBO_WEBHOOK_VERIFIER``; section "Validating the
        notification" of https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks/managing-webhooks-notifications)."""
        verifier = qbo_settings(settings).webhook_verifier
        given = {str(k).lower(): v for k, v in headers.items()}.get("intuit-signature")
        if not verifier or not given:
            return False
        digest = hmac.new(verifier.encode(), body, hashlib.sha256).digest()
        return hmac.compare_digest(base64.b64encode(digest).decode(), str(given).strip())

    # -- QBO's additions to the port ------------------------------------------------------------

    def webhook_tenants(self, body: bytes) -> list[str]:
        """The realm ids a verified webhook delivery names, in order, each once: the legacy
        ``{"eventNotifications": [{"realmId", …}]}`` and the CloudEvents array (each event's
        ``intuitaccountid``), which Intuit makes mandatory from 15 May 2026
        (https://blogs.intuit.com/2025/11/12/upcoming-change-to-webhooks-payload-structure/).
        The events carry ids only: the tenant's next sync reads the changes. Anything else
        names no realm.
        """
        payload = _json_bytes(body)
        if isinstance(payload, dict):
            events = payload.get("eventNotifications")
            found = [e.get("realmId") for e in events if isinstance(e, dict)] if isinstance(
                events, list) else []
        elif isinstance(payload, list):
            found = [e.get("intuitaccountid") for e in payload if isinstance(e, dict)]
        else:
            found = []
        return list(dict.fromkeys(str(r) for r in found if isinstance(r, str | int) and str(
            r).isdigit()))

    def delete_sweep(self, client: HttpClient, tenant: TenantInfo, entity: str,
                     known_ids: Iterable[str], settings: Any = None) -> Iterator[Page]:
        """Tombstones for the ids of ``entity`` the store holds and QBO no longer has (deletes
        older than CDC's 30 days); see :meth:`QuickBooksAdapter.delete_sweep`."""
        return self.adapter(settings).delete_sweep(client, tenant, entity, known_ids)

    def keep_alive(self, oauth: Any, refresh_token: str) -> TokenSet:
        """Refresh an idle grant before its 100 days lapse; the caller stores the new token
        set (its ``refresh_token`` first) as after any refresh.

        Raises:
            ReconnectRequired: Intuit refused the grant.
        """
        token: TokenSet = oauth.refresh(refresh_token)
        return token


def _json(response: requests.Response) -> Any:
    return _json_bytes(response.content or b"")


def _json_bytes(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
