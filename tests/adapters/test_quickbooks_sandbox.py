"""The QuickBooks Online adapter end to end against the QBO sandbox (a real HTTP server): a
full read of every entity, then changes read back by CDC, tombstones included, every page
mapped by the shipped mapping."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from arconnect.adapters.base import Cursor, Page, TenantInfo
from arconnect.adapters.quickbooks import QuickBooksAdapter, QuickBooksPlatform
from arconnect.adapters.quickbooks._common import ENDPOINTS
from arconnect.adapters.quickbooks.settings import QboSettings
from arconnect.mapping import load_mapping

sandbox = pytest.importorskip("arconnect.sandbox.quickbooks")

START = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


class Client:
    """A bearer-token client for the test (the engine's ApiClient adds pacing and retries)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.calls = 0

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, json: Any = None
                ) -> requests.Response:
        self.calls += 1
        return self.session.request(method, self.base_url + path, params=params,
                                    headers=headers, json=json, timeout=10)


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    config = sandbox.QboConfig(seed=7, companies=[sandbox.CompanySpec(
        customers=25, invoices=250, payments=180)], start=START, strict_limits=False)
    with sandbox.QboSandbox(config) as server:
        yield server


def read(reader: QuickBooksAdapter, client: Client, tenant: TenantInfo, entity: str,
         cursor: Cursor | None) -> tuple[list[Page], Cursor | None]:
    pages = []
    for page in reader.fetch(client, tenant, entity, cursor):  # type: ignore[arg-type]
        pages.append(page)
        cursor = page.next_cursor
    return pages, cursor


def test_full_then_incremental_read_against_the_sandbox(sb: Any) -> None:
    platform = QuickBooksPlatform()
    settings = QboSettings(_env_file=None).on_host(sb.url)  # type: ignore[call-arg]
    grant = sb.create_grant()
    company = sb.companies[0]
    tenant = TenantInfo(company.realm_id, company.name)
    client = Client(platform.base_url(settings, tenant), grant["access_token"])
    reader = QuickBooksAdapter(page_size=100, now=sb.clock.now)
    mapping = load_mapping("quickbooks")

    org = reader.organisation(client, tenant)  # type: ignore[arg-type]
    assert org.base_currency == company.home_currency and org.name == company.name
    context = {"tenant_id": 1, "synced_at": START, "base_currency": org.base_currency}

    cursors: dict[str, Cursor | None] = {}
    for entity, endpoint in ENDPOINTS.items():
        pages, cursors[entity] = read(reader, client, tenant, entity, None)
        got = {r["Id"] for p in pages for r in p.records}
        assert got == set(company.table(endpoint.name)), entity
        for page in pages:
            mapping.entities[entity].map_page(page.records, context)
        assert cursors[entity] and "since" in cursors[entity]  # type: ignore[operator]

    # The reconcile reads: by id (customers, inactive ones too) and what is still owed.
    wanted = sorted(company.table("Customer"))[:7]
    by_id = reader.fetch_ids(client, tenant, "customers", wanted)  # type: ignore[arg-type]
    assert sorted(r["Id"] for p in by_id for r in p.records) == wanted
    owed = {r["Id"] for p in reader.fetch_open(client, tenant, "invoices")  # type: ignore[arg-type]
            for r in p.records}
    assert owed == {i for i, r in company.table("Invoice").items() if r["Balance"] > 0}

    # Changes: an edit, a payment, a void, a credit applied, a delete.
    change = sb.mutate()
    invoices = [i for i, r in company.table("Invoice").items() if r["Balance"] > 0]
    change.edit_invoice(invoices[0], note="edited")
    payment_id = change.pay_invoice(invoices[1])
    change.void_invoice(invoices[2])
    gone = next(iter(company.table("Payment")))
    change.delete("Payment", gone)

    calls, cdc_calls = client.calls, sb.stats["cdc"]
    changed = {}
    for entity in ENDPOINTS:
        pages, cursors[entity] = read(reader, client, tenant, entity, cursors[entity])
        changed[entity] = {r["Id"]: r for p in pages for r in p.records}
        for page in pages:
            mapping.entities[entity].map_page(page.records, context)
            mapping.entities[entity].map_tombstones(page.records, context)
    assert client.calls - calls == len(ENDPOINTS)  # one CDC call each
    assert sb.stats["cdc"] - cdc_calls == len(ENDPOINTS)
    assert {invoices[0], invoices[1], invoices[2]} <= set(changed["invoices"])
    assert changed["invoices"][invoices[2]]["$state"] == "Voided"
    assert payment_id in changed["payments"]
    assert changed["payments"][gone]["status"] == "Deleted"

    # The delete sweep finds the deleted payment among the ids the store would hold.
    known = [gone, *list(company.table("Payment"))[:5]]
    sweep = platform.delete_sweep(client, tenant, "payments", known, settings)  # type: ignore[arg-type]
    stones = [r for p in sweep for r in p.records]
    assert stones == [{"Id": gone, "status": "Deleted"}]
