"""NetSuite auth: settings and hosts, the grant secret, tenants-add options, the PKCE consent
URL, code exchange and refresh per scheme (request bodies checked, the M2M JWT verified with
the public key), revocation, and the TBA signature against an independent computation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import responses
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from arconnect.adapters.base import ConsentRequest
from arconnect.adapters.netsuite import credentials
from arconnect.adapters.netsuite.oauth import NetSuiteOAuth, TbaSigner, make_signer
from arconnect.adapters.netsuite.settings import NsSettings, host_form, load_ns_settings
from arconnect.errors import AuthError, ConfigError, ReconnectRequired

ACCOUNT = "1234567_SB1"
REST = "https://1234567-sb1.suitetalk.api.netsuite.com"
TOKEN_URL = REST + "/services/rest/auth/oauth2/v1/token"
REVOKE_URL = REST + "/services/rest/auth/oauth2/v1/revoke"
NOW = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)


def _pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def oauth(**kw: Any) -> NetSuiteOAuth:
    return NetSuiteOAuth(NsSettings(), "cid", "csecret", now=lambda: NOW, **kw)


def _jwt(exp: int) -> str:
    def part(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256'})}.{part({'exp': exp, 'iat': exp - 604800})}.sig"


# -- settings ---------------------------------------------------------------------------------


def test_host_form_and_bases(monkeypatch: pytest.MonkeyPatch) -> None:
    assert host_form("1234567_SB1") == "1234567-sb1"
    s = NsSettings()
    assert s.rest_base(ACCOUNT) == REST
    assert s.app_base(ACCOUNT) == "https://1234567-sb1.app.netsuite.com"
    local = s.on_host("http://127.0.0.1:9000/")
    assert local.rest_base(ACCOUNT) == "http://127.0.0.1:9000/1234567-sb1"
    assert local.app_base("7654321") == "http://127.0.0.1:9000/7654321"
    assert (s.redirect_uri, s.scopes, s.concurrency, s.page_size, s.timezone,
            s.overlap_seconds, s.refresh_token_days, s.jwt_algorithm) == (
        "https://localhost:8765/callback/netsuite", "rest_webservices", 5, 1000,
        "America/Los_Angeles", 3600, 7, None)
    monkeypatch.setenv("ARCONNECT_NETSUITE_PAGE_SIZE", "1001")
    with pytest.raises(ConfigError, match="ARCONNECT_NETSUITE_PAGE_SIZE"):
        load_ns_settings()


# -- the grant secret -------------------------------------------------------------------------


def test_grant_secret_round_trip() -> None:
    secret = credentials.encode("tba", ACCOUNT, token_id="t", token_secret="ts",
                                consumer_key="ck", consumer_secret="cs")
    assert secret.startswith("ns1:") and "ts" not in secret[4:8]
    grant = credentials.decode(secret)
    assert (grant.scheme, grant.account, grant.get("token_secret")) == ("tba", ACCOUNT, "ts")
    with pytest.raises(ConfigError, match="ns1:"):
        credentials.decode("plain-refresh-token")
    with pytest.raises(ConfigError, match="does not decode"):
        credentials.decode("ns1:!!!")
    with pytest.raises(ConfigError, match="needs refresh_token"):
        credentials.encode("code", ACCOUNT)


def _opts(**kw: str | None) -> dict[str, str | None]:
    return {"account": ACCOUNT, **kw}


def test_headless_grant_per_scheme() -> None:
    cid, csec, secret = credentials.headless_grant(
        _opts(client_id="c", client_secret="s", refresh_token="r"))
    assert (cid, csec, credentials.decode(secret).get("refresh_token")) == ("c", "s", "r")
    cid, csec, secret = credentials.headless_grant(
        _opts(client_id="c", certificate_id="k", private_key=_pem(RSA_KEY)))
    grant = credentials.decode(secret)
    assert (cid, grant.scheme, grant.get("algorithm"), grant.get("certificate_id")) == (
        "c", "m2m", "PS256", "k")
    cid, csec, secret = credentials.headless_grant(
        _opts(consumer_key="ck", consumer_secret="cs", token_id="t", token_secret="ts"))
    grant = credentials.decode(secret)
    assert (cid, csec, grant.scheme, grant.get("consumer_key")) == ("ck", "cs", "tba", "ck")
    _, _, secret = credentials.headless_grant(
        _opts(client_id="c", certificate_id="k", private_key=_pem(EC_KEY)), algorithm="ES256")
    assert credentials.decode(secret).get("algorithm") == "ES256"


@pytest.mark.parametrize(("options", "words"), [
    ({"account": None, "client_id": "c", "client_secret": "s", "refresh_token": "r"},
     "--account is missing"),
    (_opts(client_id="c", client_secret="s"), "--refresh-token missing"),
    (_opts(client_id="c", certificate_id="k"), "--private-key missing"),
    (_opts(consumer_key="ck", token_id="t", token_secret="ts"), "--consumer-secret missing"),
    (_opts(client_id="c", client_secret="s", refresh_token="r", token_id="t"),
     "mixed: code .*--refresh-token.* and tba .*--token-id"),
    (_opts(client_id="c", certificate_id="k", private_key="x", consumer_key="ck"),
     "mixed: m2m"),
    (_opts(client_id="c", certificate_id="k", private_key="not a key"),
     "not an unencrypted PEM private key"),
])
def test_headless_grant_refusals(options: dict[str, str | None], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        credentials.headless_grant(options)


def test_private_key_must_fit_the_algorithm_and_never_shows() -> None:
    pem = _pem(EC_KEY)
    with pytest.raises(ConfigError, match="PS256 needs an RSA key") as err:
        credentials.headless_grant(_opts(client_id="c", certificate_id="k", private_key=pem),
                                   algorithm="PS256")
    assert "BEGIN" not in str(err.value) and pem[40:80] not in str(err.value)
    # no algorithm configured: the key's own
    for key, algorithm in ((EC_KEY, "ES256"), (RSA_KEY, "PS256")):
        _, _, secret = credentials.headless_grant(_opts(client_id="c", certificate_id="k",
                                                        private_key=_pem(key)))
        assert credentials.decode(secret).get("algorithm") == algorithm
    with pytest.raises(ConfigError, match="ES256 needs an EC key"):
        credentials.headless_grant(_opts(client_id="c", certificate_id="k",
                                         private_key=_pem(RSA_KEY)), algorithm="ES256")
    with pytest.raises(ConfigError, match="RS256"):
        credentials.headless_grant(_opts(client_id="c", certificate_id="k",
                                         private_key=_pem(RSA_KEY)), algorithm="RS256")
    with pytest.raises(ConfigError, match="secp384r1"):
        credentials.load_private_key(pem, "ES384")


# -- consent and code exchange ---------------------------------------------------------------


def test_consent_url_with_pkce() -> None:
    request = oauth(account=ACCOUNT).authorization_url("https://localhost:8765/callback/netsuite")
    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://1234567-sb1.app.netsuite.com/app/login/oauth2/authorize.nl")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == "cid"
    assert query["scope"] == "rest_webservices"
    assert query["state"] == request.state and len(request.state) >= 22
    assert query["code_challenge_method"] == "S256"
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(request.code_verifier.encode()).digest()).decode().rstrip("=")
    assert query["code_challenge"] == challenge
    assert 43 <= len(request.code_verifier) <= 128
    with pytest.raises(ConfigError, match="--account"):
        oauth().authorization_url("https://x/cb")


@responses.activate
def test_code_exchange_returns_a_grant_secret() -> None:
    exp = int((NOW + timedelta(days=7)).timestamp())
    responses.post(TOKEN_URL, json={"access_token": "at", "refresh_token": _jwt(exp),
                                    "expires_in": 3600, "token_type": "bearer"})
    request = ConsentRequest("u", "s" * 30, "v" * 60)
    token = oauth(account=ACCOUNT).exchange_code(request, "the-code", "s" * 30, "https://x/cb")
    sent = responses.calls[0].request
    body = {k: v[0] for k, v in parse_qs(str(sent.body)).items()}
    assert body == {"grant_type": "authorization_code", "code": "the-code",
                    "redirect_uri": "https://x/cb", "code_verifier": "v" * 60}
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
    grant = credentials.decode(token["refresh_token"])
    assert (grant.scheme, grant.account, grant.get("refresh_token")) == (
        "code", ACCOUNT, _jwt(exp))
    assert token["access_token"] == "at" and token["expires_at"] == NOW + timedelta(hours=1)
    assert token["refresh_expires_at"] == datetime.fromtimestamp(exp, UTC)
    with pytest.raises(AuthError, match="state"):
        oauth(account=ACCOUNT).exchange_code(request, "c", "t" * 30, "https://x/cb")


# -- refresh per scheme -----------------------------------------------------------------------


@responses.activate
def test_refresh_of_a_code_grant_keeps_the_secret() -> None:
    exp = int((NOW + timedelta(days=3)).timestamp())
    secret = credentials.encode("code", ACCOUNT, refresh_token=_jwt(exp))
    responses.post(TOKEN_URL, json={"access_token": "at2", "expires_in": 3600})
    token = oauth().refresh(secret)
    body = {k: v[0] for k, v in parse_qs(str(responses.calls[0].request.body)).items()}
    assert body == {"grant_type": "refresh_token", "refresh_token": _jwt(exp)}
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")
    assert token["refresh_token"] == secret and token["access_token"] == "at2"
    assert token["refresh_expires_at"] == datetime.fromtimestamp(exp, UTC)


@responses.activate
def test_an_expired_code_grant_asks_for_a_reconnect() -> None:
    secret = credentials.encode("code", ACCOUNT, refresh_token="r")
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
    with pytest.raises(ReconnectRequired) as err:
        oauth().refresh(secret)
    text = str(err.value)
    assert "7 days" in text and f"tenants connect netsuite --account {ACCOUNT}" in text
    assert "client credentials" in text


def _verify(token: str, key: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, sig = token.split(".")
    def dec(p: str) -> bytes:
        return base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))
    header = json.loads(dec(head))
    signing = f"{head}.{body}".encode()
    if header["alg"] == "PS256":
        key.public_key().verify(dec(sig), signing, padding.PSS(
            mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    else:
        raw = dec(sig)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                   int.from_bytes(raw[32:], "big"))
        key.public_key().verify(der, signing, ec.ECDSA(hashes.SHA256()))
    return header, json.loads(dec(body))


@pytest.mark.parametrize(("key", "algorithm"), [(RSA_KEY, "PS256"), (EC_KEY, "ES256")])
@responses.activate
def test_client_credentials_jwt(key: Any, algorithm: str) -> None:
    secret = credentials.encode("m2m", ACCOUNT, certificate_id="cert-1", private_key=_pem(key),
                                algorithm=algorithm)
    responses.post(TOKEN_URL, json={"access_token": "m2m-at", "expires_in": 3600,
                                    "token_type": "bearer"})
    token = oauth().refresh(secret)
    sent = responses.calls[0].request
    assert "Authorization" not in sent.headers
    body = {k: v[0] for k, v in parse_qs(str(sent.body)).items()}
    assert body["grant_type"] == "client_credentials"
    assert body["client_assertion_type"] == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    assert "client_secret" not in body
    header, claims = _verify(body["client_assertion"], key)
    assert header == {"typ": "JWT", "alg": algorithm, "kid": "cert-1"}
    assert claims["iss"] == "cid" and claims["scope"] == "rest_webservices"
    assert claims["aud"] == TOKEN_URL
    assert claims["iat"] == int(NOW.timestamp()) and 0 < claims["exp"] - claims["iat"] < 3600
    assert token["access_token"] == "m2m-at" and token["refresh_token"] == secret
    assert token["refresh_expires_at"] is None


def test_a_tampered_jwt_does_not_verify() -> None:
    secret = credentials.encode("m2m", ACCOUNT, certificate_id="c", private_key=_pem(RSA_KEY),
                                algorithm="PS256")
    jwt = oauth().client_assertion(credentials.decode(secret), TOKEN_URL)
    head, body, sig = jwt.split(".")
    with pytest.raises(InvalidSignature):
        _verify(f"{head}.{body}x.{sig}", RSA_KEY)


@responses.activate
def test_rs256_is_refused_before_sending() -> None:
    secret = credentials.encode("m2m", ACCOUNT, certificate_id="c", private_key=_pem(RSA_KEY),
                                algorithm="RS256")
    with pytest.raises(ConfigError, match="RS256"):
        oauth().refresh(secret)
    assert len(responses.calls) == 0


@responses.activate
def test_an_unknown_certificate_asks_for_a_new_grant() -> None:
    secret = credentials.encode("m2m", ACCOUNT, certificate_id="c", private_key=_pem(RSA_KEY),
                                algorithm="PS256")
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_client"})
    with pytest.raises(ReconnectRequired, match="certificate"):
        oauth().refresh(secret)


@responses.activate
def test_tba_refresh_checks_the_token_with_one_signed_read() -> None:
    secret = credentials.encode("tba", ACCOUNT, token_id="t", token_secret="ts",
                                consumer_key="ck", consumer_secret="cs")
    suiteql = REST + "/services/rest/query/v1/suiteql"
    responses.post(suiteql, json={"items": [], "hasMore": False})
    token = oauth().refresh(secret)
    assert token["access_token"] == secret and token["expires_at"] is None
    [call] = responses.calls
    assert str(call.request.headers["Authorization"]).startswith('OAuth realm="1234567_SB1"')
    # refused: revoked, or the role lost access: the grant needs a reconnect
    responses.replace(responses.POST, suiteql, status=401, json={
        "title": "Unauthorized", "status": 401,
        "o:errorDetails": [{"detail": "Invalid login attempt.", "o:errorCode": "INVALID_LOGIN"}]})
    with pytest.raises(ReconnectRequired, match="INVALID_LOGIN.*Access Tokens"):
        oauth().refresh(secret)


# -- revoke -----------------------------------------------------------------------------------


@responses.activate
def test_revoke_per_scheme() -> None:
    responses.post(REVOKE_URL, status=200)
    oauth().revoke(credentials.encode("code", ACCOUNT, refresh_token="r-inner"))
    assert parse_qs(str(responses.calls[0].request.body)) == {"token": ["r-inner"]}
    oauth().revoke(credentials.encode("tba", ACCOUNT, token_id="t", token_secret="ts",
                                      consumer_key="ck", consumer_secret="cs"))
    assert len(responses.calls) == 1


# -- the signer -------------------------------------------------------------------------------


def test_tba_signature_matches_an_independent_computation() -> None:
    secret = credentials.encode("tba", ACCOUNT, token_id="tok en", token_secret="t/s",
                                consumer_key="ck", consumer_secret="c&s")
    signer = TbaSigner(clock=lambda: 1_764_830_000, nonce=lambda: "n0nce")
    url = "https://1234567-SB1.suitetalk.api.netsuite.com:443/services/rest/query/v1/suiteql"
    headers = make_signer(signer)("post", url, {"limit": 1000, "offset": 0}, secret)
    auth = headers["Authorization"]
    assert auth.startswith('OAuth realm="1234567_SB1", ')
    fields = dict(p.split("=", 1) for p in auth[len("OAuth "):].split(", "))
    fields = {k: v.strip('"') for k, v in fields.items()}
    # RFC 5849 section 3.4.1, by hand
    params = {"limit": "1000", "offset": "0", "oauth_consumer_key": "ck",
              "oauth_token": "tok en", "oauth_signature_method": "HMAC-SHA256",
              "oauth_timestamp": "1764830000", "oauth_nonce": "n0nce", "oauth_version": "1.0"}
    enc = lambda s: quote(s, safe="~")  # noqa: E731
    normalized = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
    base = "&".join(["POST", enc("https://1234567-sb1.suitetalk.api.netsuite.com/services/rest"
                                 "/query/v1/suiteql"), enc(normalized)])
    expected = base64.b64encode(hmac.new(b"c%26s&t%2Fs", base.encode(),
                                         hashlib.sha256).digest()).decode()
    assert fields["oauth_signature"] == enc(expected)
    assert fields["oauth_token"] == "tok%20en"
    assert fields["oauth_signature_method"] == "HMAC-SHA256"
    assert make_signer()("GET", url, None, "plain-access") == {
        "Authorization": "Bearer plain-access"}
