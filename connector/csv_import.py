"""Import an AR history export (CSV) into the store, as a tenant of the platform ``csv``.

A consultant loads a customer's export to tune the segment rules before a live ERP is
connected. The flow is the sync engine's, minus the network: :class:`CsvAdapter` reads the file,
a mapping (``mappings/csv_*.yaml``) shapes each row into ``customer``, ``document`` and
``allocation`` rows, and the same conflict keys (``TABLE_KEYS``) and upsert store them — so
importing the same file twice leaves the same rows.

Each row is mapped on its own: a row that cannot be mapped (a date in the wrong format, an
empty id, an amount that is not a number, a row with the wrong number of fields) becomes a
:class:`Reject` naming its line in the file, and the rest is imported. With ``strict=True`` one
reject means nothing is written at all, not even the tenant. Everything is written in one
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from arconnect.adapters.csv import LINE_KEY, PROBLEM_KEY, CsvAdapter
from arconnect.errors import ArconnectError, MappingError
from arconnect.mapping import EntityMapping, Mapping, RecordError, load_mapping
from arconnect.store.db import get_engine
from arconnect.store.models import SQLModel, Tenant
from arconnect.store.upsert import upsert
from arconnect.sync import TABLE_KEYS

__all__ = ["PLATFORM", "ImportResult", "Reject", "import_csv"]

PLATFORM = "csv"
# How many rejects the strict-mode error message lists.
_SHOWN = 5


@dataclass(frozen=True)
class Reject:
    """A row that was not imported: its 1-based line in the file and what is wrong."""

    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


@dataclass
class ImportResult:
    """What an import read and stored.

    Attributes:
        rows_read: data rows read from the file (blank lines not counted).
        imported: table ─▶ distinct rows upserted (a customer on many rows counts once).
        rejects: the rows not imported, in file order.
        tenant_id: the store's id of the tenant imported into (None when nothing was written).
    """

    rows_read: int = 0
    imported: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    tenant_id: int | None = None


def import_csv(
    db: Engine | str | None,
    path: str | Path,
    mapping_source: str | Path,
    tenant_name: str,
    *,
    strict: bool = False,
    base_currency: str = "USD",
    delimiter: str | None = None,
) -> ImportResult:
    """Import the CSV file at ``path`` into the tenant ``tenant_name`` (platform ``csv``).

    The tenant is created on first import (external id and name ``tenant_name``) and reused
    afterwards; its base currency is set to ``base_currency``, the one currency of the file.
    Every entity of the mapping maps every row. Rows are upserted by ``TABLE_KEYS``: re-importing
    a file is idempotent, and a corrected file updates the rows it repeats.

    Args:
        db: the store engine, or a database URL (None: the settings' store).
        path: the CSV file.
        mapping_source: a shipped mapping name (``"csv_ibm"``) or a YAML file.
        tenant_name: the tenant to import into.
        strict: any reject aborts the import with nothing written.
        base_currency: ISO code of the amounts in the file.
        delimiter: the field separator (None: sniffed).

    Returns:
        The counts and the rejects (each with its file line).

    Raises:
        MappingError: the mapping is invalid (``file:line``), before anything is read or written.
        CsvFileError: the file cannot be read as CSV (nothing written).
        ArconnectError: ``strict`` and some rows were rejected (the first ones listed).
    """
    tenant_name = tenant_name.strip()
    if not tenant_name:
        raise ArconnectError("import csv: the tenant name is empty; give --tenant NAME")
    mapping = load_mapping(mapping_source)
    if mapping.platform not in (None, PLATFORM):
        raise MappingError(
            f"{mapping.source}:1: this mapping is for platform {mapping.platform!r}, not "
            f"{PLATFORM!r}; use a CSV mapping such as csv_ibm"
        )
    engine = db if isinstance(db, Engine) else get_engine(db)
    adapter = CsvAdapter(path, delimiter=delimiter)
    result = ImportResult()
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Take the write lock up front: reading first and upgrading later can deadlock
            # against a concurrent writer.
            conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
        with conn.begin():
            tenant_id = _tenant(conn, tenant_name, base_currency)
            context: dict[str, Any] = {"tenant_id": tenant_id, "base_currency": base_currency,
                                       "synced_at": datetime.now(UTC)}
            tables = dict.fromkeys(t for e in mapping.entities.values() for t in e.tables)
            rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {t: {} for t in tables}
            for page in adapter.pages():
                result.rows_read += len(page.records)
                for table, table_rows in _map(mapping, page.records, context, result.rejects):
                    keys = TABLE_KEYS[table]
                    found = rows[table]
                    for row in table_rows:
                        # The last row read wins, as a later page would in a sync.
                        found[tuple(row[k] for k in keys)] = row
            if strict and result.rejects:
                raise ArconnectError(_strict_message(adapter.path, result.rejects))
            for table, by_key in rows.items():
                if by_key:
                    upsert(conn, SQLModel.metadata.tables[table], list(by_key.values()),
                           TABLE_KEYS[table])
                result.imported[table] = len(by_key)
            result.tenant_id = tenant_id
    return result


def _map(
    mapping: Mapping, records: list[dict[str, Any]], context: dict[str, Any],
    rejects: list[Reject],
) -> Iterable[tuple[str, list[dict[str, Any]]]]:
    """Map a page; a page with a bad row is mapped row by row so each bad row is named."""
    good = [r for r in records if PROBLEM_KEY not in r]
    if len(good) == len(records):
        try:
            out: list[tuple[str, list[dict[str, Any]]]] = []
            for entity in mapping.entities.values():
                out.extend(entity.map_page(records, context).items())
            return out
        except RecordError:
            pass
    out = []
    for record in records:
        problem = record.get(PROBLEM_KEY)
        if problem is not None:
            rejects.append(Reject(record[LINE_KEY], str(problem)))
            continue
        mapped = _map_one(mapping.entities.values(), record, context)
        if isinstance(mapped, Reject):
            rejects.append(mapped)
        else:
            out.extend(mapped)
    return out


def _map_one(
    entities: Iterable[EntityMapping], record: dict[str, Any], context: dict[str, Any]
) -> list[tuple[str, list[dict[str, Any]]]] | Reject:
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for entity in entities:
        try:
            out.extend(entity.map_page([record], context).items())
        except RecordError as err:
            return Reject(record[LINE_KEY], str(err))
    return out


def _tenant(conn: Connection, name: str, base_currency: str) -> int:
    """Create or update the ``csv`` tenant ``name`` (inside the caller's transaction)."""
    table = SQLModel.metadata.tables[str(Tenant.__tablename__)]
    now = datetime.now(UTC)
    upsert(conn, table, [{
        "platform": PLATFORM, "external_id": name, "name": name, "status": "active",
        "base_currency": base_currency, "created_at": now, "updated_at": now,
        "last_sync_at": now,
    }], ("platform", "external_id"), update=["base_currency", "updated_at", "last_sync_at"])
    tenant_id = conn.execute(
        select(table.c.id).where(table.c.platform == PLATFORM, table.c.external_id == name)
    ).scalar_one()
    return int(tenant_id)


def _strict_message(path: Path, rejects: list[Reject]) -> str:
    shown = "; ".join(str(r) for r in rejects[:_SHOWN])
    more = f"; and {len(rejects) - _SHOWN} more" if len(rejects) > _SHOWN else ""
    return (f"{path}: {len(rejects)} row(s) rejected, nothing imported (strict): "
            f"{shown}{more}")
