"""Shared helpers of the auth tests: a stored grant with tenants, and a scripted OAuth client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from arconnect.auth.tokens import credential_table, tenant_table
from arconnect.auth.vault import TokenVault
from arconnect.errors import ReconnectRequired
from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox

KEY = "test passphrase for the token vault"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def store_grant(
    engine: Engine,
    vault: TokenVault,
    *,
    access: str = "at-0",
    refresh: str = "rt-0",
    expires_at: datetime | None = None,
    orgs: tuple[str, ...] = ("Org A",),
) -> int:
    """Insert a credential and one tenant per org name; returns the credential id."""
    cred, ten = credential_table(), tenant_table()
    with engine.begin() as conn:
        cid = conn.execute(
            cred.insert().values(
                platform="xero", client_id="cid", client_secret_enc=vault.encrypt("secret"),
                access_token_enc=vault.encrypt(access), refresh_token_enc=vault.encrypt(refresh),
                expires_at=expires_at or T0 + timedelta(minutes=30), status="active", version=0,
                created_at=T0, updated_at=T0,
            )
        ).inserted_primary_key[0]
        for i, name in enumerate(orgs):
            conn.execute(
                ten.insert().values(
                    platform="xero", external_id=f"org-{cid}-{i}", name=name, credential_id=cid,
                    status="active", created_at=T0, updated_at=T0,
                )
            )
    return int(cid)


def credential_row(engine: Engine, cid: int) -> dict[str, Any]:
    cred = credential_table()
    with engine.connect() as conn:
        return dict(conn.execute(select(cred).where(cred.c.id == cid)).mappings().one())


def tenant_rows(engine: Engine, cid: int) -> list[dict[str, Any]]:
    ten = tenant_table()
    with engine.connect() as conn:
        rows = conn.execute(select(ten).where(ten.c.credential_id == cid).order_by(ten.c.id))
        return [dict(r) for r in rows.mappings()]


class FakeOAuth:
    """Rotates like Xero (a new pair per refresh; a used refresh token is refused at once).

    ``hold`` keeps each call open for that many seconds so concurrent callers overlap.
    """

    def __init__(self, now: Callable[[], datetime] = lambda: T0, hold: float = 0.0) -> None:
        self.calls: list[str] = []
        self.valid = {"rt-0"}
        self.fail: Exception | None = None
        self.hold = hold
        self._now = now
        self._lock = threading.Lock()

    def factory(self, client_id: str, client_secret: str) -> FakeOAuth:
        assert (client_id, client_secret) == ("cid", "secret")
        return self

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        with self._lock:
            self.calls.append(refresh_token)
            n = len(self.calls)
        if self.hold:
            time.sleep(self.hold)  # widens the race window only; nothing waits on time
        if self.fail is not None:
            raise self.fail
        with self._lock:
            if refresh_token not in self.valid:
                raise ReconnectRequired("invalid_grant")
            self.valid.discard(refresh_token)
            self.valid.add(f"rt-{n}")
        return {"access_token": f"at-{n}", "refresh_token": f"rt-{n}", "expires_in": 1800,
                "expires_at": self._now() + timedelta(seconds=1800), "scope": "offline_access"}


@contextmanager
def small_sandbox(name: str, seed: int, customers: int, invoices: int,
                  payments: int) -> Iterator[XeroSandbox]:
    """A started Xero sandbox with one small organisation; client ``cid`` / ``secret``,
    consent approved automatically."""
    sb = XeroSandbox(SandboxConfig(
        seed=seed, orgs=[OrgSpec(name=name, customers=customers, invoices=invoices,
                                 payments=payments)],
        client_id="cid", client_secret="secret", auto_approve=True))
    sb.start(host="127.0.0.1", port=0)
    try:
        yield sb
    finally:
        sb.stop()
