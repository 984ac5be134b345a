"""NetSuite's OAuth: consent with PKCE, code exchange, refresh per auth scheme, revocation, and
the request signer (a bearer token, or OAuth 1.0a for token-based authentication).

This module speaks HTTP only: it never stores a token (the token manager and the service
functions do), and never logs one or puts one in a message. Every endpoint lives on the
account's own hosts (:mod:`arconnect.adapters.netsuite.settings`):

* consent ``GET https://<account>.app.netsuite.com/app/login/oauth2/authorize.nl`` with
  ``response_type=code``, ``client_id``, ``redirect_uri``, ``scope``, ``state`` (22 to 1024
  printable characters) and a PKCE ``code_challenge`` (``S256``; ``plain`` is refused); the
  redirect back carries ``code``, ``state``, ``role``, ``entity`` and ``company`` (the account
  id) (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_158081944642.html);
* token ``POST https://<account>.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token``:
  ``authorization_code`` with ``code_verifier`` and ``refresh_token``, both with HTTP Basic
  client authentication
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_158081952044.html,
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_160855594402.html): the
  access token lives 60 minutes, the refresh token of a confidential client 7 days and is not
  rotated; ``client_credentials`` with a JWT ``client_assertion`` signed with the certificate's
  private key, no client secret
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_162755359851.html);
* revocation ``POST …/services/rest/auth/oauth2/v1/revoke`` ``token=<refresh token>``, Basic
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_161071224088.html).

The stored refresh token of a NetSuite grant is a grant secret
(:mod:`arconnect.adapters.netsuite.credentials`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import orjson
import requests
from authlib.integrations.base_client.errors import OAuthError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from arconnect.adapters.base import ConsentRequest, TokenSet
from arconnect.adapters.netsuite import credentials
from arconnect.adapters.netsuite._common import (
    AUTHORIZE,
    REVOKE,
    SUITEQL,
    TOKEN,
    error_text,
    items_of,
)
from arconnect.adapters.netsuite.settings import NsSettings
from arconnect.auth.oauth import (
    Now,
    normalize_token,
    revocation_call,
    token_call,
    utcnow,
)
from arconnect.errors import AuthError, ConfigError, ReconnectRequired, UpstreamError

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# A client-credentials JWT may live at most 60 minutes (exp - iat <= 3600); this one lives
# five minutes, well inside that and any clock skew.
JWT_LIFETIME = 300
LABEL = "NetSuite"
VENDOR = "NetSuite"

Signer = Callable[[str, str, "Mapping[str, Any] | None", str], dict[str, str]]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt_payload(token: str) -> dict[str, Any]:
    """The claims of a JWT-shaped token, unverified ({} when it is no JWT). Used only to read a
    refresh token's ``exp``; nothing is trusted from it."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def sign_jwt(header: Mapping[str, Any], claims: Mapping[str, Any],
             key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, algorithm: str) -> str:
    """A compact JWS (RFC 7515) of ``claims`` signed with ``algorithm`` (PS256/384/512:
    RSASSA-PSS with MGF1 and a salt as long as the hash; ES256/384/512: ECDSA, the signature
    as R || S; RFC 7518 sections 3.4 and 3.5)."""
    digest: hashes.HashAlgorithm = {"256": hashes.SHA256(), "384": hashes.SHA384(),
                                    "512": hashes.SHA512()}[algorithm[2:]]
    signing_input = (_b64url(orjson.dumps(dict(header))) + "."
                     + _b64url(orjson.dumps(dict(claims)))).encode()
    if algorithm.startswith("PS"):
        assert isinstance(key, rsa.RSAPrivateKey)
        signature = key.sign(signing_input,
                             padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size),
                             digest)
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
        size = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return signing_input.decode() + "." + _b64url(signature)


# -- OAuth 1.0a (token-based authentication) -------------------------------------------------


