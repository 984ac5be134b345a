"""The NetSuite sandbox's identity: authorization code with PKCE, refresh without rotation,
client credentials with a certificate-signed JWT, token-based authentication (OAuth 1.0a) —
driven through ``Request`` objects, no HTTP server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.oauth1.rfc5849.client_auth import ClientAuth
from authlib.oauth1.rfc5849.signature import generate_signature_base_string
from authlib.oauth1.rfc5849.util import escape
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.common.http import Request, Response
from arconnect.sandbox.netsuite.config import AccountSpec, NsConfig
from arconnect.sandbox.netsuite.identity import (
    NsIdentity,
    Principal,
    parse_oauth_header,
    pkce_challenge,
    signature_base_string,
)

SB = "1234567_SB1"
OTHER = "7654321"
REDIRECT = "https://localhost:8765/callback/netsuite"
APP = f"https://{SB.lower().replace('_', '-')}.app.netsuite.com"
REST = "https://1234567-sb1.suitetalk.api.netsuite.com"
TOKEN_URL = f"{REST}/services/rest/auth/oauth2/v1/token"
SUITEQL = f"{REST}/services/rest/query/v1/suiteql"
FORM = "application/x-www-form-urlencoded"


def make_identity(**overrides: Any) -> NsIdentity:
    """Two accounts on a clock that starts at the real now (TBA timestamps are real time)."""
    config = NsConfig(accounts=[AccountSpec(account_id=SB, customers=1, invoices=1, payments=1),
                                AccountSpec(account_id=OTHER, customers=1, invoices=1,
                                            payments=1)],
                      **overrides)
    return NsIdentity(config, SandboxClock(datetime.now(UTC)))


@pytest.fixture
def ident() -> NsIdentity:
    return make_identity()


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048)


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256")


# ---- helpers ---------------------------------------------------------------------------------
def _basic(ident: NsIdentity, secret: str | None = None) -> str:
    raw = f"{ident.config.client_id}:{secret or ident.config.client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _post(form: dict[str, str], auth: str | None = None) -> Request:
    headers = {"Content-Type": FORM}
    if auth:
        headers["Authorization"] = auth
    return Request("POST", "/services/rest/auth/oauth2/v1/token", {}, headers,
                   urlencode(form).encode())


def _json(resp: Response) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(resp.body)
    return out


def _authorize(ident: NsIdentity, verifier: str = "v" * 50, method: str = "GET",
               **extra: str) -> Response:
    params = {"response_type": "code", "client_id": ident.config.client_id,
              "redirect_uri": REDIRECT, "scope": "rest_webservices",
              "state": "s" * 24, "code_challenge": pkce_challenge(verifier),
              "code_challenge_method": "S256", **extra}
    if method == "POST":
        return ident.authorize(Request("POST", "/app/login/oauth2/authorize.nl", {},
                                       {"Content-Type": FORM}, urlencode(params).encode()), SB)
    return ident.authorize(Request("GET", "/app/login/oauth2/authorize.nl", params, {}), SB)


def _redirect(resp: Response) -> dict[str, str]:
    assert resp.status == 302, resp.body
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _exchange(ident: NsIdentity, code: str, verifier: str,
              redirect: str = REDIRECT) -> Response:
    return ident.token(_post({"grant_type": "authorization_code", "code": code,
                              "redirect_uri": redirect, "code_verifier": verifier},
                             _basic(ident)), SB, TOKEN_URL)


def _refresh(ident: NsIdentity, token: str, account: str = SB) -> Response:
    return ident.token(_post({"grant_type": "refresh_token", "refresh_token": token},
                             _basic(ident)), account, TOKEN_URL)


def _bearer(ident: NsIdentity, token: str, account: str = SB) -> Principal | None:
    req = Request("GET", "/services/rest/record/v1/customer/1", {},
                  {"Authorization": f"Bearer {token}"})
    return ident.authenticate(req, account, f"{REST}/services/rest/record/v1/customer/1")


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    out: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return out


# ---- authorization code ----------------------------------------------------------------------
def test_code_flow_with_pkce(ident: NsIdentity) -> None:
    verifier = secrets.token_urlsafe(48)
    back = _redirect(_authorize(ident, verifier))
    assert back["state"] == "s" * 24 and back["company"] == SB
    assert back["role"] == "3" and back["entity"] and back["code"]
    wrong = _exchange(ident, back["code"], "x" + verifier)
    assert wrong.status == 400 and _json(wrong)["error"] == "invalid_grant"
    # the failed attempt used the code up
    assert _json(_exchange(ident, back["code"], verifier))["error"] == "invalid_grant"

    code = _redirect(_authorize(ident, verifier))["code"]
    ok = _exchange(ident, code, verifier)
    assert ok.status == 200 and ok.headers["Cache-Control"] == "no-store"
    tokens = _json(ok)
    assert set(tokens) == {"access_token", "refresh_token", "expires_in", "token_type"}
    assert tokens["expires_in"] == 3600 and tokens["token_type"] == "bearer"
    assert len(tokens["refresh_token"].split(".")) == 3
    assert _bearer(ident, tokens["access_token"]) == Principal(SB, "code",
                                                              ident.config.client_id)
    reused = _exchange(ident, code, verifier)
    assert reused.status == 400 and _json(reused)["error"] == "invalid_grant"


def test_code_rules(ident: NsIdentity) -> None:
    verifier = "w" * 60
    code = _redirect(_authorize(ident, verifier))["code"]
    other = "arconnect://callback/netsuite"
    assert _json(_exchange(ident, code, verifier, other))["error"] == "invalid_grant"
    code = _redirect(_authorize(ident, verifier))["code"]
    ident.clock.advance(601)  # codes live ten minutes
    assert _json(_exchange(ident, code, verifier))["error"] == "invalid_grant"
    code = _redirect(_authorize(ident, verifier))["code"]
    bad_client = ident.token(_post({"grant_type": "authorization_code", "code": code,
                                    "redirect_uri": REDIRECT, "code_verifier": verifier},
                                   _basic(ident, "wrong")), SB, TOKEN_URL)
    assert bad_client.status == 401 and _json(bad_client) == {"error": "invalid_client"}
    # a code of one account is no good at another
    code = _redirect(_authorize(ident, verifier))["code"]
    elsewhere = ident.token(_post({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": REDIRECT, "code_verifier": verifier},
                                  _basic(ident)), OTHER, TOKEN_URL)
    assert _json(elsewhere)["error"] == "invalid_grant"
    assert _json(ident.token(_post({"grant_type": "password"}, _basic(ident)), SB,
                             TOKEN_URL)) == {"error": "unsupported_grant_type"}


def test_authorize_refusals(ident: NsIdentity) -> None:
    plain = _redirect(_authorize(ident, code_challenge_method="plain", code_challenge="p" * 50))
    assert plain["error"] == "invalid_request"
    missing = _redirect(_authorize(ident, code_challenge="", code_challenge_method=""))
    assert missing["error"] == "invalid_request"
    assert _redirect(_authorize(ident, state="short"))["error"] == "invalid_request"
    assert _redirect(_authorize(ident, scope="rest_webservices email"))["error"] \
        == "invalid_scope"
    assert _redirect(_authorize(ident, scope="restlets suite_analytics")).get("code")
    assert _redirect(_authorize(ident, response_type="token"))["error"] \
        == "unsupported_response_type"
    # nowhere safe to send the user: an error page
    for bad in ({"client_id": "someone-else"}, {"redirect_uri": "https://evil.example/cb"}):
        page = _authorize(ident, **bad)
        assert page.status == 400 and page.content_type.startswith("text/html")


def test_http_redirect_uri_refused_even_when_registered() -> None:
    http_uri = "http://localhost:8765/callback/netsuite"
    ident = make_identity(redirect_uris=[REDIRECT, http_uri])
    page = _authorize(ident, redirect_uri=http_uri)
    assert page.status == 400 and b"https or a custom scheme" in page.body
    custom = "arconnect://callback/netsuite"
    ident = make_identity(redirect_uris=[custom])
    resp = _authorize(ident, redirect_uri=custom)
    assert resp.status == 302 and resp.headers["Location"].startswith(custom + "?")


def test_consent_page_allow_and_deny() -> None:
    ident = make_identity(auto_approve=False)
    page = _authorize(ident)
    assert page.status == 200 and b"Allow access" in page.body and SB.encode() in page.body
    allowed = _redirect(_authorize(ident, method="POST", decision="allow"))
    assert allowed["code"] and allowed["company"] == SB
    denied = _redirect(_authorize(ident, method="POST", decision="deny"))
    assert denied == {"error": "access_denied", "state": "s" * 24}


# ---- refresh and revoke ----------------------------------------------------------------------
def test_refresh_not_rotated_and_dead_after_seven_days(ident: NsIdentity) -> None:
    grant = ident.create_grant(SB)
    claims = _claims(grant["refresh_token"])
    assert claims["exp"] - claims["iat"] == 7 * 86400
    first = _refresh(ident, grant["refresh_token"])
    assert first.status == 200
    body = _json(first)
    assert set(body) == {"access_token", "expires_in", "token_type"}  # no new refresh token
    assert body["access_token"] != grant["access_token"]
    ident.clock.advance(6 * 86400)
    assert _refresh(ident, grant["refresh_token"]).status == 200  # still the same token
    assert _refresh(ident, grant["refresh_token"], OTHER).status == 400  # another account
    ident.clock.advance(86400)
    late = _refresh(ident, grant["refresh_token"])
    assert late.status == 400 and _json(late) == {"error": "invalid_grant"}


def test_refresh_days_setting() -> None:
    ident = make_identity(refresh_token_days=1)
    token = ident.create_grant(SB)["refresh_token"]
    ident.clock.advance(86400 - 5)
    assert _refresh(ident, token).status == 200
    ident.clock.advance(10)
    assert _refresh(ident, token).status == 400


def test_access_tokens_expire_and_stay_with_their_account(ident: NsIdentity) -> None:
    grant = ident.create_grant(SB)
    assert _bearer(ident, grant["access_token"]) is not None
    assert _bearer(ident, grant["access_token"], OTHER) is None
    assert _bearer(ident, "nonsense") is None
    ident.clock.advance(3600)
    assert _bearer(ident, grant["access_token"]) is None
    fresh = _json(_refresh(ident, grant["refresh_token"]))["access_token"]
    assert _bearer(ident, fresh) is not None
    ident.expire_tokens()
    assert _bearer(ident, fresh) is None


def test_revoke(ident: NsIdentity) -> None:
    grant = ident.create_grant(SB)
    other = ident.create_grant(SB)
    req = Request("POST", "/services/rest/auth/oauth2/v1/revoke", {},
                  {"Authorization": _basic(ident, "wrong"), "Content-Type": FORM},
                  urlencode({"token": grant["refresh_token"]}).encode())
    assert ident.revoke(req, SB).status == 401
    req.headers = {"Authorization": _basic(ident), "Content-Type": FORM}
    assert ident.revoke(req, SB).status == 200
    assert _bearer(ident, grant["access_token"]) is None
    assert _json(_refresh(ident, grant["refresh_token"])) == {"error": "invalid_grant"}
    assert _bearer(ident, other["access_token"]) is not None  # another grant lives on
    ident.revoke_account(SB)
    assert _bearer(ident, other["access_token"]) is None
    assert _refresh(ident, other["refresh_token"]).status == 400
    assert ident.state()["accounts"][SB]["grants"] == 0


# ---- client credentials ----------------------------------------------------------------------
def _assertion(ident: NsIdentity, key: RSAKey | ECKey, alg: str, kid: str = "cert-1",
               **claims: Any) -> str:
    now = int(ident.clock.now().timestamp())
    payload = {"iss": ident.config.client_id, "scope": ["rest_webservices"],
               "aud": TOKEN_URL, "iat": now, "exp": now + 1800, **claims}
    return jwt.encode({"typ": "JWT", "alg": alg, "kid": kid}, payload, key, algorithms=[alg])


def _m2m(ident: NsIdentity, assertion: str, account: str = SB,
         token_url: str = TOKEN_URL) -> Response:
    return ident.token(_post({
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion}), account, token_url)


def _pem(key: RSAKey | ECKey) -> str:
    return key.as_pem(private=False).decode()


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_client_credentials_ok(ident: NsIdentity, rsa_key: RSAKey, ec_key: ECKey,
                               alg: str) -> None:
    key = rsa_key if alg.startswith("PS") else ec_key
    ident.register_certificate(SB, "cert-1", _pem(key))
    resp = _m2m(ident, _assertion(ident, key, alg))
    assert resp.status == 200, resp.body
    body = _json(resp)
    assert body["expires_in"] == 3600 and body["token_type"] == "bearer"
    assert "refresh_token" not in body
    assert _bearer(ident, body["access_token"]) == Principal(SB, "m2m",
                                                            ident.config.client_id)
    # a comma-separated scope string is fine too
    assert _m2m(ident, _assertion(ident, key, alg,
                                  scope="restlets,rest_webservices")).status == 200


def test_client_credentials_refusals(ident: NsIdentity, rsa_key: RSAKey, ec_key: ECKey) -> None:
    ident.register_certificate(SB, "cert-1", _pem(rsa_key))
    other_key = RSAKey.generate_key(2048)

    def error(resp: Response) -> str:
        assert resp.status == 400
        return str(_json(resp)["error"])

    assert error(_m2m(ident, _assertion(ident, rsa_key, "RS256"))) == "invalid_client"
    assert error(_m2m(ident, _assertion(ident, other_key, "PS256"))) == "invalid_client"
    assert error(_m2m(ident, _assertion(ident, rsa_key, "PS256", kid="nope"))) \
        == "invalid_client"
    assert error(_m2m(ident, _assertion(ident, ec_key, "ES256"))) == "invalid_client"
    now = int(ident.clock.now().timestamp())
    long_lived = _assertion(ident, rsa_key, "PS256", iat=now, exp=now + 3601)
    assert error(_m2m(ident, long_lived)) == "invalid_client"
    stale = _assertion(ident, rsa_key, "PS256", iat=now - 3000, exp=now - 1)
    assert error(_m2m(ident, stale)) == "invalid_client"
    assert error(_m2m(ident, _assertion(ident, rsa_key, "PS256"),
                      token_url=f"{REST}/services/rest/auth/oauth2/v1/tokens")) \
        == "invalid_client"
    assert error(_m2m(ident, _assertion(ident, rsa_key, "PS256", iss="someone"))) \
        == "invalid_client"
    assert error(_m2m(ident, _assertion(ident, rsa_key, "PS256", scope="email"))) \
        == "invalid_scope"
    # a certificate mapped in one account is unknown in another
    assert error(_m2m(ident, _assertion(ident, rsa_key, "PS256"), OTHER)) == "invalid_client"
    assert _m2m(ident, _assertion(ident, rsa_key, "PS256")).status == 200


def test_certificates_expire_and_live_two_years_at_most(ident: NsIdentity,
                                                        rsa_key: RSAKey) -> None:
    now = ident.clock.now()
    ident.register_certificate(SB, "short", _pem(rsa_key), expires=now + timedelta(days=1))
    assert _m2m(ident, _assertion(ident, rsa_key, "PS256", kid="short")).status == 200
    ident.clock.advance(86400)
    expired = _m2m(ident, _assertion(ident, rsa_key, "PS256", kid="short"))
    assert expired.status == 400 and _json(expired)["error"] == "invalid_client"
    with pytest.raises(ValueError, match="two years"):
        ident.register_certificate(SB, "long", _pem(rsa_key), issued=now,
                                   expires=now + timedelta(days=2 * 366 + 1))
    ident.register_certificate(SB, "max", _pem(rsa_key), issued=now)  # two years, the default
    ident.clock.advance(700 * 86400)
    assert _m2m(ident, _assertion(ident, rsa_key, "PS256", kid="max")).status == 200
    with pytest.raises(ValueError, match="2048"):
        weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
        ident.register_certificate(SB, "weak", weak.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
    ident.revoke_account(SB)
    assert _m2m(ident, _assertion(ident, rsa_key, "PS256", kid="max")).status == 400


# ---- token-based authentication --------------------------------------------------------------
def _hmac_sha256(client: ClientAuth, request: Any) -> str:
    """HMAC-SHA256 on authlib's RFC 5849 base string, as NetSuite clients register it."""
    base = generate_signature_base_string(request)
    key = f"{escape(client.client_secret or '')}&{escape(client.token_secret or '')}"
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()
                            ).decode()


