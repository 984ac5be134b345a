"""Fixtures for the QuickBooks sandbox tests: one small company per module, a factory for
tests that need their own (limits, identity, mutations), and a bearer client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from arconnect.sandbox.quickbooks import CompanySpec, QboConfig, QboSandbox
from tests.sandbox.helpers import sandbox_factory

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def small_config(**overrides: Any) -> QboConfig:
    """A fast company: 60 customers, 800 invoices, 600 payments, relaxed limits."""
    base: dict[str, Any] = {
        "seed": 7,
        "companies": [CompanySpec(name="Sandbox Company US 1", home_currency="USD",
                                  offset="-08:00", customers=60, invoices=800, payments=600)],
        "start": START,
        "strict_limits": False,
    }
    base.update(overrides)
    return QboConfig(**base)


class Api:
    """A bearer-authenticated JSON client for one company of a sandbox."""

    def __init__(self, sb: QboSandbox, tokens: dict[str, Any] | None = None,
                 realm_id: str | None = None) -> None:
        self.sb = sb
        self.tokens = tokens or sb.create_grant(realm_id)
        self.realm = realm_id or self.tokens.get("realmId") or sb.companies[0].realm_id
        self.session = requests.Session()
        self.session.trust_env = False

    @property
    def base(self) -> str:
        return f"{self.sb.url}/v3/company/{self.realm}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}",
                "Accept": "application/json"}

    def get(self, path: str, **params: str) -> requests.Response:
        params.setdefault("minorversion", "75")
        return self.session.get(f"{self.base}/{path}", params=params, headers=self.headers(),
                                timeout=10)

    def query(self, text: str) -> requests.Response:
        return self.get("query", query=text)

    def post(self, path: str, body: Any, **params: str) -> requests.Response:
        params.setdefault("minorversion", "75")
        return self.session.post(f"{self.base}/{path}", params=params, json=body,
                                 headers=self.headers(), timeout=10)


@pytest.fixture(scope="module")
def qbo() -> Iterator[QboSandbox]:
    """A sandbox shared by the tests of one module (tests that change data use their own)."""
    with QboSandbox(small_config()) as sb:
        yield sb


@pytest.fixture
def api(qbo: QboSandbox) -> Api:
    return Api(qbo)


@pytest.fixture
def make_qbo() -> Iterator[Callable[..., QboSandbox]]:
    """Start a private sandbox with config overrides (a smaller company by default); stopped
    after the test."""

    def build(**overrides: Any) -> QboSandbox:
        overrides.setdefault("companies", [CompanySpec(customers=15, invoices=120,
                                                       payments=90)])
        return QboSandbox(small_config(**overrides))

    with sandbox_factory(build) as make:
        yield make
