"""Fixtures for the Xero sandbox tests: one shared small sandbox, and a factory for tests that
need their own (limits, identity, mutations)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox
from tests.sandbox.helpers import sandbox_factory

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def small_config(**overrides: Any) -> SandboxConfig:
    """A fast company: 60 customers, 800 invoices, 600 payments."""
    base: dict[str, Any] = {
        "seed": 7,
        "orgs": [OrgSpec(name="Demo Company (NZ)", base_currency="NZD",
                         timezone="NEWZEALANDSTANDARDTIME", customers=60, invoices=800,
                         payments=600, suppliers=8, bills=80)],
        "start": START,
        "strict_limits": False,
    }
    base.update(overrides)
    return SandboxConfig(**base)


class Client:
    """A bearer-authenticated JSON client for one tenant of a sandbox."""

    def __init__(self, sb: XeroSandbox, tenant_id: str | None = None,
                 tokens: dict[str, Any] | None = None) -> None:
        self.sb = sb
        self.tenant_id = tenant_id or sb.orgs[0].tenant_id
        self.tokens = tokens or sb.create_grant()
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: no proxy or .netrc look-ups per call

    def headers(self, **extra: str) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.tokens['access_token']}",
               "xero-tenant-id": self.tenant_id, "Accept": "application/json"}
        out.update(extra)
        return out

    def get(self, path: str, params: Any = None, **headers: str) -> requests.Response:
        return self.session.get(f"{self.sb.url}/api.xro/2.0/{path}", params=params,
                                headers=self.headers(**headers), timeout=10)

    def send(self, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
        return self.session.request(method, f"{self.sb.url}/api.xro/2.0/{path}", json=body,
                                    headers=self.headers(**headers), timeout=10)


@pytest.fixture(scope="session")
def shared_sb() -> Iterator[XeroSandbox]:
    """A read-only sandbox shared by tests that do not change data or limits."""
    with XeroSandbox(small_config()) as sb:
        yield sb


@pytest.fixture
def client(shared_sb: XeroSandbox) -> Client:
    return Client(shared_sb)


@pytest.fixture
def make_sb() -> Iterator[Callable[..., XeroSandbox]]:
    """Start a private sandbox with config overrides; stopped after the test."""
    with sandbox_factory(lambda **overrides: XeroSandbox(small_config(**overrides))) as make:
        yield make


def sdk_accounting_api(sb: XeroSandbox) -> Any:
    """The official xero-python SDK's AccountingApi pointed at ``sb``, on a fresh grant."""
    from xero_python.accounting import AccountingApi
    from xero_python.api_client import ApiClient, Configuration
    from xero_python.api_client.oauth2 import OAuth2Token

    tokens = dict(sb.create_grant(), expires_at=time.time() + 1800)
    client = ApiClient(Configuration(oauth2_token=OAuth2Token(
        client_id=sb.config.client_id, client_secret=sb.config.client_secret)), pool_threads=1)
    client.oauth2_token_getter(lambda: tokens)
    client.oauth2_token_saver(lambda token: tokens.update(token))
    return AccountingApi(client, base_url=f"{sb.url}/api.xro/2.0")