class _Sha256Auth(ClientAuth):  # type: ignore[misc]
    SIGNATURE_METHODS = {**ClientAuth.SIGNATURE_METHODS, "HMAC-SHA256": _hmac_sha256}


def _signed(ident: NsIdentity, token: tuple[str, str], *, realm: str = SB,
            consumer_secret: str | None = None, method: str = "POST",
            query: dict[str, str] | None = None, body: bytes = b'{"q": "SELECT id FROM term"}',
            ) -> tuple[Request, str]:
    """A request signed by authlib's OAuth 1 client (as the ``netsuite`` library signs)."""
    auth = _Sha256Auth(ident.config.tba_consumer_key,
                       client_secret=consumer_secret or ident.config.tba_consumer_secret,
                       token=token[0], token_secret=token[1], realm=realm,
                       signature_method="HMAC-SHA256", force_include_body=True)
    query = query if query is not None else {"limit": "1000", "offset": "0"}
    url = SUITEQL + ("?" + urlencode(query) if query else "")
    headers = {"Content-Type": "application/json", "Prefer": "transient"}
    _, headers, _ = auth.prepare(method, url, headers, body)
    return Request(method, urlsplit(SUITEQL).path, query, headers, body), SUITEQL


def test_rfc5849_base_string_example() -> None:
    """RFC 5849 §3.4.1.1's worked example, verbatim."""
    header = ('OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", '
              'oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", '
              'oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", '
              'oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D"')
    oauth = parse_oauth_header(header)
    assert oauth is not None and oauth["realm"] == "Example"
    assert oauth["oauth_signature"] == "bYT5CMsGcbgUdFHObYMEfcx6bsw="
    params = [("b5", "=%3D"), ("a3", "a"), ("c@", ""), ("a2", "r b"), ("c2", ""), ("a3", "2 q")]
    params += list(oauth.items())
    assert signature_base_string("POST", "http://example.com:80/request", params) == (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D"
        "%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_"
        "nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201"
        "%26oauth_token%3Dkkk9d7dh3k39sjv7")


