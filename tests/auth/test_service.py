"""Service functions: headless grant, browser flow, tenant lookup, revocation (``responses``)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import Engine, func, select

from arconnect.adapters.xero.settings import XeroSettings, load_xero_settings
from arconnect.auth.service import (
    add_grant,
    begin_connect,
    complete_connect,
    get_tenant,
    list_tenants,
    revoke_grant,
    rotate_secrets,
)
from arconnect.auth.tokens import TokenManager, credential_table
from arconnect.auth.vault import TokenVault
from arconnect.errors import AuthError, ConfigError, NotFoundError, ReconnectRequired
from arconnect.settings import load_settings
from arconnect.store import db
from tests.auth.helpers import KEY, T0, credential_row, store_grant

HOST = "https://xero.example"
CONNECTIONS = [
    {"id": "c-1", "authEventId": "e-1", "tenantId": "t-1", "tenantType": "ORGANISATION",
     "tenantName": "Org A", "createdDateUtc": "2026-11-23T09:00:00", "updatedDateUtc": None},
    {"id": "c-2", "authEventId": "e-1", "tenantId": "t-2", "tenantType": "ORGANISATION",
     "tenantName": "Org B", "createdDateUtc": "2026-11-23T09:00:00", "updatedDateUtc": None},
    {"id": "c-3", "authEventId": "e-1", "tenantId": "p-1", "tenantType": "PRACTICEMANAGER",
     "tenantName": "Practice", "createdDateUtc": "2026-11-23T09:00:00", "updatedDateUtc": None},
]


@pytest.fixture
def engine(sqlite_url: str) -> Engine:
    return db.get_engine(sqlite_url)


@pytest.fixture
def vault() -> TokenVault:
    return TokenVault([KEY])


@pytest.fixture
def settings() -> XeroSettings:
    return load_xero_settings(api_url=HOST, identity_url=HOST, login_url=HOST,
                         client_id="cid", client_secret="secret")


def _token_endpoint(n: int = 1) -> None:
    responses.post(f"{HOST}/connect/token", json={
        "access_token": f"at-{n}", "refresh_token": f"rt-{n}", "expires_in": 1800,
        "token_type": "Bearer", "scope": "offline_access accounting.contacts"})


@responses.activate
def test_add_grant_rotates_first_then_one_tenant_per_organisation(
    engine: Engine, vault: TokenVault, settings: XeroSettings
) -> None:
    _token_endpoint()
    responses.get(f"{HOST}/connections", json=CONNECTIONS)
    tenants = add_grant(engine, "xero", client_id="cid", client_secret="secret",
                             refresh_token="rt-0", vault=vault, settings=settings,
                             now=lambda: T0)
    assert [(t.external_id, t.name, t.connection_id, t.status) for t in tenants] == [
        ("t-1", "Org A", "c-1", "active"), ("t-2", "Org B", "c-2", "active")]
    assert [c.request.url.split("?")[0] for c in responses.calls] == [
        f"{HOST}/connect/token", f"{HOST}/connections"]
    assert responses.calls[1].request.headers["Authorization"] == "Bearer at-1"
    cid = tenants[0].credential_id
    assert cid is not None and tenants[1].credential_id == cid
    row = credential_row(engine, cid)
    assert vault.decrypt(row["refresh_token_enc"]) == "rt-1"
    assert vault.decrypt(row["access_token_enc"]) == "at-1"
    assert vault.decrypt(row["client_secret_enc"]) == "secret"
    assert "secret" not in row["client_secret_enc"]
    assert row["scope"] == "offline_access accounting.contacts"
    assert [t.name for t in list_tenants(engine)] == ["Org A", "Org B"]


@responses.activate
def test_add_grant_again_updates_the_tenants(engine: Engine, vault: TokenVault,
                                             settings: XeroSettings) -> None:
    _token_endpoint(1)
    responses.get(f"{HOST}/connections", json=CONNECTIONS)
    first = add_grant(engine, "xero", client_id="cid", client_secret="secret", refresh_token="rt-0",
                           vault=vault, settings=settings)
    responses.replace(responses.GET, f"{HOST}/connections",
                      json=[{**CONNECTIONS[0], "tenantName": "Org A renamed"}])
    again = add_grant(engine, "xero", client_id="cid", client_secret="secret",
                           refresh_token="rt-1", vault=vault, settings=settings)
    assert again[0].id == first[0].id and again[0].name == "Org A renamed"
    assert again[0].credential_id != first[0].credential_id
    assert len(list_tenants(engine)) == 2


@responses.activate
def test_add_grant_for_one_organisation(engine: Engine, vault: TokenVault,
                                        settings: XeroSettings) -> None:
    _token_endpoint()
    responses.get(f"{HOST}/connections", json=CONNECTIONS)
    tenants = add_grant(engine, "xero", client_id="cid", client_secret="secret",
                             refresh_token="rt-0", tenant_id="t-2", vault=vault,
                             settings=settings)
    assert [t.external_id for t in tenants] == ["t-2"]


@responses.activate
def test_add_grant_unknown_organisation_lists_the_reachable_ones(
    engine: Engine, vault: TokenVault, settings: XeroSettings
) -> None:
    _token_endpoint()
    responses.get(f"{HOST}/connections", json=CONNECTIONS)
    with pytest.raises(NotFoundError) as info:
        add_grant(engine, "xero", client_id="cid", client_secret="secret", refresh_token="rt-0",
                       tenant_id="nope", vault=vault, settings=settings)
    assert "'nope'" in str(info.value)
    assert "t-1 (Org A)" in str(info.value) and "t-2 (Org B)" in str(info.value)
    # the organisations are checked before anything is stored: no orphan grant is left (the
    # given refresh token stays usable at Xero for 30 minutes, so the command can be rerun)
    assert list_tenants(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(credential_table())).scalar() == 0


@responses.activate
def test_add_grant_with_a_used_refresh_token(engine: Engine, vault: TokenVault,
                                             settings: XeroSettings) -> None:
    responses.post(f"{HOST}/connect/token", status=400, json={"error": "invalid_grant"})
    with pytest.raises(ReconnectRequired, match="invalid_grant") as info:
        add_grant(engine, "xero", client_id="cid", client_secret="secret",
                       refresh_token="rt-used", vault=vault, settings=settings)
    assert "rt-used" not in str(info.value)
    assert list_tenants(engine) == []


@responses.activate
def test_browser_flow(engine: Engine, vault: TokenVault, settings: XeroSettings) -> None:
    request = begin_connect("xero", settings, "http://localhost:9/callback/xero")
    query = parse_qs(urlsplit(request.url).query)
    assert request.url.startswith(f"{HOST}/identity/connect/authorize?")
    assert query["state"] == [request.state] and query["code_challenge_method"] == ["S256"]
    _token_endpoint()
    responses.get(f"{HOST}/connections", json=CONNECTIONS[:1])
    with pytest.raises(AuthError, match="state"):
        complete_connect(engine, "xero", request, "code", "forged", "http://localhost:9/callback/xero",
                              vault, settings)
    tenants = complete_connect(engine, "xero", request, "code", request.state,
                                    "http://localhost:9/callback/xero", vault, settings)
    assert [t.name for t in tenants] == ["Org A"]
    form = parse_qs(str(responses.calls[0].request.body))
    assert form["code_verifier"] == [request.code_verifier]


def test_browser_flow_needs_the_app_credentials() -> None:
    with pytest.raises(ConfigError, match="ARCONNECT_XERO_CLIENT_ID"):
        begin_connect("xero", load_settings(), "http://localhost:9/callback/xero")


@responses.activate
def test_get_tenant_by_id_name_or_external_id(engine: Engine, vault: TokenVault,
                                              settings: XeroSettings) -> None:
    _token_endpoint()
    responses.get(f"{HOST}/connections", json=CONNECTIONS)
    a, b = add_grant(engine, "xero", client_id="cid", client_secret="secret",
                          refresh_token="rt-0", vault=vault, settings=settings)
    assert get_tenant(engine, str(b.id)).external_id == "t-2"
    assert get_tenant(engine, "Org A").id == a.id
    assert get_tenant(engine, "t-2").id == b.id
    with pytest.raises(NotFoundError) as info:
        get_tenant(engine, "Org C")
    assert f"{a.id} (Org A, t-1)" in str(info.value) and "(Org B, t-2)" in str(info.value)


@responses.activate
def test_revoke_grant(engine: Engine, vault: TokenVault, settings: XeroSettings,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    _token_endpoint()
    responses.get(f"{HOST}/connections", json=CONNECTIONS[:1])
    responses.post(f"{HOST}/connect/revocation", status=200)
    (tenant,) = add_grant(engine, "xero", client_id="cid", client_secret="secret",
                               refresh_token="rt-0", vault=vault, settings=settings)
    assert tenant.credential_id is not None
    monkeypatch.setenv("ARCONNECT_SECRET_KEY", KEY)
    manager = TokenManager.for_credential(engine, tenant.credential_id)
    revoke_grant(engine, tenant.credential_id, vault, settings)
    assert parse_qs(str(responses.calls[-1].request.body))["token"] == ["rt-1"]
    row = credential_row(engine, tenant.credential_id)
    assert row["status"] == "revoked" and row["refresh_token_enc"] is None
    assert get_tenant(engine, "Org A").status == "revoked"
    fresh = TokenManager.for_credential(engine, tenant.credential_id)
    assert fresh is not manager
    with pytest.raises(ReconnectRequired, match="revoked"):
        fresh.access_token()
    with pytest.raises(NotFoundError):
        revoke_grant(engine, 999, vault, settings)


def test_rotate_secrets_moves_every_credential_to_the_new_key(engine: Engine) -> None:
    old = TokenVault([KEY])
    a, b = store_grant(engine, old), store_grant(engine, old)
    both = TokenVault(["the new key", KEY])
    assert rotate_secrets(engine, both) == 2
    new_only = TokenVault(["the new key"])
    for cid in (a, b):
        row = credential_row(engine, cid)
        assert new_only.decrypt(row["refresh_token_enc"]) == "rt-0"
        assert new_only.decrypt(row["client_secret_enc"]) == "secret"
    with pytest.raises(ConfigError, match="cannot decrypt"):
        rotate_secrets(engine, TokenVault(["unrelated"]))
