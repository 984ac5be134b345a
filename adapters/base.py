"""The port between the engine and the platforms: the Adapter protocol and its value types.

The engine (``arconnect.sync``) depends on these names only, never on a platform package.
An adapter knows HTTP paths and the wire format; it never touches the store, never retries and
never sleeps — the client it is handed owns authentication, retries and pacing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import requests

Record = dict[str, Any]
Cursor = dict[str, Any]


class HttpClient(Protocol):
    """What an adapter may ask of the engine's HTTP client (``arconnect.http.ApiClient``)."""

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """Send one request to ``path`` under the tenant's API base URL, authenticated, paced
        and retried; returns the final response (2xx/4xx) or raises an ArconnectError."""
        ...


@dataclass(frozen=True)
class TenantInfo:
    """What an adapter needs to know about the tenant it reads from."""

    external_id: str
    name: str = ""
    base_currency: str | None = None
    timezone: str | None = None

    @property
    def label(self) -> str:
        """How messages name the tenant: ``Name (id)``."""
        return f"{self.name} ({self.external_id})" if self.name else self.external_id


@dataclass
class Page:
    """One page of raw records, and the cursor to store once its rows are committed.

    Attributes:
        records: raw records in the platform's wire format (parsed JSON objects).
        next_cursor: the cursor the engine commits together with this page's rows.
        number: the page number as the platform counts it (for error messages).
        done: True when this is the last page of the run for its entity.
    """

    records: list[Record]
    next_cursor: Cursor
    number: int | str
    done: bool = False
    item_count: int | None = None


@dataclass(frozen=True)
class OrgInfo:
    """Organisation-level facts read from the platform (base currency, time zone)."""

    name: str
    base_currency: str
    timezone: str
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    """A platform adapter: declared endpoints, a fetch loop per entity, later a writer.

    Implementations are small classes composed of endpoint declarations and helpers in the
    platform's ``_common.py``; no base-class chains.
    """

    platform: str
    entities: Sequence[str]

    def organisation(self, client: HttpClient, tenant: TenantInfo) -> OrgInfo:
        """Read the organisation's base currency and time zone."""
        ...

    def fetch(
        self, client: HttpClient, tenant: TenantInfo, entity: str, cursor: Cursor | None
    ) -> Iterator[Page]:
        """Yield pages of ``entity`` changed since ``cursor`` (None: everything).

        ``fetch`` never persists state: the engine stores ``page.next_cursor`` in the same
        transaction as the page's rows, and passes the stored cursor back on the next run.
        """
        ...


@runtime_checkable
class Reconciling(Protocol):
    """Optional adapter methods for reads that no incremental cursor catches."""

    def fetch_ids(
        self, client: HttpClient, tenant: TenantInfo, entity: str, ids: Sequence[str]
    ) -> Iterator[Page]:
        """Yield the records of ``entity`` with these ids (cursors untouched)."""
        ...

    def fetch_open(self, client: HttpClient, tenant: TenantInfo, entity: str) -> Iterator[Page]:
        """Yield every still-open document of ``entity`` (cursors untouched)."""
        ...


# -- the platform port ------------------------------------------------------------------------
#
# One object per platform gives the engine everything it needs of that platform; the engine
# finds it by ``tenant.platform`` in the registry (``arconnect.platforms``), the only engine
# module that imports a platform package.

TokenSet = dict[str, Any]
"""A token response with an absolute ``expires_at`` (aware UTC datetime or None)."""


@dataclass(frozen=True)
class ConsentRequest:
    """One consent request: where to send the user, and what to check when they come back.

    Attributes:
        url: the consent page address (carries ``state``, and a PKCE challenge where the
            platform takes one).
        state: the anti-forgery value the redirect must echo.
        code_verifier: the PKCE secret the code exchange proves ("" without PKCE).
    """

    url: str
    state: str
    code_verifier: str = ""


@dataclass(frozen=True)
class Discovered:
    """A tenant a grant reaches: a Xero organisation, a QuickBooks company (realm), a NetSuite
    account.

    Attributes:
        external_id: the platform's id of the tenant (Xero tenant id, QBO realm id, ...).
        name: its name as the platform shows it.
        connection_id: the platform's id of the link between grant and tenant, where it has
            one (Xero's connection id), for a per-tenant disconnect.
    """

    external_id: str
    name: str
    connection_id: str | None = None