def test_tba_signed_request_authenticates(ident: NsIdentity) -> None:
    token = ident.create_tba_token(SB)
    req, url = _signed(ident, token)
    assert req.headers["Authorization"].startswith('OAuth realm="1234567_SB1"')
    assert ident.authenticate(req, SB, url) == Principal(SB, "tba",
                                                         ident.config.tba_consumer_key)
    # the host form of the account names the same account
    get, url = _signed(ident, token, method="GET", body=b"", query={})
    assert ident.authenticate(get, "1234567-sb1", url) is not None


def test_tba_refusals(ident: NsIdentity) -> None:
    token = ident.create_tba_token(SB)
    req, url = _signed(ident, token, consumer_secret="wrong")
    assert ident.authenticate(req, SB, url) is None
    req, url = _signed(ident, (token[0], "wrong"))
    assert ident.authenticate(req, SB, url) is None
    req, url = _signed(ident, token, realm="1234567-sb1")
    assert ident.authenticate(req, SB, url) is None
    # the signature covers the query: another offset is another request
    req, url = _signed(ident, token)
    req.query = {"limit": "1000", "offset": "1000"}
    assert ident.authenticate(req, SB, url) is None
    req, url = _signed(ident, token)
    assert ident.authenticate(req, SB, url) is not None
    assert ident.authenticate(req, SB, url) is None  # replayed nonce
    # tokens of another account
    other = ident.create_tba_token(OTHER)
    req, url = _signed(ident, other)
    assert ident.authenticate(req, SB, url) is None
    req, url = _signed(ident, other, realm=OTHER)
    assert ident.authenticate(req, OTHER, url) is not None
    req, url = _signed(ident, token)
    ident.clock.advance(301)
    assert ident.authenticate(req, SB, url) is None  # stale timestamp


