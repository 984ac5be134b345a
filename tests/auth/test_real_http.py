"""Grants over real HTTP against the Xero sandbox: headless add, browser flow (PKCE), refresh
from two processes at once, ``invalid_grant`` after revocation."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import Engine

from arconnect.auth.service import add_grant, begin_connect, complete_connect
from arconnect.auth.tokens import TokenManager
from arconnect.auth.vault import TokenVault
from arconnect.adapters.xero.oauth import XeroOAuth
from arconnect.errors import ReconnectRequired
from arconnect.sandbox.xero import XeroSandbox
from arconnect.settings import Settings, load_settings
from arconnect.store import db
from tests.auth.helpers import KEY, credential_row, small_sandbox, tenant_rows


@pytest.fixture
def server() -> Iterator[XeroSandbox]:
    with small_sandbox("A", seed=1, customers=5, invoices=20, payments=10) as sb:
        yield sb


@pytest.fixture
def settings(server: XeroSandbox) -> Settings:
    return load_settings(xero_api_url=server.url, xero_identity_url=server.url,
                         xero_login_url=server.url, xero_client_id="cid",
                         xero_client_secret="secret", http_timeout=10)


@pytest.fixture
def vault() -> TokenVault:
    return TokenVault([KEY])


def _connect(server: XeroSandbox, engine: Engine, vault: TokenVault, settings: Settings) -> int:
    grant = server.create_grant()
    tenants = add_grant(engine, "xero", client_id="cid", client_secret="secret",
                             refresh_token=grant["refresh_token"], vault=vault, settings=settings)
    assert [t.name for t in tenants] == ["A"]
    assert tenants[0].credential_id is not None
    return tenants[0].credential_id


def _manager(engine: Engine, cid: int, vault: TokenVault, settings: Settings) -> TokenManager:
    return TokenManager(engine, cid, vault, lambda i, s: XeroOAuth(settings, i, s))


def test_headless_grant_then_refresh_and_invalid_grant(
    server: XeroSandbox, db_url: str, vault: TokenVault, settings: Settings
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
                                settings: Settings) -> None:
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


CHILD = """
import json, sys
from arconnect.auth.tokens import TokenManager
from arconnect.auth.vault import TokenVault
from arconnect.adapters.xero.oauth import XeroOAuth
from arconnect.settings import load_settings
from arconnect.store.db import get_engine

url, base, cid, stale, key = sys.argv[1:6]
settings = load_settings(xero_api_url=base, xero_identity_url=base, xero_login_url=base)
engine = get_engine(url)
with engine.connect():
    pass
tm = TokenManager(engine, int(cid), TokenVault([key]), lambda i, s: XeroOAuth(settings, i, s))
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps({"token": tm.refresh(stale), "calls": tm.refreshes}), flush=True)
"""


@pytest.mark.slow
def test_two_processes_refreshing_at_once_keep_the_rotated_token(
    server: XeroSandbox, db_url: str, vault: TokenVault, settings: Settings
) -> None:
    engine = db.get_engine(db_url)
    cid = _connect(server, engine, vault, settings)
    stale = vault.decrypt(credential_row(engine, cid)["access_token_enc"])
    version = credential_row(engine, cid)["version"]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, db_url, server.url, str(cid), stale, KEY],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for child in children:  # release both at once
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = []
        for child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err[-2000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    # one process rotated, the other used what it stored: one token call in all
    assert sorted(r["calls"] for r in results) == [0, 1]
    assert results[0]["token"] == results[1]["token"] != stale
    row = credential_row(engine, cid)
    assert row["version"] == version + 1
    assert vault.decrypt(row["access_token_enc"]) == results[0]["token"]
    # the stored refresh token is the live one: once Xero's 30-minute grace for used refresh
    # tokens has passed, the used one is refused and the stored one still rotates
    server.clock.advance(31 * 60)
    used = vault.decrypt(row["previous_refresh_token_enc"])
    with pytest.raises(ReconnectRequired):
        XeroOAuth(settings, "cid", "secret").refresh(used)
    refreshed = _manager(engine, cid, vault, settings).refresh(results[0]["token"])
    assert refreshed != results[0]["token"]
