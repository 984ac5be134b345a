"""The sync's promises, each tested by breaking the world around it rather than by the shape of
a request: a database failing mid-page, a record committed late in Xero, an organisation whose
plain invoice list hides deleted invoices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from arconnect.adapters.base import Page
from arconnect.adapters.xero import XeroAdapter
from arconnect.sandbox.xero.wire import dotnet_date
from arconnect.services import client_for, mapping_for, sync_tenants
from arconnect.sync import Progress, SyncEngine
from tests.xero_words import XERO_DOCUMENT_STATUS

from .conftest import (  # type: ignore[import-not-found]
    XeroEnv,
    assert_store_equals_truth,
    sandbox_env,
    stored,
    stored_cursor,
)


class _Committed(Progress):
    """Which entity is being stored and the pages whose commit the engine reported."""

    def __init__(self) -> None:
        self.entity: str | None = None
        self.pages: dict[str, list[Page]] = {}

    def entity_started(self, tenant: str, entity: str) -> None:
        self.entity = entity

    def page_done(self, tenant: str, entity: str, page: Page, stored: int) -> None:
        self.pages.setdefault(entity, []).append(page)


def _disk_error() -> OperationalError:
    return OperationalError("INSERT ...", {}, Exception("disk I/O error"))


# -- a page's rows and its cursor are one transaction ------------------------------------------

@pytest.mark.parametrize("xero_env", [{"page_size": 100}], indirect=True)
@pytest.mark.parametrize("fails", ["rows", "cursor"])
def test_a_database_failing_mid_page_loses_nothing(
    xero_env: XeroEnv, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    """The store fails while the third page of invoices is being written — on its rows, or on
    the cursor after them. Neither half of that page may stay: the cursor is the one committed
    with the second page, the store holds the invoices of the first two pages and no more, and
    the next run (the store healthy again) ends equal to Xero."""
    env = xero_env
    seen = _Committed()
    armed = {"on": True}

    def failing_third_page() -> None:
        if armed["on"] and seen.entity == "invoices" and len(seen.pages.get("invoices", [])) == 2:
            armed["on"] = False
            raise _disk_error()

    real_upsert, real_save = SyncEngine._upsert, SyncEngine._save_cursor

    def upsert_rows(self: SyncEngine, conn: Connection, table: str,
                    rows: list[dict[str, Any]]) -> None:
        if fails == "rows" and table == "document":
            failing_third_page()
        real_upsert(self, conn, table, rows)

    def save_cursor(self: SyncEngine, conn: Connection, tenant_id: int, entity: str,
                    value: Any) -> None:
        if fails == "cursor":
            failing_third_page()
        real_save(self, conn, tenant_id, entity, value)

    monkeypatch.setattr(SyncEngine, "_upsert", upsert_rows)
    monkeypatch.setattr(SyncEngine, "_save_cursor", save_cursor)

    with pytest.raises(OperationalError, match="disk I/O error"):
        sync_tenants(env.db, [str(env.tenant.id)], progress=seen)
    assert not armed["on"], "the fault never fired: the organisation has too few invoices"

    first_two = seen.pages["invoices"]
    assert len(first_two) == 2
    assert stored_cursor(env, "invoices") == first_two[-1].next_cursor
    committed = {r["InvoiceID"] for page in first_two for r in page.records}
    documents = set(stored(env.db, env.tenant.id)["document"])
    assert documents == committed, (
        f"{len(documents - committed)} invoices of the failed page were kept without their "
        f"cursor" if documents > committed else "invoices of committed pages are missing")

    result = sync_tenants(env.db, [str(env.tenant.id)])[0]
    assert result.ok, result.error
    assert_store_equals_truth(env.db, env.tenant.id, env.org)


# -- the overlap: a record committed late still arrives ----------------------------------------

def _late_invoice(env: XeroEnv) -> dict[str, Any]:
    """A new invoice whose UpdatedDateUTC is 30 s older than the newest one the store has read,
    as when Xero commits a transaction after a later one was already visible."""
    cursor = stored_cursor(env, "invoices")
    last = datetime.fromisoformat(cursor["last_ts"]).astimezone(UTC)
    org = env.org
    template = next(i for i in org.invoices.values()
                    if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED")
    invoice = dict(template, InvoiceID="5f0e7c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
                   InvoiceNumber="INV-LATE",
                   UpdatedDateUTC=dotnet_date(last - timedelta(seconds=30)))
    org.invoices.put(invoice)
    return invoice


def test_a_default_adapter_reaches_back_as_far_as_the_default_settings(
    xero_env: XeroEnv,
) -> None:
    """Code that builds the Xero adapter without arguments gets the overlap the default
    settings give (``tests/contract`` shows a late invoice arriving through ``sync_tenants`` on
    every platform): the late invoice arrives through an engine holding ``XeroAdapter()``."""
    env = xero_env
    engine = SyncEngine(env.db, XeroAdapter(), mapping_for("xero"),
                        lambda t: client_for(env.db, t))
    assert engine.run(env.tenant).ok
    late = _late_invoice(env)
    env.sandbox.clock.advance(600)
    result = engine.run(env.tenant)
    assert result.ok, result.error
    assert late["InvoiceID"] in set(stored(env.db, env.tenant.id)["document"]), (
        "the invoice stamped 30 s before the stored cursor never arrived")


# -- deleted and voided invoices arrive even where a plain list hides them ---------------------

def test_deleted_and_voided_invoices_arrive_when_plain_lists_hide_them(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    """Whether Xero's plain ``GET /Invoices`` returns DELETED invoices is not documented: with
    the sandbox hiding them, a full and an incremental sync still store every deleted and
    voided invoice, flagged."""
    with sandbox_env(monkeypatch, sqlite_url, deleted_invoices_in_list=False) as env:
        org = env.org

        def gone(status: str) -> set[str]:
            return {k for k, i in org.invoices.items()
                    if i["Type"] == "ACCREC" and i["Status"] == status}

        assert gone("DELETED") and gone("VOIDED"), "the generated history has both"
        assert sync_tenants(env.db, [str(env.tenant.id)], full=True)[0].ok
        env.sandbox.clock.advance(3600)
        before = gone("DELETED") | gone("VOIDED")
        env.sandbox.mutate(env.tenant.external_id, n=120, seed=3)
        assert (gone("DELETED") | gone("VOIDED")) - before, "the mutation deletes or voids some"
        result = sync_tenants(env.db, [str(env.tenant.id)])[0]
        assert result.ok, result.error
        documents = stored(env.db, env.tenant.id)["document"]
        for status in ("DELETED", "VOIDED"):
            for invoice_id in gone(status):
                assert invoice_id in documents, f"{status} invoice {invoice_id} never arrived"
                assert documents[invoice_id]["status"] == XERO_DOCUMENT_STATUS[status]
                assert documents[invoice_id]["is_deleted"]
        assert_store_equals_truth(env.db, env.tenant.id, org)