def test_tba_revoked_token(ident: NsIdentity) -> None:
    token = ident.create_tba_token(SB)
    req, url = _signed(ident, token)
    assert ident.authenticate(req, SB, url) is not None
    ident.revoke_account(SB)
    req, url = _signed(ident, token)
    assert ident.authenticate(req, SB, url) is None
    assert ident.state()["accounts"][SB]["tba_tokens"] == 0


def test_tba_signing_matches_an_independent_signer(ident: NsIdentity) -> None:
    """A signer written here from RFC 5849 (§3.4.1, §3.4.2 with SHA-256, §3.5.1) agrees."""
    from urllib.parse import quote

    def enc(value: str) -> str:
        return quote(value, safe="~")

    token_id, token_secret = ident.create_tba_token(SB)
    oauth = {"oauth_consumer_key": ident.config.tba_consumer_key, "oauth_token": token_id,
             "oauth_signature_method": "HMAC-SHA256", "oauth_timestamp": str(int(time.time())),
             "oauth_nonce": secrets.token_hex(8), "oauth_version": "1.0"}
    query = {"limit": "5", "offset": "10"}
    pairs = sorted((enc(k), enc(v)) for k, v in [*query.items(), *oauth.items()])
    base = "&".join(["GET", enc(SUITEQL), enc("&".join(f"{k}={v}" for k, v in pairs))])
    key = f"{enc(ident.config.tba_consumer_secret)}&{enc(token_secret)}"
    oauth["oauth_signature"] = base64.b64encode(
        hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()).decode()
    header = "OAuth " + ", ".join([f'realm="{SB}"'] +
                                  [f'{k}="{enc(v)}"' for k, v in oauth.items()])
    req = Request("GET", urlsplit(SUITEQL).path, query, {"Authorization": header})
    assert ident.authenticate(req, SB, SUITEQL) is not None
