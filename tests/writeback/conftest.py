"""Fixtures for write-back tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from arconnect.clock import Clock, set_clock
from arconnect.sandbox.xero import OrgSpec
from tests.sync.conftest import XeroEnv, sandbox_env
from tests.writeback.helpers import prepare


@pytest.fixture
def wb_env(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Iterator[XeroEnv]:
    """A small organisation (its own groups included), synced and segmented; SQLite store."""
    org = OrgSpec(name="Acme Wholesale", customers=40, invoices=500, payments=400, suppliers=3,
                  bills=20)
    # Write-back makes more calls than a small sync: a scaled clock keeps the client's pacing
    # (60 calls a minute) from making the tests wait.
    set_clock(Clock(600.0))
    try:
        with sandbox_env(monkeypatch, sqlite_url, org=org) as env:
            prepare(env)
            yield env
    finally:
        set_clock(None)
