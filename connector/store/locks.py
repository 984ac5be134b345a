"""Per-tenant locks across processes, released when the holder ends or dies.

One write-back of a tenant at a time: a scheduled run and an admin's `--apply` must not
interleave their calls (one clearing a group while the other re-fills it). The lock lives as
long as its holder: PostgreSQL holds a session advisory lock on a connection kept open for the
duration (the server drops it when the connection goes, a killed process included); SQLite
holds an exclusive ``flock`` on a file beside the database (the kernel drops it with the
process). An in-memory SQLite store is one process: a lock in that process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import zlib
from collections.abc import Iterator

from sqlalchemy import Engine, text

_local: dict[tuple[str, str, int], threading.Lock] = {}
_local_guard = threading.Lock()


class LockBusy(Exception):
    """Another holder has the lock."""


def _key(name: str) -> int:
    """A stable signed 32-bit number for ``name`` (PostgreSQL advisory lock keys are int4)."""
    value = zlib.crc32(name.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


@contextlib.contextmanager
def tenant_lock(db: Engine, name: str, tenant_id: int) -> Iterator[None]:
    """Hold lock ``name`` of ``tenant_id`` for the block; never waits.

    Raises:
        LockBusy: someone else holds it.
    """
    if db.dialect.name == "postgresql":
        with db.connect() as conn:
            # Advisory locks are database-wide: the schema is part of the key, so stores in
            # different schemas of one database (tenant ids from 1 in each) never collide.
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            key = _key(f"{name}:{schema}")
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k, :t)"),
                               {"k": key, "t": tenant_id}).scalar()
            conn.commit()
            if not got:
                raise LockBusy(name)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k, :t)"),
                             {"k": key, "t": tenant_id})
                conn.commit()
        return
    path = db.url.database
    if not path or path == ":memory:":
        with _local_guard:
            lock = _local.setdefault((str(db.url), name, tenant_id), threading.Lock())
        if not lock.acquire(blocking=False):
            raise LockBusy(name)
        try:
            yield
        finally:
            lock.release()
        return
    fd = os.open(f"{path}.{name}-{tenant_id}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(name) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
