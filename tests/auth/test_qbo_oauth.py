"""Intuit's OAuth client for QuickBooks Online against answers shaped like Intuit's
(``responses``): no network."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from arconnect.adapters.base import ConsentRequest, TenantInfo
from arconnect.adapters.quickbooks.oauth import QboOAuth
from arconnect.adapters.quickbooks.platform import QuickBooksPlatform
from arconnect.adapters.quickbooks.settings import QboSettings
from arconnect.errors import AuthError, ConfigError, ReconnectRequired, UpstreamError

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOST = "https://intuit.example"
BASIC = "Basic " + base64.b64encode(b"cid:secret").decode()


@pytest.fixture
def settings() -> QboSettings:
    return QboSettings(_env_file=None).on_host(HOST)  # type: ignore[call-arg]


@pytest.fixture
def oauth(settings: QboSettings) -> QboOAuth:
    return QboOAuth(settings, "cid", "secret", now=lambda: NOW)


def _token(**extra: object) -> dict[str, object]:
    # The shape of Intuit's token reply (intuit/QuickBooks-V3-DotNET-SDK test document
    # success_refreshtoken_response.json).
    return {"token_type": "bearer", "expires_in": 3600, "refresh_token": "rt-2",
            "x_refresh_token_expires_in": 8640000, "access_token": "at-2", **extra}


def _form(call: responses.Call) -> dict[str, str]:
    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return {k: v[0] for k, v in parse_qs(text).items()}


def test_settings_point_every_url_at_one_host(settings: QboSettings) -> None:
    assert settings.auth_url == HOST + "/connect/oauth2"
    assert settings.token_url == HOST + "/oauth2/v1/tokens/bearer"
    assert settings.revoke_url == HOST + "/v2/oauth2/tokens/revoke"
    assert settings.api_url == HOST
    defaults = QboSettings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.token_url == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    assert defaults.minor_version == 75 and defaults.minute_limit == 500


def test_consent_url(oauth: QboOAuth) -> None:
    req = oauth.authorization_url("http://localhost:8765/callback/quickbooks")
    parts = urlsplit(req.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == HOST + "/connect/oauth2"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q["response_type"] == "code" and q["client_id"] == "cid"
    assert q["scope"] == "com.intuit.quickbooks.accounting"
    assert q["redirect_uri"] == "http://localhost:8765/callback/quickbooks"
    assert q["state"] == req.state and len(req.state) >= 20
    assert oauth.authorization_url("http://x/cb").state != req.state


@responses.activate
def test_code_exchange_with_basic_auth(oauth: QboOAuth) -> None:
    responses.post(HOST + "/oauth2/v1/tokens/bearer", json=_token())
    token = oauth.exchange_code(ConsentRequest("u", "s-1"), "code-1", "s-1", "http://x/cb")
    assert token["access_token"] == "at-2" and token["refresh_token"] == "rt-2"
    assert token["expires_at"] == NOW + timedelta(seconds=3600)
    assert token["refresh_expires_at"] == NOW + timedelta(days=100)
    call = responses.calls[0]
    assert call.request.headers["Authorization"] == BASIC
    assert _form(call) == {"grant_type": "authorization_code", "code": "code-1",
                           "redirect_uri": "http://x/cb"}


def test_code_exchange_refuses_a_forged_state(oauth: QboOAuth) -> None:
    with pytest.raises(AuthError, match="state does not match"):
        oauth.exchange_code(ConsentRequest("u", "s-1"), "code-1", "s-2", "http://x/cb")


@responses.activate
def test_rolling_refresh_keeps_the_new_token_and_every_expiry(oauth: QboOAuth) -> None:
    responses.post(HOST + "/oauth2/v1/tokens/bearer",
                   json=_token(refresh_token="rt-3", x_refresh_token_expires_at="2031-10-01"))
    token = oauth.refresh("rt-2")
    assert token["refresh_token"] == "rt-3"
    assert token["x_refresh_token_expires_in"] == 8640000
    assert token["x_refresh_token_expires_at"] == "2031-10-01"  # kept, whatever its name
    assert _form(responses.calls[0]) == {"grant_type": "refresh_token", "refresh_token": "rt-2"}
    assert responses.calls[0].request.headers["Authorization"] == BASIC


@responses.activate
def test_a_refresh_reply_without_a_refresh_token_keeps_the_old_one(oauth: QboOAuth) -> None:
    body = _token()
    del body["refresh_token"]
    responses.post(HOST + "/oauth2/v1/tokens/bearer", json=body)
    assert oauth.refresh("rt-2")["refresh_token"] == "rt-2"


@responses.activate
def test_invalid_grant_is_reconnect_required_without_the_token(oauth: QboOAuth) -> None:
    responses.post(HOST + "/oauth2/v1/tokens/bearer", status=400,
                   json={"error": "invalid_grant", "error_description": "Token invalid"})
    with pytest.raises(ReconnectRequired) as err:
        oauth.refresh("rt-secret-value-1234567890")
    assert "invalid_grant" in str(err.value) and "Token invalid" in str(err.value)
    assert "rt-secret" not in str(err.value)


@responses.activate
def test_other_refusals_are_auth_errors_and_outages_upstream(oauth: QboOAuth) -> None:
    responses.post(HOST + "/oauth2/v1/tokens/bearer", status=401,
                   json={"error": "invalid_client"})
    with pytest.raises(AuthError, match="invalid_client") as err:
        oauth.refresh("rt-2")
    assert not isinstance(err.value, ReconnectRequired)
    responses.replace(responses.POST, HOST + "/oauth2/v1/tokens/bearer", status=503,
                      body="down")
    with pytest.raises(UpstreamError, match="503"):
        oauth.refresh("rt-2")


@responses.activate
def test_revoke_posts_json_with_basic_auth(oauth: QboOAuth) -> None:
    responses.post(HOST + "/v2/oauth2/tokens/revoke", status=200)
    oauth.revoke("rt-2")
    call = responses.calls[0]
    assert json.loads(call.request.body) == {"token": "rt-2"}
    assert call.request.headers["Authorization"] == BASIC
    responses.replace(responses.POST, HOST + "/v2/oauth2/tokens/revoke", status=400,
                      json={"error": "invalid_request"})
    with pytest.raises(AuthError, match="invalid_request"):
        oauth.revoke("rt-2")


@responses.activate
def test_discovery_names_the_company_of_the_redirect(settings: QboSettings) -> None:
    platform = QuickBooksPlatform()
    oauth = platform.oauth(settings, "cid", "secret")
    responses.get(HOST + "/v3/company/4620816365/companyinfo/4620816365",
                  json={"CompanyInfo": {"CompanyName": "Sandbox Company US 1"},
                        "time": "2026-11-23T01:00:00-08:00"})
    found = platform.discover(oauth, {"access_token": "at-2"}, {"realmId": "4620816365"})
    assert [(d.external_id, d.name) for d in found] == [("4620816365", "Sandbox Company US 1")]
    call = responses.calls[0]
    assert call.request.headers["Authorization"] == "Bearer at-2"
    assert "minorversion=75" in str(call.request.url)
    with pytest.raises(AuthError, match="realmId"):
        platform.discover(oauth, {"access_token": "at-2"}, {})


def test_platform_settings_limits_and_app_credentials(settings: QboSettings) -> None:
    platform = QuickBooksPlatform()
    tenant = TenantInfo("4620816365")
    assert platform.base_url(settings, tenant) == HOST + "/v3/company/4620816365"
    limits = platform.limits(settings)
    assert (limits.per_minute, limits.concurrency) == (500, 10)
    assert limits.batch_per_minute == 40 and limits.per_month == 500_000
    with pytest.raises(ConfigError, match="ARCONNECT_QBO_CLIENT_ID"):
        platform.app_credentials(settings)
    keyed = settings.model_copy(update={"client_id": "cid", "client_secret": "secret"})
    assert platform.app_credentials(keyed) == ("cid", "secret")
    assert platform.adapter(settings).minor_version == 75


def test_consent_code_exchange_refresh_and_revoke_against_the_sandbox() -> None:
    sandbox = pytest.importorskip("arconnect.sandbox.quickbooks")
    config = sandbox.QboConfig(seed=3, companies=[sandbox.CompanySpec(
        customers=3, invoices=5, payments=3)], strict_limits=False)
    with sandbox.QboSandbox(config) as sb:
        settings = QboSettings(_env_file=None).on_host(sb.url)  # type: ignore[call-arg]
        platform = QuickBooksPlatform()
        oauth = platform.oauth(settings, sb.client_id, sb.client_secret)
        redirect = "http://localhost:8765/callback/quickbooks"
        consent = oauth.authorization_url(redirect)
        back = requests.get(consent.url, allow_redirects=False, timeout=10)
        assert back.status_code == 302
        callback = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["Location"]).query).items()}
        assert callback["state"] == consent.state
        token = oauth.exchange_code(consent, callback["code"], callback["state"], redirect)
        [company] = platform.discover(oauth, token, callback)
        assert (company.external_id, company.name) == (sb.companies[0].realm_id,
                                                       sb.companies[0].name)
        rolled = oauth.refresh(str(token["refresh_token"]))
        assert rolled["refresh_token"] != token["refresh_token"]
        assert rolled["refresh_expires_at"] is not None
        oauth.revoke(str(rolled["refresh_token"]))
        with pytest.raises(ReconnectRequired):
            oauth.refresh(str(rolled["refresh_token"]))
