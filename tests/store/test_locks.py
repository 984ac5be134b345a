"""Per-tenant locks: exclusive across processes, released when the holder ends or dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from arconnect.store.db import get_engine
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
