"""NetSuite's identity as the sandbox plays it: OAuth 2.0 authorization code with PKCE,
OAuth 2.0 client credentials (a JWT signed with a registered certificate), and token-based
authentication (OAuth 1.0a, HMAC-SHA256).

Facts, from NetSuite's help center:

- Authorize (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/
  section_158081944642.html): ``response_type=code``, ``client_id``, ``redirect_uri``,
  ``scope`` (``restlets``, ``rest_webservices``, ``suite_analytics``, space separated),
  ``state`` (22 to 1024 printable characters), ``code_challenge`` and
  ``code_challenge_method`` (``plain`` is not supported). The redirect back carries ``state``,
  ``role``, ``entity``, ``company`` (the account id) and ``code``.
- Token (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_158081952044.html):
  Basic client authentication, ``code``, ``redirect_uri``, ``code_verifier``; access tokens live
  60 minutes (``expires_in`` 3600).
- Refresh (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_160855594402.html):
  a confidential client gets only a new access token (the refresh token is not rotated); an
  expired refresh token answers ``invalid_grant``. Oracle's example refresh tokens carry
  ``exp - iat`` = 7 days (``NsConfig.refresh_token_days``).
- Token structure (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/
  section_158255317571.html): three-part JWTs whose payload has ``sub`` (role;entity), ``aud``
  (application id;company and the client id), ``scope`` (comma separated), ``iss``
  (``https://system.netsuite.com``), ``exp``, ``iat``, ``jti``. The sandbox's tokens have that
  shape but an unverifiable third part: the sandbox looks its tokens up, it never verifies them.
- Revoke (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_161071224088.html):
  ``token=<refresh token>`` with Basic client authentication; the grant and its access tokens
  die.
- Client credentials (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/
  section_162755359851.html; setup: https://docs.oracle.com/en/cloud/saas/netsuite/
  ns-online-help/section_162686838198.html): ``client_assertion`` is a JWT with header
  ``typ=JWT``, ``alg`` PS256/PS384/PS512/ES256/ES384/ES512, ``kid`` = the certificate id of the
  mapping, and payload ``iss`` (client id), ``scope``, ``aud`` (the token endpoint URL),
  ``iat``, ``exp`` (at most 60 minutes after ``iat``). Certificates are valid at most two years.
  No refresh token: the client repeats the grant.
- Token-based authentication (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/
  section_158618788810.html): OAuth 1.0a (RFC 5849) with ``oauth_signature_method=HMAC-SHA256``
  and ``realm`` = the account id (``1234567_SB1``, not the host form); tokens do not expire
  until revoked.

Assumed (no public document pins them down): codes live 10 minutes; a TBA timestamp may be
300 seconds off the sandbox clock and a nonce is refused when seen again for the same consumer
key inside that window; every client-assertion problem answers 400 ``invalid_client``
(RFC 7523 §3.2), a bad Basic client authentication 401 ``invalid_client`` (RFC 6749 §5.2);
revoking an unknown token answers 200 (RFC 7009 §2.2); the redirect back names role ``3``
(Administrator) and entity ``-5``.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import html
import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit
from urllib.request import parse_http_list, parse_keqv_list

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509 import load_pem_x509_certificate

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.common.http import JSON, Request, Response, text
from arconnect.sandbox.common.oauth import (
    Authorize,
    OAuthError,
    client_credentials,
    error_page,
    form_of,
)
from arconnect.sandbox.netsuite.config import NsConfig, host_form

ACCESS_TTL = timedelta(hours=1)
CODE_TTL = timedelta(minutes=10)
TBA_WINDOW = 300  # seconds a TBA timestamp may be off the sandbox clock (assumed)
CLOCK_SKEW = 300  # seconds a client assertion's iat may lie ahead of the sandbox clock (assumed)
ASSERTION_MAX_SECONDS = 3600  # exp - iat of a client assertion
CERTIFICATE_YEARS = 2
SCOPES = frozenset({"restlets", "rest_webservices", "suite_analytics"})
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ISSUER = "https://system.netsuite.com"
ROLE_ADMIN = "3"  # NetSuite's Administrator role
ROLE_OTHER = "1001"  # a custom role (assumed id)
ENTITY = "-5"  # the account's first employee (assumed)
ERROR_HEADING = "Invalid Login Attempt"
TBA_METHOD = "HMAC-SHA256"

# RFC 7518 §3.4 (ECDSA: curve and hash per alg) and §3.5 (RSASSA-PSS: MGF1 with the same hash,
# salt as long as the hash); RS256 and every other alg are refused
_EC_ALGS: dict[str, tuple[type[ec.EllipticCurve], type[hashes.HashAlgorithm]]] = {
    "ES256": (ec.SECP256R1, hashes.SHA256),
    "ES384": (ec.SECP384R1, hashes.SHA384),
    "ES512": (ec.SECP521R1, hashes.SHA512),
}
_PS_ALGS: dict[str, type[hashes.HashAlgorithm]] = {
    "PS256": hashes.SHA256, "PS384": hashes.SHA384, "PS512": hashes.SHA512,
}

CONSENT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NetSuite</title></head>
<body><h1>Allow access to your NetSuite account</h1>
<p>The application <b>{client}</b> requests access to account <b>{account}</b>
(<b>{name}</b>) with scope <code>{scope}</code>.</p>
<form method="post" action="{action}">{hidden}
<button name="decision" value="allow">Continue</button>
<button name="decision" value="deny">Cancel</button></form></body></html>
"""

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as.

    Attributes:
        account_id: the account, original form (``1234567_SB1``).
        scheme: ``code`` (authorization code grant), ``m2m`` (client credentials) or ``tba``.
        client_id: the OAuth 2.0 client id, or the TBA consumer key.
    """

    account_id: str
    scheme: str
    client_id: str


@dataclass
class _Grant:
    """One authorization: a consent (``code``), a client-credentials token (``m2m``)."""

    account_id: str
    scheme: str
    client_id: str
    scope: list[str]
    refresh_exp: int | None = None  # Unix seconds (code grants)
    revoked: bool = False


@dataclass
class _Code:
    account_id: str
    client_id: str
    redirect_uri: str
    scope: list[str]
    challenge: str
    issued: datetime
    used: bool = False


@dataclass
class _Certificate:
    key: PublicKey
    issued: datetime
    expires: datetime
    revoked: bool = False


@dataclass
class _TbaToken:
    account_id: str
    secret: str
    revoked: bool = False


@dataclass
class _State:
    grants: list[_Grant] = field(default_factory=list)
    codes: dict[str, _Code] = field(default_factory=dict)
    refresh: dict[str, _Grant] = field(default_factory=dict)
    access: dict[str, tuple[_Grant, datetime]] = field(default_factory=dict)
    certificates: dict[tuple[str, str], _Certificate] = field(default_factory=dict)
    tba: dict[str, _TbaToken] = field(default_factory=dict)
    nonces: dict[str, dict[str, int]] = field(default_factory=dict)


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of a verifier (RFC 7636 §4.2)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _add_years(instant: datetime, years: int) -> datetime:
    """``instant`` on the same calendar day ``years`` later (29 February ─▶ 28 February)."""
    year = instant.year + years
    day = min(instant.day, calendar.monthrange(year, instant.month)[1])
    return instant.replace(year=year, day=day)


def _printable(value: str) -> bool:
    return all(0x20 <= ord(c) <= 0x7E for c in value)


def oauth1_escape(value: str) -> str:
    """Percent-encoding of RFC 5849 §3.6: everything but ``ALPHA DIGIT - . _ ~``."""
    return quote(value, safe="~")


def base_string_uri(url: str) -> str:
    """The base string URI of RFC 5849 §3.4.1.2: scheme and host lower case, the default port
    left out, no query or fragment."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) \
        else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def signature_base_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    """The signature base string of RFC 5849 §3.4.1.1 over decoded ``params`` (query, form
    body and protocol parameters; ``oauth_signature`` and ``realm`` are left out here).

    Normalization per §3.4.1.3.2: each name and value encoded (§3.6), pairs sorted by name then
    value, joined with ``=`` and ``&``.
    """
    pairs = sorted((oauth1_escape(k), oauth1_escape(v)) for k, v in params
                   if k not in ("oauth_signature", "realm"))
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join([oauth1_escape(method.upper()), oauth1_escape(base_string_uri(url)),
                     oauth1_escape(normalized)])


def hmac_sha256_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """HMAC-SHA256 over the base string, keyed ``consumer_secret&token_secret`` (each
    encoded), base64: RFC 5849 §3.4.2 with SHA-256 in place of SHA-1, as NetSuite's TBA
    signs. (authlib's ``oauth1.rfc5849.signature`` offers HMAC-SHA1 only and decodes header
    values twice, hence this.)"""
    key = f"{oauth1_escape(consumer_secret)}&{oauth1_escape(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def parse_oauth_header(value: str) -> dict[str, str] | None:
    """The parameters of an ``Authorization: OAuth ...`` header, decoded (RFC 5849 §3.5.1);
    None when it is not one or is malformed."""
    if value[:6].lower() != "oauth ":
        return None
    try:
        items = parse_keqv_list(parse_http_list(value[6:]))
    except (IndexError, ValueError):
        return None
    return {unquote(k.strip()): unquote(v) for k, v in items.items()}


class NsIdentity:
    """The identity server of every account the sandbox serves (thread-safe).

    Args:
        config: the integration record (client id and secret, redirect URIs, TBA consumer pair,
            refresh-token lifetime, ``auto_approve``) and the accounts.
        clock: the sandbox clock; every lifetime is measured on it.
    """

    def __init__(self, config: NsConfig, clock: SandboxClock) -> None:
        self.config = config
        self.clock = clock
        self._accounts = {a.account_id: a for a in config.accounts}
        self._by_host = {host_form(a.account_id): a.account_id for a in config.accounts}
        self._state = _State()
        self._lock = threading.Lock()

    # ---- authorize ---------------------------------------------------------------------------
    def authorize(self, req: Request, account_id: str) -> Response:
        """``GET|POST {app}/app/login/oauth2/authorize.nl``: the consent page, or (with
        ``auto_approve``, or the consent form's allow) the 302 back with ``code``, ``state``,
        ``role``, ``entity`` and ``company``.

        An unknown client or a redirect URI that is not registered, or not https or a custom
        scheme, answers an error page (nowhere safe to redirect to); every other problem
        redirects back with ``error`` (RFC 6749 §4.1.2.1).
        https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_158081944642.html
        """
        account = self._original(account_id)
        if account is None:
            return error_page(ERROR_HEADING, f"unknown account {account_id}")
        auth = Authorize.of(req)
        if auth.client_id != self.config.client_id:
            return error_page(ERROR_HEADING, "invalid_client: unknown client_id")
        problem = self.redirect_problem(auth.redirect_uri)
        if problem is not None:
            return error_page(ERROR_HEADING, f"invalid redirect_uri: {problem}")
        refused = auth.refusal()
        if refused is not None:
            return refused
        scope = auth.scope.split()
        if not scope or not set(scope) <= SCOPES:
            return auth.back({"error": "invalid_scope"})
        state = auth.params.get("state", "")
        if not 22 <= len(state) <= 1024 or not _printable(state):
            return auth.back({"error": "invalid_request",
                              "error_description": "state must be 22 to 1024 printable "
                                                   "characters"})
        method = auth.params.get("code_challenge_method", "")
        challenge = auth.params.get("code_challenge", "")
        if method != "S256" or not 43 <= len(challenge) <= 128:
            return auth.back({"error": "invalid_request",
                              "error_description": "code_challenge with "
                                                   "code_challenge_method S256 is required"})
        if req.method == "GET" and not self.config.auto_approve:
            page = CONSENT.format(client=html.escape(auth.client_id),
                                  account=html.escape(account),
                                  name=html.escape(self._accounts[account].name),
                                  scope=html.escape(" ".join(scope)),
                                  action=html.escape(req.path), hidden=auth.hidden_fields())
            return Response(200, page.encode(), content_type="text/html; charset=utf-8")
        if auth.denied:
            return auth.back({"error": "access_denied"})
        code = secrets.token_hex(24)
        with self._lock:
            self._state.codes[code] = _Code(account, auth.client_id, auth.redirect_uri, scope,
                                            challenge, self.clock.now())
        role = ROLE_ADMIN if self._accounts[account].role_is_admin else ROLE_OTHER
        return auth.back({"role": role, "entity": ENTITY, "company": account, "code": code})

    def redirect_problem(self, uri: str) -> str | None:
        """Why ``uri`` is refused, or None: registered exactly, and https or a custom scheme
        (never http)."""
        if uri not in self.config.redirect_uris:
            return f"{uri!r} is not a redirect URI of this integration record"
        scheme = urlsplit(uri).scheme.lower()
        if not scheme or scheme == "http":
            return "redirect URIs must use https or a custom scheme"
        return None

    # ---- token endpoint ----------------------------------------------------------------------
    def token(self, req: Request, account_id: str, token_url: str) -> Response:
        """``POST {rest}/services/rest/auth/oauth2/v1/token``; ``token_url`` is the URL as the
        client called it (a client assertion's ``aud`` must equal it).

        Grants: ``authorization_code``
        (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_158081952044.html),
        ``refresh_token``
        (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_160855594402.html),
        ``client_credentials``
        (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_162755359851.html).
        Errors are RFC 6749 §5.2 JSON bodies.
        """
        form = form_of(req)
        try:
            account = self._original(account_id)
            if account is None:
                raise OAuthError("invalid_request", description="unknown account")
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                self._client(req, form)
                body = self._exchange(account, form)
            elif grant_type == "refresh_token":
                body = self._refresh(account, self._client(req, form), form)
            elif grant_type == "client_credentials":
                body = self._client_credentials(account, form, token_url)
            else:
                raise OAuthError("unsupported_grant_type")
        except OAuthError as err:
            return _json(err.status, err.body())
        return _json(200, body)

    def revoke(self, req: Request, account_id: str) -> Response:
        """``POST {rest}/services/rest/auth/oauth2/v1/revoke``, form ``token=<refresh token>``
        (an access token is accepted too) with Basic client authentication: the grant and every
        access token of it die. An unknown token answers 200 (RFC 7009 §2.2).
        https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_161071224088.html
        """
        form = form_of(req)
        try:
            client_id = self._client(req, form)
        except OAuthError as err:
            return _json(err.status, err.body())
        token = form.get("token", "")
        if not token:
            return _json(400, {"error": "invalid_request"})
        account = self._original(account_id)
        with self._lock:
            grant = self._state.refresh.get(token)
            if grant is None:
                entry = self._state.access.get(token)
                grant = entry[0] if entry is not None else None
            if grant is not None and grant.account_id == account \
                    and grant.client_id == client_id:
                grant.revoked = True
        return text(200)

    # ---- resource side -----------------------------------------------------------------------
    def authenticate(self, req: Request, account_id: str, url: str) -> Principal | None:
        """Who sent ``req`` to ``account_id``: a bearer token of that account, or a valid TBA
        signature (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/
        section_158618788810.html); None on any failure (the caller answers 401
        INVALID_LOGIN).

        Args:
            req: the request.
            account_id: the account addressed (either form).
            url: the request URL as the client addressed it, without the query (the TBA base
                string URI). When it carries a query, that query's parameters are signed as
                sent; else ``req.query`` is used (whose names the HTTP layer lower-cases).
        """
        account = self._original(account_id)
        if account is None:
            return None
        auth = req.headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            return self._bearer(auth[7:].strip(), account)
        params = parse_oauth_header(auth)
        if params is None:
            return None
        return self._tba(req, account, url, params)

    # ---- harness, tests and the control API --------------------------------------------------
    def create_grant(self, account_id: str) -> dict[str, Any]:
        """An authorization-code grant without the browser dance: ``refresh_token``,
        ``access_token``, ``expires_in``, ``token_type``.

        Raises:
            KeyError: unknown account.
        """
        account = self._need(account_id)
        with self._lock:
            grant = self._new_grant(account, "code", self.config.client_id,
                                    ["rest_webservices"])
            return self._code_tokens(grant)

    def register_certificate(self, account_id: str, certificate_id: str, public_key_pem: str,
                             *, issued: datetime | None = None,
                             expires: datetime | None = None) -> None:
        """Map a certificate for client credentials (OAuth 2.0 Client Credentials (M2M)
        Setup, https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/
        section_162686838198.html).

        Args:
            account_id: the account (either form).
            certificate_id: the certificate id (the client assertion's ``kid``).
            public_key_pem: a PEM public key or X.509 certificate: RSA of 2048 bits or more
                (PS256/PS384/PS512) or EC on P-256, P-384 or P-521 (ES256/ES384/ES512).
            issued: start of validity (default now on the sandbox clock).
            expires: end of validity (default ``issued`` + 2 years).

        Raises:
            KeyError: unknown account.
            ValueError: an unusable key, or a validity longer than two years or empty.
        """
        account = self._need(account_id)
        issued = issued or self.clock.now()
        limit = _add_years(issued, CERTIFICATE_YEARS)
        expires = expires or limit
        if expires > limit:
            raise ValueError("NetSuite refuses certificates valid for more than two years")
        if expires <= issued:
            raise ValueError("the certificate expires before it is issued")
        key = _load_public_key(public_key_pem)
        with self._lock:
            self._state.certificates[(account, certificate_id)] = _Certificate(
                key, issued, expires)

    def create_tba_token(self, account_id: str) -> tuple[str, str]:
        """A TBA access token for the integration's consumer key: ``(token_id,
        token_secret)`` (64 hex characters each, as NetSuite issues them).

        Raises:
            KeyError: unknown account.
        """
        account = self._need(account_id)
        token_id, secret = secrets.token_hex(32), secrets.token_hex(32)
        with self._lock:
            self._state.tba[token_id] = _TbaToken(account, secret)
        return token_id, secret

    def revoke_account(self, account_id: str) -> None:
        """The account disconnects the integration: every grant (and its tokens), every TBA
        token and every client-credentials certificate mapping of it dies."""
        account = self._need(account_id)
        with self._lock:
            for grant in self._state.grants:
                if grant.account_id == account:
                    grant.revoked = True
            for token in self._state.tba.values():
                if token.account_id == account:
                    token.revoked = True
            for (owner, _), cert in self._state.certificates.items():
                if owner == account:
                    cert.revoked = True

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired from now on (fault injection)."""
        past = self.clock.now() - timedelta(seconds=1)
        with self._lock:
            self._state.access = {t: (g, past) for t, (g, _) in self._state.access.items()}

    def state(self) -> dict[str, Any]:
        """Counts per account, for the control API."""
        now = self.clock.now()
        out: dict[str, Any] = {}
        with self._lock:
            for account in self._accounts:
                grants = [g for g in self._state.grants if g.account_id == account]
                out[account] = {
                    "grants": sum(1 for g in grants if g.scheme == "code" and not g.revoked
                                  and (g.refresh_exp or 0) > now.timestamp()),
                    "revoked_grants": sum(1 for g in grants if g.revoked),
                    "access_tokens": sum(
                        1 for g, exp in self._state.access.values()
                        if g.account_id == account and not g.revoked and exp > now),
                    "certificates": sum(
                        1 for (owner, _), c in self._state.certificates.items()
                        if owner == account and not c.revoked and c.expires > now),
                    "tba_tokens": sum(1 for t in self._state.tba.values()
                                      if t.account_id == account and not t.revoked),
                }
        return {"accounts": out}

    # ---- grants ------------------------------------------------------------------------------
    def _client(self, req: Request, form: dict[str, str]) -> str:
        """The client id after HTTP Basic client authentication.

        Raises:
            OAuthError: 401 ``invalid_client`` (RFC 6749 §5.2).
        """
        client_id, secret = client_credentials(req, form)
        if client_id != self.config.client_id or not hmac.compare_digest(
                (secret or "").encode(), self.config.client_secret.encode()):
            raise OAuthError("invalid_client", 401)
        return client_id

    def _exchange(self, account: str, form: dict[str, str]) -> dict[str, Any]:
        """``grant_type=authorization_code``: the code single use, 10 minutes, for this
        account, the same ``redirect_uri``, and ``code_verifier`` matching the S256
        challenge (RFC 7636 §4.6)."""
        now = self.clock.now()
        with self._lock:
            entry = self._state.codes.get(form.get("code", ""))
            if entry is None or entry.used or now - entry.issued > CODE_TTL \
                    or entry.account_id != account:
                raise OAuthError("invalid_grant")
            entry.used = True
            if form.get("redirect_uri") != entry.redirect_uri:
                raise OAuthError("invalid_grant", description="redirect_uri mismatch")
            verifier = form.get("code_verifier", "")
            if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(
                    pkce_challenge(verifier), entry.challenge):
                raise OAuthError("invalid_grant", description="code_verifier mismatch")
            grant = self._new_grant(account, "code", entry.client_id, entry.scope)
            return self._code_tokens(grant)

    def _refresh(self, account: str, client_id: str, form: dict[str, str]) -> dict[str, Any]:
        """``grant_type=refresh_token``: a new access token only; the refresh token stays
        (confidential client) and dies at its ``exp``."""
        now = self.clock.now().timestamp()
        with self._lock:
            grant = self._state.refresh.get(form.get("refresh_token", ""))
            if grant is None or grant.revoked or grant.account_id != account \
                    or grant.client_id != client_id or now >= (grant.refresh_exp or 0):
                raise OAuthError("invalid_grant")
            return self._access_token(grant)

    def _client_credentials(self, account: str, form: dict[str, str],
                            token_url: str) -> dict[str, Any]:
        """``grant_type=client_credentials`` with a JWT client assertion; every assertion
        problem answers 400 ``invalid_client`` (RFC 7523 §3.2; status assumed)."""
        if form.get("client_assertion_type") != ASSERTION_TYPE \
                or not form.get("client_assertion"):
            raise OAuthError("invalid_request")
        _, claims = self._verify_assertion(account, form["client_assertion"], token_url)
        scope = claims.get("scope")
        names = [s for s in (scope if isinstance(scope, list)
                             else str(scope or "").replace(",", " ").split()) if s]
        if not names or not set(names) <= SCOPES:
            raise OAuthError("invalid_scope")
        with self._lock:
            grant = self._new_grant(account, "m2m", str(claims["iss"]), names)
            return self._access_token(grant)

    def _verify_assertion(self, account: str, assertion: str,
                          token_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The header and claims of a client assertion signed with a mapped certificate.

        Raises:
            OAuthError: ``invalid_client`` for a malformed JWT, an alg other than PS* or ES*,
                an unknown, revoked or expired certificate, a bad signature, another ``iss``
                or ``aud``, an expired assertion or one living more than an hour.
        """
        def refuse(why: str) -> OAuthError:
            return OAuthError("invalid_client", description=why)

        parts = assertion.split(".")
        if len(parts) != 3:
            raise refuse("client_assertion is not a JWT")
        try:
            header = json.loads(_unb64(parts[0]))
            claims = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except ValueError as err:
            raise refuse("client_assertion is not a JWT") from err
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise refuse("client_assertion is not a JWT")
        if str(header.get("typ", "")).upper() != "JWT":
            raise refuse("typ must be JWT")
        alg = str(header.get("alg", ""))
        if alg not in _PS_ALGS and alg not in _EC_ALGS:
            raise refuse(f"unsupported alg {alg}: use PS256/384/512 or ES256/384/512")
        now = self.clock.now()
        with self._lock:
            cert = self._state.certificates.get((account, str(header.get("kid", ""))))
        if cert is None or cert.revoked:
            raise refuse("unknown certificate (kid)")
        if not cert.issued <= now < cert.expires:
            raise refuse("the certificate is expired")
        signed = f"{parts[0]}.{parts[1]}".encode("ascii")
        if not _verify_signature(cert.key, alg, signed, signature):
            raise refuse("invalid signature")
        if claims.get("iss") != self.config.client_id:
            raise refuse("iss is not the client id of an integration record")
        aud = claims.get("aud")
        if aud != token_url and not (isinstance(aud, list) and token_url in aud):
            raise refuse("aud must be the token endpoint URL")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int | float) or not isinstance(exp, int | float) \
                or isinstance(iat, bool) or isinstance(exp, bool):
            raise refuse("iat and exp are required")
        stamp = now.timestamp()
        if exp <= stamp:
            raise refuse("the assertion is expired")
        if exp - iat > ASSERTION_MAX_SECONDS or exp <= iat:
            raise refuse("exp must be at most 60 minutes after iat")
        if iat > stamp + CLOCK_SKEW:
            raise refuse("iat is in the future")
        return header, claims

    # ---- tokens ------------------------------------------------------------------------------
    def _new_grant(self, account: str, scheme: str, client_id: str,
                   scope: list[str]) -> _Grant:
        grant = _Grant(account, scheme, client_id, list(scope))
        self._state.grants.append(grant)
        return grant

    def _jwt(self, grant: _Grant, kind: str, iat: int, exp: int) -> str:
        """A token in NetSuite's three-part shape (section_158255317571); the third part is
        random: the sandbox looks tokens up and never verifies them."""
        header = {"kid": "s.SYSTEM.sandbox", "typ": "JWT", "alg": "PS256"}
        company = grant.account_id
        payload = {"sub": f"{ROLE_ADMIN};{ENTITY}",
                   "aud": [f"{uuid.UUID(int=0)};{company}", grant.client_id],
                   "scope": grant.scope, "iss": ISSUER, "oit": iat, "exp": exp, "iat": iat,
                   "jti": f"{company}.{kind}.{uuid.uuid4()}_{iat}000.0"}
        return ".".join([_b64(json.dumps(header, separators=(",", ":")).encode()),
                         _b64(json.dumps(payload, separators=(",", ":")).encode()),
                         _b64(secrets.token_bytes(64))])

    def _access_token(self, grant: _Grant) -> dict[str, Any]:
        """A new access token of ``grant`` (lock held): the response NetSuite gives."""
        now = self.clock.now()
        iat = int(now.timestamp())
        token = self._jwt(grant, "a", iat, iat + int(ACCESS_TTL.total_seconds()))
        self._state.access[token] = (grant, now + ACCESS_TTL)
        return {"access_token": token, "expires_in": int(ACCESS_TTL.total_seconds()),
                "token_type": "bearer"}

    def _code_tokens(self, grant: _Grant) -> dict[str, Any]:
        """Access and refresh token of a new authorization-code grant (lock held)."""
        iat = int(self.clock.now().timestamp())
        grant.refresh_exp = iat + self.config.refresh_token_days * 86400
        refresh = self._jwt(grant, "r", iat, grant.refresh_exp)
        self._state.refresh[refresh] = grant
        out = self._access_token(grant)
        return {"access_token": out["access_token"], "refresh_token": refresh,
                "expires_in": out["expires_in"], "token_type": "bearer"}

    def _bearer(self, token: str, account: str) -> Principal | None:
        with self._lock:
            entry = self._state.access.get(token)
        if entry is None:
            return None
        grant, expires = entry
        if grant.revoked or self.clock.now() >= expires or grant.account_id != account:
            return None
        return Principal(grant.account_id, grant.scheme, grant.client_id)

    def _tba(self, req: Request, account: str, url: str,
             oauth: dict[str, str]) -> Principal | None:
        """Verify an OAuth 1.0a request (RFC 5849 §3.2): realm, consumer key, token,
        HMAC-SHA256 signature, timestamp within the window, nonce not seen."""
        if oauth.get("realm") != account or oauth.get("oauth_version", "1.0") != "1.0":
            return None
        if oauth.get("oauth_signature_method") != TBA_METHOD:
            return None
        consumer = oauth.get("oauth_consumer_key", "")
        if consumer != self.config.tba_consumer_key:
            return None
        with self._lock:
            token = self._state.tba.get(oauth.get("oauth_token", ""))
        if token is None or token.revoked or token.account_id != account:
            return None
        stamp = oauth.get("oauth_timestamp", "")
        nonce = oauth.get("oauth_nonce", "")
        now = int(self.clock.now().timestamp())
        if not stamp.isdigit() or abs(now - int(stamp)) > TBA_WINDOW or not nonce:
            return None
        split = urlsplit(url)
        params: list[tuple[str, str]] = (
            parse_qsl(split.query, keep_blank_values=True) if split.query
            else list(req.query.items()))
        content_type = (req.headers.get("Content-Type") or "").lower()
        if "application/x-www-form-urlencoded" in content_type:
            params += parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        params += [(k, v) for k, v in oauth.items() if k.startswith("oauth_")]
        base = signature_base_string(req.method, urlunsplit(
            (split.scheme, split.netloc, split.path, "", "")), params)
        expected = hmac_sha256_signature(base, self.config.tba_consumer_secret, token.secret)
        if not hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
            return None
        with self._lock:
            seen = self._state.nonces.setdefault(consumer, {})
            for old in [n for n, t in seen.items() if now - t > 2 * TBA_WINDOW]:
                del seen[old]
            if nonce in seen:
                return None
            seen[nonce] = now
        return Principal(account, "tba", consumer)

    # ---- accounts ----------------------------------------------------------------------------
    def _original(self, account_id: str) -> str | None:
        """The account's id in its original form, from either form; None when unknown."""
        if account_id in self._accounts:
            return account_id
        return self._by_host.get(host_form(account_id))

    def _need(self, account_id: str) -> str:
        account = self._original(account_id)
        if account is None:
            raise KeyError(f"unknown account {account_id}")
        return account


def _json(status: int, payload: Any) -> Response:
    """A token-endpoint answer: JSON, never cached (RFC 6749 §5.1)."""
    return Response(status, json.dumps(payload).encode(),
                    {"Cache-Control": "no-store", "Pragma": "no-cache"}, JSON)


def _load_public_key(pem: str) -> PublicKey:
    """The public key of a PEM public key or certificate, checked for use with PS* or ES*."""
    data = pem.encode()
    key: Any
    try:
        if b"BEGIN CERTIFICATE" in data:
            key = load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError as err:
        raise ValueError(f"not a PEM public key or certificate: {err}") from err
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError("RSA keys need at least 2048 bits")
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not any(isinstance(key.curve, curve) for curve, _ in _EC_ALGS.values()):
            raise ValueError("EC keys must be on P-256, P-384 or P-521")
        return key
    raise ValueError("only RSA and EC keys are supported")


def _verify_signature(key: PublicKey, alg: str, signed: bytes, signature: bytes) -> bool:
    """Check a JWS signature: RSASSA-PSS with MGF1 of the same hash and a salt as long as the
    hash (RFC 7518 §3.5), or ECDSA with the raw ``r || s`` signature on the alg's curve
    (RFC 7518 §3.4)."""
    try:
        if alg in _PS_ALGS:
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            digest = _PS_ALGS[alg]()
            key.verify(signature, signed,
                       padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size),
                       digest)
            return True
        curve, hash_type = _EC_ALGS[alg]
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, curve):
            return False
        size = (key.curve.key_size + 7) // 8
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hash_type()))
        return True
    except InvalidSignature:
        return False
