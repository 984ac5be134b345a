"""The sync engine: cursor ─▶ adapter pages ─▶ mapping ─▶ upsert + cursor, one transaction a page.

The engine owns the loop and the state; adapters only fetch, mappings only shape. Because a
page's rows and the cursor that follows it commit together, a process killed at any instant
resumes from the last committed page: nothing lost, and (upserts being idempotent) nothing
duplicated.

Fetching runs one page ahead in a background thread, so the network and the database overlap.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, text, update

from arconnect.adapters.base import (
    Adapter,
    Cursor,
    HttpClient,
    Page,
    Reconciling,
    Sweeping,
    TenantInfo,
)
from arconnect.errors import ArconnectError, PageError, RateLimitedDaily, ReconnectRequired
from arconnect.mapping import OWNER_COLUMN, Mapping, RecordError
from arconnect.store.locks import LockBusy, tenant_lock
from arconnect.store.models import SQLModel, SyncCursor, SyncRun, Tenant
from arconnect.store.upsert import update_existing, upsert

# The unique key of each normalized table, as the upsert's conflict target.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "customer": ("tenant_id", "external_id"),
    "document": ("tenant_id", "external_id"),
    "payment": ("tenant_id", "external_id"),
    "allocation": ("tenant_id", "source_kind", "external_id"),
}
# Tables whose rows refer to a customer, re-pointed when a customer is merged into another.
_CUSTOMER_REFS = ("document", "payment", "allocation")


@dataclass
class SyncResult:
    """How one tenant's sync ended and what it read."""

    tenant_id: int
    tenant_name: str
    run_id: int
    status: str = "running"
    records: dict[str, int] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)
    """entity -> what its records are (:attr:`arconnect.mapping.EntityMapping.category`)."""
    pages: int = 0
    api_calls: int = 0
    http_429s: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Progress:
    """Receives progress events; the CLI renders them as bars. The default does nothing."""

    def entity_started(self, tenant: str, entity: str) -> None:
        """A new entity's pages are about to be read."""

    def page_done(self, tenant: str, entity: str, page: Page, stored: int) -> None:
        """A page was committed (``stored`` raw records)."""

    def entity_done(self, tenant: str, entity: str, records: int) -> None:
        """The entity's last page was committed."""


