"""TokenManager: expiry, single-flight refresh across threads, persistence, invalid_grant."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from arconnect.auth.tokens import TokenManager
from arconnect.auth.vault import TokenVault
from arconnect.errors import ReconnectRequired, UpstreamError
from arconnect.store import db
from tests.auth.helpers import KEY, T0, FakeOAuth, credential_row, store_grant, tenant_rows


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(db_url: str) -> Engine:
    return db.get_engine(db_url)


@pytest.fixture
def vault() -> TokenVault:
    return TokenVault([KEY])


def _manager(engine: Engine, vault: TokenVault, cid: int, oauth: FakeOAuth,
             clock: Clock) -> TokenManager:
    return TokenManager(engine, cid, vault, oauth.factory, now=clock)


def test_valid_token_is_used_and_refreshed_60s_before_expiry(engine: Engine,
                                                              vault: TokenVault) -> None:
    clock, oauth = Clock(), FakeOAuth()
    cid = store_grant(engine, vault)
    tm = _manager(engine, vault, cid, oauth, clock)
    assert tm.access_token() == "at-0"
    clock.now = T0 + timedelta(minutes=28, seconds=59)
    assert tm.access_token() == "at-0"
    assert oauth.calls == []
    clock.now = T0 + timedelta(minutes=29, seconds=1)  # expires within 60 s
    assert tm.access_token() == "at-1"
    assert oauth.calls == ["rt-0"]
    assert tm.access_token() == "at-1"
    assert len(oauth.calls) == 1


def test_refresh_persists_the_rotated_pair_before_returning(engine: Engine,
                                                            vault: TokenVault) -> None:
    clock, oauth = Clock(), FakeOAuth()
    cid = store_grant(engine, vault)
    before = credential_row(engine, cid)
    assert _manager(engine, vault, cid, oauth, clock).refresh("at-0") == "at-1"
    row = credential_row(engine, cid)
    assert row["version"] == 1
    assert vault.decrypt(row["access_token_enc"]) == "at-1"
    assert vault.decrypt(row["refresh_token_enc"]) == "rt-1"
    assert row["previous_refresh_token_enc"] == before["refresh_token_enc"]
    assert vault.decrypt(row["previous_refresh_token_enc"]) == "rt-0"
    assert "rt-1" not in str(row) and "at-1" not in row["access_token_enc"]
    expires = row["expires_at"]
    assert expires.replace(tzinfo=None) == (T0 + timedelta(minutes=30)).replace(tzinfo=None)
    # a fresh manager (another worker) sees the new token without refreshing
    other = FakeOAuth()
    assert _manager(engine, vault, cid, other, clock).access_token() == "at-1"
    assert other.calls == []


def test_refresh_uses_a_token_rotated_by_someone_else(engine: Engine, vault: TokenVault) -> None:
    clock, oauth = Clock(), FakeOAuth()
    cid = store_grant(engine, vault, access="at-new")
    tm = _manager(engine, vault, cid, oauth, clock)
    assert tm.refresh("at-stale") == "at-new"
    assert oauth.calls == []
    assert tm.refresh("at-new") == "at-1"  # the stored one itself was refused: rotate
    assert tm.refresh(None) == "at-1"
    assert tm.refresh(None, force=True) == "at-2"
    assert oauth.calls == ["rt-0", "rt-1"]


def test_stored_token_about_to_expire_is_not_reused(engine: Engine, vault: TokenVault) -> None:
    clock, oauth = Clock(), FakeOAuth()
    cid = store_grant(engine, vault, access="at-other", expires_at=T0 + timedelta(seconds=30))
    assert _manager(engine, vault, cid, oauth, clock).refresh("at-stale") == "at-1"


def test_eight_threads_make_exactly_one_token_call(engine: Engine, vault: TokenVault) -> None:
    clock, oauth = Clock(), FakeOAuth(hold=0.05)
    cid = store_grant(engine, vault, expires_at=T0 + timedelta(seconds=10))
    tm = _manager(engine, vault, cid, oauth, clock)
    start = threading.Barrier(8)
    got: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            got.append(tm.access_token())
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert got == ["at-1"] * 8
    assert oauth.calls == ["rt-0"]
    assert credential_row(engine, cid)["version"] == 1


def test_threads_with_separate_managers_share_the_credential_lock(engine: Engine,
                                                                  vault: TokenVault) -> None:
    clock, oauth = Clock(), FakeOAuth(hold=0.02)
    cid = store_grant(engine, vault)
    managers = [_manager(engine, vault, cid, oauth, clock) for _ in range(4)]
    threads = [threading.Thread(target=m.refresh, args=("at-0",)) for m in managers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert oauth.calls == ["rt-0"]


def test_invalid_grant_marks_reconnect_required(engine: Engine, vault: TokenVault) -> None:
    clock, oauth = Clock(), FakeOAuth()
    cid = store_grant(engine, vault, refresh="rt-revoked", orgs=("Org A", "Org B"))
    tm = _manager(engine, vault, cid, oauth, clock)
    with pytest.raises(ReconnectRequired) as info:
        tm.refresh("at-0")
    message = str(info.value)
    tids = [t["id"] for t in tenant_rows(engine, cid)]
    assert message.startswith(f"tenants {tids[0]} (Org A), {tids[1]} (Org B): Xero refused")
    assert "invalid_grant" in message and "arconnect tenants connect xero" in message
    assert "arconnect tenants add xero" in message and "rt-revoked" not in message
    assert credential_row(engine, cid)["status"] == "reconnect_required"
    for t in tenant_rows(engine, cid):
        assert t["status"] == "reconnect_required" and "invalid_grant" in t["status_detail"]
    # no crash loop: later calls fail at once without calling Xero again
    with pytest.raises(ReconnectRequired, match=r"tenants .*Org A"):
        tm.access_token()
    with pytest.raises(ReconnectRequired):
        tm.refresh(None)
    assert oauth.calls == ["rt-revoked"]


def test_single_tenant_message(engine: Engine, vault: TokenVault) -> None:
    cid = store_grant(engine, vault, refresh="rt-bad")
    tid = tenant_rows(engine, cid)[0]["id"]
    with pytest.raises(ReconnectRequired, match=rf"^tenant {tid} \(Org A\): Xero refused the "
                       r"refresh token \(invalid_grant\); reconnect with"):
        _manager(engine, vault, cid, FakeOAuth(), Clock()).refresh("at-0")


def test_upstream_failure_changes_nothing(engine: Engine, vault: TokenVault) -> None:
    clock, oauth = Clock(), FakeOAuth()
    oauth.fail = UpstreamError("Xero token refresh: HTTP 503", status=503)
    cid = store_grant(engine, vault)
    before = credential_row(engine, cid)
    tm = _manager(engine, vault, cid, oauth, clock)
    with pytest.raises(UpstreamError):
        tm.refresh("at-0")
    assert credential_row(engine, cid) == before
    oauth.fail = None
    assert tm.refresh("at-0") == "at-2"  # the same stored refresh token works on retry
    assert oauth.calls == ["rt-0", "rt-0"]


def test_for_credential_is_one_instance_per_grant(engine: Engine,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCONNECT_SECRET_KEY", KEY)
    vault = TokenVault([KEY])
    later = datetime.now(UTC) + timedelta(hours=1)
    a = store_grant(engine, vault, expires_at=later)
    b = store_grant(engine, vault, expires_at=later)
    first = TokenManager.for_credential(engine, a)
    assert TokenManager.for_credential(engine, a) is first
    assert TokenManager.for_credential(engine, b) is not first
    assert first.access_token() == "at-0"
    TokenManager.forget(engine, a)
    assert TokenManager.for_credential(engine, a) is not first
