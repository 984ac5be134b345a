"""Grants over real HTTP against the Xero sandbox: headless add, browser flow (PKCE),
``invalid_grant`` after revocation. Two processes refreshing one grant at once is the contract
suite's (``tests/contract``), on every platform."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import Engine

from arconnect.adapters.xero.oauth import XeroOAuth
from arconnect.adapters.xero.settings import XeroSettings, load_xero_settings
from arconnect.auth.service import add_grant, begin_connect, complete_connect
from arconnect.auth.tokens import TokenManager
from arconnect.auth.vault import TokenVault
from arconnect.errors import ReconnectRequired
from arconnect.sandbox.xero import XeroSandbox
from arconnect.store import db
from tests.auth.helpers import KEY, credential_row, small_sandbox, tenant_rows


@pytest.fixture
def server() -> Iterator[XeroSandbox]:
    with small_sandbox("A", seed=1, customers=5, invoices=20, payments=10) as sb:
        yield sb


@pytest.fixture
def settings(server: XeroSandbox) -> XeroSettings:
    return load_xero_settings(api_url=server.url, identity_url=server.url,
                         login_url=server.url, client_id="cid",
                         client_secret="secret", http_timeout=10)


@pytest.fixture
def vault() -> TokenVault:
    return TokenVault([KEY])


def _connect(server: XeroSandbox, engine: Engine, vault: TokenVault, settings: XeroSettings) -> int:
    grant = server.create_grant()
    tenants = add_grant(engine, "xero", client_id="cid", client_secret="secret",
                             refresh_token=grant["refresh_token"], vault=vault, settings=settings)
    assert [t.name for t in tenants] == ["A"]
    assert tenants[0].credential_id is not None
    return tenants[0].credential_id


def _manager(engine: Engine, cid: int, vault: TokenVault, settings: XeroSettings) -> TokenManager:
    return TokenManager(engine, cid, vault, lambda i, s: XeroOAuth(settings, i, s))


def test_headless_grant_then_refresh_and_invalid_grant(
    server: XeroSandbox, db_url: str, vault: TokenVault, settings: XeroSettings
) -> None:
    engine = db.get_engine(db_url)
    cid = _connect(server, engine, vault, settings)
    tm = _manager(engine, cid, vault, settings)
    first = tm.access_token()
    second = tm.refresh(first)
    assert second != first
    assert XeroOAuth(settings, "cid", "secret").connections(second)[0]["tenantName"] == "A"
    assert credential_row(engine, cid)["version"] == 1
    server.revoke_all()
    with pytest.raises(ReconnectRequired, match=r"tenant \d+ \(A\): .*invalid_grant"):
        tm.refresh(second)
    assert credential_row(engine, cid)["status"] == "reconnect_required"
    assert [t["status"] for t in tenant_rows(engine, cid)] == ["reconnect_required"]


def test_browser_flow_with_pkce(server: XeroSandbox, sqlite_url: str, vault: TokenVault,
                                settings: XeroSettings) -> None:
    engine = db.get_engine(sqlite_url)
    redirect = "http://localhost:9/callback/xero"
    request = begin_connect("xero", settings, redirect)
    answer = requests.get(request.url, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text[:200]
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == [request.state]
    tenants = complete_connect(engine, "xero", request, query["code"][0], query["state"][0],
                                    redirect, vault, settings)
    assert [t.name for t in tenants] == ["A"]
