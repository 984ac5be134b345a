"""What every platform's sync must do, end to end against its sandbox: a full sync equals the
platform's ground truth in the fewest calls, an incremental one picks up every change and reads
little else, a record committed late still arrives, a sync killed (SIGKILL) at a random page
resumes on changed data without loss or duplicates, a 429 storm is ridden out, an access token
expiring mid-sync is refreshed, a rotated refresh token survives two processes refreshing at
once, a revoked grant ends as "reconnect required", and a malformed page fails the run and
changes nothing. ``test_resume_contract.py`` stops a sync inside each entity in turn."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from random import Random
from typing import Any

import pytest
from sqlalchemy import text

from arconnect.services import find_tenants, sync_tenants
from arconnect.sync import Progress, SyncResult

from .conftest import Env, assert_store_equals, cursor_of, stored, tenant_status


def _sync(env: Env, *, full: bool = False, progress: Progress | None = None) -> SyncResult:
    [result] = sync_tenants(env.db, [env.key], full=full, progress=progress)
    return result


def test_full_sync_equals_ground_truth(env_any_db: Env) -> None:
    env = env_any_db
    result = _sync(env, full=True)
    assert result.status == "ok", result.error
    assert_store_equals(env)
    [tenant] = find_tenants(env.db, [env.key])
    for column, value in env.harness.organisation(env.tenant).items():
        assert getattr(tenant, column) == value, column
    # the platform's minimum number of calls for this company's size
    assert result.api_calls <= env.harness.full_sync_calls(result.records), result.records


def test_incremental_sync_picks_up_every_change(env: Env) -> None:
    full = _sync(env, full=True)
    assert full.ok, full.error
    before = {entity: cursor_of(env, entity) for entity in env.harness.entities}
    env.harness.advance(3600)
    changes = env.harness.mutate(env.tenant, seed=5)
    assert {"edit", "pay", "delete", "void"} <= changes, changes
    result = _sync(env)
    assert result.ok, result.error
    assert_store_equals(env)
    # only what changed since the cursor (less the overlap) was read again
    for entity, cursor in before.items():
        bound = env.harness.reads_bound(env.tenant, entity, cursor)
        assert result.records.get(entity, 0) <= bound, (entity, result.records, bound)
    assert sum(result.records.values()) < sum(full.records.values()) / 2, result.records


def test_a_record_committed_late_still_arrives(env: Env) -> None:
    """With nothing configured, an incremental read reaches back far enough for an invoice
    stamped 30 s before the newest change the store had read (the overlap)."""
    assert _sync(env).ok
    late = env.harness.late_invoice(env.tenant, cursor_of(env, "invoices"))
    env.harness.advance(600)
    result = _sync(env)
    assert result.ok, result.error
    assert late in stored(env.db, env.tenant.id)["document"], (
        "the invoice stamped 30 s before the stored cursor never arrived")
    assert_store_equals(env)


def test_killed_sync_resumes_on_changed_data(env_any_db: Env,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``arconnect sync`` is killed (SIGKILL) at a random page, twice; each time the company
    changes before the next run, and records the killed run already read move to the end of
    the platform's order. The run that finishes must leave the store equal to the company."""
    env = env_any_db
    for key, value in env.harness.small_pages().items():
        monkeypatch.setenv(key, value)
    env.harness.slow(0.02)
    rng = Random(f"{env.harness.platform}:{env.db_url.split(':')[0]}")
    cmd = [sys.executable, "-m", "arconnect.cli", "sync", env.key]
    kills = 0
    for seed in (1, 2):
        proc = subprocess.Popen(cmd, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        # killed while it reads a random page (the sandbox counts the calls it answered)
        at = env.harness.calls(env.tenant) + rng.randint(2, env.harness.pages_to_kill_in)
        deadline = time.monotonic() + 60
        while (time.monotonic() < deadline and proc.poll() is None
               and env.harness.calls(env.tenant) < at):
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        _, err = proc.communicate()
        assert proc.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]
        env.harness.advance(600)
        env.harness.move_earliest(env.tenant, 6)
        env.harness.mutate(env.tenant, seed=seed)
    assert kills == 2, "the sync finished before it could be killed"
    with env.db.connect() as conn:  # the killed runs never finished
        unfinished = conn.execute(text("SELECT count(*) FROM sync_run WHERE status IN "
                                       "('running', 'interrupted')")).scalar()
    assert unfinished == kills
    env.harness.clear_faults()
    result = _sync(env)
    assert result.ok, result.error
    assert_store_equals(env)
    with env.db.connect() as conn:
        statuses: dict[str, int] = {str(k): int(n) for k, n in conn.execute(
            text("SELECT status, count(*) FROM sync_run GROUP BY status")).all()}
    assert statuses == {"interrupted": kills, "ok": 1}, statuses