class OAuthClient(Protocol):
    """A platform's OAuth client for one app (client id and secret): consent, code exchange,
    refresh, revocation. It speaks HTTP only: it never stores or logs a token."""

    def authorization_url(self, redirect_uri: str, scopes: str | None = None) -> ConsentRequest:
        """The consent URL and the state (and PKCE verifier) to check on the way back."""
        ...

    def exchange_code(
        self, request: ConsentRequest, code: str, state: str, redirect_uri: str
    ) -> TokenSet:
        """The token set for the redirect's authorization code; AuthError when ``state`` is not
        the request's (compare with ``hmac.compare_digest``) or the platform refuses the code."""
        ...

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new token set; raises ReconnectRequired when the platform refuses the grant."""
        ...

    def revoke(self, token: str) -> None:
        """Revoke the grant (the refresh token, or the access token where that is all)."""
        ...


@dataclass(frozen=True)
class ErrorVerdict:
    """The platform's reading of an HTTP response the engine would otherwise retry or return.

    Attributes:
        action: ``retry`` (back off and send again), ``rate_limited`` (wait, then send again),
            ``quota`` (a daily or monthly budget is spent: stop the tenant's run), ``refresh``
            (the access token is stale: refresh once, then send again), ``reconnect`` (the
            grant is dead), ``config`` (a setting or a scope is wrong: stop, tell the fix),
            ``data`` (this request's data was refused: return it to the caller), ``return``.
        message: the platform's own words, for the error the user sees.
        retry_after: seconds to wait, where the platform says.
    """

    action: str
    message: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class RateInfo:
    """What a response's headers say about the tenant's remaining budget (None: not said).

    Attributes:
        minute: calls left in the current minute window.
        day: calls left today.
        app_minute: calls left in the app-wide minute window.
        day_spent: the server says the daily limit is spent.
        retry_after: seconds until the spent limit resets, where the server says.
    """

    minute: int | None = None
    day: int | None = None
    app_minute: int | None = None
    day_spent: bool = False
    retry_after: float | None = None


class Platform(Protocol):
    """Everything the engine needs of one platform.

    Attributes:
        name: the registry key and ``tenant.platform`` (``xero``, ``quickbooks``, ``netsuite``).
        label: how people name it (``Xero``, ``QuickBooks Online``).
        tenant_word: what a tenant is called on the platform (``organisation``, ``company``).
        customer_entity: the entity whose records are the customers (refreshed right before a
            write-back plan, so drift is judged on current values).
        idle_expiry_days: days an unused refresh token lives (Xero 60, QBO 100); a keep-alive
            refreshes idle grants before then. None: the grant cannot be kept alive.
        per_tenant_disconnect: the platform can drop one tenant of a grant (Xero's
            connections); otherwise disconnecting a tenant revokes its grant.
    """

    name: str
    label: str
    tenant_word: str
    customer_entity: str
    idle_expiry_days: int | None
    per_tenant_disconnect: bool

    def adapter(self, settings: Any) -> Adapter:
        """The reader."""
        ...

    def writer(self, settings: Any, outbound: Any) -> Any:
        """The write-back writer for the compiled ``outbound:`` mapping section."""
        ...

    def limits(self, settings: Any) -> Any:
        """The tenant's call limits (``arconnect.pacing.Limits``)."""
        ...

    def base_url(self, settings: Any, tenant: TenantInfo) -> str:
        """The API root a tenant's request paths are joined to."""
        ...

    def headers(self, tenant: TenantInfo) -> dict[str, str]:
        """Headers on every request of the tenant (Xero's ``xero-tenant-id``)."""
        ...

    def oauth(self, settings: Any, client_id: str, client_secret: str,
              now: Any = None) -> OAuthClient:
        """The OAuth client of an app (``now``: the clock for ``expires_at``)."""
        ...

    def app_credentials(self, settings: Any) -> tuple[str, str]:
        """The configured app's client id and secret; ConfigError naming the settings."""
        ...

    def discover(self, oauth: OAuthClient, token: TokenSet,
                 callback: Mapping[str, str]) -> list[Discovered]:
        """The tenants a new grant reaches (Xero: ``GET /connections``; QBO: the ``realmId``
        of the consent redirect, in ``callback``)."""
        ...

    def remove_connection(self, oauth: OAuthClient, access_token: str,
                          connection_id: str) -> bool:
        """Drop one tenant from a grant (only when ``per_tenant_disconnect``): True when the
        platform removed it, False when it no longer had it."""
        ...

    def parse_error(self, response: requests.Response) -> ErrorVerdict | None:
        """The platform's reading of a non-2xx response; None leaves the engine's default
        (401 refresh, 429 wait, 5xx back off, other 4xx return)."""
        ...

    def explain_401(self, settings: Any, tenant_name: str,
                    granted_scopes: Any) -> Any:
        """An ``arconnect.http.Explain401`` for 401s no refresh cures (a missing scope), or
        None. ``granted_scopes()`` reads the scopes the stored grant holds."""
        ...

    def rate_info(self, headers: Mapping[str, str]) -> RateInfo | None:
        """The remaining budget the response's headers state, or None."""
        ...

    def error_message(self, response: requests.Response) -> str:
        """The platform's message in a 4xx body, for errors the user sees."""
        ...

    def transforms(self) -> Mapping[str, Any]:
        """Mapping transforms the platform adds (name -> ``arconnect.transforms.Transform``)."""
        ...

    def verify_webhook(self, settings: Any, body: bytes, headers: Mapping[str, str]) -> bool:
        """True when a webhook delivery is signed with the app's key."""
        ...
