"""Per-tenant locks: exclusive across processes, released when the holder ends or dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from arconnect.store.db import dispose_engines, get_engine
from arconnect.store.locks import LockBusy, tenant_lock

HOLDER = """
import sys, time
from arconnect.store.db import get_engine
from arconnect.store.locks import tenant_lock
with tenant_lock(get_engine(sys.argv[1]), "writeback", 7):
    print("held", flush=True)
    time.sleep(600)
"""


def test_one_holder_at_a_time_and_a_killed_holder_lets_go(db_url: str) -> None:
    db = get_engine(db_url)
    with tenant_lock(db, "writeback", 7):
        with pytest.raises(LockBusy), tenant_lock(db, "writeback", 7):
            pass
        with tenant_lock(db, "writeback", 8), tenant_lock(db, "sync", 7):
            pass  # another tenant, another lock name: independent
    with tenant_lock(db, "writeback", 7):
        pass  # released at the end of the block
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, db_url], stdout=subprocess.PIPE,
                              text=True, env={**os.environ})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy), tenant_lock(db, "writeback", 7):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    for _ in range(100):  # the server notices the dropped connection within moments
        try:
            with tenant_lock(db, "writeback", 7):
                return
        except LockBusy:
            time.sleep(0.05)
    pytest.fail("the lock of a killed holder was never released")


def test_stores_in_two_postgresql_schemas_lock_apart(pg_url: str) -> None:
    # Advisory locks are database-wide; two stores (schemas) of one database both number
    # their tenants from 1 and must not block each other.
    base, _, _ = pg_url.partition("?")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        other = get_engine(f"{base}?options=-csearch_path%3D{schema}")
        with tenant_lock(get_engine(pg_url), "writeback", 1), tenant_lock(other, "writeback", 1):
            pass
    finally:
        dispose_engines()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
