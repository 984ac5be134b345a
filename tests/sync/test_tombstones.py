"""The sync engine stores a page's tombstones as partial updates: the rows it already holds get
only the columns the mapping's ``tombstone: set:`` names, unknown ids are skipped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from arconnect.adapters.base import Page, TenantInfo
from arconnect.mapping import load_mapping
from arconnect.store import db
from arconnect.store.models import Document, Tenant
from arconnect.sync import SyncEngine, SyncResult

DOC = Document.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 12, 1, tzinfo=UTC)

MAPPING = """\
entities:
  invoices:
    rows:
      - table: document
        fields:
          external_id: Id
          kind: {const: invoice}
          number: DocNumber
          customer_external_id: {path: CustomerRef.value, required: true}
          status:
            path: state
            transform: lookup
            map: {Open: open, Paid: paid}
            allowed: [Open, Paid]
          total: {path: TotalAmt, transform: decimal, round: 2}
          amount_due: {path: Balance, transform: decimal, round: 2}
    tombstone:
      when: {path: status, equals: Deleted}
      id: Id
      update:
        - table: document
          set: {status: deleted, is_deleted: true}
"""


def _pages(*pages: list[dict[str, Any]]) -> Iterator[Page]:
    for n, records in enumerate(pages, 1):
        yield Page(records=records, next_cursor={"n": n}, number=n, done=n == len(pages))


def test_a_tombstone_page_updates_only_the_deleted_columns(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "qbo_like.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    engine = db.get_engine(db_url)
    with engine.begin() as conn:
        tid = conn.execute(Tenant.__table__.insert().values(  # type: ignore[attr-defined]
            platform="quickbooks", external_id="realm-1", name="Realm", created_at=NOW,
            updated_at=NOW)).inserted_primary_key[0]
    tenant = Tenant(id=tid, platform="quickbooks", external_id="realm-1", name="Realm",
                    created_at=NOW, updated_at=NOW)
    sync = SyncEngine(engine, adapter=None, mapping=load_mapping(path),  # type: ignore[arg-type]
                      client_factory=lambda t: None)  # type: ignore[arg-type,return-value]
    live = [{"Id": "130", "DocNumber": "1037", "CustomerRef": {"value": "24"}, "state": "Open",
             "TotalAmt": 362.07, "Balance": 362.07},
            {"Id": "131", "DocNumber": "1038", "CustomerRef": {"value": "24"}, "state": "Paid",
             "TotalAmt": 10, "Balance": 0}]
    # QBO change data capture returns a deleted entity as little more than its Id:
    # https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture
    cdc = [{"domain": "QBO", "status": "Deleted", "Id": "130",
            "MetaData": {"LastUpdatedTime": "2026-12-02T09:00:00-08:00"}},
           {"domain": "QBO", "status": "Deleted", "Id": "404"}]
    result = SyncResult(tid, "Realm", 0)
    info = TenantInfo("realm-1", "Realm", "USD")
    stored = sync._store_pages(tenant, info, "invoices", _pages(live, cdc), result)
    assert stored == 4 and result.pages == 2
    with engine.connect() as conn:
        got = {r.external_id: r for r in conn.execute(select(DOC)).all()}
    assert set(got) == {"130", "131"}  # 404 was never stored: nothing to delete, nothing added
    gone = got["130"]
    assert (gone.status, gone.is_deleted) == ("deleted", True)
    assert (gone.number, gone.customer_external_id, gone.total, gone.amount_due) == (
        "1037", "24", Decimal("362.07"), Decimal("362.07"))
    assert (got["131"].status, got["131"].is_deleted) == ("paid", False)
