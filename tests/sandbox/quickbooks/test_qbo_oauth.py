"""Intuit OAuth 2.0 as the sandbox plays it: authorize, code exchange, rolling refresh,
revoke, redirect-URI rules, and the 401 of a dead bearer."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from arconnect.sandbox.quickbooks import QboSandbox

REDIRECT = "http://localhost:8765/callback/quickbooks"
SCOPE = "com.intuit.quickbooks.accounting"


def _authorize(sb: QboSandbox, redirect: str = REDIRECT, **extra: str) -> requests.Response:
    params = {"client_id": sb.client_id, "response_type": "code", "scope": SCOPE,
              "redirect_uri": redirect, "state": "st-1", **extra}
    return requests.get(f"{sb.url}/connect/oauth2", params=params, allow_redirects=False,
                        timeout=5)


def _token(sb: QboSandbox, secret: str | None = None, **form: str) -> requests.Response:
    return requests.post(f"{sb.url}/oauth2/v1/tokens/bearer", data=form,
                         auth=(sb.client_id, secret or sb.client_secret),
                         headers={"Accept": "application/json"}, timeout=5)


def _code(sb: QboSandbox) -> tuple[str, dict[str, list[str]]]:
    resp = _authorize(sb)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    return query["code"][0], query


def test_authorize_redirect_carries_code_state_and_realm(qbo: QboSandbox) -> None:
    code, query = _code(qbo)
    assert query["state"] == ["st-1"] and query["realmId"] == [qbo.companies[0].realm_id]
    tokens = _token(qbo, grant_type="authorization_code", code=code,
                    redirect_uri=REDIRECT).json()
    assert list(tokens) == ["token_type", "expires_in", "refresh_token",
                            "x_refresh_token_expires_in", "access_token"]
    assert tokens["expires_in"] == 3600 and tokens["x_refresh_token_expires_in"] == 8640000
    # the code is single use
    again = _token(qbo, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}


def test_consent_page_then_company_choice(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo(auto_approve=False)
    page = _authorize(sb)
    assert page.status_code == 200 and sb.companies[0].name in page.text
    form = {"client_id": sb.client_id, "response_type": "code", "scope": SCOPE,
            "redirect_uri": REDIRECT, "state": "s", "realmId": sb.companies[0].realm_id}
    allow = requests.post(f"{sb.url}/connect/oauth2", data={**form, "decision": "allow"},
                          allow_redirects=False, timeout=5)
    assert allow.status_code == 302 and "code=" in allow.headers["Location"]
    deny = requests.post(f"{sb.url}/connect/oauth2", data={**form, "decision": "deny"},
                         allow_redirects=False, timeout=5)
    assert "error=access_denied" in deny.headers["Location"]


def test_redirect_uri_rules(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo(redirect_uris=[REDIRECT, "http://127.0.0.1:8765/cb",
                                 "https://app.example/cb"])
    assert _authorize(sb, "http://localhost:9999/other").status_code == 400  # not registered
    assert _authorize(sb, "http://127.0.0.1:8765/cb").status_code == 400  # http, not localhost
    assert _authorize(sb, "https://app.example/cb").status_code == 302
    assert _authorize(sb, REDIRECT).status_code == 302
    prod = make_qbo(redirect_uris=[REDIRECT, "https://app.example/cb"], production_keys=True)
    refused = _authorize(prod, REDIRECT)
    assert refused.status_code == 400 and "https" in refused.text
    assert _authorize(prod, "https://app.example/cb").status_code == 302


def test_bad_client_credentials_are_401(qbo: QboSandbox) -> None:
    tokens = qbo.create_grant()
    resp = _token(qbo, secret="wrong", grant_type="refresh_token",
                  refresh_token=tokens["refresh_token"])
    assert resp.status_code == 401 and resp.json() == {"error": "invalid_client"}


def test_rolling_refresh_with_grace(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo(refresh_grace_seconds=600)
    first = sb.create_grant()
    second = _token(sb, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    sb.clock.advance(300)  # the superseded token still works inside the grace
    assert _token(sb, grant_type="refresh_token",
                  refresh_token=first["refresh_token"]).status_code == 200
    sb.clock.advance(400)
    late = _token(sb, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert late.status_code == 400 and late.json() == {"error": "invalid_grant"}
    assert _token(sb, grant_type="refresh_token",
                  refresh_token=second["refresh_token"]).status_code == 200


def test_refresh_token_lapses_after_100_days(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    tokens = sb.create_grant()
    sb.clock.advance(99 * 86400)
    fresh = _token(sb, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert fresh.status_code == 200  # used on day 99: a new one with 100 more days
    sb.clock.advance(101 * 86400)
    dead = _token(sb, grant_type="refresh_token", refresh_token=fresh.json()["refresh_token"])
    assert dead.json() == {"error": "invalid_grant"}


def test_hard_expiry_field_on_request(qbo: QboSandbox) -> None:
    tokens = qbo.create_grant()
    plain = _token(qbo, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert "x_refresh_token_hard_expires_in" not in plain.json()
    asked = _token(qbo, grant_type="refresh_token", refresh_token=plain.json()["refresh_token"],
                   include_hard_expiry="true").json()
    assert 0 < asked["x_refresh_token_hard_expires_in"] <= 5 * 365 * 86400
    assert asked["x_refresh_token_expires_in"] <= asked["x_refresh_token_hard_expires_in"]


def _api_status(sb: QboSandbox, tokens: dict[str, Any]) -> requests.Response:
    return requests.get(f"{sb.url}/v3/company/{tokens['realmId']}/companyinfo/"
                        f"{tokens['realmId']}",
                        headers={"Authorization": f"Bearer {tokens['access_token']}",
                                 "Accept": "application/json"}, timeout=5)


def test_revoke_kills_bearer_and_refresh(qbo: QboSandbox) -> None:
    tokens = qbo.create_grant()
    assert _api_status(qbo, tokens).status_code == 200
    resp = requests.post(f"{qbo.url}/v2/oauth2/tokens/revoke",
                         json={"token": tokens["refresh_token"]},
                         auth=(qbo.client_id, qbo.client_secret), timeout=5)
    assert resp.status_code == 200
    denied = _api_status(qbo, tokens)
    assert denied.status_code == 401
    error = denied.json()["fault"]["error"][0]
    assert error["code"] == "3200" and "AuthenticationFailed" in error["message"]
    assert re.fullmatch(r"[0-9a-f-]{36}", denied.headers["intuit_tid"])
    dead = _token(qbo, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert dead.json() == {"error": "invalid_grant"}


def test_access_token_expires_after_an_hour(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    tokens = sb.create_grant()
    sb.clock.advance(3599)
    assert _api_status(sb, tokens).status_code == 200
    sb.clock.advance(2)
    assert _api_status(sb, tokens).status_code == 401


def test_a_token_reaches_only_its_company(make_qbo: Callable[..., QboSandbox]) -> None:
    from arconnect.sandbox.quickbooks import CompanySpec

    sb = make_qbo(companies=[CompanySpec(customers=10, invoices=50, payments=30),
                             CompanySpec(name="Sandbox Company UK 1", home_currency="GBP",
                                         offset="+00:00", customers=10, invoices=50,
                                         payments=30)])
    one, two = (c.realm_id for c in sb.companies)
    assert one != two and one.isdigit() and len(one) == 16
    tokens = sb.create_grant(one)
    other = requests.get(f"{sb.url}/v3/company/{two}/preferences",
                         headers={"Authorization": f"Bearer {tokens['access_token']}"},
                         timeout=5)
    assert other.status_code == 403
