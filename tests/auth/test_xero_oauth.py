"""Xero's OAuth client against recorded-shape answers (``responses``): no network."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from arconnect.adapters.xero.oauth import AuthRequest, XeroOAuth
from arconnect.adapters.xero.settings import load_xero_settings
from arconnect.errors import AuthError, ReconnectRequired, UpstreamError

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TOKEN_URL = "https://identity.example/connect/token"
BASIC = "Basic " + base64.b64encode(b"cid:secret").decode()


@pytest.fixture
def oauth() -> XeroOAuth:
    settings = load_xero_settings(
        login_url="https://login.example",
        identity_url="https://identity.example/",
        api_url="https://api.example",
    )
    return XeroOAuth(settings, "cid", "secret", now=lambda: NOW)


def _token(**extra: object) -> dict[str, object]:
    return {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 1800,
            "token_type": "Bearer", "scope": "offline_access", **extra}


def _form(call: responses.Call) -> dict[str, str]:
    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return {k: v[0] for k, v in parse_qs(text).items()}


def test_authorization_url_has_state_and_pkce(oauth: XeroOAuth) -> None:
    req = oauth.authorization_url("http://localhost:8765/callback/xero")
    parts = urlsplit(req.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://login.example/identity/connect/authorize"
    )
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q["response_type"] == "code"
    assert q["client_id"] == "cid"
    assert q["redirect_uri"] == "http://localhost:8765/callback/xero"
    assert "offline_access" in q["scope"].split()
    assert q["state"] == req.state and len(req.state) >= 20
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(req.code_verifier.encode()).digest()
    ).rstrip(b"=").decode()
    assert q["code_challenge"] == challenge
    assert q["code_challenge_method"] == "S256"
    assert oauth.authorization_url("http://x/cb").state != req.state
    custom = oauth.authorization_url("http://x/cb", scopes="offline_access accounting.contacts")
    assert parse_qs(urlsplit(custom.url).query)["scope"] == ["offline_access accounting.contacts"]


@responses.activate
def test_exchange_code_posts_code_verifier_with_basic_auth(oauth: XeroOAuth) -> None:
    responses.post(TOKEN_URL, json=_token())
    req = AuthRequest(url="u", state="s-1", code_verifier="v" * 64)
    token = oauth.exchange_code(req, "code-1", "s-1", "http://x/cb")
    assert token["access_token"] == "at-1" and token["refresh_token"] == "rt-1"
    assert token["expires_at"] == NOW + timedelta(seconds=1800)
    call = responses.calls[0]
    assert call.request.headers["Authorization"] == BASIC
    assert _form(call) == {"grant_type": "authorization_code", "code": "code-1",
                           "redirect_uri": "http://x/cb", "code_verifier": "v" * 64}


@responses.activate
def test_exchange_code_rejects_a_state_mismatch_before_any_call(oauth: XeroOAuth) -> None:
    req = AuthRequest(url="u", state="s-1", code_verifier="v" * 64)
    with pytest.raises(AuthError, match="state does not match"):
        oauth.exchange_code(req, "code-1", "forged", "http://x/cb")
    assert len(responses.calls) == 0


@responses.activate
def test_exchange_code_refused(oauth: XeroOAuth) -> None:
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
    req = AuthRequest(url="u", state="s", code_verifier="v" * 64)
    with pytest.raises(AuthError):
        oauth.exchange_code(req, "used-code", "s", "http://x/cb")


@responses.activate
def test_refresh_rotates(oauth: XeroOAuth) -> None:
    responses.post(TOKEN_URL, json=_token(access_token="at-2", refresh_token="rt-2"))
    token = oauth.refresh("rt-1")
    assert (token["access_token"], token["refresh_token"]) == ("at-2", "rt-2")
    assert token["expires_at"] == NOW + timedelta(seconds=1800)
    call = responses.calls[0]
    assert call.request.headers["Authorization"] == BASIC
    assert _form(call) == {"grant_type": "refresh_token", "refresh_token": "rt-1"}


@responses.activate
def test_refresh_without_a_new_refresh_token_keeps_the_old(oauth: XeroOAuth) -> None:
    responses.post(TOKEN_URL, json={"access_token": "at-2", "expires_in": 60})
    assert oauth.refresh("rt-1")["refresh_token"] == "rt-1"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "invalid_grant"}, ReconnectRequired),
        (400, {"error": "invalid_client"}, AuthError),
        (401, "Unauthorized", AuthError),
        (503, "Service Unavailable", UpstreamError),
        (200, "<html>not json</html>", UpstreamError),
        (200, {"token_type": "Bearer"}, UpstreamError),
    ],
)
@responses.activate
def test_refresh_failures(oauth: XeroOAuth, status: int, body: object, error: type) -> None:
    if isinstance(body, dict):
        responses.post(TOKEN_URL, status=status, json=body)
    else:
        responses.post(TOKEN_URL, status=status, body=str(body))
    with pytest.raises(error) as info:
        oauth.refresh("rt-secret-value")
    assert "rt-secret-value" not in str(info.value)
    if error is AuthError:
        assert not isinstance(info.value, ReconnectRequired)


@responses.activate
def test_refresh_unreachable_is_upstream(oauth: XeroOAuth) -> None:
    responses.post(TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(UpstreamError, match="unreachable"):
        oauth.refresh("rt-1")


@responses.activate
def test_connections(oauth: XeroOAuth) -> None:
    conns = [{"id": "c-1", "tenantId": "t-1", "tenantType": "ORGANISATION", "tenantName": "A"}]
    responses.get("https://api.example/connections", json=conns)
    assert oauth.connections("at-1") == conns
    assert responses.calls[0].request.headers["Authorization"] == "Bearer at-1"
    responses.get("https://api.example/connections", status=401, json={"Title": "Unauthorized"})
    with pytest.raises(AuthError, match="refused"):
        oauth.connections("at-expired")
    responses.get("https://api.example/connections", status=500, body="oops")
    with pytest.raises(UpstreamError):
        oauth.connections("at-1")


@responses.activate
def test_revoke_posts_the_refresh_token(oauth: XeroOAuth) -> None:
    responses.post("https://identity.example/connect/revocation", status=200)
    oauth.revoke("rt-1")
    call = responses.calls[0]
    assert call.request.headers["Authorization"] == BASIC
    assert _form(call)["token"] == "rt-1"
    responses.post("https://identity.example/connect/revocation", status=400,
                   json={"error": "invalid_client"})
    with pytest.raises(AuthError, match="invalid_client"):
        oauth.revoke("rt-1")
