"""NetSuite end to end through the product's commands against the NetSuite sandbox: the three
auth schemes (`arconnect tenants add netsuite …`, then `arconnect sync`), what each refuses
(a wrong TBA secret, a key that is not the certificate's, an expired certificate), an
authorization-code grant that lapses after 7 days (a warning first, then
``reconnect_required``), and the account's concurrency limit shared with another
integration."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import Engine, text

from arconnect import cli
from arconnect.clock import Clock, set_clock
from arconnect.sandbox.netsuite import AccountSpec, NsConfig, NsSandbox
from arconnect.services import find_tenants, grant_warning, sync_tenants
from arconnect.settings import get_settings
from arconnect.store.db import dispose_engines, get_engine

ACCOUNT = "1234567_SB1"
Run = Callable[..., tuple[int, str]]
CLIENT_ID, CLIENT_SECRET = "e2e-ns-client", "e2e-ns-secret"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[NsSandbox]:
    sb = NsSandbox(NsConfig(
        seed=5, accounts=[AccountSpec(account_id=ACCOUNT, customers=8, invoices=40,
                                      payments=30)],
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, strict_limits=True))
    sb.start(host="127.0.0.1", port=0)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def store(sandbox: NsSandbox, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[Engine]:
    base = f"{sandbox.url}/{{account}}"
    for key, value in {"ARCONNECT_DATABASE_URL": sqlite_url,
                       "ARCONNECT_SECRET_KEY": "e2e-netsuite-key",
                       "ARCONNECT_NETSUITE_REST_URL": base, "ARCONNECT_NETSUITE_APP_URL": base,
                       "ARCONNECT_NETSUITE_CLIENT_ID": CLIENT_ID,
                       "ARCONNECT_NETSUITE_CLIENT_SECRET": CLIENT_SECRET}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    sandbox.faults.clear()
    try:
        yield get_engine(sqlite_url)
    finally:
        sandbox.faults.clear()
        dispose_engines()


@pytest.fixture
def arconnect(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
              ) -> Callable[..., tuple[int, str]]:
    """Run ``arconnect ARGS`` in this process as the console script does (``env``: variables
    set first); returns the exit code and stdout + stderr on one line."""

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        monkeypatch.setattr(sys, "argv", ["arconnect", *args])
        capsys.readouterr()
        try:
            cli.main()
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        out, err = capsys.readouterr()
        return code, " ".join((out + err).split())

    return run


def _pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _public(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo
                                         ).decode()


def _stored(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM credential")).scalar_one())


def _synced_ok(db: Engine) -> None:
    [result] = sync_tenants(db)
    assert result.ok, result.error
    assert result.records["invoices"] > 0


# -- token-based authentication ------------------------------------------------------------------

def test_tba_grant_syncs_and_a_wrong_secret_is_refused(sandbox: NsSandbox, store: Engine,
                                                        arconnect: Run) -> None:
    token_id, token_secret = sandbox.create_tba_token(ACCOUNT)
    consumer = ["--consumer-key", sandbox.config.tba_consumer_key, "--token-id", token_id]
    # a wrong token secret: the sandbox checks the HMAC-SHA256 signature and refuses
    code, out = arconnect("tenants", "add", "netsuite", "--account", ACCOUNT, *consumer,
                           env={"ARCONNECT_NETSUITE_CONSUMER_SECRET":
                                sandbox.config.tba_consumer_secret,
                                "ARCONNECT_NETSUITE_TOKEN_SECRET": "not-the-secret"})
    assert code != 0 and "INVALID_LOGIN" in out, out
    assert "Traceback" not in out and "not-the-secret" not in out
    assert _stored(store) == 0
    # the right one: stored, and the account syncs with signed requests
    code, out = arconnect("tenants", "add", "netsuite", "--account", ACCOUNT, *consumer,
                           env={"ARCONNECT_NETSUITE_CONSUMER_SECRET":
                                sandbox.config.tba_consumer_secret,
                                "ARCONNECT_NETSUITE_TOKEN_SECRET": token_secret})
    assert code == 0, out
    assert f"({ACCOUNT})" in out and token_secret not in out
    _synced_ok(store)
    # revoked in NetSuite: the next sync ends as reconnect_required, naming the fix, and the
    # grant is marked dead (later runs do not call NetSuite with it again)
    sandbox.identity.revoke_account(ACCOUNT)
    [result] = sync_tenants(store)
    assert result.status == "reconnect_required", result.error
    assert "Access Tokens" in (result.error or "")
    with store.connect() as conn:
        assert conn.execute(text("SELECT status FROM credential")).scalar_one() == \
            "reconnect_required"


# -- client credentials (M2M) -------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["ES256", "PS256"])
def test_client_credentials_grant_syncs(sandbox: NsSandbox, store: Engine, tmp_path: Path,
                                        kind: str, arconnect: Run) -> None:
    key = (ec.generate_private_key(ec.SECP256R1()) if kind == "ES256"
           else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    sandbox.register_certificate(ACCOUNT, f"cert-{kind}", _public(key))
    pem = tmp_path / "key.pem"
    pem.write_text(_pem(key))
    code, out = arconnect("tenants", "add", "netsuite", "--account", ACCOUNT, "--client-id",
                           CLIENT_ID, "--certificate-id", f"cert-{kind}", "--private-key",
                           str(pem))
    assert code == 0, out
    _synced_ok(store)


def test_client_credentials_refused_for_a_wrong_key_or_an_expired_certificate(
        sandbox: NsSandbox, store: Engine, tmp_path: Path, arconnect: Run) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    sandbox.register_certificate(ACCOUNT, "cert-live", _public(key))
    now = sandbox.clock.now()
    sandbox.identity.register_certificate(ACCOUNT, "cert-old", _public(key),
                                          issued=now - timedelta(days=400),
                                          expires=now - timedelta(days=1))
    pem = tmp_path / "key.pem"
    for cert, signing in (("cert-live", other), ("cert-old", key)):
        pem.write_text(_pem(signing))
        code, out = arconnect("tenants", "add", "netsuite", "--account", ACCOUNT,
                               "--client-id", CLIENT_ID, "--certificate-id", cert,
                               "--private-key", str(pem))
        assert code != 0 and "invalid_client" in out, (cert, out)
        assert "Traceback" not in out and "PRIVATE KEY" not in out
    assert _stored(store) == 0


# -- authorization code: 7 days, then a new consent ---------------------------------------------

def test_an_auth_code_grant_warns_before_it_lapses_then_needs_a_reconnect(
        sandbox: NsSandbox, store: Engine, arconnect: Run) -> None:
    grant = sandbox.create_grant(ACCOUNT)
    code, out = arconnect("tenants", "add", "netsuite", "--account", ACCOUNT,
                           env={"ARCONNECT_NETSUITE_REFRESH_TOKEN": grant["refresh_token"]})
    assert code == 0, out
    _synced_ok(store)
    [tenant] = find_tenants(store)
    issued = sandbox.clock.now()
    # the tenant shows when its grant lapses: 7 days after consent
    code, out = arconnect("tenants", "list", "--format", "json")
    assert code == 0, out
    lapses = (issued + timedelta(days=7)).strftime("%Y-%m-%d")
    assert f'"grant_expires_at": "{lapses}' in out, out
    assert grant_warning(store, tenant, now=issued + timedelta(days=4)) is None
    warning = grant_warning(store, tenant, now=issued + timedelta(days=6))
    assert warning is not None and "cannot be kept alive" in warning
    assert f"`arconnect tenants connect netsuite --account {ACCOUNT}`" in warning
    # a week later NetSuite refuses the refresh token: the tenant needs a new consent
    sandbox.clock.advance(7 * 86400 + 60)
    sandbox.faults.expire_tokens()
    [result] = sync_tenants(store)
    assert result.status == "reconnect_required", result.error
    assert "client credentials" in (result.error or "")
    [tenant] = find_tenants(store)
    assert tenant.status == "reconnect_required"


# -- the account's concurrency, shared with other integrations ---------------------------------

def test_another_integration_holding_the_account_limit_causes_429s_that_lower_the_cap(
        sandbox: NsSandbox, store: Engine, monkeypatch: pytest.MonkeyPatch,
        arconnect: Run) -> None:
    from arconnect.pacing import get_pacer, reset_pacers
    from arconnect.platforms import get_platform

    account = sandbox.account(ACCOUNT)
    monkeypatch.setattr(account.spec, "concurrency_limit", 1)
    monkeypatch.setattr(account.spec, "role_is_admin", False)  # governanceLimits: 403
    grant = sandbox.create_grant(ACCOUNT)
    code, out = arconnect("tenants", "add", "netsuite", "--account", ACCOUNT,
                           env={"ARCONNECT_NETSUITE_REFRESH_TOKEN": grant["refresh_token"]})
    assert code == 0, out
    reset_pacers()
    set_clock(Clock(10.0))  # back-offs pass ten times faster
    # another integration's slow request holds the account's only slot for a while
    other = sandbox.create_grant(ACCOUNT)["access_token"]
    sandbox.faults.slow(0.6, n=1, path_contains="governanceLimits")
    holder = threading.Thread(target=requests.get, kwargs={
        "url": f"{sandbox.rest_base(ACCOUNT)}/services/rest/system/v1/governanceLimits",
        "headers": {"Authorization": f"Bearer {other}"}, "timeout": 30})
    holder.start()
    time.sleep(0.2)
    limits = get_platform("netsuite").limits(get_settings())
    try:
        [result] = sync_tenants(store)
        # the client lowered its cap for the account (from the default 5) after the refusals
        cap = get_pacer(f"netsuite:{ACCOUNT}", limits).concurrency
    finally:
        holder.join()
        set_clock(None)
    assert result.ok, result.error
    assert result.http_429s >= 1
    assert sandbox.stats.get(ACCOUNT, "http_429") >= 1
    assert cap == 1


def test_offset_paging_past_the_row_cap_is_refused_and_keyset_reads_never_reach_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arconnect: Run) -> None:
    sb = NsSandbox(NsConfig(seed=3, accounts=[AccountSpec(account_id="7777777", customers=150,
                                                          invoices=20_400, payments=2_000)],
                            client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                            strict_limits=False, row_cap=5_000))
    sb.start(host="127.0.0.1", port=0)
    try:
        db_url = f"sqlite:///{tmp_path / 'big.db'}"
        base = f"{sb.url}/{{account}}"
        for key, value in {"ARCONNECT_DATABASE_URL": db_url,
                           "ARCONNECT_SECRET_KEY": "e2e-netsuite-key",
                           "ARCONNECT_NETSUITE_REST_URL": base,
                           "ARCONNECT_NETSUITE_APP_URL": base,
                           "ARCONNECT_NETSUITE_CLIENT_ID": CLIENT_ID,
                           "ARCONNECT_NETSUITE_CLIENT_SECRET": CLIENT_SECRET}.items():
            monkeypatch.setenv(key, value)
        grant = sb.create_grant("7777777")
        code, out = arconnect("tenants", "add", "netsuite", "--account", "7777777",
                               env={"ARCONNECT_NETSUITE_REFRESH_TOKEN":
                                    grant["refresh_token"]})
        assert code == 0, out
        db = get_engine(db_url)
        invoices = sum(1 for r in sb.account().transactions if r["type"] == "CustInvc")
        assert invoices >= 20_000 > sb.config.row_cap
        # offset paging stops at the cap with NetSuite's error
        reply = requests.post(
            f"{sb.rest_base()}/services/rest/query/v1/suiteql",
            params={"limit": 1000, "offset": 5_000},
            headers={"Authorization": f"Bearer {grant['access_token']}",
                     "Prefer": "transient"},
            json={"q": "SELECT id FROM transaction WHERE type = 'CustInvc' ORDER BY id"},
            timeout=30)
        assert reply.status_code == 400
        assert reply.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_PARAMETER"
        # keyset pages: every invoice, in ⌈n / 1,000⌉ pages at offset 0
        [result] = sync_tenants(db)
        assert result.ok, result.error
        assert result.records["invoices"] >= invoices  # and the tombstones of deleted ones
        with db.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM document WHERE kind = 'invoice'")
                                  ).scalar_one()
        assert stored == invoices
    finally:
        sb.stop()
        dispose_engines()


def test_the_sandbox_clock_starts_now() -> None:
    """The grant-expiry test reads lapse dates off the sandbox clock: it must run on the real
    date (a sandbox started without ``start`` begins now)."""
    sb = NsSandbox(NsConfig(accounts=[AccountSpec(customers=2, invoices=4, payments=2)]))
    assert abs(sb.clock.now() - datetime.now(UTC)) < timedelta(minutes=1)
