"""Xero's OAuth 2.0 endpoints: consent URL (PKCE), code exchange, refresh, connections, revoke.

Built on authlib's requests ``OAuth2Session``. This module speaks HTTP only: it never stores a
token (the token manager and the service functions do), and never logs one.

Endpoints (https://developer.xero.com/documentation/guides/oauth2/auth-flow/):
authorize ``{login}/identity/connect/authorize``; token and refresh ``{identity}/connect/token``
(form body, client authentication by HTTP Basic); revocation ``{identity}/connect/revocation``;
connections ``{api}/connections``. Hosts come from the settings, so the sandbox can stand in.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from arconnect.adapters.xero.settings import XeroSettings
from arconnect.auth.oauth import (
    AuthRequest,
    Now,
    TokenSet,
    normalize_token,
    revocation_call,
    token_call,
    utcnow,
)
from arconnect.errors import AuthError, UpstreamError


class XeroOAuth:
    """Xero's OAuth client for one app (client id and secret).

    Args:
        settings: the Xero host URLs (``login_url``, ``identity_url``, ``api_url``), default
            scopes and the HTTP timeout (:class:`~arconnect.adapters.xero.settings.XeroSettings`).
        client_id: the app's client id.
        client_secret: the app's client secret.
        now: the clock used to turn ``expires_in`` into ``expires_at`` (tests move it).

    Calls are not retried here: a refresh whose answer was lost is retried by the next caller
    with the same refresh token, which Xero accepts for a 30-minute grace period
    (https://developer.xero.com/faq/oauth2).
    """

    def __init__(
        self, settings: XeroSettings, client_id: str, client_secret: str, *, now: Now = utcnow
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self._client_secret = client_secret
        self._now = now
        self.authorize_url = settings.login_url.rstrip("/") + "/identity/connect/authorize"
        self.token_url = settings.identity_url.rstrip("/") + "/connect/token"
        self.revocation_url = settings.identity_url.rstrip("/") + "/connect/revocation"
        self.connections_url = settings.api_url.rstrip("/") + "/connections"

    def _session(self, **kw: Any) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self._client_secret,
            token_endpoint_auth_method="client_secret_basic",
            revocation_endpoint_auth_method="client_secret_basic",
            default_timeout=self.settings.http_timeout,
            **kw,
        )

    def authorization_url(self, redirect_uri: str, scopes: str | None = None) -> AuthRequest:
        """The consent URL with a fresh ``state`` and PKCE S256 challenge.

        Args:
            redirect_uri: where Xero sends the user back (registered with the app).
            scopes: space-separated scopes (default: ``settings.scopes``; include
                ``offline_access`` to get a refresh token).
        """
        verifier = generate_token(64)
        with self._session(
            scope=scopes or self.settings.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        ) as session:
            url, state = session.create_authorization_url(
                self.authorize_url, code_verifier=verifier
            )
        return AuthRequest(url=url, state=state, code_verifier=verifier)

    def exchange_code(
        self, request: AuthRequest, code: str, state: str, redirect_uri: str
    ) -> TokenSet:
        """Exchange the redirect's authorization code for a token set.

        Raises:
            AuthError: ``state`` does not match the request's (forged or stale redirect), or Xero
                refused the code (used, expired after 5 minutes, wrong redirect URI or client).
            UpstreamError: the identity server failed or could not be reached.
        """
        if not hmac.compare_digest(state.encode(), request.state.encode()):
            raise AuthError(
                "the OAuth redirect's state does not match the consent request: start the "
                "connection again"
            )
        with self._session(redirect_uri=redirect_uri) as session:
            token = self._call(
                "code exchange",
                lambda: session.fetch_token(
                    self.token_url,
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=redirect_uri,
                    code_verifier=request.code_verifier,
                ),
            )
        return normalize_token(token, self._now)

    def refresh(self, refresh_token: str) -> TokenSet:
        """Trade a refresh token for a new token set (Xero rotates the refresh token each time).

        The caller must persist the returned ``refresh_token`` before using the access token:
        the old one stops working 30 minutes after first use.

        Raises:
            ReconnectRequired: Xero answered ``invalid_grant`` (the token is used up, expired
                after 60 days unused, or the user revoked access).
            AuthError: Xero refused the app (``invalid_client``...).
            UpstreamError: the identity server failed or could not be reached.
        """
        with self._session() as session:
            token = self._call(
                "token refresh",
                lambda: session.refresh_token(self.token_url, refresh_token=refresh_token),
            )
        if not token.get("refresh_token"):
            token = {**token, "refresh_token": refresh_token}
        return normalize_token(token, self._now)

    def connections(self, access_token: str) -> list[dict[str, Any]]:
        """The organisations the grant reaches (``GET /connections``).

        Returns:
            Xero's connection objects: ``id``, ``tenantId``, ``tenantType``, ``tenantName``,
            ``authEventId``, ``createdDateUtc``, ``updatedDateUtc``.

        Raises:
            AuthError: the access token was refused (401/403).
            UpstreamError: any other failure.
        """
        resp = self._connections_call("GET", self.connections_url, access_token)
        if resp.status_code != 200:
            raise UpstreamError(
                f"Xero connections: HTTP {resp.status_code} from {self.connections_url}",
                status=resp.status_code,
            )
        try:
            body = resp.json()
        except ValueError:
            raise UpstreamError("Xero connections: the answer is not JSON", status=200) from None
        if not isinstance(body, list):
            raise UpstreamError("Xero connections: the answer is not a list", status=200)
        return [c for c in body if isinstance(c, dict)]

    def remove_connection(self, access_token: str, connection_id: str) -> bool:
        """Disconnect one organisation from the grant (``DELETE /connections/{id}``, 204).

        Returns False when Xero no longer has that connection (404: already disconnected).

        Raises:
            AuthError: the access token was refused (401/403).
            UpstreamError: any other failure.
        """
        resp = self._connections_call("DELETE", f"{self.connections_url}/{connection_id}",
                                      access_token)
        if resp.status_code == 404:
            return False
        if resp.status_code >= 300:
            raise UpstreamError(f"Xero connections: HTTP {resp.status_code} disconnecting "
                                f"connection {connection_id}", status=resp.status_code)
        return True

    def _connections_call(self, method: str, url: str, access_token: str) -> requests.Response:
        """One call to the connections endpoint; a refused token or no answer raises."""
        try:
            resp = requests.request(
                method, url,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                timeout=self.settings.http_timeout,
            )
        except requests.RequestException as err:
            raise UpstreamError(
                f"Xero connections: {self.connections_url} unreachable ({type(err).__name__})"
            ) from None
        if resp.status_code in (401, 403):
            raise AuthError(
                f"Xero connections: the access token was refused (HTTP {resp.status_code})"
            )
        return resp

    def revoke(self, refresh_token: str) -> None:
        """Revoke the grant (``POST /connect/revocation``, body ``token=<refresh_token>``).

        Xero then removes every connection the grant made.

        Raises:
            AuthError: Xero refused the request (4xx).
            UpstreamError: the identity server failed or could not be reached.
        """
        with self._session() as session:
            revocation_call("Xero", self.revocation_url,
                            lambda: session.revoke_token(self.revocation_url, refresh_token))

    def _call(self, what: str, call: Callable[[], Any]) -> dict[str, Any]:
        """Run one token-endpoint call, turning failures into arconnect errors."""
        return token_call("Xero", "Xero", what, self.token_url, call)
