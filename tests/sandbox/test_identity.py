"""OAuth as Xero plays it: authorize/consent, code exchange with PKCE, rotation and grace,
revocation, /connections, 401s."""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from arconnect.sandbox.xero import XeroSandbox
from arconnect.sandbox.xero.identity import pkce_challenge

from .conftest import Client

REDIRECT = "http://127.0.0.1:8999/callback"


def _authorize(sb: XeroSandbox, **extra: str) -> requests.Response:
    params = {"response_type": "code", "client_id": sb.config.client_id,
              "redirect_uri": REDIRECT, "scope": "openid offline_access accounting.contacts",
              "state": "xyz", **extra}
    return requests.get(f"{sb.url}/identity/connect/authorize", params=params,
                        allow_redirects=False, timeout=10)


def _code(resp: requests.Response) -> dict[str, list[str]]:
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def _basic(sb: XeroSandbox) -> dict[str, str]:
    raw = f"{sb.config.client_id}:{sb.config.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _token(sb: XeroSandbox, form: dict[str, str], auth: bool = True) -> requests.Response:
    return requests.post(f"{sb.url}/connect/token", data=form,
                         headers=_basic(sb) if auth else {}, timeout=10)


def _refresh(sb: XeroSandbox, token: str) -> requests.Response:
    return _token(sb, {"grant_type": "refresh_token", "refresh_token": token})


def test_code_flow_with_pkce(shared_sb: XeroSandbox) -> None:
    sb = shared_sb
    verifier = secrets.token_urlsafe(48)
    q = _code(_authorize(sb, code_challenge=pkce_challenge(verifier),
                         code_challenge_method="S256"))
    assert q["state"] == ["xyz"]
    code = q["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": "wrong" + verifier}
    assert _token(sb, form).json() == {"error": "invalid_grant"}  # and the code is now used
    q = _code(_authorize(sb, code_challenge=pkce_challenge(verifier),
                         code_challenge_method="S256"))
    form.update(code=q["code"][0], code_verifier=verifier)
    r = _token(sb, form)
    assert r.status_code == 200
    tokens = r.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 1800
    assert {"access_token", "refresh_token", "id_token", "scope"} <= set(tokens)
    assert r.headers["Cache-Control"] == "no-store"
    # codes are single use
    assert _token(sb, form).json() == {"error": "invalid_grant"}
    conns = requests.get(f"{sb.url}/connections", timeout=10,
                         headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert [c["tenantId"] for c in conns] == [o.tenant_id for o in sb.orgs]
    assert list(conns[0]) == ["id", "authEventId", "tenantId", "tenantType", "tenantName",
                              "createdDateUtc", "updatedDateUtc"]
    assert conns[0]["tenantType"] == "ORGANISATION"


def test_public_client_pkce_without_secret(shared_sb: XeroSandbox) -> None:
    sb = shared_sb
    verifier = secrets.token_urlsafe(48)
    code = _code(_authorize(sb, code_challenge=pkce_challenge(verifier),
                            code_challenge_method="S256"))["code"][0]
    r = _token(sb, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                    "code_verifier": verifier, "client_id": sb.config.client_id}, auth=False)
    assert r.status_code == 200
    # without PKCE a client must authenticate
    code = _code(_authorize(sb))["code"][0]
    r = _token(sb, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                    "client_id": sb.config.client_id}, auth=False)
    assert r.json()["error"] == "invalid_client"


def test_code_rules(make_sb: Any) -> None:
    sb = make_sb()
    code = _code(_authorize(sb))["code"][0]
    wrong_redirect = _token(sb, {"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": "http://127.0.0.1:1/other"})
    assert wrong_redirect.json() == {"error": "invalid_grant"}
    code = _code(_authorize(sb))["code"][0]
    sb.clock.advance(301)  # codes live five minutes
    late = _token(sb, {"grant_type": "authorization_code", "code": code,
                       "redirect_uri": REDIRECT})
    assert late.status_code == 400 and late.json() == {"error": "invalid_grant"}
    bad_secret = requests.post(f"{sb.url}/connect/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": "x", "client_id": sb.config.client_id,
        "client_secret": "nope"})
    assert bad_secret.json() == {"error": "invalid_client"}
    assert _token(sb, {"grant_type": "password"}).json() == {"error": "unsupported_grant_type"}


