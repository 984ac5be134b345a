"""A sync stopped part-way, then records moved in Xero, then resumed: nothing may be lost.

Xero lists by ``UpdatedDateUTC``: an edit moves a record to the end and shifts every record after
it one place towards the front. A pass resumed by page number after such edits skips the records
that shifted onto pages read before the stop, and no later incremental read fetches them (they
are older than the cursor). Each entity is stopped at a few pages in, its earliest records are
edited (with other changes besides), and the store must equal Xero's after the resumed sync.
The SIGKILL test in test_sync_xero.py shows a real kill stops at the same committed state.
"""

from __future__ import annotations

import uuid
from copy import deepcopy

import pytest
from sqlalchemy import text

from arconnect.adapters.base import Page
from arconnect.adapters.xero import XeroAdapter
from arconnect.sandbox.xero import OrgSpec
from arconnect.sandbox.xero.wire import dotnet_date
from arconnect.services import sync_tenants
from arconnect.settings import get_settings
from arconnect.sync import Progress

from .conftest import XeroEnv, assert_store_equals_truth  # type: ignore[import-not-found]

TABLES = {"contacts": "contacts", "invoices": "invoices", "credit_notes": "credit_notes",
          "payments": "payments", "overpayments": "overpayments", "prepayments": "prepayments"}
SMALL = OrgSpec(name="Acme Wholesale", customers=12, invoices=40, payments=30, suppliers=2,
                bills=4)
ID_FIELDS = {"contacts": "ContactID", "invoices": "InvoiceID", "credit_notes": "CreditNoteID",
             "payments": "PaymentID", "overpayments": "OverpaymentID",
             "prepayments": "PrepaymentID"}
AT_LEAST = 12  # records of every entity: four pages of three


class Stop(BaseException):
    """Ends the sync where a kill would: right after a page and its cursor committed."""


class StopAt(Progress):
    def __init__(self, entity: str, page: int) -> None:
        self.entity, self.page, self.pages = entity, page, 0

    def page_done(self, tenant: str, entity: str, page: Page, stored: int) -> None:
        if entity == self.entity:
            self.pages += 1
            if self.pages == self.page:
                raise Stop


def _empty_store(env: XeroEnv) -> None:
    with env.db.begin() as conn:
        for table in ("allocation", "payment", "document", "customer", "sync_cursor"):
            conn.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"),
                         {"t": env.tenant.id})


def _grow(env: XeroEnv) -> None:
    """Copy records (new ids, allocations included) until every entity spans a few pages."""
    org = env.org
    with org.lock:
        for entity, name in TABLES.items():
            table = getattr(org, name)
            originals = [r for r in table.values() if entity != "contacts"
                         or r.get("IsCustomer")]
            for n in range(AT_LEAST - len(table)):
                copy = deepcopy(originals[n % len(originals)])
                copy[ID_FIELDS[entity]] = str(uuid.uuid4())
                if entity == "contacts":
                    copy["Name"] = f"{copy['Name']} {n}"
                for alloc in copy.get("Allocations") or []:
                    alloc["AllocationID"] = str(uuid.uuid4())
                copy["UpdatedDateUTC"] = dotnet_date(env.sandbox.clock.now_ms())
                table[copy[ID_FIELDS[entity]]] = copy
                table.touch(copy[ID_FIELDS[entity]])


def _move_earliest(env: XeroEnv, entity: str, count: int) -> None:
    """Edit the ``count`` records of ``entity`` that Xero lists first: they go to the end."""
    org = env.org
    table = getattr(org, TABLES[entity])
    with org.lock:
        for key in list(table)[:count]:
            table[key]["UpdatedDateUTC"] = dotnet_date(env.sandbox.clock.now_ms())
            table.touch(key)


@pytest.mark.parametrize("xero_env", [{"page_size": 3, "org": SMALL}], indirect=True)
@pytest.mark.parametrize("entity", XeroAdapter.entities)
def test_stopped_sync_resumes_without_loss_after_records_move(
    xero_env: XeroEnv, entity: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = xero_env
    monkeypatch.setenv("ARCONNECT_XERO_MINUTE_LIMIT", "100000")  # no pacing: a relaxed sandbox
    get_settings.cache_clear()
    _grow(env)
    env.sandbox.clock.advance(3600)  # the copies are history by now, far outside any overlap
    rounds = 0
    for seed, stop_page in enumerate((1, 3), 1):
        _empty_store(env)
        with pytest.raises(Stop):
            sync_tenants(env.db, [str(env.tenant.id)], full=True,
                         progress=StopAt(entity, stop_page))
        rounds += 1
        env.sandbox.clock.advance(3600)
        _move_earliest(env, entity, 6)
        env.sandbox.mutate(env.tenant.external_id, n=20, seed=seed)
        [result] = sync_tenants(env.db, [str(env.tenant.id)])
        assert result.ok, result.error
        [result] = sync_tenants(env.db, [str(env.tenant.id)])
        assert result.ok, result.error
        assert_store_equals_truth(env.db, env.tenant.id, env.org)
    assert rounds == 2
