"""NetSuite on the platform port: everything the engine needs of NetSuite, in one object.

The engine finds it by name (``arconnect.platforms.get_platform("netsuite")``) and never imports
this package otherwise. A tenant is an account (``1234567``, a sandbox ``1234567_SB1``); every
account has its own hosts, so the base URL, the consent page and the token endpoint all depend
on it (:mod:`arconnect.adapters.netsuite.settings`).

Three auth schemes, one stored shape: the grant secret
(:mod:`arconnect.adapters.netsuite.credentials`). Authorization-code grants last 7 days and
cannot be kept alive (``idle_expiry_days`` None: the engine warns before they lapse,
:func:`arconnect.services.grant_warning`); client credentials (M2M) and token-based
authentication do not lapse.

Limits: NetSuite governs REST calls by how many are in flight per account, shared by every
integration of the account; a call above the limit is refused with 429
(``CONCURRENCY_LIMIT_EXCEEDED``) and no ``Retry-After``. The adapter reads the account's limit
from ``governanceLimits`` when the role may
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/article_0625010817.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import requests

from arconnect.adapters.base import Discovered, ErrorVerdict, RateInfo, TenantInfo, TokenSet
from arconnect.adapters.netsuite import credentials
from arconnect.adapters.netsuite._common import GOVERNANCE, error_codes, error_text
from arconnect.adapters.netsuite.adapter import NetSuiteAdapter
from arconnect.adapters.netsuite.oauth import NetSuiteOAuth, Signer, make_signer
from arconnect.adapters.netsuite.settings import host_form, ns_settings
from arconnect.auth.oauth import Now, utcnow
from arconnect.errors import AuthError, ConfigError, NotFoundError
from arconnect.pacing import Limits


class NetSuitePlatform:
    """NetSuite's reader, OAuth (three schemes), signer, limits and error reading."""

    name = "netsuite"
    label = "NetSuite"
    tenant_word = "account"
    customer_entity = "customers"
    # An authorization-code grant's refresh token lives 7 days from consent and a refresh
    # does not extend it: nothing keeps it alive.
    idle_expiry_days: int | None = None
    per_tenant_disconnect = False
    env_prefix = "ARCONNECT_NETSUITE"
    tenant_id_option = "account"
    callback_params: tuple[str, ...] = ("company",)

    def configured_app(self, settings: Any) -> tuple[str | None, str | None]:
        ns = ns_settings(settings)
        return ns.client_id, ns.client_secret

    def redirect_uri(self, settings: Any) -> str:
        return ns_settings(settings).redirect_uri

    def adapter(self, settings: Any) -> NetSuiteAdapter:
        return NetSuiteAdapter(ns_settings(settings))

    def writer(self, settings: Any, outbound: Any) -> Any:
        from arconnect.adapters.netsuite.writer import NetSuiteWriter

        return NetSuiteWriter(outbound.batch_size, ns_settings(settings))

    def limits(self, settings: Any) -> Limits:
        ns = ns_settings(settings)
        return Limits(per_minute=ns.minute_limit, concurrency=ns.concurrency)

    def base_url(self, settings: Any, tenant: TenantInfo) -> str:
        return ns_settings(settings).rest_base(tenant.external_id)

    def headers(self, tenant: TenantInfo) -> dict[str, str]:
        return NetSuiteAdapter.headers(tenant)

    def signer(self, settings: Any) -> Signer:
        """Bearer tokens (authorization code, client credentials), and OAuth 1.0a signatures
        for a token-based-authentication grant (whose access token is its grant secret)."""
        return make_signer()

    def oauth(self, settings: Any, client_id: str, client_secret: str,
              now: Now | None = None, tenant: str | None = None) -> NetSuiteOAuth:
        return NetSuiteOAuth(ns_settings(settings), client_id, client_secret,
                             now=now or utcnow, account=tenant)

    def headless_grant(self, settings: Any, options: Mapping[str, str | None]
                       ) -> tuple[str, str, str]:
        """``(client_id, client_secret, grant_secret)`` of ``tenants add netsuite``: one auth
        scheme's full set of options (see :func:`credentials.headless_grant`)."""
        return credentials.headless_grant(options,
                                          algorithm=ns_settings(settings).jwt_algorithm)

    def app_credentials(self, settings: Any) -> tuple[str, str]:
        client_id, client_secret = self.configured_app(settings)
        if not client_id or not client_secret:
            raise ConfigError(
                "ARCONNECT_NETSUITE_CLIENT_ID and ARCONNECT_NETSUITE_CLIENT_SECRET are not set: "
                "use the client credentials NetSuite showed when the integration record was "
                "saved (Setup > Integration > Manage Integrations > New, with Authorization "
                "Code Grant and REST Web Services checked)")
        return client_id, client_secret

    def discover(self, oauth: Any, token: TokenSet,
                 callback: Mapping[str, str]) -> list[Discovered]:
        """The account a grant is for: the consent redirect's ``company`` (or the account
        given with ``--account``), else the grant secret's; named by its root subsidiary
        (OneWorld) or ``NetSuite account <id>``.

        Raises:
            AuthError: no account is known.
            NotFoundError: the redirect names another account than the grant's, or the grant's
                token is refused by the account.
        """
        stored = ""
        refresh = str(token.get("refresh_token") or "")
        if credentials.is_grant_secret(refresh):
            stored = credentials.decode(refresh).account
        account = str(callback.get("company") or "").strip() or stored
        account = account or str(getattr(oauth, "account", "") or "")
        if not account:
            raise AuthError("the NetSuite redirect names no account (company): connect again "
                            "with `arconnect tenants connect netsuite --account ID`")
        if stored and host_form(stored) != host_form(account):
            raise NotFoundError(f"the grant is for NetSuite account {stored}, not {account}. "
                                "Nothing was stored")
        try:
            name, _ = oauth.account_name(str(token["access_token"]), account)
        except AuthError as err:
            raise NotFoundError(f"the grant does not reach NetSuite account {account} ({err}). "
                                "Nothing was stored") from None
        return [Discovered(account, name)]

    def remove_connection(self, oauth: Any, access_token: str, connection_id: str) -> bool:
        # One grant reaches one account: disconnecting it is revoking the grant.
        return False

    def parse_error(self, response: requests.Response) -> ErrorVerdict | None:
        """NetSuite's reading of a non-2xx reply (REST errors carry ``o:errorDetails``,
        https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156570709583.html).

        * 401: ``refresh`` (a bearer token expired; a token-based authentication grant is
          checked again, and marked for a reconnect when NetSuite refuses it);
        * 401/403 on ``governanceLimits``: returned (a role that is not an administrator may
          not read it; the concurrency setting applies);
        * 429: ``rate_limited`` — the account's concurrency limit (the pacer lowers its cap);
        * 5xx: ``retry``; 403: ``config`` (a permission of the role); other 4xx: ``data``.
        """
        status = response.status_code
        if status < 400:
            return None
        body = _json(response)
        message = error_text(body) or None
        if status in (401, 403) and _path(response).endswith(GOVERNANCE):
            return ErrorVerdict("return", message)
        if status == 401:
            return ErrorVerdict("refresh", message)
        if status == 429:
            return ErrorVerdict("rate_limited", message or "CONCURRENCY_LIMIT_EXCEEDED",
                                concurrency=True)
        if status >= 500:
            return ErrorVerdict("retry", message)
        if status == 403:
            codes = ", ".join(error_codes(body))
            return ErrorVerdict("config", (message or f"HTTP 403{f' ({codes})' if codes else ''}")
                                + " — check the integration role's permissions (REST Web "
                                "Services, SuiteAnalytics Workbook, Lists > Customers, "
                                "Transactions)")
        return ErrorVerdict("data", message)

    def explain_401(self, settings: Any, tenant_name: str, granted_scopes: Any) -> Any:
        return None

    def rate_info(self, headers: Mapping[str, str]) -> RateInfo | None:
        return None  # NetSuite states no budget in its headers (governanceLimits is a call)

    def error_message(self, response: requests.Response) -> str:
        text = error_text(_json(response))
        return text or (response.text or "")[:300]

    def transforms(self) -> Mapping[str, Any]:
        return {}

    def verify_webhook(self, settings: Any, body: bytes, headers: Mapping[str, str]) -> bool:
        return False  # NetSuite sends no webhooks of its own


def _path(response: requests.Response) -> str:
    request = response.request
    url = (request.url if request is not None else None) or response.url or ""
    return url.split("?", 1)[0]


def _json(response: requests.Response) -> Any:
    try:
        return orjson.loads(response.content or b"")
    except orjson.JSONDecodeError:
        return None
