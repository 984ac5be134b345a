"""Xero's OAuth 2.0 as the sandbox plays it: codes, grants, rotating refresh tokens.

Facts (https://developer.xero.com/documentation/guides/oauth2/auth-flow/ and
https://developer.xero.com/faq/oauth2): codes are single use and live 5 minutes; access tokens
live 30 minutes (``expires_in`` 1800); every refresh returns a new refresh token and the used one
may be retried for a 30-minute grace; unused refresh tokens lapse after 60 days; one grant
reaches several organisations (its connections). Access and refresh tokens here are opaque random
strings — real access tokens are RS256 JWTs; clients must not look inside either. The optional
``id_token`` is an HS256 JWT signed with the client secret (real Xero signs RS256).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.common.oauth import AccessTokens, OAuthError

CODE_TTL = timedelta(minutes=5)
ACCESS_TTL = timedelta(minutes=30)
REFRESH_IDLE_TTL = timedelta(days=60)


@dataclass
class Connection:
    """One organisation reachable through a grant (a row of ``GET /connections``)."""

    id: str
    tenant_id: str
    auth_event_id: str
    created: datetime
    updated: datetime


@dataclass
class Grant:
    """A user's consent: scopes, connections, live tokens."""

    id: str
    client_id: str
    scope: str
    connections: list[Connection] = field(default_factory=list)
    revoked: bool = False
    pkce: bool = False
    user_id: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    method: str | None
    tenant_ids: list[str]
    issued: datetime
    used: bool = False