def test_a_429_storm_is_ridden_out(env: Env) -> None:
    """Every call answers 429 for a few rounds (Xero says how long to wait, QBO does not); the
    sync waits on the scaled clock and completes."""
    env.harness.storm(env.tenant, 3)
    result = _sync(env, full=True)
    assert result.ok, result.error
    assert result.http_429s >= 3
    assert env.harness.rate_limited(env.tenant) >= 3
    assert_store_equals(env)


class _ExpireAfterFirstPage(Progress):
    def __init__(self, env: Env) -> None:
        self.env, self.done = env, False

    def page_done(self, tenant: str, entity: str, page: Any, stored: int) -> None:
        if not self.done:
            self.env.harness.expire_tokens()
            self.done = True


def test_access_token_expiring_mid_sync_is_refreshed(env: Env) -> None:
    with env.db.connect() as conn:
        version = int(conn.execute(text("SELECT version FROM credential")).scalar() or 0)
    result = _sync(env, full=True, progress=_ExpireAfterFirstPage(env))
    assert result.ok, result.error
    with env.db.connect() as conn:
        assert int(conn.execute(text("SELECT version FROM credential")).scalar() or 0) > version
    assert_store_equals(env)


CHILD = """
import json, sys
from arconnect.auth.tokens import TokenManager
from arconnect.store.db import get_engine

url, cid, stale = sys.argv[1:4]
engine = get_engine(url)
with engine.connect():
    pass
tm = TokenManager.for_credential(engine, int(cid))
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps({"token": tm.refresh(stale), "calls": tm.refreshes}), flush=True)
"""


def _credential(env: Env) -> dict[str, Any]:
    with env.db.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM credential WHERE id = :c"),
                                 {"c": env.tenant.credential_id}).mappings().one())


def test_two_processes_refreshing_at_once_keep_the_rotated_token(env_any_db: Env) -> None:
    """Two processes find the same access token expired and refresh at once: one calls the
    token endpoint, the other uses what it stored; the stored refresh token is the live one
    after the platform's grace for used refresh tokens has passed."""
    from arconnect.auth.vault import get_vault

    env = env_any_db
    vault = get_vault()
    before = _credential(env)
    stale = vault.decrypt(before["access_token_enc"])
    children = [subprocess.Popen(
        [sys.executable, "-c", CHILD, env.db_url, str(env.tenant.credential_id), stale],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ.copy()) for _ in range(2)]
    try:
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline().strip()
            assert line == "ready", (line, child.stderr.read() if child.stderr else "")
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
    assert sorted(r["calls"] for r in results) == [0, 1]
    assert results[0]["token"] == results[1]["token"] != stale
    after = _credential(env)
    assert after["version"] == before["version"] + 1
    assert vault.decrypt(after["access_token_enc"]) == results[0]["token"]
    # past the grace for used refresh tokens, the one traded is refused where the platform
    # retires it, and the stored one still syncs
    env.harness.advance(env.harness.refresh_grace() + 60)
    used = vault.decrypt(after["previous_refresh_token_enc"])
    assert env.harness.refresh_refused(used) == env.harness.retires_used_refresh_tokens
    env.harness.expire_tokens()
    result = _sync(env)
    assert result.ok, result.error
    assert_store_equals(env)


def test_revoked_grant_ends_as_reconnect_required(env: Env) -> None:
    env.harness.revoke(env.tenant)
    env.harness.expire_tokens()
    result = _sync(env)
    assert result.status == "reconnect_required", result.error
    assert "reconnect" in (result.error or "").lower()
    assert tenant_status(env) == "reconnect_required"
    assert stored(env.db, env.tenant.id)["document"] == {}


@pytest.mark.parametrize("kind", ["json", "missing_id"])
def test_malformed_page_fails_the_run_and_changes_nothing(env: Env, kind: str) -> None:
    assert _sync(env, full=True).ok
    env.harness.advance(3600)
    env.harness.mutate(env.tenant, seed=2)
    entity = env.harness.malformed_entity
    cursor_before = cursor_of(env, entity)
    before = stored(env.db, env.tenant.id)
    env.harness.malformed_page(kind)
    result = _sync(env, full=True)  # a full read: the fault hits a query page on every platform
    assert result.status == "failed"
    error = result.error or ""
    assert f"entity {entity}, page 1" in error, error
    assert env.tenant.name in error, error
    assert {"json": "invalid JSON", "missing_id": env.harness.missing_id}[kind] in error, error
    assert cursor_of(env, entity) == cursor_before
    after = stored(env.db, env.tenant.id)
    assert {k: v["status"] for k, v in after["document"].items()} == {
        k: v["status"] for k, v in before["document"].items()}
    # the fault is gone: the next run completes
    assert _sync(env).ok
    assert_store_equals(env)
