"""A record read again owns exactly the lines it maps to now (a mapping row's ``owner:``): a
payment whose line was removed or pointed at another invoice no longer applies that money, so
the allocation of the old line is marked deleted; lines of other payments are untouched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from arconnect.adapters.base import Page, TenantInfo
from arconnect.errors import MappingError
from arconnect.mapping import load_mapping
from arconnect.store import db
from arconnect.store.models import Allocation, Tenant
from arconnect.sync import SyncEngine, SyncResult

ALLOC = Allocation.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 12, 1, tzinfo=UTC)

MAPPING = """\
entities:
  payments:
    rows:
      - table: allocation
        each: Line
        owner: Id
        fields:
          external_id: {transform: join, paths: [^.Id, TxnId], sep: ":"}
          source_kind: {const: payment}
          source_external_id: ^.Id
          document_external_id: TxnId
          amount: {path: Amount, transform: decimal, round: 2}
"""


def _pages(*pages: list[dict[str, Any]]) -> Iterator[Page]:
    for n, records in enumerate(pages, 1):
        yield Page(records=records, next_cursor={"n": n}, number=n, done=n == len(pages))


def _payment(pid: str, *lines: tuple[str, float]) -> dict[str, Any]:
    return {"Id": pid, "Line": [{"TxnId": t, "Amount": a} for t, a in lines]}


def test_a_line_dropped_from_a_payment_read_again_is_marked_deleted(
        db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "owned.yaml"
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
    info = TenantInfo("realm-1", "Realm", "USD")
    first = [_payment("P", ("A", 10), ("B", 20)), _payment("Q", ("C", 5)),
             _payment("R", ("D", 7))]
    sync._store_pages(tenant, info, "payments", _pages(first), SyncResult(tid, "Realm", 0))
    # P lost its line to B and now pays E; Q lost its only line; R was not read again
    again = [_payment("P", ("A", 10), ("E", 20)), _payment("Q")]
    sync._store_pages(tenant, info, "payments", _pages(again), SyncResult(tid, "Realm", 0))
    with engine.connect() as conn:
        got = {r.external_id: (r.is_deleted, r.origin_external_id)
               for r in conn.execute(select(ALLOC)).all()}
    assert got == {"P:A": (False, "P"), "P:B": (True, "P"), "P:E": (False, "P"),
                   "Q:C": (True, "Q"), "R:D": (False, "R")}


@pytest.mark.parametrize(("change", "problem"), [
    ("        each: Line\n        owner: Id\n", None),
    ("        owner: Id\n", "has no `each:`"),
    ("        each: Line\n        owner: Id\n        fields:\n          origin_external_id: Id\n",
     "remove it from fields"),
])
def test_owner_needs_each_and_fills_its_column(tmp_path: Path, change: str,
                                               problem: str | None) -> None:
    text = MAPPING.replace("        each: Line\n        owner: Id\n", change)
    if "origin_external_id: Id" in change:
        text = text.replace("        fields:\n          external_id:", "          external_id:", 1)
    path = tmp_path / "owned.yaml"
    path.write_text(text, encoding="utf-8")
    if problem is None:
        load_mapping(path)
        return
    with pytest.raises(MappingError, match=r"owned\.yaml:\d+: .*" + problem):
        load_mapping(path)