def _pct(value: str) -> str:
    """RFC 5849 section 3.6 percent-encoding (unreserved characters kept)."""
    return quote(value, safe="~")


def base_string_uri(url: str) -> str:
    """RFC 5849 section 3.4.1.2: scheme and host in lower case, the port only when not the
    scheme's default, the path; no query or fragment."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) \
        else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def signature_base_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    """RFC 5849 section 3.4.1: ``METHOD&enc(base URI)&enc(normalized parameters)``; the
    parameters (the URL's query, the request's query parameters and the ``oauth_*`` ones, not
    ``realm`` nor a JSON body) are encoded, sorted by name then value, joined ``name=value``
    by ``&``."""
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    pairs = sorted((_pct(k), _pct(v)) for k, v in [*query, *params])
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join((method.upper(), _pct(base_string_uri(url)), _pct(normalized)))


class TbaSigner:
    """The ``Authorization`` header of token-based authentication: OAuth 1.0a with
    HMAC-SHA256 and ``realm`` = the account id in its original form (``1234567_SB1``)
    (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/chapter_4247329078.html;
    RFC 5849 section 3.4.2; the key is ``consumer_secret&token_secret``). Built here rather
    than with authlib's OAuth 1 client, which signs with HMAC-SHA1, RSA-SHA1 and PLAINTEXT only.
    A JSON body is not part of the signature (RFC 5849 section 3.4.1.3.1 takes form-encoded
    bodies only); the query parameters are.

    Args:
        clock: seconds since the epoch (tests fix it).
        nonce: a fresh nonce per request (tests fix it).
    """

    def __init__(self, clock: Callable[[], float] = time.time,
                 nonce: Callable[[], str] = lambda: secrets.token_hex(16)) -> None:
        self._clock = clock
        self._nonce = nonce

    def __call__(self, method: str, url: str, params: Mapping[str, Any] | None,
                 grant: credentials.Grant) -> dict[str, str]:
        oauth = {
            "oauth_consumer_key": grant.get("consumer_key"),
            "oauth_token": grant.get("token_id"),
            "oauth_signature_method": "HMAC-SHA256",
            "oauth_timestamp": str(int(self._clock())),
            "oauth_nonce": self._nonce(),
            "oauth_version": "1.0",
        }
        query = [(str(k), _param(v)) for k, v in (params or {}).items() if v is not None]
        base = signature_base_string(method, url, [*query, *oauth.items()])
        key = f"{_pct(grant.get('consumer_secret'))}&{_pct(grant.get('token_secret'))}"
        digest = hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()
        oauth["oauth_signature"] = base64.b64encode(digest).decode()
        fields = [f'realm="{_pct(grant.account)}"'] + [
            f'{k}="{_pct(v)}"' for k, v in oauth.items()]
        return {"Authorization": "OAuth " + ", ".join(fields)}


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def make_signer(tba: TbaSigner | None = None) -> Signer:
    """The request signer of NetSuite grants: OAuth 1.0a for a TBA grant secret (the access
    token of a TBA grant is its grant secret), ``Authorization: Bearer`` for anything else."""
    sign_tba = tba or TbaSigner()

    def sign(method: str, url: str, params: Mapping[str, Any] | None, token: str
             ) -> dict[str, str]:
        if credentials.is_grant_secret(token):
            grant = credentials.decode(token)
            if grant.scheme == "tba":
                return sign_tba(method, url, params, grant)
            raise ConfigError(f"a NetSuite {grant.scheme} grant secret was used as an access "
                              "token: refresh the grant (`arconnect tenants list`)")
        return {"Authorization": f"Bearer {token}"}

    return sign


# -- the OAuth client -------------------------------------------------------------------------


class NetSuiteOAuth:
    """NetSuite's OAuth client for one integration record (client id and secret; for TBA the
    consumer key and secret).

    Args:
        settings: the host templates, scopes, refresh-token lifetime and HTTP timeout.
        client_id: the integration's client id (TBA: consumer key).
        client_secret: its client secret (TBA: consumer secret; M2M: unused).
        now: the clock for ``expires_at`` and the JWT's ``iat``.
        account: the account the consent is for (original form, ``1234567_SB1``); needed for
            consent and code exchange, which live on the account's hosts. Refresh and
            revocation read the account from the grant secret.
    """

    def __init__(self, settings: NsSettings, client_id: str, client_secret: str, *,
                 now: Now = utcnow, account: str | None = None,
                 signer: Signer | None = None) -> None:
        self.settings = settings
        self.client_id = client_id
        self._client_secret = client_secret
        self._now = now
        self.account = account.strip() if account else None
        self._sign = signer or make_signer()

    # -- URLs

    def _account(self, what: str) -> str:
        if not self.account:
            raise ConfigError(f"NetSuite {what} needs the account id: pass --account (1234567, "
                              "or 1234567_SB1 for a sandbox)")
        return self.account

    def token_url(self, account: str) -> str:
        return self.settings.rest_base(account) + TOKEN

    def revoke_url(self, account: str) -> str:
        return self.settings.rest_base(account) + REVOKE

    # -- consent

    def authorization_url(self, redirect_uri: str, scopes: str | None = None) -> ConsentRequest:
        """The consent URL with a fresh ``state`` and a PKCE S256 challenge.

        Raises:
            ConfigError: no account was given.
        """
        account = self._account("consent")
        verifier = secrets.token_urlsafe(64)[:96]
        state = secrets.token_urlsafe(32)
        challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
        query = urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
            "scope": scopes or self.settings.scopes, "state": state,
            "code_challenge": challenge, "code_challenge_method": "S256",
        }, quote_via=quote)
        url = f"{self.settings.app_base(account)}{AUTHORIZE}?{query}"
        return ConsentRequest(url=url, state=state, code_verifier=verifier)

    def exchange_code(self, request: ConsentRequest, code: str, state: str,
                      redirect_uri: str) -> TokenSet:
        """The token set for the redirect's code; its ``refresh_token`` is the grant secret.

        Raises:
            AuthError: ``state`` does not match the request's, or NetSuite refused the code.
            UpstreamError: NetSuite's token endpoint failed or could not be reached.
        """
        if not hmac.compare_digest(state.encode(), request.state.encode()):
            raise AuthError("the OAuth redirect's state does not match the consent request: "
                            "start the connection again")
        account = self._account("code exchange")
        url = self.token_url(account)
        token = self._call("code exchange", url, lambda: self._post(url, {
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": request.code_verifier}, basic=True))
        refresh = str(token.pop("refresh_token", "") or "")
        if not refresh:
            raise UpstreamError("NetSuite code exchange: the answer carries no refresh_token")
        out = normalize_token(token, self._now)
        out["refresh_token"] = credentials.encode("code", account, refresh_token=refresh)
        out["refresh_expires_at"] = self._refresh_expiry(refresh, issued=True)
        return out

    # -- refresh

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new token set for a grant secret (its ``refresh_token`` is the same secret).

        * code: a refresh grant; ``refresh_expires_at`` is the refresh token's ``exp``;
        * m2m: a new client-credentials grant (no refresh token; ``refresh_expires_at`` None);
        * tba: the access token is the grant secret itself, which the signer turns into OAuth
          1.0a signatures; it does not expire, so a "refresh" (a new grant, or a 401) checks it
          with one signed SuiteQL read: refused, the token was revoked or its role lost access.

        Raises:
            ReconnectRequired: NetSuite refused the grant (an expired or revoked refresh
                token; an expired, revoked or unknown certificate).
            AuthError: NetSuite refused the client.
            UpstreamError: the token endpoint failed or could not be reached.
            ConfigError: the stored grant secret does not decode.
        """
        grant = credentials.decode(refresh_token)
        url = self.token_url(grant.account)
        if grant.scheme == "tba":
            try:
                self.account_name(refresh_token, grant.account)
            except AuthError as err:
                raise ReconnectRequired(
                    f"NetSuite refused the token-based authentication token of account "
                    f"{grant.account} ({err}): it was revoked, or its role lost access. Create a "
                    "new access token (Setup > Users/Roles > Access Tokens) and add the grant "
                    f"again with `arconnect tenants add netsuite --account {grant.account} "
                    "--consumer-key … --consumer-secret … --token-id … --token-secret …`"
                ) from None
            return {"access_token": refresh_token, "refresh_token": refresh_token,
                    "token_type": "oauth1", "expires_at": None, "refresh_expires_at": None}
        if grant.scheme == "code":
            inner = grant.get("refresh_token")
            token = self._call("token refresh", url, lambda: self._post(url, {
                "grant_type": "refresh_token", "refresh_token": inner}, basic=True),
                account=grant.account)
            token.pop("refresh_token", None)  # a confidential client's is not rotated
            out = normalize_token(token, self._now)
            out["refresh_token"] = refresh_token
            out["refresh_expires_at"] = self._refresh_expiry(inner, issued=False)
            return out
        assertion = self.client_assertion(grant, url)
        token = self._call("client credentials", url, lambda: self._post(url, {
            "grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion}, basic=False), account=grant.account, m2m=True)
        token.pop("refresh_token", None)
        out = normalize_token(token, self._now)
        out["refresh_token"] = refresh_token
        out["refresh_expires_at"] = None
        return out

    def client_assertion(self, grant: credentials.Grant, audience: str) -> str:
        """The JWT of a client-credentials grant: header ``typ``, ``alg``, ``kid`` (the
        certificate id); claims ``iss`` (client id), ``scope`` (comma separated), ``aud`` (the
        token endpoint's URL), ``iat``, ``exp``.

        Raises:
            ConfigError: the stored key does not load or does not fit the algorithm (RS256 is
                refused before anything is sent).
        """
        algorithm = grant.get("algorithm").upper()
        key = credentials.load_private_key(grant.get("private_key"), algorithm)
        issued = int(self._now().timestamp())
        header = {"typ": "JWT", "alg": algorithm, "kid": grant.get("certificate_id")}
        scope = ",".join(s for s in self.settings.scopes.replace(",", " ").split() if s)
        claims = {"iss": self.client_id, "scope": scope, "aud": audience, "iat": issued,
                  "exp": issued + JWT_LIFETIME}
        return sign_jwt(header, claims, key, algorithm)

    # -- revoke

    def revoke(self, token: str) -> None:
        """Revoke a grant: an authorization-code grant's refresh token (and its access tokens)
        through the revocation endpoint. Client credentials and TBA tokens cannot be revoked
        through the API: an administrator revokes them in NetSuite (Setup > Integration >
        Manage Authentication > OAuth 2.0 Client Credentials (M2M) Setup, and Setup > Users/Roles
        > Access Tokens); nothing is sent for them.

        Raises:
            AuthError: NetSuite refused the request (4xx).
            UpstreamError: NetSuite failed or could not be reached.
        """
        if not credentials.is_grant_secret(token):
            account, inner = self._account("revocation"), token
        else:
            grant = credentials.decode(token)
            if grant.scheme != "code":
                return
            account, inner = grant.account, grant.get("refresh_token")
        url = self.revoke_url(account)
        revocation_call("NetSuite", url, lambda: requests.post(
            url, data={"token": inner}, auth=(self.client_id, self._client_secret),
            headers={"Accept": "application/json"}, timeout=self.settings.http_timeout))

    # -- the account behind a grant

    def account_name(self, access_token: str, account: str) -> tuple[str, bool]:
        """The account's name as people know it, and whether it is OneWorld: the root
        subsidiary's name (OneWorld accounts), else ``NetSuite account <id>``.

        Raises:
            AuthError: the token was refused (401/403): it is not for ``account``.
            UpstreamError: any other failure.
        """
        url = self.settings.rest_base(account) + SUITEQL
        params = {"limit": 1000, "offset": 0}
        headers = {"Prefer": "transient", "Accept": "application/json",
                   **self._sign("POST", url, params, access_token)}
        try:
            resp = requests.post(url, params=params, headers=headers,
                                 json={"q": "SELECT id, name, currency, parent FROM subsidiary "
                                            "ORDER BY id"},
                                 timeout=self.settings.http_timeout)
        except requests.RequestException as err:
            raise UpstreamError(f"NetSuite account {account}: {url} unreachable "
                                f"({type(err).__name__})") from None
        body = _json(resp)
        if resp.status_code in (401, 403):
            raise AuthError(f"NetSuite account {account}: the grant's token was refused (HTTP "
                            f"{resp.status_code}: {error_text(body) or 'no detail'}); check "
                            "the account id and the integration's role")
        if resp.status_code == 400:
            return f"NetSuite account {account}", False  # no subsidiary table: not OneWorld
        if resp.status_code != 200 or not isinstance(body, dict):
            raise UpstreamError(f"NetSuite account {account}: HTTP {resp.status_code} reading "
                                "its subsidiaries", status=resp.status_code)
        rows = items_of(body)
        root = next((r for r in rows if not r.get("parent")), rows[0] if rows else None)
        name = str(root.get("name") or "").strip() if root else ""
        return name or f"NetSuite account {account}", True

    # -- helpers

    def _post(self, url: str, data: dict[str, str], *, basic: bool) -> dict[str, Any]:
        """One form POST to the token endpoint: the JSON answer, an ``OAuthError`` for an
        RFC 6749 error body, ``requests.HTTPError`` for any other non-2xx."""
        resp = requests.post(url, data=data,
                             auth=(self.client_id, self._client_secret) if basic else None,
                             headers={"Accept": "application/json"},
                             timeout=self.settings.http_timeout)
        body = _json(resp)
        if resp.status_code >= 400:
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                raise OAuthError(error=body["error"], description=body.get("error_description"))
            resp.raise_for_status()
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        return body

    def _call(self, what: str, url: str, call: Callable[[], Any], *, account: str | None = None,
              m2m: bool = False) -> dict[str, Any]:
        account = account or self.account or "?"
        if m2m:
            hint = (f"; the certificate mapping of account {account} may have expired or been "
                    "revoked (Setup > Integration > Manage Authentication > OAuth 2.0 Client "
                    "Credentials (M2M) Setup): upload a new certificate and add the grant again "
                    f"with `arconnect tenants add netsuite --account {account} --client-id ... "
                    "--certificate-id ... --private-key FILE`")
            try:
                return token_call(LABEL, VENDOR, what, url, call, dead_hint=hint)
            except AuthError as err:
                if "invalid_client" in str(err):
                    raise ReconnectRequired(f"{err}{hint}") from None
                raise
        days = self.settings.refresh_token_days
        hint = (f"; the grant has expired (an authorization-code grant lasts {days} days and "
                "cannot be kept alive) or was revoked: reconnect with `arconnect tenants "
                f"connect netsuite --account {account}`, or use client credentials (M2M) for "
                "unattended syncs")
        return token_call(LABEL, VENDOR, what, url, call, dead_hint=hint,
                          with_description=True)

    def _refresh_expiry(self, refresh_token: str, *, issued: bool) -> datetime | None:
        """When a refresh token lapses: its JWT ``exp``, else (just issued) now plus the
        configured lifetime, else unknown."""
        exp = jwt_payload(refresh_token).get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return datetime.fromtimestamp(exp, UTC)
        if issued:
            return self._now() + timedelta(days=self.settings.refresh_token_days)
        return None


def _json(resp: requests.Response) -> Any:
    try:
        return orjson.loads(resp.content or b"")
    except orjson.JSONDecodeError:
        return None
