"""Intuit's OAuth 2.0 endpoints for QuickBooks Online: consent URL, code exchange, refresh,
revoke.

Built on authlib's requests ``OAuth2Session``. This module speaks HTTP only: it never stores a
token (the token manager and the service functions do), and never logs one or puts one in a
message.

Endpoints (https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0):
authorize ``https://appcenter.intuit.com/connect/oauth2`` (``client_id``, ``response_type=code``,
``scope``, ``redirect_uri``, ``state``; the redirect back carries ``code``, ``state`` and the
company's ``realmId``); token and refresh ``https://oauth.platform.intuit.com/oauth2/v1/tokens/
bearer`` (form body, client authentication by HTTP Basic); revocation ``https://developer.api.
intuit.com/v2/oauth2/tokens/revoke`` (HTTP Basic, JSON ``{"token": …}``). Hosts come from the
settings, so the sandbox can stand in.

Refresh tokens roll: "each time you refresh your access token, your app periodically updates the
refresh_token value … Always store the latest refresh_token value from the most recent API server
response"; one lives 100 days, extended at each use (``x_refresh_token_expires_in``)
(https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/faq).
Since late 2025 every refresh token also has a five-year maximum lifetime, which refresh replies
state in a new field (https://blogs.intuit.com/2025/11/12/important-changes-to-refresh-token-policy/):
the token set keeps every field of the reply, so that one too, whatever its name.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session

from arconnect.adapters.base import ConsentRequest, TokenSet
from arconnect.adapters.quickbooks.settings import QboSettings
from arconnect.auth.oauth import (
    Now,
    normalize_token,
    revocation_call,
    token_call,
    utcnow,
)
from arconnect.errors import AuthError, UpstreamError


class QboOAuth:
    """Intuit's OAuth client for one app (client id and secret).

    Args:
        settings: the Intuit URLs (``auth_url``, ``token_url``, ``revoke_url``), the default
            scopes and the HTTP timeout.
        client_id: the app's client id.
        client_secret: the app's client secret.
        now: the clock used to turn ``expires_in`` into ``expires_at`` (tests move it).

    Calls are not retried here: the token manager decides (a refresh whose answer was lost is
    retried with the same refresh token, which stays usable until the new one is used).
    """

    def __init__(self, settings: QboSettings, client_id: str, client_secret: str, *,
                 now: Now = utcnow) -> None:
        self.settings = settings
        self.client_id = client_id
        self._client_secret = client_secret
        self._now = now
        self.authorize_url = settings.auth_url
        self.token_url = settings.token_url
        self.revocation_url = settings.revoke_url

    def _session(self, **kw: Any) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self._client_secret,
            token_endpoint_auth_method="client_secret_basic",
            default_timeout=self.settings.http_timeout,
            **kw,
        )

    def authorization_url(self, redirect_uri: str, scopes: str | None = None) -> ConsentRequest:
        """The consent URL with a fresh ``state`` (Intuit takes no PKCE challenge).

        Args:
            redirect_uri: where Intuit sends the user back (registered with the app).
            scopes: space-separated scopes (default: ``settings.scopes``).
        """
        with self._session(scope=scopes or self.settings.scopes,
                           redirect_uri=redirect_uri) as session:
            url, state = session.create_authorization_url(self.authorize_url)
        return ConsentRequest(url=url, state=state)

    def exchange_code(self, request: ConsentRequest, code: str, state: str,
                      redirect_uri: str) -> TokenSet:
        """Exchange the redirect's authorization code for a token set.

        Raises:
            AuthError: ``state`` does not match the request's (forged or stale redirect), or
                Intuit refused the code (used, expired, wrong redirect URI or client).
            UpstreamError: Intuit's token server failed or could not be reached.
        """
        if not hmac.compare_digest(state.encode(), request.state.encode()):
            raise AuthError(
                "the OAuth redirect's state does not match the consent request: start the "
                "connection again"
            )
        with self._session(redirect_uri=redirect_uri) as session:
            token = self._call("code exchange", lambda: session.fetch_token(
                self.token_url, grant_type="authorization_code", code=code,
                redirect_uri=redirect_uri))
        return self._token_set(token)

    def refresh(self, refresh_token: str) -> TokenSet:
        """Trade a refresh token for a new token set; its ``refresh_token`` is the one to keep
        (Intuit rolls it), persisted before the access token is used.

        Raises:
            ReconnectRequired: Intuit answered ``invalid_grant`` (the token expired after 100
                days unused or five years in all, was superseded, or the user disconnected the
                app in QuickBooks).
            AuthError: Intuit refused the app (``invalid_client``...).
            UpstreamError: Intuit's token server failed or could not be reached.
        """
        with self._session() as session:
            token = self._call("token refresh", lambda: session.refresh_token(
                self.token_url, refresh_token=refresh_token))
        if not token.get("refresh_token"):
            token = {**token, "refresh_token": refresh_token}
        return self._token_set(token)

    def revoke(self, token: str) -> None:
        """Revoke the grant (``POST /v2/oauth2/tokens/revoke``, JSON ``{"token": …}``): the
        refresh token, or an access token.

        Raises:
            AuthError: Intuit refused the request (4xx).
            UpstreamError: Intuit failed or could not be reached.
        """
        revocation_call("QuickBooks", self.revocation_url, lambda: requests.post(
            self.revocation_url, json={"token": token},
            auth=(self.client_id, self._client_secret),
            headers={"Accept": "application/json"}, timeout=self.settings.http_timeout))

    def company_info(self, access_token: str, realm_id: str) -> dict[str, Any]:
        """The company's ``CompanyInfo`` read with a new grant's access token (its name for
        the tenant list).

        https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/companyinfo

        Raises:
            AuthError: the access token was refused (401/403).
            UpstreamError: any other failure.
        """
        url = (f"{self.settings.api_url.rstrip('/')}/v3/company/{realm_id}/companyinfo/"
               f"{realm_id}")
        try:
            resp = requests.get(
                url, params={"minorversion": self.settings.minor_version},
                headers={"Authorization": f"Bearer {access_token}",
                         "Accept": "application/json"},
                timeout=self.settings.http_timeout,
            )
        except requests.RequestException as err:
            raise UpstreamError(f"QuickBooks CompanyInfo: {self.settings.api_url} unreachable "
                                f"({type(err).__name__})") from None
        if resp.status_code in (401, 403):
            raise AuthError(f"QuickBooks CompanyInfo: the new access token was refused "
                            f"(HTTP {resp.status_code}); connect the company again")
        if resp.status_code != 200:
            raise UpstreamError(f"QuickBooks CompanyInfo: HTTP {resp.status_code} for company "
                                f"{realm_id}", status=resp.status_code)
        try:
            body = resp.json()
        except ValueError:
            raise UpstreamError("QuickBooks CompanyInfo: the answer is not JSON") from None
        info = body.get("CompanyInfo") if isinstance(body, dict) else None
        if not isinstance(info, dict):
            raise UpstreamError("QuickBooks CompanyInfo: the answer has no CompanyInfo")
        return info

    def _token_set(self, token: dict[str, Any]) -> TokenSet:
        """The token set with absolute expiries: ``expires_at`` and, from
        ``x_refresh_token_expires_in``, ``refresh_expires_at``."""
        out = normalize_token(token, self._now)
        lapses = []
        # the rolling 100 days, and the five-year limit where the answer states it (the field's
        # name is not published; x_refresh_token_hard_expires_in is the likeliest form)
        for key in ("x_refresh_token_expires_in", "x_refresh_token_hard_expires_in"):
            seconds = token.get(key)
            if isinstance(seconds, int | float) and not isinstance(seconds, bool):
                lapses.append(self._now() + timedelta(seconds=float(seconds)))
        if lapses:
            out["refresh_expires_at"] = min(lapses)
        return out

    def _call(self, what: str, call: Callable[[], Any]) -> dict[str, Any]:
        """Run one token-endpoint call, turning failures into arconnect errors."""
        return token_call("QuickBooks", "Intuit", what, self.token_url, call,
                          dead_hint="; connect the company again", with_description=True)