def test_authorize_errors_and_consent_page(make_sb: Any) -> None:
    sb = make_sb(auto_approve=False)
    unknown = _authorize(sb, client_id="someone-else")
    assert unknown.status_code == 400 and "text/html" in unknown.headers["Content-Type"]
    bad = _authorize(sb, redirect_uri="http://evil.example/cb")
    assert bad.status_code == 400
    page = _authorize(sb)
    assert page.status_code == 200 and "Allow access" in page.text
    assert sb.orgs[0].name in page.text
    form = {"response_type": "code", "client_id": sb.config.client_id, "redirect_uri": REDIRECT,
            "scope": "offline_access", "state": "s1", "decision": "allow"}
    allowed = requests.post(f"{sb.url}/identity/connect/authorize", data=form,
                            allow_redirects=False, timeout=10)
    assert _code(allowed)["state"] == ["s1"]
    form["decision"] = "deny"
    denied = requests.post(f"{sb.url}/identity/connect/authorize", data=form,
                           allow_redirects=False, timeout=10)
    assert _code(denied)["error"] == ["access_denied"]


def test_refresh_rotates_with_grace(make_sb: Any) -> None:
    sb = make_sb()
    first = sb.create_grant()
    r1 = _refresh(sb, first["refresh_token"])
    assert r1.status_code == 200
    second = r1.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    # the used token still works inside the 30-minute grace, each time with a fresh pair
    sb.clock.advance(29 * 60)
    again = _refresh(sb, first["refresh_token"]).json()
    assert again["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    sb.clock.advance(2 * 60)
    late = _refresh(sb, first["refresh_token"])
    assert late.status_code == 400 and late.json() == {"error": "invalid_grant"}
    # the newest token is unaffected
    assert _refresh(sb, again["refresh_token"]).status_code == 200


def test_access_token_expires_after_30_minutes(make_sb: Any) -> None:
    sb = make_sb()
    c = Client(sb)
    assert c.get("Organisation").status_code == 200
    sb.clock.advance(30 * 60)
    r = c.get("Organisation")
    assert r.status_code == 401
    body = r.json()
    # as quoted from real Xero in freakboy3742/pyxero PR #337
    assert list(body) == ["Type", "Title", "Status", "Detail", "Instance", "Extensions"]
    assert (body["Type"], body["Title"], body["Status"]) == (None, "Unauthorized", 401)
    assert re.fullmatch(r"TokenExpired: token expired at \d\d/\d\d/\d{4} \d\d:\d\d:\d\d",
                        body["Detail"])
    c.tokens = _refresh(sb, c.tokens["refresh_token"]).json()
    assert c.get("Organisation").status_code == 200


def test_unknown_bearer_is_401(client: Client) -> None:
    client.tokens = {"access_token": "nope"}
    r = client.get("Invoices")
    assert r.status_code == 401 and r.json()["Detail"] == "AuthenticationUnsuccessful"
    assert "invalid_token" in r.headers["WWW-Authenticate"]


def test_revocation_and_revoke_all(make_sb: Any) -> None:
    sb = make_sb()
    a, b = sb.create_grant(), sb.create_grant()
    r = requests.post(f"{sb.url}/connect/revocation", data={"token": a["refresh_token"]},
                      headers=_basic(sb), timeout=10)
    assert r.status_code == 200
    assert _refresh(sb, a["refresh_token"]).json() == {"error": "invalid_grant"}
    assert Client(sb, tokens=a).get("Organisation").status_code == 401
    assert Client(sb, tokens=b).get("Organisation").status_code == 200
    sb.revoke_all()
    assert _refresh(sb, b["refresh_token"]).json() == {"error": "invalid_grant"}


def test_disconnect_one_tenant(make_sb: Any) -> None:
    from arconnect.sandbox.xero import OrgSpec

    sb = make_sb(orgs=[OrgSpec(name="A", customers=5, invoices=20, payments=10, suppliers=1,
                               bills=2),
                       OrgSpec(name="B", base_currency="USD", customers=5, invoices=20,
                               payments=10, suppliers=1, bills=2)])
    tokens = sb.create_grant()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    conns = requests.get(f"{sb.url}/connections", headers=auth, timeout=10).json()
    assert len(conns) == 2
    gone = requests.delete(f"{sb.url}/connections/{conns[1]['id']}", headers=auth, timeout=10)
    assert gone.status_code == 204
    left = requests.get(f"{sb.url}/Connections", headers=auth, timeout=10).json()
    assert [c["tenantName"] for c in left] == ["A"]
    assert Client(sb, conns[1]["tenantId"], tokens).get("Organisation").status_code == 403
    only_a = sb.create_grant([sb.orgs[0].tenant_id])
    assert Client(sb, sb.orgs[1].tenant_id, only_a).get("Organisation").status_code == 403