@dataclass
class _Refresh:
    grant: Grant
    issued: datetime
    first_used: datetime | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of a verifier (RFC 7636 §4.2)."""
    return _b64(hashlib.sha256(verifier.encode()).digest())


class Identity:
    """The identity server's state.

    Args:
        clock: the sandbox clock (every lifetime is measured on it).
        client_id: the registered app.
        client_secret: its secret.
        tenant_ids: the organisations a consent can connect.
        grace_seconds: how long a used refresh token still works.
        redirect_uris: allowed redirect URIs (None: any loopback http or any https URI).
    """

    def __init__(self, clock: SandboxClock, client_id: str, client_secret: str,
                 tenant_ids: list[str], grace_seconds: int = 1800,
                 redirect_uris: list[str] | None = None) -> None:
        self.clock = clock
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant_ids = list(tenant_ids)
        self.grace = timedelta(seconds=grace_seconds)
        self.redirect_uris = redirect_uris
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._access: AccessTokens[Grant] = AccessTokens()
        self.grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    # ---- authorize ------------------------------------------------------------------------
    def redirect_allowed(self, uri: str) -> bool:
        """Xero: https only, except localhost; no wildcards (https://developer.xero.com/faq/oauth2)."""
        if self.redirect_uris is not None:
            return uri in self.redirect_uris
        loopback = ("http://localhost", "http://127.0.0.1", "http://[::1]")
        return uri.startswith("https://") or any(
            uri == p or uri.startswith(p + ":") or uri.startswith(p + "/") for p in loopback)

    def issue_code(self, client_id: str, redirect_uri: str, scope: str,
                   challenge: str | None, method: str | None,
                   tenant_ids: list[str] | None = None) -> str:
        """A single-use authorization code for a consent."""
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = _Code(client_id, redirect_uri, scope, challenge, method,
                                      list(tenant_ids or self.tenant_ids), self.clock.now())
        return code

    # ---- token endpoint -------------------------------------------------------------------
    def authenticate(self, client_id: str | None, client_secret: str | None) -> None:
        """Client authentication (Basic or body); raises ``invalid_client`` (assumed 400)."""
        if client_id != self.client_id or not hmac.compare_digest(
                (client_secret or "").encode(), self.client_secret.encode()):
            raise OAuthError("invalid_client")

    def exchange_code(self, code: str, redirect_uri: str | None, verifier: str | None,
                      public: bool = False) -> dict[str, Any]:
        """``grant_type=authorization_code``: one use, 5 minutes, PKCE S256 when challenged.

        A ``public`` client (no secret: Xero's "Auth Code with PKCE" app type) must have sent
        a code challenge.
        """
        with self._lock:
            entry = self._codes.get(code)
            if entry is None or entry.used or self.clock.now() - entry.issued > CODE_TTL:
                raise OAuthError("invalid_grant")
            entry.used = True
            if public and entry.challenge is None:
                raise OAuthError("invalid_client")
            if redirect_uri != entry.redirect_uri:
                raise OAuthError("invalid_grant")
            if entry.challenge is not None:
                if not verifier or entry.method not in (None, "S256", "plain"):
                    raise OAuthError("invalid_grant")
                expected = verifier if entry.method == "plain" else pkce_challenge(verifier)
                if not hmac.compare_digest(expected, entry.challenge):
                    raise OAuthError("invalid_grant")
            grant = self._new_grant(entry.client_id, entry.scope, entry.tenant_ids)
            grant.pkce = entry.challenge is not None
            return self._token_set(grant, with_id_token="openid" in entry.scope.split())

    def create_grant(self, tenant_ids: list[str] | None = None,
                     scope: str = "offline_access accounting.contacts accounting.transactions "
                                  "accounting.settings") -> dict[str, Any]:
        """A grant without the browser dance (tests, benchmarks); returns its token set."""
        with self._lock:
            grant = self._new_grant(self.client_id, scope, list(tenant_ids or self.tenant_ids))
            return self._token_set(grant, with_id_token=False)

    def refresh(self, token: str, public: bool = False) -> dict[str, Any]:
        """``grant_type=refresh_token``: always a NEW pair; the old token keeps working for
        the grace period after its first use (each retry in the grace gets a fresh pair too —
        assumed, the docs only say it "can be retried"); then ``invalid_grant``."""
        now = self.clock.now()
        with self._lock:
            entry = self._refresh.get(token)
            if entry is None or entry.grant.revoked:
                raise OAuthError("invalid_grant")
            if public and not entry.grant.pkce:
                raise OAuthError("invalid_client")
            if entry.first_used is None:
                if now - entry.issued > REFRESH_IDLE_TTL:
                    raise OAuthError("invalid_grant")
                entry.first_used = now
            elif now - entry.first_used > self.grace:
                raise OAuthError("invalid_grant")
            grant = entry.grant
            return self._token_set(grant, with_id_token=False)

    def revoke(self, token: str) -> None:
        """``POST /connect/revocation``: revoke the grant behind a refresh token (any token
        of an unknown kind is ignored, RFC 7009 §2.2)."""
        with self._lock:
            entry = self._refresh.get(token)
            if entry is not None:
                self._revoke(entry.grant)

    def revoke_all(self) -> None:
        """Revoke every grant (every refresh then fails with ``invalid_grant``)."""
        with self._lock:
            for grant in self.grants.values():
                self._revoke(grant)

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expired (fault injection)."""
        self._access.expire_all(self.clock.now())

    # ---- resource side --------------------------------------------------------------------
    def check_access(self, token: str) -> tuple[Grant | None, str]:
        """The grant behind a bearer token, or None and the ``Detail`` of Xero's 401."""
        entry = self._access.get(token)
        if entry is None or entry[0].revoked:
            return None, "AuthenticationUnsuccessful"
        grant, expires = entry
        if self.clock.now() >= expires:
            return None, f"TokenExpired: token expired at {expires:%m/%d/%Y %H:%M:%S}"
        return grant, ""

    def remove_connection(self, grant: Grant, connection_id: str) -> bool:
        """``DELETE /connections/{id}``: disconnect one organisation from the grant."""
        with self._lock:
            before = len(grant.connections)
            grant.connections = [c for c in grant.connections if c.id != connection_id]
            return len(grant.connections) < before

    # ---- internals ------------------------------------------------------------------------
    def _new_grant(self, client_id: str, scope: str, tenant_ids: list[str]) -> Grant:
        now = self.clock.now()
        grant = Grant(id=secrets.token_hex(16), client_id=client_id, scope=scope)
        event = _uuid()
        grant.connections = [Connection(_uuid(), t, event, now, now) for t in tenant_ids]
        self.grants[grant.id] = grant
        return grant

    def _token_set(self, grant: Grant, with_id_token: bool) -> dict[str, Any]:
        now = self.clock.now()
        access = secrets.token_urlsafe(48)
        self._access.add(access, grant, now + ACCESS_TTL)
        out: dict[str, Any] = {}
        if with_id_token:
            out["id_token"] = self._id_token(grant, now)
        out.update({"access_token": access, "expires_in": int(ACCESS_TTL.total_seconds()),
                    "token_type": "Bearer", "scope": grant.scope})
        if "offline_access" in grant.scope.split():
            refresh = secrets.token_hex(32)
            self._refresh[refresh] = _Refresh(grant, now)
            out["refresh_token"] = refresh
        return out

    def _revoke(self, grant: Grant) -> None:
        grant.revoked = True
        grant.connections = []

    def _id_token(self, grant: Grant, now: datetime) -> str:
        header = {"alg": "HS256", "typ": "JWT"}
        iat = int(now.timestamp())
        claims = {"iss": "https://identity.xero.com", "aud": grant.client_id, "iat": iat,
                  "exp": iat + 300, "sub": grant.user_id, "xero_userid": grant.user_id,
                  "email": "demo@arconnect.example", "given_name": "Demo",
                  "family_name": "User"}
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        sig = hmac.new(self.client_secret.encode(), signing.encode(), hashlib.sha256).digest()
        return f"{signing}.{_b64(sig)}"


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())
