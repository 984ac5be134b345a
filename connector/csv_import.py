"""Import an AR history export (CSV) into the store, as a tenant of the platform ``csv``.

A consultant loads a customer's export to tune the segment rules before a live ERP is
connected. The flow is the sync engine's, minus the network: :class:`CsvAdapter` reads the file,
a mapping (``mappings/csv_*.yaml``) shapes each row into ``customer``, ``document`` and
``allocation`` rows, and the same conflict keys (``TABLE_KEYS``) and upsert store them — so
importing the same file twice leaves the same rows.

Before any row is read, the file's header is checked against the mapping: a column that a
required field reads and the file lacks stops the import (naming the column and the mapping
line); a missing optional column (a misspelt ``SettledDate`` would make every invoice open) is a
warning.

Each row is mapped on its own: a row that cannot be mapped (a date in the wrong format, an
empty id, an amount that is not a number, a row with the wrong number of fields) becomes a
:class:`Reject` naming its line in the file, and the rest is imported. So does an amount the
store cannot hold (wider than its ``Numeric`` column) or that is negative, and every row of a
document (invoice, payment, settlement) that appears on more than one row: an export lists each
once, so two rows are a mistake to fix, not a version to pick. A customer repeats on each of its
rows (the row read last wins). A date format that rejects more values than it reads is probably
the wrong one (day and month swapped): the result warns, naming the column and the format.

With ``strict=True`` one reject means nothing is written at all, not even the tenant.
Everything is written in one transaction.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Numeric, select

from arconnect.adapters.csv import LINE_KEY, PROBLEM_KEY, CsvAdapter, CsvFileError
from arconnect.errors import ArconnectError, MappingError
from arconnect.mapping import EntityMapping, Mapping, RecordError, SourceField, load_mapping
from arconnect.store.db import get_engine
from arconnect.store.models import MONEY, SQLModel, Tenant
from arconnect.store.upsert import upsert
from arconnect.sync import TABLE_KEYS

__all__ = ["PLATFORM", "ImportResult", "Reject", "import_csv"]

PLATFORM = "csv"
# How many rejects the strict-mode error message lists.
_SHOWN = 5
# Tables an export lists once per document: a key on two rows rejects both rows. (A customer
# repeats on every row of its documents: for it the row read last wins.)
UNIQUE_PER_FILE = ("document", "payment", "allocation")
Mapped = list[tuple[str, list[dict[str, Any]]]]


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
        warnings: what looks wrong without stopping the import (a missing optional column, a
            date format that rejects most values), one line each.
    """

    rows_read: int = 0
    imported: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    tenant_id: int | None = None
    warnings: list[str] = field(default_factory=list)


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
        CsvFileError: the file cannot be read as CSV, or its header lacks a column a required
            field reads (nothing written).
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
    adapter = CsvAdapter(path, delimiter=delimiter)
    warnings = _check_header(adapter, mapping)
    engine = db if isinstance(db, Engine) else get_engine(db)
    result = ImportResult(warnings=warnings)
    dates = _DateFormats(mapping)
    checks = _AmountChecks(mapping, engine.dialect.name)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Take the write lock up front: reading first and upgrading later can deadlock
            # against a concurrent writer.
            conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
        with conn.begin():
            tenant_id = _tenant(conn, tenant_name, base_currency)
            context: dict[str, Any] = {"tenant_id": tenant_id, "base_currency": base_currency,
                                       "synced_at": datetime.now(UTC)}
            mapped: list[tuple[int, Mapped]] = []
            for page in adapter.pages():
                result.rows_read += len(page.records)
                for record in page.records:
                    dates.count(record)
                    outcome = _map_record(mapping, record, context, checks)
                    if isinstance(outcome, Reject):
                        result.rejects.append(outcome)
                    else:
                        mapped.append((record[LINE_KEY], outcome))
            mapped = _reject_duplicates(mapped, result.rejects)
            result.rejects.sort(key=lambda r: r.line)
            result.warnings.extend(dates.warnings(adapter.path))
            if strict and result.rejects:
                raise ArconnectError(_strict_message(adapter.path, result.rejects))
            tables = dict.fromkeys(t for e in mapping.entities.values() for t in e.tables)
            rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {t: {} for t in tables}
            for _, outcome in mapped:
                for table, table_rows in outcome:
                    keys = TABLE_KEYS[table]
                    found = rows[table]
                    for row in table_rows:
                        # A customer's row read last wins, as a later page would in a sync.
                        found[tuple(row[k] for k in keys)] = row
            for table, by_key in rows.items():
                if by_key:
                    upsert(conn, SQLModel.metadata.tables[table], list(by_key.values()),
                           TABLE_KEYS[table])
                result.imported[table] = len(by_key)
            result.tenant_id = tenant_id
    return result