class SyncEngine:
    """Runs syncs of one platform's tenants into the store.

    Args:
        db: the store engine.
        adapter: the platform adapter (fetches pages).
        mapping: the platform's inbound mapping (shapes rows).
        client_factory: builds the authenticated, paced HTTP client of a tenant.
        progress: where progress events go.
    """

    def __init__(
        self,
        db: Engine,
        adapter: Adapter,
        mapping: Mapping,
        client_factory: Callable[[Tenant], HttpClient],
        progress: Progress | None = None,
    ) -> None:
        self.db = db
        self.adapter = adapter
        self.mapping = mapping
        self.client_factory = client_factory
        self.progress = progress or Progress()
        self._tables: dict[str, Table] = {
            name: SQLModel.metadata.tables[name] for name in TABLE_KEYS
        }

    def run(self, tenant: Tenant, *, full: bool = False, reconcile: bool = False,
            entities: Sequence[str] | None = None) -> SyncResult:
        """Sync every entity of ``tenant``; ``full`` ignores the stored cursors.

        ``reconcile`` also re-reads every open invoice in full (changes such as a due date
        edited on a partly paid invoice do not bump Xero's ``UpdatedDateUTC``). Customers that
        documents refer to but no contact read delivered are fetched by id on every run.

        Returns a result whose ``status`` is ``ok``, ``rate_limited_daily`` (the daily budget
        ran out; the run stops and resumes from its cursors next time), ``reconnect_required``,
        ``failed`` (``error`` says why, naming tenant, entity and page) or ``busy`` (another
        sync of the tenant is running, in any process: this one does nothing). Never raises for
        those; other exceptions are bugs and propagate.

        ``entities`` limits the run to some entities (write-back refreshes only contacts
        before it plans); the documents' missing customers are then not fetched.
        """
        assert tenant.id is not None
        try:
            with tenant_lock(self.db, "sync", tenant.id):
                return self._run(tenant, full, reconcile, entities)
        except LockBusy:
            return SyncResult(tenant.id, tenant.name, 0, status="busy",
                              error=f"another sync of {tenant.name} is running (a scheduled "
                                    "run, a write-back's refresh or another command); this "
                                    "one read nothing")

    def _run(self, tenant: Tenant, full: bool, reconcile: bool,
             entities: Sequence[str] | None) -> SyncResult:
        assert tenant.id is not None
        started = time.monotonic()
        run_id = self._start_run(tenant, full)
        result = SyncResult(tenant.id, tenant.name, run_id)
        client: HttpClient | None = None
        info = TenantInfo(tenant.external_id, tenant.name, tenant.base_currency, tenant.timezone)
        try:
            client = self.client_factory(tenant)
            org = self.adapter.organisation(client, info)
            info = TenantInfo(tenant.external_id, tenant.name, org.base_currency, org.timezone)
            self._update_tenant(tenant.id, base_currency=org.base_currency,
                                timezone=org.timezone)
            for entity in self.adapter.entities:
                if entities is not None and entity not in entities:
                    continue
                result.categories[entity] = self.mapping.entities[entity].category
                result.records[entity] = self._sync_entity(client, tenant, info, entity, full,
                                                           result)
            if entities is None and isinstance(self.adapter, Reconciling):
                if reconcile:
                    result.records["reconciled"] = sum(
                        self._store_pages(tenant, info, entity,
                                          self.adapter.fetch_open(client, info, entity), result)
                        for entity in self.adapter.open_entities)
                    if isinstance(self.adapter, Sweeping):
                        result.records["swept"] = self._delete_sweep(client, tenant, info,
                                                                     result)
                self._fill_missing_customers(client, tenant, info, result)
            self._fold_merged_customers(tenant.id)
            result.status = "ok"
        except RateLimitedDaily as err:
            result.status, result.error = "rate_limited_daily", str(err)
        except ReconnectRequired as err:
            result.status, result.error = "reconnect_required", str(err)
        except ArconnectError as err:
            result.status, result.error = "failed", str(err)
        finally:
            result.api_calls = int(getattr(client, "calls", 0))
            result.http_429s = int(getattr(client, "http_429s", 0))
            result.seconds = time.monotonic() - started
            self._finish_run(tenant, result)
        return result

    # -- one entity -------------------------------------------------------------------------

    def _sync_entity(
        self, client: HttpClient, tenant: Tenant, info: TenantInfo, entity: str, full: bool,
        result: SyncResult,
    ) -> int:
        assert tenant.id is not None
        cursor = None if full else self._load_cursor(tenant.id, entity)
        self.progress.entity_started(tenant.name, entity)
        pages = _prefetch(self.adapter.fetch(client, info, entity, cursor))
        stored = self._store_pages(tenant, info, entity, pages, result, save_cursor=True)
        self.progress.entity_done(tenant.name, entity, stored)
        return stored

    def _store_pages(
        self, tenant: Tenant, info: TenantInfo, entity: str, pages: Iterator[Page],
        result: SyncResult, *, save_cursor: bool = False, apply_skip: bool = True,
    ) -> int:
        """Map each page and upsert its rows in one transaction — with the page's cursor when
        ``save_cursor`` (reads outside the cursor, such as the reconcile sweep, save none)."""
        assert tenant.id is not None
        entity_map = self.mapping.entities[entity]
        context: dict[str, Any] = {"tenant_id": tenant.id, "base_currency": info.base_currency}
        stored = 0
        for page in pages:
            context["synced_at"] = datetime.now(UTC)
            try:
                rows = entity_map.map_page(page.records, context, apply_skip=apply_skip)
                gone = entity_map.map_tombstones(page.records, context)
                owners = entity_map.owners(page.records)
            except RecordError as err:
                raise PageError(
                    info.label, entity, page.number, _record_problem(err, page)
                ) from None
            with self.db.begin() as conn:
                for table_name, table_rows in rows.items():
                    self._upsert(conn, table_name, table_rows)
                # Tombstones set only what they say on the rows already stored.
                for update, partial in gone:
                    update_existing(conn, self._tables[update.table], partial, update.keys)
                # A record read again owns exactly the lines it maps to now.
                for table_name, ids in owners.items():
                    self._retire_lines(conn, tenant.id, table_name, ids,
                                       rows.get(table_name, []), context["synced_at"])
                if save_cursor:
                    self._save_cursor(conn, tenant.id, entity, page.next_cursor)
            stored += len(page.records)
            result.pages += 1
            if save_cursor:
                self.progress.page_done(tenant.name, entity, page, len(page.records))
        return stored

    def _retire_lines(self, conn: Connection, tenant_id: int, table_name: str, owners: set[str],
                      rows: list[dict[str, Any]], now: datetime) -> None:
        """Mark deleted the stored rows of ``table_name`` owned by one of ``owners`` (records
        just read again) that this read did not map: a payment whose line was removed or
        pointed at another invoice no longer applies that money."""
        if not owners:
            return
        t = self._tables[table_name]
        keys = [k for k in TABLE_KEYS[table_name] if k != "tenant_id"]
        current = {tuple(r[k] for k in keys) for r in rows if r.get(OWNER_COLUMN) in owners}
        stale: list[tuple[Any, ...]] = []
        chosen = sorted(owners)
        for start in range(0, len(chosen), 500):
            found = conn.execute(select(*(t.c[k] for k in keys)).where(
                t.c.tenant_id == tenant_id, t.c[OWNER_COLUMN].in_(chosen[start:start + 500]),
                t.c.is_deleted.is_not(True)))
            stale.extend(tuple(r) for r in found if tuple(r) not in current)
        for values in stale:
            conn.execute(update(t).where(t.c.tenant_id == tenant_id, *(
                t.c[k] == v for k, v in zip(keys, values, strict=True))).values(
                is_deleted=True, synced_at=now))

    def _upsert(self, conn: Connection, table_name: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        keys = TABLE_KEYS[table_name]
        # One statement must not touch a row twice (PostgreSQL refuses): keep the last of
        # duplicates, which is the newest when a record moved pages between two reads.
        unique = {tuple(r[k] for k in keys): r for r in rows}
        upsert(conn, self._tables[table_name], list(unique.values()), keys)

    def _delete_sweep(self, client: HttpClient, tenant: Tenant, info: TenantInfo,
                      result: SyncResult) -> int:
        """Mark deleted what the platform no longer lists (deletes its incremental reads do not
        report); returns how many rows were marked.

        The entities whose tombstones update the same rows (QBO invoices and credit memos both
        land in ``document``) are swept together: an id is gone only when none of them lists
        it. Each entity's listing narrows the candidates; the last one's tombstones are stored
        through the mapping's ``tombstone:`` rule like any delete.
        """
        assert isinstance(self.adapter, Sweeping)
        groups: dict[tuple[str, str, tuple[tuple[str, Any], ...]], list[str]] = {}
        for entity in self.adapter.entities:
            entity_map = self.mapping.entities.get(entity)
            if entity_map is None or entity_map.tombstone is None:
                continue
            first = entity_map.tombstone.updates[0]
            groups.setdefault((first.table, first.match, first.where), []).append(entity)
        marked = 0
        context: dict[str, Any] = {"tenant_id": tenant.id, "base_currency": info.base_currency,
                                   "synced_at": datetime.now(UTC)}
        for (table, match, where), names in groups.items():
            candidates = self._live_ids(tenant, table, match, where)
            for entity in names[:-1]:
                if not candidates:
                    break
                entity_map = self.mapping.entities[entity]
                still: list[str] = []
                for page in self.adapter.delete_sweep(client, info, entity, candidates):
                    for change, partial in entity_map.map_tombstones(page.records, context):
                        if change.table == table:
                            still.extend(str(row[match]) for row in partial)
                candidates = still
            if candidates:
                pages = self.adapter.delete_sweep(client, info, names[-1], candidates)
                marked += self._store_pages(tenant, info, names[-1], pages, result)
        return marked

    def _live_ids(self, tenant: Tenant, table: str, match: str,
                  where: tuple[tuple[str, Any], ...]) -> list[str]:
        """The ``match`` values of the tenant's rows of ``table`` not yet marked deleted."""
        t = self._tables[table]
        stmt = select(t.c[match]).where(t.c.tenant_id == tenant.id)
        if "is_deleted" in t.c:
            stmt = stmt.where(t.c.is_deleted.is_not(True))
        for column, value in where:
            stmt = stmt.where(t.c[column] == value)
        with self.db.connect() as conn:
            return sorted({str(v) for v in conn.execute(stmt).scalars() if v is not None})

    def _fill_missing_customers(
        self, client: HttpClient, tenant: Tenant, info: TenantInfo, result: SyncResult
    ) -> None:
        """Fetch by id the customers that documents refer to but the store lacks.

        Whatever the platform still does not return is kept as a bare customer row, so no
        document is ever orphaned.
        """
        assert isinstance(self.adapter, Reconciling)
        missing = self._missing_customers(tenant)
        if not missing:
            return
        entity = self.adapter.customer_entity
        pages = self.adapter.fetch_ids(client, info, entity, missing)
        self._store_pages(tenant, info, entity, pages, result, apply_skip=False)
        still = self._missing_customers(tenant)
        if still:
            now = datetime.now(UTC)
            with self.db.begin() as conn:
                upsert(conn, self._tables["customer"], [
                    {"tenant_id": tenant.id, "external_id": cid, "is_customer": True,
                     "is_archived": False, "synced_at": now} for cid in still
                ], TABLE_KEYS["customer"], update=[])

    def _missing_customers(self, tenant: Tenant) -> list[str]:
        with self.db.connect() as conn:
            return list(conn.execute(text(
                "SELECT DISTINCT d.customer_external_id FROM document d"
                " WHERE d.tenant_id = :t AND d.customer_external_id IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM customer c WHERE c.tenant_id = d.tenant_id"
                " AND c.external_id = d.customer_external_id)"
                " ORDER BY 1"
            ), {"t": tenant.id}).scalars())

    # -- state ------------------------------------------------------------------------------

    def _load_cursor(self, tenant_id: int, entity: str) -> Cursor | None:
        table = SyncCursor.__table__  # type: ignore[attr-defined]
        with self.db.connect() as conn:
            row = conn.execute(
                select(table.c.value).where(
                    table.c.tenant_id == tenant_id, table.c.entity == entity
                )
            ).first()
        return dict(row[0]) if row and row[0] else None

    def _save_cursor(self, conn: Connection, tenant_id: int, entity: str, value: Cursor) -> None:
        upsert(
            conn,
            SyncCursor.__table__,  # type: ignore[attr-defined]
            [{"tenant_id": tenant_id, "entity": entity, "value": value,
              "updated_at": datetime.now(UTC)}],
            ("tenant_id", "entity"),
        )

    def _fold_merged_customers(self, tenant_id: int) -> None:
        """Re-point the history of merged customers to the customer they were merged into.

        Xero keeps a merged contact (``MergedToContactID`` set); its documents belong to the
        surviving contact. Chains (A ─▶ B ─▶ C) fold in a few rounds.
        """
        with self.db.begin() as conn:
            for _ in range(5):
                changed = 0
                for table in _CUSTOMER_REFS:
                    changed += conn.execute(
                        text(
                            f"UPDATE {table} SET customer_external_id = ("
                            " SELECT c.merged_into_external_id FROM customer c"
                            f" WHERE c.tenant_id = {table}.tenant_id"
                            f" AND c.external_id = {table}.customer_external_id)"
                            f" WHERE {table}.tenant_id = :t AND {table}.customer_external_id IN ("
                            " SELECT external_id FROM customer WHERE tenant_id = :t"
                            " AND merged_into_external_id IS NOT NULL"
                            " AND merged_into_external_id <> ''"
                            " AND merged_into_external_id <> external_id)"
                        ),
                        {"t": tenant_id},
                    ).rowcount
                if not changed:
                    break

    def _start_run(self, tenant: Tenant, full: bool) -> int:
        table = SyncRun.__table__  # type: ignore[attr-defined]
        with self.db.begin() as conn:
            # A run still "running" was killed (a live one finishes by its own id, whatever
            # this says): record it as interrupted; its committed pages are kept.
            conn.execute(
                update(table)
                .where(table.c.tenant_id == tenant.id, table.c.status == "running")
                .values(status="interrupted", finished_at=datetime.now(UTC),
                        error="the process stopped before the run finished; the next run "
                              "resumed from the last committed page")
            )
            run_id = conn.execute(
                table.insert().values(tenant_id=tenant.id, full=full, status="running",
                                      started_at=datetime.now(UTC))
            ).inserted_primary_key
        assert run_id is not None
        return int(run_id[0])

    def _finish_run(self, tenant: Tenant, result: SyncResult) -> None:
        runs = SyncRun.__table__  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        with self.db.begin() as conn:
            conn.execute(
                update(runs).where(runs.c.id == result.run_id).values(
                    status=result.status, finished_at=now, records=result.records,
                    api_calls=result.api_calls, http_429s=result.http_429s, error=result.error,
                )
            )
        values: dict[str, Any] = {"updated_at": now}
        if result.status == "ok":
            values.update(status="active", status_detail=None, last_sync_at=now)
        elif result.status == "rate_limited_daily":
            values.update(status="rate_limited_daily", status_detail=result.error)
        elif result.status == "reconnect_required":
            values.update(status="reconnect_required", status_detail=result.error)
        else:
            values.update(status_detail=result.error)
        assert tenant.id is not None
        self._update_tenant(tenant.id, **values)

    def _update_tenant(self, tenant_id: int, **values: Any) -> None:
        table = Tenant.__table__  # type: ignore[attr-defined]
        with self.db.begin() as conn:
            conn.execute(update(table).where(table.c.id == tenant_id).values(**values))


def _record_problem(err: RecordError, page: Page) -> str:
    index = getattr(err, "index", None)
    record_id = ""
    if isinstance(index, int) and 0 <= index < len(page.records):
        rec = page.records[index]
        ids = [v for k, v in rec.items() if k.endswith("ID") and isinstance(v, str)][:1]
        record_id = f" ({ids[0]})" if ids else ""
    return f"record {index}{record_id}: {err}"


_DONE = object()


def _prefetch(pages: Iterator[Page], depth: int = 2) -> Iterator[Page]:
    """Iterate ``pages`` with up to ``depth`` pages fetched ahead in a background thread.

    An exception raised while fetching is re-raised here, in order, after the pages before it.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        """Queue ``item`` unless the consumer has gone (it stopped reading: a failed page)."""
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not offer(page):
                    return
            offer(_DONE)
        except BaseException as err:  # handed to the consumer, which re-raises it
            offer(err)

    worker = threading.Thread(target=produce, name="sync-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
