"""Intuit's OAuth 2.0 as the sandbox plays it: codes, grants per realm, rolling refresh tokens.

Facts (https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-
authorization/faq and .../oauth-2.0): codes are single use (5 minutes here, assumed); access
tokens live one hour (``expires_in`` 3600); refresh tokens are "valid for 100 days. This expiry
date is rolling and gets extended each time it's used" and the app must "always store the
latest refresh_token value from the most recent API server response"; since 2023 a refresh
token also has a maximum validity of five years from the first consent
(https://blogs.a.intuit.com/2025/11/12/important-changes-to-refresh-token-policy). How long a
superseded refresh token keeps working is not documented: ``grace_seconds`` (assumed). One
consent connects one company (``realmId``). Tokens are opaque random strings.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.common.oauth import AccessTokens, OAuthError

CODE_TTL = timedelta(minutes=5)
ACCESS_TTL = timedelta(hours=1)
REFRESH_TTL = timedelta(days=100)
HARD_TTL = timedelta(days=5 * 365)
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


@dataclass
class Grant:
    """One consent: the company it connects, when it began, whether it is revoked."""

    id: str
    realm_id: str
    scope: str
    created: datetime
    revoked: bool = False

    @property
    def hard_expiry(self) -> datetime:
        """The five-year limit of every refresh token of this consent."""
        return self.created + HARD_TTL


@dataclass
class _Code:
    redirect_uri: str
    realm_id: str
    scope: str
    issued: datetime
    used: bool = False


@dataclass
class _Refresh:
    grant: Grant
    expires: datetime
    superseded: datetime | None = None


@dataclass
class Identity:
    """The authorization server's state.

    Args:
        clock: the sandbox clock (every lifetime is measured on it).
        client_id / client_secret: the registered app.
        redirect_uris: its registered redirect URIs.
        production_keys: https only (development keys also allow ``http://localhost``).
        grace_seconds: how long a superseded refresh token keeps working.
    """

    clock: SandboxClock
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    production_keys: bool = False
    grace_seconds: int = 86400
    grants: dict[str, Grant] = field(default_factory=dict)
    _codes: dict[str, _Code] = field(default_factory=dict)
    _refresh: dict[str, _Refresh] = field(default_factory=dict)
    _access: AccessTokens[Grant] = field(default_factory=AccessTokens)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- authorize -------------------------------------------------------------------------
    def redirect_problem(self, uri: str) -> str | None:
        """Why ``uri`` is refused, or None: it must be registered exactly; production keys
        need https, development keys allow https or ``http://localhost``
        (https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-
        authorization/oauth-2.0, "Redirect URIs")."""
        if uri not in self.redirect_uris:
            return f"redirect_uri {uri!r} is not registered for this app"
        parts = urlsplit(uri)
        if parts.scheme == "https":
            return None
        if self.production_keys:
            return "production keys need an https redirect_uri"
        if parts.scheme == "http" and parts.hostname == "localhost":
            return None
        return "development keys allow https or http://localhost redirect URIs only"

    def authenticate(self, client_id: str | None, secret: str | None) -> None:
        """HTTP Basic client authentication; ``invalid_client`` answers 401.

        Raises:
            OAuthError: unknown client or wrong secret.
        """
        if client_id != self.client_id or not hmac.compare_digest(
                (secret or "").encode(), self.client_secret.encode()):
            raise OAuthError("invalid_client", 401)

    def issue_code(self, redirect_uri: str, realm_id: str, scope: str) -> str:
        """A single-use authorization code for a consent to ``realm_id``."""
        code = "AB" + secrets.token_urlsafe(36)
        with self._lock:
            self._codes[code] = _Code(redirect_uri, realm_id, scope, self.clock.now())
        return code

    # ---- token endpoint --------------------------------------------------------------------
    def exchange_code(self, code: str, redirect_uri: str | None,
                      hard_expiry: bool) -> dict[str, Any]:
        """``grant_type=authorization_code``.

        Raises:
            OAuthError: ``invalid_grant`` for an unknown, used or expired code or another
                redirect_uri.
        """
        with self._lock:
            entry = self._codes.get(code)
            if entry is None or entry.used or self.clock.now() - entry.issued > CODE_TTL:
                raise OAuthError("invalid_grant")
            entry.used = True
            if redirect_uri != entry.redirect_uri:
                raise OAuthError("invalid_grant")
            grant = self._new_grant(entry.realm_id, entry.scope)
            return self._token_set(grant, hard_expiry)

    def create_grant(self, realm_id: str, scope: str = ACCOUNTING_SCOPE,
                     hard_expiry: bool = False) -> dict[str, Any]:
        """A consent without the browser dance (tests, demo); returns its token set."""
        with self._lock:
            return self._token_set(self._new_grant(realm_id, scope), hard_expiry)

    def refresh(self, token: str, hard_expiry: bool) -> dict[str, Any]:
        """``grant_type=refresh_token``: always a new refresh token with a fresh 100 days
        (never past the five-year limit); the one used keeps working ``grace_seconds``.

        Raises:
            OAuthError: ``invalid_grant`` for an unknown, revoked, expired or long-superseded
                refresh token.
        """
        now = self.clock.now()
        with self._lock:
            entry = self._refresh.get(token)
            if entry is None or entry.grant.revoked or now >= entry.expires:
                raise OAuthError("invalid_grant")
            if entry.superseded is not None and (
                    now - entry.superseded).total_seconds() > self.grace_seconds:
                raise OAuthError("invalid_grant")
            if entry.superseded is None:
                entry.superseded = now
            return self._token_set(entry.grant, hard_expiry)

    def revoke(self, token: str) -> bool:
        """Revoke the consent behind a refresh or access token; False when unknown."""
        with self._lock:
            entry = self._refresh.get(token)
            grant = entry.grant if entry is not None else None
            if grant is None:
                bearer = self._access.get(token)
                grant = bearer[0] if bearer is not None else None
            if grant is None:
                return False
            grant.revoked = True
            return True

    def revoke_realm(self, realm_id: str | None = None) -> int:
        """Revoke every consent (to ``realm_id``): the user disconnected the app."""
        with self._lock:
            hit = [g for g in self.grants.values()
                   if realm_id is None or g.realm_id == realm_id]
            for grant in hit:
                grant.revoked = True
            return len(hit)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired from now on (fault injection)."""
        self._access.expire_all(self.clock.now())

    # ---- resource side ---------------------------------------------------------------------
    def check_access(self, token: str) -> tuple[Grant | None, str]:
        """The grant behind a bearer token, or None and the 401's ``detail``."""
        entry = self._access.get(token)
        if entry is None:
            return None, "Malformed bearer token: unknown token"
        grant, expires = entry
        if grant.revoked:
            return None, "Token revoked"
        if self.clock.now() >= expires:
            return None, f"Token expired: {token[:12]}..."
        return grant, ""

    # ---- internals -------------------------------------------------------------------------
    def _new_grant(self, realm_id: str, scope: str) -> Grant:
        grant = Grant(secrets.token_hex(12), realm_id, scope, self.clock.now())
        self.grants[grant.id] = grant
        return grant

    def _token_set(self, grant: Grant, hard_expiry: bool) -> dict[str, Any]:
        """The token response in the key order of Intuit's SDK fixture
        (intuit/QuickBooks-V3-DotNET-SDK ``Intuit.Ipp.OAuth2PlatformClient.Test/Documents/
        success_refreshtoken_response.json``; ``id_token`` is left out: no ``openid`` here)."""
        now = self.clock.now()
        access = "eyJ" + secrets.token_urlsafe(60)
        refresh = "RT1-" + secrets.token_urlsafe(40)
        expires = min(now + REFRESH_TTL, grant.hard_expiry)
        self._access.add(access, grant, now + ACCESS_TTL)
        self._refresh[refresh] = _Refresh(grant, expires)
        out: dict[str, Any] = {
            "token_type": "bearer", "expires_in": int(ACCESS_TTL.total_seconds()),
            "refresh_token": refresh,
            "x_refresh_token_expires_in": int((expires - now).total_seconds()),
            "access_token": access,
        }
        if hard_expiry:
            # the five-year limit (field name assumed: Intuit announced "a new field" in the
            # refresh response without naming it in public documentation)
            out["x_refresh_token_hard_expires_in"] = int(
                (grant.hard_expiry - now).total_seconds())
        return out