def _check_header(adapter: CsvAdapter, mapping: Mapping) -> list[str]:
    """Compare the file's header with the fields the mapping reads, before any row is read.

    Returns:
        One warning per missing optional column (its values would all be empty).

    Raises:
        CsvFileError: columns that required fields read are missing (all of them named).
    """
    header = adapter.read_header()
    present = set(header)
    first: dict[str, SourceField] = {}
    required: set[str] = set()
    for source in mapping.fields:
        if source.name in present:
            continue
        first.setdefault(source.name, source)
        if source.required:
            required.add(source.name)

    def missing(source: SourceField, then: str = "") -> str:
        close = difflib.get_close_matches(source.name, header, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return (f"no column {source.name!r} (mapping {mapping.source}:{source.line} reads it "
                f"for {source.column}){then}{hint}")

    if required:
        problems = "; ".join(missing(f) for name, f in first.items() if name in required)
        raise CsvFileError(f"{adapter.path}:1: {problems}; the header has: {', '.join(header)}; "
                           "fix the header or the mapping (nothing was imported)")
    return [f"{adapter.path}:1: {missing(f, ': every row reads it as empty')}"
            for f in first.values()]


class _DateFormats:
    """Counts, per date column and format of the mapping, the values the format reads and
    those it rejects, to warn when it rejects most of them (day and month swapped...)."""

    def __init__(self, mapping: Mapping) -> None:
        self.source = mapping.source
        # (column, format) ─▶ [read, rejected, read by the swapped format, mapping line]
        self.counts: dict[tuple[str, str], list[int]] = {}
        for f in mapping.fields:
            fmt = f.args.get("format")
            if f.transform == "date" and isinstance(fmt, str):
                self.counts.setdefault((f.name, fmt), [0, 0, 0, f.line])
        self.parsed: dict[tuple[str, str], bool] = {}

    def _reads(self, value: str, fmt: str) -> bool:
        known = self.parsed.get((value, fmt))
        if known is None:
            try:
                datetime.strptime(value, fmt)
                known = True
            except ValueError:
                known = False
            if len(self.parsed) < 100_000:
                self.parsed[(value, fmt)] = known
        return known

    def count(self, record: dict[str, Any]) -> None:
        for (name, fmt), tally in self.counts.items():
            value = record.get(name)
            if not isinstance(value, str) or not value:
                continue
            if self._reads(value, fmt):
                tally[0] += 1
            else:
                tally[1] += 1
            swapped = _swapped(fmt)
            if swapped is not None and self._reads(value, swapped):
                tally[2] += 1

    def warnings(self, path: Path) -> list[str]:
        out = []
        for (name, fmt), (read, rejected, by_swapped, line) in self.counts.items():
            if rejected <= read:
                continue
            swapped = _swapped(fmt)
            hint = (f"; {swapped} reads {by_swapped:,} of them" if swapped and by_swapped > read
                    else "")
            out.append(f"{path}: column {name!r}: the format {fmt} (mapping {self.source}:"
                       f"{line}) reads {read:,} of {read + rejected:,} values and rejects "
                       f"{rejected:,}: it is probably the wrong format{hint}")
        return out


def _swapped(fmt: str) -> str | None:
    """``fmt`` with day and month swapped (``%m/%d/%Y`` ─▶ ``%d/%m/%Y``), if it has both."""
    if "%d" not in fmt or "%m" not in fmt:
        return None
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


class _AmountChecks:
    """Per table, the numbers the store cannot hold: wider than the column's ``Numeric``
    (PostgreSQL refuses the whole transaction, SQLite silently loses digits) or, for money, a
    negative amount (an AR export lists what is owed and paid as positive numbers)."""

    def __init__(self, mapping: Mapping, dialect: str) -> None:
        self.sources = {f.column: f.name for f in mapping.fields}
        self.columns: dict[str, list[tuple[str, Decimal, int, bool]]] = {}
        for table in TABLE_KEYS:
            checks = []
            for col in SQLModel.metadata.tables[table].columns:
                kind = col.type
                if isinstance(kind, Numeric) and kind.precision is not None:
                    precision = kind.precision
                    if dialect == "sqlite":
                        # SQLite keeps a NUMERIC value as an 8-byte float: 15 significant
                        # digits survive the round trip (https://www.sqlite.org/datatype3.html,
                        # section 3, "Type Affinity").
                        precision = min(precision, 15)
                    digits = precision - (kind.scale or 0)
                    # The value that rounds to 10^digits at the column's scale is too wide.
                    limit = Decimal(10) ** digits - Decimal(1).scaleb(-(kind.scale or 0)) / 2
                    checks.append((col.name, limit, digits, col.type is MONEY))
            self.columns[table] = checks

    def problem(self, table: str, row: dict[str, Any]) -> str | None:
        for name, limit, digits, money in self.columns[table]:
            value = row.get(name)
            if isinstance(value, bool) or not isinstance(value, Decimal | int):
                continue
            number = Decimal(value)
            source = self.sources.get(f"{table}.{name}")
            read = f" (read from {source})" if source else ""
            if abs(number) >= limit:
                return (f"{table}.{name}: {value} is too large{read}: the store keeps at most "
                        f"{digits} digits before the decimal point")
            if money and number < 0:
                return (f"{table}.{name}: {value} is negative{read}; an AR export lists amounts "
                        "as positive numbers (fix the row or leave it out)")
        return None


def _map_record(
    mapping: Mapping, record: dict[str, Any], context: dict[str, Any], checks: _AmountChecks
) -> Mapped | Reject:
    """One record's rows per table, or why it is rejected."""
    problem = record.get(PROBLEM_KEY)
    if problem is not None:
        return Reject(record[LINE_KEY], str(problem))
    out = _map_one(mapping.entities.values(), record, context)
    if isinstance(out, Reject):
        return out
    for table, rows in out:
        for row in rows:
            bad = checks.problem(table, row)
            if bad is not None:
                return Reject(record[LINE_KEY], bad)
    return out


def _reject_duplicates(
    mapped: list[tuple[int, Mapped]], rejects: list[Reject]
) -> list[tuple[int, Mapped]]:
    """Reject every row whose document (:data:`UNIQUE_PER_FILE`) is on another row too; the
    rows kept. Which of two rows is right cannot be known, so neither is imported."""
    lines: dict[tuple[str, tuple[Any, ...]], list[int]] = {}
    for line, outcome in mapped:
        for table, rows in outcome:
            if table not in UNIQUE_PER_FILE:
                continue
            keys = TABLE_KEYS[table]
            for row in rows:
                lines.setdefault((table, tuple(row[k] for k in keys)), []).append(line)
    bad: dict[int, str] = {}
    for (table, key), found in lines.items():
        if len(found) < 2:
            continue
        listed = ", ".join(map(str, found[:-1])) + f" and {found[-1]}"
        what = key[-1] if len(key) else key
        for line in found:
            bad.setdefault(line, f"{table} {what} is on lines {listed}; the file must list it "
                                 "once: remove or renumber the other rows")
    if not bad:
        return mapped
    rejects.extend(Reject(line, problem) for line, problem in bad.items())
    return [(line, outcome) for line, outcome in mapped if line not in bad]


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
