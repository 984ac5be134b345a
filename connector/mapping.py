"""Inbound mappings: the YAML a consultant edits that turns raw ERP records into store rows.

A mapping file (``mappings/xero.yaml``) declares, per entity the adapter fetches, ordered
``rows:`` entries; each fills one table (``customer``, ``document``, ``payment``,
``allocation``) from the record — or from every element of a list inside it (``each:``)::

    entities:
      invoices:
        rows:
          - table: document
            skip_if: {path: Type, not_equals: ACCREC}
            fields:
              external_id: InvoiceID                          # shorthand: a path
              kind: {const: invoice}                          # a fixed value
              issue_date: {path: Date, transform: xero_date}  # a whitelisted transform
              total_base: {path: Total, transform: base_amount}

Field forms: ``col: Path.To.Field`` or ``col: {path, transform, required, default, allowed,
<transform arguments>}``, ``{const: value}``, ``{context: base_currency}`` (``tenant_id``,
``synced_at``, ``base_currency``: values the engine passes). ``tenant_id`` and ``synced_at`` are
filled from the context in every row, and only from there: a mapping that names either column is
refused (it could write rows into another tenant). Paths are dotted keys, ``[*]``
after a list field (``ContactGroups[*].Name`` gives a list), ``[0]`` for one element, and
``^.Field`` for the parent record inside ``each:``. Conditions are structured YAML (``{path,
equals|not_equals|in|not_in|missing}``, ``{all: [...]}``, ``{any: [...]}``, ``{not: {...}}``);
nothing in a mapping file is ever evaluated as code.

``allowed:`` checks the value stored, except beside ``transform: lookup``: there it lists the
platform's words, each must have a translation in ``map:``, and a word outside it fails the page
before the map is read. That is how a mapping translates the platform's statuses and payment
types into the store's own words (:mod:`arconnect.store.vocabulary`) and still guards against
a word the API should never send.

A ``rows:`` entry with ``each:`` may name its ``owner:``, the path of the record's id
(``owner: Id``): the rows are that record's lines, stored with it in ``origin_external_id``,
and a later read of the record marks deleted the lines it no longer has (a payment whose line
was removed or pointed at another invoice). Only tables with that column take it (allocation).

Deletes that arrive as tombstones (QBO change data capture returns a deleted entity as little
more than its ``Id`` and ``status: "Deleted"``) are declared per entity, beside ``rows:``::

    invoices:
      tombstone:
        when: {path: status, equals: Deleted}   # a condition, as skip_if
        id: Id                                  # where the tombstone holds the record's id
        update:
          - table: document
            set: {status: deleted, is_deleted: true}
          # optional: match: source_external_id (default external_id), where: {source_kind: X}
          - {table: allocation, match: source_external_id, where: {source_kind: payment},
             set: {is_deleted: true}}

A record matching ``when:`` is not mapped by ``rows:``; it only updates, on the rows of the
tenant whose ``match`` column (default ``external_id``) equals its id, the columns its ``set:``
names (a plain value is a constant, ``{path: .., transform: ..}`` reads the tombstone) and
``synced_at``; every other column keeps what an earlier sync stored
(:meth:`EntityMapping.map_tombstones`, :func:`arconnect.store.upsert.update_existing`). An id the
store does not hold is skipped, not inserted: a tombstone carries no customer, kind or amount,
so a row made from it would be a document of nobody's that the metrics would have to learn to
ignore, and a record never seen alive has nothing in the store to hide.

:func:`load_mapping` validates the whole file (pydantic for its shape, then every name, path,
transform, argument and column against the tables in :mod:`arconnect.store.models`) and either
returns a fully compiled :class:`Mapping` or raises one :class:`MappingError` listing every
problem as ``file:line: what is wrong; how to fix it`` — never a half-loaded mapping. At load
each entity is compiled into plain closures, so :meth:`EntityMapping.map_page` does no parsing,
no lookups by name and no I/O. A record that cannot be mapped raises :class:`RecordError`; the
sync engine reports it as a ``PageError`` naming tenant, entity and page.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String

from arconnect.errors import MappingError
from arconnect.store.models import Allocation, Customer, Document, Payment, SQLModel
from arconnect.transforms import (
    Getter,
    Output,
    Transform,
    all_transforms,
    parse_iso_date,
    parse_iso_datetime,
    to_decimal,
)
from arconnect.yamlfile import Problems, load_yaml_with_lines, read_text

__all__ = [
    "CONTEXT_KEYS",
    "TABLES",
    "EntityMapping",
    "Mapping",
    "MappingError",
    "RecordError",
    "RowMapping",
    "SourceField",
    "Tombstone",
    "TombstoneUpdate",
    "check_mapping",
    "load_mapping",
]

# The values the engine passes in ``context`` (``{context: name}`` fields).
CONTEXT_KEYS = ("tenant_id", "synced_at", "base_currency")
# Filled from the context in every row, by the engine only: a mapping naming one is refused
# (a mapping that set tenant_id would write into another tenant).
AUTO_CONTEXT = ("tenant_id", "synced_at")
OWNER_COLUMN = "origin_external_id"  # filled from a row's ``owner:``, never mapped directly
_AUTO_WHAT = {"tenant_id": "the tenant being synced or imported",
              "synced_at": "the time the row is stored"}
# The tables a mapping may fill (the engine upserts exactly these).
TABLES: dict[str, type[SQLModel]] = {
    "customer": Customer,
    "document": Document,
    "payment": Payment,
    "allocation": Allocation,
}
# Keys of a field spec that are not transform arguments.
FIELD_KEYS = ("path", "transform", "required", "default", "allowed", "const", "context",
              "description")
# The transform that turns raw text into each column type, suggested in errors.
_SUGGEST = {"date": "iso_date", "datetime": "iso_datetime", "decimal": "decimal"}
_CONDITION_OPS = ("equals", "not_equals", "in", "not_in", "missing")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

Record = dict[str, Any]
FieldFn = Callable[[Record, "Record | None", dict[str, Any]], Any]
Condition = Callable[[Record, "Record | None"], bool]


class RecordError(ValueError):
    """One record of a page could not be mapped (required value missing, value not allowed,
    a transform refused it).

    Attributes:
        index: the record's position in the page.
        column: the column being filled (``""`` when the record itself is wrong).
        problem: what is wrong with the value.
        table: the table being filled, when known.
    """

    def __init__(self, index: int, column: str, problem: str, table: str | None = None) -> None:
        where = f"{table}.{column}" if table and column else column or table or "record"
        super().__init__(f"{where}: {problem}")
        self.index = index
        self.column = column
        self.problem = problem
        self.table = table


class _Problem(ValueError):
    """A value check failed inside a compiled field (turned into a RecordError)."""


# -- the file's shape (pydantic) ---------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _RowModel(_Model):
    table: str
    each: str | None = None
    owner: str | None = None
    skip_if: dict[str, Any] | None = None
    description: str | None = None
    fields: dict[str, Any] = Field(min_length=1)


class _EntityModel(_Model):
    description: str | None = None
    rows: list[_RowModel] = Field(min_length=1)
    tombstone: dict[str, Any] | None = None


class _FileModel(_Model):
    version: int = Field(default=1, ge=1, le=1)
    platform: str | None = None
    description: str | None = None
    entities: dict[str, _EntityModel] = Field(min_length=1)
    outbound: dict[str, Any] | None = None


class _FieldModel(BaseModel):
    """The known keys of a field spec; the rest are the transform's arguments."""

    model_config = ConfigDict(extra="allow")

    path: str | None = None
    transform: str | None = None
    required: bool = False
    default: Any = None
    allowed: list[Any] | None = Field(default=None, min_length=1)
    const: Any = None
    context: str | None = None
    description: str | None = None


# -- YAML with line numbers (arconnect.yamlfile) ----------------------------------------------

_Loc = tuple[Any, ...]  # = arconnect.yamlfile.Loc
_Problems = Problems


def _read_yaml(text: str, label: str) -> tuple[Any, dict[_Loc, int], list[tuple[int, str]]]:
    """Parse ``text`` keeping the line of every node (by its location in the data)."""
    data, lines = load_yaml_with_lines(
        text, label,
        empty_hint="a mapping starts with `entities:` (see the shipped mappings/xero.yaml)",
    )
    return data, lines.marks, lines.duplicates


# -- paths -------------------------------------------------------------------------------------

_SEGMENT = re.compile(r"([A-Za-z_@$][A-Za-z0-9_@$-]*)(?:\[(\*|\d+)\])?")
_PATH_HELP = (
    "a path is dotted field names such as CustomerRef.value, with [*] after a list field "
    "(Line[*].Amount), [0] for its first element, and ^. in front for the parent record "
    "inside `each:`"
)


class PathSyntaxError(ValueError):
    """A path in a mapping file is not well formed."""


def _steps(path: str) -> tuple[bool, list[tuple[str, str | None]]]:
    if not isinstance(path, str) or not path.strip():
        raise PathSyntaxError(f"empty path; {_PATH_HELP}")
    text = path.strip()
    up = text.startswith("^.")
    if up:
        text = text[2:]
    steps: list[tuple[str, str | None]] = []
    for part in text.split("."):
        m = _SEGMENT.fullmatch(part)
        if m is None:
            raise PathSyntaxError(f"bad path {path!r} (at {part!r}); {_PATH_HELP}")
        steps.append((m.group(1), m.group(2)))
    return up, steps


def compile_path(path: str, *, in_each: bool) -> Getter:
    """Compile ``path`` into a getter ``get(rec, parent)``; missing parts give ``None``.

    Raises:
        PathSyntaxError: the path is malformed, or uses ``^.`` outside ``each:``.
    """
    up, steps = _steps(path)
    if up and not in_each:
        raise PathSyntaxError(
            f"path {path!r} reads the parent record (^.) but this row has no `each:`; "
            "drop the ^. or add `each:`"
        )
    plain = all(index is None for _, index in steps)
    keys = [name for name, _ in steps]
    if plain and not up and len(keys) == 1:
        (k0,) = keys

        def get1(rec: Record, parent: Record | None) -> Any:
            return rec.get(k0)

        return get1
    if plain and not up and len(keys) == 2:
        k0, k1 = keys

        def get2(rec: Record, parent: Record | None) -> Any:
            v = rec.get(k0)
            return v.get(k1) if v.__class__ is dict else None

        return get2

    def walk(value: Any, i: int) -> Any:
        for j in range(i, len(steps)):
            name, index = steps[j]
            if value.__class__ is not dict:
                return None
            value = value.get(name)
            if index is None:
                continue
            if value.__class__ is not list:
                return None
            if index != "*":
                n = int(index)
                value = value[n] if n < len(value) else None
                continue
            out: list[Any] = []
            for item in value:
                got = walk(item, j + 1)
                if got is None:
                    continue
                if isinstance(got, list) and any(ix == "*" for _, ix in steps[j + 1:]):
                    out.extend(got)
                else:
                    out.append(got)
            return out
        return value

    if up:

        def get_parent(rec: Record, parent: Record | None) -> Any:
            return walk(parent, 0)

        return get_parent

    def get(rec: Record, parent: Record | None) -> Any:
        return walk(rec, 0)

    return get


# -- columns -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    name: str
    kind: Output
    nullable: bool


def _kind(col: Any) -> Output:
    t = col.type
    if isinstance(t, DateTime):
        return "datetime"
    if isinstance(t, Date):
        return "date"
    if isinstance(t, Numeric):
        return "decimal"
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, Integer):
        return "int"
    if isinstance(t, String):
        return "str"
    decorated = getattr(t, "impl", None)
    if isinstance(decorated, DateTime):
        return "datetime"
    return "any"


def _columns(model: type[SQLModel]) -> dict[str, _Column]:
    table = SQLModel.metadata.tables[str(model.__tablename__)]
    return {
        c.name: _Column(c.name, _kind(c), bool(c.nullable) or c.default is not None)
        for c in table.columns
        if not c.primary_key
    }


_TABLE_COLUMNS: dict[str, dict[str, _Column]] = {t: _columns(m) for t, m in TABLES.items()}


def _compatible(output: Output, kind: Output) -> bool:
    return bool(output == "any" or kind == "any" or output == kind
                or (output == "int" and kind == "decimal"))


def _coerce(value: Any, kind: Output) -> Any:
    """A YAML constant (``default:``, ``const:``) as the column's type; ValueError if it is not."""
    if value is None:
        return None
    if kind == "decimal":
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        return to_decimal(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not a whole number")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not true or false")
        return value
    if kind == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        parsed = parse_iso_date(value)
        if parsed is None:
            raise ValueError(f"{value!r} is not a date (write YYYY-MM-DD)")
        return parsed
    if kind == "datetime":
        parsed = value if isinstance(value, datetime) else parse_iso_datetime(value)
        if not isinstance(parsed, datetime):
            raise ValueError(f"{value!r} is not a timestamp (write 2024-01-31T12:00:00Z)")
        return parsed
    if kind == "str":
        if isinstance(value, dict | list):
            raise ValueError(f"{value!r} is not text")
        return value if isinstance(value, str) else str(value)
    return value


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- compiled mapping --------------------------------------------------------------------------


@dataclass(frozen=True)
class RowMapping:
    """One compiled ``rows:`` entry: fills ``table`` from the record or each ``each`` item."""

    table: str
    columns: tuple[str, ...]
    each: str | None
    has_skip_if: bool
    line: int
    _fields: tuple[tuple[str, FieldFn], ...] = field(repr=False)
    _sources: dict[str, str] = field(repr=False)
    _each: Getter | None = field(repr=False)
    _skip: Condition | None = field(repr=False)
    _owner: Getter | None = field(default=None, repr=False)
    consts: dict[str, Any] = field(default_factory=dict, repr=False)

    def items(self, rec: Record) -> list[tuple[Record, Record | None]]:
        """The (record, parent) pairs this row maps for one raw record (before skip_if)."""
        if self._each is None:
            return [(rec, None)]
        found = self._each(rec, None)
        if found is None:
            return []
        if found.__class__ is dict:
            found = [found]
        if found.__class__ is not list:
            raise _Problem(f"each: {self.each} is not a list")
        out: list[tuple[Record, Record | None]] = []
        for n, item in enumerate(found):
            if item.__class__ is not dict:
                raise _Problem(f"each: {self.each} item {n} is not an object")
            out.append((item, rec))
        return out


@dataclass(frozen=True)
class TombstoneUpdate:
    """What a tombstone changes in one table (one ``update:`` entry).

    Attributes:
        table: the table updated.
        keys: the columns that find the rows: ``tenant_id``, the ``match`` column and the
            ``where`` columns, in that order.
        columns: the columns set (the ``set:`` ones, then ``synced_at``).
    """

    table: str
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    _where: tuple[tuple[str, Any], ...] = field(repr=False)
    _fields: tuple[tuple[str, FieldFn], ...] = field(repr=False)

    @property
    def match(self) -> str:
        """The column a tombstone's id is matched against."""
        return self.keys[1]

    @property
    def where(self) -> tuple[tuple[str, Any], ...]:
        """The fixed column values the updated rows must also have."""
        return self._where


@dataclass(frozen=True)
class Tombstone:
    """The compiled ``tombstone:`` of an entity: which records are deletes, and their updates."""

    line: int
    updates: tuple[TombstoneUpdate, ...]
    _when: Condition = field(repr=False)
    _id: Getter = field(repr=False)
    _id_path: str = field(repr=False)


@dataclass(frozen=True)
class EntityMapping:
    """The compiled mapping of one entity (``contacts``, ``invoices``...)."""

    name: str
    rows: tuple[RowMapping, ...]
    tables: tuple[str, ...]
    tombstone: Tombstone | None = None

    @property
    def category(self) -> str:
        """What the entity's records are, whatever the platform calls it: ``customers``,
        ``invoices``, ``credits`` (credit notes, overpayments, prepayments), ``payments``
        (payments and refunds) or ``other`` — by the table its first row fills (and, for
        documents, the kind it sets)."""
        first = self.rows[0] if self.rows else None
        if first is None:
            return "other"
        if first.table == "customer":
            return "customers"
        if first.table == "document":
            return "invoices" if first.consts.get("kind") == "invoice" else "credits"
        if first.table == "payment":
            return "payments"
        return "other"

    def map_page(
        self, records: Sequence[Record], context: dict[str, Any], *, apply_skip: bool = True
    ) -> dict[str, list[dict[str, Any]]]:
        """Map a page of raw records into rows per table, tables in the order declared.

        Pure: reads ``records`` and ``context`` (``tenant_id``, ``synced_at``,
        ``base_currency``), writes nothing, keeps no state between calls. ``apply_skip=False``
        maps every record, ignoring ``skip_if`` (records fetched because they are needed).
        Tombstones (the entity's ``tombstone: when:``) are left to :meth:`map_tombstones`.

        Raises:
            RecordError: a record could not be mapped (its index, the column, the problem).
        """
        out: dict[str, list[dict[str, Any]]] = {t: [] for t in self.tables}
        plan = [
            (r._fields, r._each, r._skip if apply_skip else None, out[r.table].append)
            for r in self.rows
        ]
        ctx = context
        index = -1
        rec: Any = None
        dead = self.tombstone._when if self.tombstone is not None else None
        try:
            for rec in records:
                index += 1
                if dead is not None and dead(rec, None):
                    continue  # a tombstone: map_tombstones handles it
                for fields, each, skip, append in plan:
                    if each is None:
                        if skip is not None and skip(rec, None):
                            continue
                        append({c: f(rec, None, ctx) for c, f in fields})
                        continue
                    items = each(rec, None)
                    if items is None:
                        continue
                    if items.__class__ is dict:
                        items = [items]
                    elif items.__class__ is not list:
                        raise _Problem("each: not a list")
                    for item in items:
                        if item.__class__ is not dict:
                            raise _Problem("each: item is not an object")
                        if skip is not None and skip(item, rec):
                            continue
                        append({c: f(item, rec, ctx) for c, f in fields})
        except Exception as err:
            raise self._explain(index, rec, context, err) from None
        return out

    def owners(self, records: Sequence[Record]) -> dict[str, set[str]]:
        """Per table filled by an ``owner:`` row, the ids of the page's records (tombstones
        aside) that own its rows: each such record's rows are exactly the ones it maps to now,
        so the engine marks deleted those stored earlier and no longer mapped."""
        out: dict[str, set[str]] = {}
        dead = self.tombstone._when if self.tombstone is not None else None
        for row in self.rows:
            if row._owner is None:
                continue
            ids = out.setdefault(row.table, set())
            for rec in records:
                if dead is not None and dead(rec, None):
                    continue
                value = row._owner(rec, None)
                if value is not None and value != "":
                    ids.add(str(value))
        return out

    def map_tombstones(
        self, records: Sequence[Record], context: dict[str, Any]
    ) -> list[tuple[TombstoneUpdate, list[dict[str, Any]]]]:
        """The partial rows the page's tombstones update, per ``update:`` entry (in file order).

        Each row holds the entry's ``keys`` (``tenant_id``, the matched column holding the
        tombstone's id as text, the ``where`` constants) and its ``columns``; nothing else, so
        an update leaves every other column as it was. Pure, like :meth:`map_page`; an entity
        without ``tombstone:`` gives ``[]``.

        Raises:
            RecordError: a tombstone without an id, or a ``set:`` value that could not be made.
        """
        stone = self.tombstone
        if stone is None:
            return []
        out: list[tuple[TombstoneUpdate, list[dict[str, Any]]]] = [
            (u, []) for u in stone.updates]
        for index, rec in enumerate(records):
            try:
                if not stone._when(rec, None):
                    continue
                found = stone._id(rec, None)
            except Exception as exc:
                raise RecordError(index, "tombstone", _text(exc)) from None
            if found is None or found == "" or isinstance(found, dict | list):
                raise RecordError(index, "tombstone",
                                  f"the tombstone has no id (path {stone._id_path})")
            for update, rows in out:
                row: dict[str, Any] = {"tenant_id": context.get("tenant_id"),
                                       update.keys[1]: str(found), **dict(update._where)}
                for column, fn in update._fields:
                    try:
                        row[column] = fn(rec, None, context)
                    except Exception as exc:
                        raise RecordError(index, column, _text(exc), update.table) from None
                rows.append(row)
        return out

    def _explain(self, index: int, rec: Any, ctx: dict[str, Any], err: Exception) -> RecordError:
        """Re-run the failed record field by field to name the column that failed (slow path)."""
        if not isinstance(rec, dict):
            return RecordError(index, "", f"the record is not a JSON object ({rec!r:.60})")
        for row in self.rows:
            try:
                pairs = row.items(rec)
            except Exception as exc:
                return RecordError(index, "", _text(exc), row.table)
            for item, parent in pairs:
                if row._skip is not None:
                    try:
                        if row._skip(item, parent):
                            continue
                    except Exception as exc:
                        return RecordError(index, "skip_if", _text(exc), row.table)
                for column, fn in row._fields:
                    try:
                        fn(item, parent, ctx)
                    except Exception as exc:
                        problem = _text(exc)
                        source = row._sources.get(column)
                        if source and source not in problem:
                            problem = f"{problem} (read from {source})"
                        return RecordError(index, column, problem, row.table)
        return RecordError(index, "", _text(err))


def _text(err: Exception) -> str:
    if isinstance(err, ValueError):
        return str(err)
    return f"{type(err).__name__}: {err}"


@dataclass(frozen=True)
class SourceField:
    """One top-level field of the raw record that a mapping reads, and where.

    A file import checks these against the file's header before reading a row: a field read by
    a required column must be there, a missing optional one is worth a warning.

    Attributes:
        name: the record's field (the first step of the path).
        line: the mapping line that reads it.
        column: what it fills (``document.total``; ``document.skip_if``...).
        required: every record must hold it (a required column without a default).
        transform: the transform applied to it, if any.
        args: that transform's arguments (``{"format": "%m/%d/%Y"}``).
    """

    name: str
    line: int
    column: str
    required: bool = False
    transform: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Mapping:
    """A validated, compiled mapping file.

    Attributes:
        source: where it was loaded from (the file, or ``arconnect.mappings/<name>.yaml``).
        platform: the ``platform:`` it declares, if any.
        entities: entity name ─▶ compiled mapping, in file order.
        fields: every top-level record field the mapping reads, in file order.
    """

    source: str
    platform: str | None
    entities: dict[str, EntityMapping]
    outbound_data: Any = None
    marks: dict[_Loc, int] = field(default_factory=dict)
    fields: tuple[SourceField, ...] = ()

    def outbound(self, rules: Any) -> Any:
        """The compiled ``outbound:`` section (:class:`arconnect.writeback.outbound.Outbound`)
        for ``rules`` (its segments and dimensions name the groups).

        Raises:
            MappingError: ``file:line`` problems of the section.
        """
        from arconnect.writeback.outbound import Outbound, compile_outbound

        if self.outbound_data is None:
            return Outbound()
        problems = Problems(self.source, self.marks)
        compiled = compile_outbound(
            self.outbound_data, problems, ("outbound",),
            segments=[s.name for s in rules.segments],
            dimensions={d.name: d.tags for d in rules.dimensions},
        )
        problems.raise_if_any()
        return compiled


# -- compiling ---------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, label: str, marks: dict[_Loc, int]) -> None:
        self.problems = _Problems(label, marks)
        self.fields: list[SourceField] = []
        self.platform: str | None = None

    def suggest(self, kind: str) -> str | None:
        """The transform that turns a raw value into a ``kind`` column: the declared
        platform's own (``xero_date``) before the engine's (``iso_date``)."""
        generic = _SUGGEST.get(kind)
        if generic is None:
            return None
        for name, t in all_transforms().items():
            if self.platform and name.startswith(f"{self.platform}_") and t.output == kind:
                return name
        return generic

    def add(self, loc: _Loc, message: str) -> None:
        self.problems.add(loc, message)

    # conditions

    def condition(self, cond: Any, loc: _Loc, in_each: bool) -> Condition | None:
        shape = ("a condition is {path: X, equals: V} (or not_equals / in / not_in / missing), "
                 "{all: [...]}, {any: [...]} or {not: {...}}")
        if not isinstance(cond, dict) or not cond:
            self.add(loc, shape)
            return None
        for combinator in ("all", "any"):
            if combinator in cond:
                if len(cond) != 1:
                    self.add(loc, f"`{combinator}:` must be alone in its condition; {shape}")
                    return None
                subs = cond[combinator]
                if not isinstance(subs, list) or not subs:
                    self.add((*loc, combinator), f"`{combinator}:` takes a list of conditions")
                    return None
                compiled = [self.condition(s, (*loc, combinator, i), in_each)
                            for i, s in enumerate(subs)]
                if any(c is None for c in compiled):
                    return None
                parts = tuple(c for c in compiled if c is not None)
                if combinator == "all":
                    return lambda rec, parent: all(c(rec, parent) for c in parts)
                return lambda rec, parent: any(c(rec, parent) for c in parts)
        if "not" in cond:
            if len(cond) != 1:
                self.add(loc, f"`not:` must be alone in its condition; {shape}")
                return None
            sub = self.condition(cond["not"], (*loc, "not"), in_each)
            return None if sub is None else (lambda rec, parent: not sub(rec, parent))
        unknown = [k for k in cond if k not in ("path", *_CONDITION_OPS)]
        if unknown:
            self.add((*loc, unknown[0]),
                     f"unknown condition key {unknown[0]!r}{_suggest(unknown[0], _CONDITION_OPS)};"
                     f" {shape}")
            return None
        ops = [k for k in _CONDITION_OPS if k in cond]
        if "path" not in cond or len(ops) != 1:
            self.add(loc, f"a condition needs `path:` and exactly one of "
                          f"{', '.join(_CONDITION_OPS)}; {shape}")
            return None
        try:
            get = compile_path(cond["path"], in_each=in_each)
        except PathSyntaxError as err:
            self.add((*loc, "path"), str(err))
            return None
        op, arg = ops[0], cond[ops[0]]
        if op in ("equals", "not_equals"):
            negate = op == "not_equals"

            def equals(rec: Record, parent: Record | None) -> bool:
                v = get(rec, parent)
                hit = arg in v if v.__class__ is list else v == arg
                return bool(hit) != negate

            return equals
        if op in ("in", "not_in"):
            if not isinstance(arg, list) or not arg:
                self.add((*loc, op), f"`{op}:` takes a list of values, e.g. {op}: [A, B]")
                return None
            members = list(arg)
            negate = op == "not_in"

            def member(rec: Record, parent: Record | None) -> bool:
                v = get(rec, parent)
                hit = (any(x in members for x in v) if v.__class__ is list else v in members)
                return hit != negate

            return member
        if not isinstance(arg, bool):
            self.add((*loc, op), "`missing:` takes true or false")
            return None

        def missing(rec: Record, parent: Record | None) -> bool:
            v = get(rec, parent)
            return (v is None or v == "" or v == []) == arg

        return missing

    # fields

    def field(self, col: _Column, spec: Any, loc: _Loc, in_each: bool, table: str
              ) -> FieldFn | None:
        if isinstance(spec, str):
            spec = {"path": spec}
        elif not isinstance(spec, dict):
            self.add(loc, f"column {col.name}: give a path (text, e.g. {col.name}: Field.Sub) or "
                          f"a mapping; for a fixed value write `{col.name}: {{const: {spec!r}}}`")
            return None
        name = spec.get("transform")
        transform: Transform | None = None
        if name is not None:
            known_transforms = all_transforms()
            transform = known_transforms.get(name) if isinstance(name, str) else None
            if transform is None:
                self.add((*loc, "transform"),
                         f"unknown transform {name!r}{_suggest(name, list(known_transforms))}; "
                         f"known transforms: {', '.join(known_transforms)}")
                return None
        arg_names = tuple(transform.args.model_fields) if transform else ()
        ok = True
        for key in spec:
            if key in FIELD_KEYS or key in arg_names:
                continue
            ok = False
            if transform is not None:
                self.add((*loc, key),
                         f"unknown argument {key!r} for transform {transform.name}"
                         f"{_suggest(key, arg_names)}; its arguments: "
                         f"{', '.join(arg_names) or 'none'}")
            else:
                self.add((*loc, key),
                         f"unknown key {key!r} in column {col.name}"
                         f"{_suggest(key, FIELD_KEYS)}; a field takes "
                         f"{', '.join(FIELD_KEYS)} (transform arguments need a `transform:`)")
        try:
            model = _FieldModel.model_validate(
                {k: v for k, v in spec.items() if k in FIELD_KEYS}
            )
        except ValidationError as err:
            for e in err.errors():
                self.add((*loc, *e["loc"]), f"column {col.name}: {e['loc'][0]}: {e['msg']}")
            return None
        if not ok:
            return None
        given = model.model_fields_set
        sources = [k for k in ("path", "const", "context") if k in given]
        if len(sources) > 1:
            self.add(loc, f"column {col.name}: give only one of path, const, context "
                          f"(found {', '.join(sources)})")
            return None
        if not sources and not (transform is not None and "paths" in arg_names
                                and "paths" in spec):
            self.add(loc, f"column {col.name} needs `path:` (or `const:` / `context:`)")
            return None

        # constants and context values
        if "const" in given or "context" in given:
            if transform is not None or model.allowed is not None or "default" in given:
                self.add(loc, f"column {col.name}: `const:` and `context:` take no transform, "
                              "default or allowed")
                return None
            if "context" in given:
                return self._context_field(col, model.context, (*loc, "context"), table)
            try:
                value = _coerce(model.const, col.kind)
            except ValueError as err:
                self.add((*loc, "const"), f"column {col.name} ({col.kind}): {err}")
                return None
            if value is None and not col.nullable:
                self.add((*loc, "const"), f"column {col.name} cannot be empty")
                return None
            return lambda rec, parent, ctx: value

        # the path
        get: Getter | None = None
        if model.path is not None:
            try:
                get = compile_path(model.path, in_each=in_each)
            except PathSyntaxError as err:
                self.add((*loc, "path"), f"column {col.name}: {err}")
                return None

        # the transform
        fn: Callable[..., Any] | None = None
        if transform is not None:
            if not _compatible(transform.output, col.kind):
                better = self.suggest(col.kind)
                hint = f"; use `transform: {better}`" if better else ""
                self.add((*loc, "transform"),
                         f"column {col.name} holds a {col.kind} but transform {transform.name} "
                         f"gives a {transform.output}{hint}")
                return None
            fn = self._build_transform(transform, spec, loc, in_each, col)
            if fn is None:
                return None
        elif col.kind in _SUGGEST:
            self.add(loc, f"column {col.name} holds a {col.kind}; the raw value is text or a "
                          f"float: add `transform: {self.suggest(col.kind)}`")
            return None

        default: Any = None
        if "default" in given:
            try:
                default = _coerce(model.default, col.kind)
            except ValueError as err:
                self.add((*loc, "default"), f"column {col.name} ({col.kind}): default {err}")
                return None
        try:
            allowed = frozenset(model.allowed) if model.allowed is not None else None
        except TypeError:
            self.add((*loc, "allowed"), f"column {col.name}: `allowed:` lists plain values")
            return None
        if allowed is not None and fn is not None and transform is not None and (
                transform.name == "lookup"):
            fn = self._guarded_lookup(fn, allowed, spec, loc, col)
            if fn is None:
                return None
            allowed = None
        must = model.required or not col.nullable
        what = f"path {model.path}" if model.path else "the value"
        if model.required:
            missing = f"required value is missing ({what})"
        else:
            missing = (f"cannot be empty ({what} is missing): fix the record or give the "
                       "column a `default:` in the mapping")
        key = model.path.strip() if model.path and _SEGMENT.fullmatch(model.path.strip()) else None
        if key is not None and "[" in key:
            key = None
        return _field_fn(get, fn, transform, default, must, missing, allowed, key)

    def _guarded_lookup(self, fn: Callable[..., Any], allowed: frozenset[Any],
                        spec: dict[str, Any], loc: _Loc, col: _Column
                        ) -> Callable[..., Any] | None:
        """``lookup`` with ``allowed:``: the platform's words are guarded, before the map.

        The map's output is the store's words by construction; what can surprise is the API's
        input. So ``allowed:`` lists the words the platform may send, each must have a
        translation in ``map:`` (a load error names the missing ones), and any other value fails
        the page — even when ``default:`` is given.
        """
        given = spec.get("map")
        table: dict[Any, Any] = given if isinstance(given, dict) else {}
        fold = spec.get("ignore_case") is True

        def key(word: Any) -> Any:
            return word.casefold() if fold and isinstance(word, str) else word

        words = {key(w) for w in table}
        untranslated = sorted((str(w) for w in allowed if key(w) not in words), key=str)
        if untranslated:
            self.add((*loc, "allowed"),
                     f"column {col.name}: allowed {', '.join(untranslated)} "
                     f"{'has' if len(untranslated) == 1 else 'have'} no translation in `map:`; "
                     "add each to map: (or drop it from allowed:)")
            return None
        shown = ", ".join(map(str, sorted(allowed, key=str)))
        lookup = fn
        known = {key(w) for w in allowed}

        def guarded(value: Any) -> Any:
            found = value if value.__class__ is list else () if value is None else (value,)
            for item in found:
                if key(item) not in known:
                    raise _Problem(f"value {item!r} is not allowed (allowed: {shown})")
            return lookup(value)

        return guarded

    def _context_field(self, col: _Column, name: Any, loc: _Loc, table: str) -> FieldFn | None:
        if name not in CONTEXT_KEYS:
            self.add(loc, f"unknown context value {name!r}{_suggest(name, CONTEXT_KEYS)}; "
                          f"the engine passes {', '.join(CONTEXT_KEYS)}")
            return None
        nullable = col.nullable
        key = name

        def from_context(rec: Record, parent: Record | None, ctx: dict[str, Any]) -> Any:
            value = ctx.get(key)
            if value is None and not nullable:
                raise _Problem(f"the engine passed no {key} (context)")
            return value

        return from_context

    def _build_transform(
        self, transform: Transform, spec: dict[str, Any], loc: _Loc, in_each: bool, col: _Column
    ) -> Callable[..., Any] | None:
        names = transform.args.model_fields
        raw = {k: v for k, v in spec.items() if k in names}
        if "default" in names and "default" in spec:
            raw["default"] = spec["default"]  # lookup: also stored when not in map
        try:
            args = transform.args.model_validate(raw)
        except ValidationError as err:
            for e in err.errors():
                where = (*loc, *e["loc"]) if e["loc"] else loc
                arg = e["loc"][0] if e["loc"] else ""
                msg = ("is required" if e["type"] == "missing" else e["msg"])
                self.add(where, f"column {col.name}: transform {transform.name}: argument "
                                f"`{arg}` {msg} ({transform.summary})")
            return None
        paths: dict[str, Any] = {}
        for arg in transform.path_args:
            value = getattr(args, arg)
            if value is None:
                continue
            try:
                if isinstance(value, list):
                    paths[arg] = [compile_path(p, in_each=in_each) for p in value]
                else:
                    paths[arg] = compile_path(value, in_each=in_each)
            except PathSyntaxError as err:
                self.add((*loc, arg), f"column {col.name}: {arg}: {err}")
                return None
        try:
            built: Callable[..., Any] = transform.factory(args, paths)
            return built
        except ValueError as err:
            self.add(loc, f"column {col.name}: transform {transform.name}: {err}")
            return None

    # rows and entities

    def row(self, row: _RowModel, loc: _Loc) -> RowMapping | None:
        if row.table not in TABLES:
            self.add((*loc, "table"),
                     f"unknown table {row.table!r}{_suggest(row.table, list(TABLES))}; "
                     f"tables: {', '.join(TABLES)}")
            return None
        columns = _TABLE_COLUMNS[row.table]
        each: Getter | None = None
        in_each = row.each is not None
        if row.each is not None:
            try:
                if row.each.strip().startswith("^"):
                    raise PathSyntaxError("`each:` reads the record itself; drop the ^.")
                each = compile_path(row.each, in_each=False)
            except PathSyntaxError as err:
                self.add((*loc, "each"), f"each: {err}")
        skip = None
        if row.skip_if is not None:
            skip = self.condition(row.skip_if, (*loc, "skip_if"), in_each)
        fields: list[tuple[str, FieldFn]] = []
        sources: dict[str, str] = {}
        consts: dict[str, Any] = {}
        failed = False
        owner = self.owner(row, loc, columns)
        if owner is not None:
            fields.append((OWNER_COLUMN, owner[1]))
        elif row.owner is not None:
            failed = True
        for name, spec in row.fields.items():
            floc = (*loc, "fields", name)
            col = columns.get(name) if isinstance(name, str) else None
            if col is None:
                hint = (" (arconnect's own key; map the ERP's id to external_id)"
                        if name == "id" else _suggest(name, list(columns)))
                self.add(floc, f"table {row.table} has no column {name!r}{hint}; its columns: "
                               f"{', '.join(columns)}")
                failed = True
                continue
            if name in AUTO_CONTEXT:
                # A mapping that set tenant_id could land rows in another organisation's data.
                self.add(floc, f"column {name} is filled by arconnect ({_AUTO_WHAT[name]}); a "
                               "mapping cannot set it: remove this line")
                failed = True
                continue
            fn = self.field(col, spec, floc, in_each, row.table)
            source = spec.get("path") if isinstance(spec, dict) else spec
            if isinstance(source, str):
                sources[name] = source
            if isinstance(spec, dict) and "const" in spec:
                consts[name] = spec["const"]
            if fn is None:
                failed = True
            else:
                fields.append((name, fn))
        for name in AUTO_CONTEXT:
            if name in columns:
                fn = self._context_field(columns[name], name, loc, row.table)
                assert fn is not None
                fields.append((name, fn))
        for name, col in columns.items():
            if col.nullable or name in row.fields or name in AUTO_CONTEXT:
                continue
            if name == "external_id":
                self.add((*loc, "fields"),
                         f"table {row.table} needs `external_id` (the ERP's id of the row), "
                         "e.g. `external_id: Id`")
            else:
                self.add((*loc, "fields"),
                         f"table {row.table} needs `{name}` (it cannot be empty), e.g. "
                         f"`{name}: {{const: ...}}` or `{name}: SomeField`")
            failed = True
        if failed or (row.each is not None and each is None) or (
            row.skip_if is not None and skip is None
        ):
            return None
        self._note_fields(row, loc, columns)
        return RowMapping(
            table=row.table, columns=tuple(c for c, _ in fields), each=row.each,
            has_skip_if=skip is not None, line=self.problems.line(loc),
            _fields=tuple(fields), _each=each, _skip=skip, _sources=sources,
            _owner=owner[0] if owner is not None else None, consts=consts,
        )

    def owner(self, row: _RowModel, loc: _Loc, columns: dict[str, _Column]
              ) -> tuple[Getter, FieldFn] | None:
        """The compiled ``owner:`` of an ``each:`` row: the path of the record's id, and the
        field that stores it in ``origin_external_id``; None (with a problem noted when it is
        wrong) when the row has none."""
        if row.owner is None:
            return None
        at = (*loc, "owner")
        if row.each is None:
            self.add(at, "owner: names the record whose `each:` items the rows are; this row "
                         "has no `each:` (remove owner:)")
            return None
        if OWNER_COLUMN not in columns or "is_deleted" not in columns:
            self.add(at, f"owner: table {row.table} cannot record its rows' owner (only "
                         f"tables with {OWNER_COLUMN} can: allocation)")
            return None
        if OWNER_COLUMN in row.fields:
            self.add(at, f"owner: fills {OWNER_COLUMN}; remove it from fields:")
            return None
        try:
            get = compile_path(row.owner, in_each=False)
        except PathSyntaxError as err:
            self.add(at, f"owner: {err}")
            return None

        def origin(item: Record, parent: Record | None, ctx: dict[str, Any]) -> str | None:
            value = get(parent if parent is not None else item, None)
            return None if value is None or value == "" else str(value)

        return get, origin

    def _note_fields(self, row: _RowModel, loc: _Loc, columns: dict[str, _Column]) -> None:
        """Record the record fields a compiled row reads (:attr:`Mapping.fields`).

        Inside ``each:`` a path reads the list item, not the record: only ``^.`` paths and the
        ``each:`` path itself name record fields there.
        """
        in_each = row.each is not None

        def note(path: Any, at: _Loc, column: str, required: bool = False,
                 transform: str | None = None, args: dict[str, Any] | None = None) -> None:
            if not isinstance(path, str):
                return
            try:
                up, steps = _steps(path)
            except PathSyntaxError:
                return
            if in_each and not up:
                return
            self.fields.append(SourceField(steps[0][0], self.problems.line(at), column,
                                           required, transform, dict(args or {})))

        def note_condition(cond: Any, at: _Loc) -> None:
            if not isinstance(cond, dict):
                return
            note(cond.get("path"), (*at, "path"), f"{row.table}.skip_if")
            for key in ("all", "any"):
                for i, sub in enumerate(cond.get(key) or ()):
                    note_condition(sub, (*at, key, i))
            if "not" in cond:
                note_condition(cond["not"], (*at, "not"))

        def note_item(item: Any, where: _Loc, what: str) -> None:
            """One entry of a transform's paths: a path, {path: P, transform: T, ...}, or an
            object inside an object ({transform: object, paths: {..}}: its entries)."""
            if isinstance(item, dict) and item.get("transform") == "object" and isinstance(
                    item.get("paths"), dict):
                for key, sub in item["paths"].items():
                    note_item(sub, (*where, "paths", key), f"{what[:-1]}.{key})")
            elif isinstance(item, dict):  # object: {path: P, transform: T, ...}
                inner = {k: v for k, v in item.items() if k not in ("path", "transform")}
                note(item.get("path"), where, what, transform=item.get("transform"), args=inner)
            else:
                note(item, where, what)

        if row.each is not None:
            in_each = False
            note(row.each, (*loc, "each"), f"{row.table}.each")
            in_each = True
        if row.skip_if is not None:
            note_condition(row.skip_if, (*loc, "skip_if"))
        for name, spec in row.fields.items():
            at: _Loc = (*loc, "fields", name)
            column = f"{row.table}.{name}"
            if isinstance(spec, str):
                note(spec, at, column, required=not columns[name].nullable)
                continue
            if not isinstance(spec, dict):
                continue
            transform = spec.get("transform")
            known = all_transforms().get(transform) if isinstance(transform, str) else None
            args = {k: v for k, v in spec.items() if k not in FIELD_KEYS}
            # A transform that handles a missing value (if_present...) always gives one.
            required = ((spec.get("required") is True or not columns[name].nullable)
                        and "default" not in spec
                        and not (known is not None and known.handles_none))
            note(spec.get("path"), at, column, required, transform, args)
            path_args = known.path_args if known is not None else ()
            if transform == "object":  # its paths are compiled by the transform itself
                path_args = ("paths",)
            for arg in path_args:
                value = spec.get(arg)
                items = value.items() if isinstance(value, dict) else enumerate(
                    value if isinstance(value, list) else [value])
                for key, item in items:
                    where = (*at, arg, key) if isinstance(value, dict | list) else (*at, arg)
                    what = f"{column} ({arg}.{key})" if isinstance(value, dict) else (
                        f"{column} ({arg})")
                    note_item(item, where, what)

    def entity(self, name: str, model: _EntityModel, loc: _Loc) -> EntityMapping | None:
        rows: list[RowMapping] = []
        failed = False
        for i, row_model in enumerate(model.rows):
            row = self.row(row_model, (*loc, "rows", i))
            if row is None:
                failed = True
                continue
            earlier = next((r for r in rows if r.table == row.table), None)
            if earlier is not None and set(earlier.columns) != set(row.columns):
                self.add((*loc, "rows", i, "table"),
                         f"table {row.table} is also filled by the rows entry on line "
                         f"{earlier.line} with other columns; give both entries the same columns")
                failed = True
                continue
            rows.append(row)
        if failed:
            return None
        tables = tuple(dict.fromkeys(r.table for r in rows))
        stone = None
        if model.tombstone is not None:
            stone = self.tombstone(model.tombstone, (*loc, "tombstone"), tables)
            if stone is None:
                return None
        return EntityMapping(name, tuple(rows), tables, stone)

    def tombstone(self, spec: dict[str, Any], loc: _Loc, tables: tuple[str, ...]
                  ) -> Tombstone | None:
        """Compile ``tombstone: {when, id, update: [{table, match, where, set}]}``."""
        keys = ("when", "id", "update")
        example = ("e.g. tombstone: {when: {path: status, equals: Deleted}, id: Id, "
                   "update: [{table: document, set: {status: deleted, is_deleted: true}}]}")
        unknown = [k for k in spec if k not in keys]
        for k in unknown:
            self.add((*loc, k), f"unknown key {k!r} in tombstone{_suggest(str(k), keys)}; "
                                f"allowed here: {', '.join(keys)}")
        missing = [k for k in keys if k not in spec]
        if missing:
            self.add(loc, f"tombstone needs {', '.join(missing)}; {example}")
        if unknown or missing:
            return None
        when = self.condition(spec["when"], (*loc, "when"), in_each=False)
        get_id: Getter | None = None
        if not isinstance(spec["id"], str):
            self.add((*loc, "id"), "tombstone id: give the path of the record's id, e.g. id: Id")
        else:
            try:
                get_id = compile_path(spec["id"], in_each=False)
            except PathSyntaxError as err:
                self.add((*loc, "id"), f"tombstone id: {err}")
        entries = spec["update"]
        if not isinstance(entries, list) or not entries:
            self.add((*loc, "update"), f"tombstone update: a list of tables to update; {example}")
            return None
        updates = [self._tombstone_update(e, (*loc, "update", i), tables)
                   for i, e in enumerate(entries)]
        if when is None or get_id is None or any(u is None for u in updates):
            return None
        return Tombstone(self.problems.line(loc), tuple(u for u in updates if u is not None),
                         when, get_id, spec["id"])

    def _tombstone_update(self, entry: Any, loc: _Loc, tables: tuple[str, ...]
                          ) -> TombstoneUpdate | None:
        keys = ("table", "match", "where", "set")
        if not isinstance(entry, dict) or "table" not in entry or "set" not in entry:
            self.add(loc, "a tombstone update is {table: T, set: {column: value}} (optional "
                          "match: column, where: {column: value})")
            return None
        unknown = [k for k in entry if k not in keys]
        for k in unknown:
            self.add((*loc, k), f"unknown key {k!r}{_suggest(str(k), keys)}; allowed here: "
                                f"{', '.join(keys)}")
        table = entry["table"]
        if table not in tables:
            self.add((*loc, "table"),
                     f"tombstone updates table {table!r}, which this entity's rows do not fill"
                     f"{_suggest(str(table), tables)}; tables here: {', '.join(tables)}")
            return None
        columns = _TABLE_COLUMNS[table]
        match = entry.get("match", "external_id")
        if not isinstance(match, str) or match not in columns or columns[match].kind not in (
                "str", "any"):
            hint = "" if match in columns else _suggest(str(match), list(columns))
            self.add((*loc, "match"), f"tombstone match: {match!r} is not a text column of "
                                      f"{table}{hint}")
            return None
        where_spec = entry.get("where") or {}
        if not isinstance(where_spec, dict):
            self.add((*loc, "where"), "tombstone where: {column: value}, e.g. "
                                      "{source_kind: payment}")
            return None
        set_spec = entry["set"]
        if not isinstance(set_spec, dict) or not set_spec:
            self.add((*loc, "set"), "tombstone set: {column: value}, e.g. "
                                    "{status: deleted, is_deleted: true}")
            return None
        failed = bool(unknown)
        where: list[tuple[str, Any]] = []
        for name, value in where_spec.items():
            col = columns.get(name)
            if col is None or name in ("tenant_id", match):
                self.add((*loc, "where", name),
                         f"tombstone where: {name!r} is not a column of {table} to compare"
                         f"{_suggest(str(name), list(columns))}")
                failed = True
                continue
            try:
                where.append((name, _coerce(value, col.kind)))
            except ValueError as err:
                self.add((*loc, "where", name), f"tombstone where: {name} ({col.kind}): {err}")
                failed = True
        fields: list[tuple[str, FieldFn]] = []
        taken = {"tenant_id", match, *(n for n, _ in where)}
        for name, value in set_spec.items():
            at = (*loc, "set", name)
            col = columns.get(name) if isinstance(name, str) else None
            if col is None:
                self.add(at, f"tombstone set: table {table} has no column {name!r}"
                             f"{_suggest(str(name), list(columns))}")
                failed = True
                continue
            if name in taken or name in AUTO_CONTEXT:
                why = "it finds the rows" if name in taken else "arconnect fills it"
                self.add(at, f"tombstone set: column {name!r} cannot be set ({why})")
                failed = True
                continue
            spec = value if isinstance(value, dict) else {"const": value}
            fn = self.field(col, spec, at, False, table)
            if fn is None:
                failed = True
                continue
            fields.append((name, fn))
        if failed:
            return None
        stamp = self._context_field(columns["synced_at"], "synced_at", loc, table)
        assert stamp is not None  # synced_at is a context key
        fields.append(("synced_at", stamp))
        return TombstoneUpdate(
            table=table, keys=("tenant_id", match, *(n for n, _ in where)),
            columns=tuple(n for n, _ in fields), _where=tuple(where), _fields=tuple(fields))


def _field_fn(
    get: Getter | None,
    fn: Callable[..., Any] | None,
    transform: Transform | None,
    default: Any,
    must: bool,
    missing: str,
    allowed: frozenset[Any] | None,
    key: str | None = None,
) -> FieldFn:
    """Build the closure of one column; specialised so the common cases do the least work
    (``key``: the path is that one top-level key, read inline)."""
    if get is None:  # first/join from `paths:` only

        def no_path(rec: Record, parent: Record | None) -> Any:
            return None

        get = no_path
    checks = must or allowed is not None or default is not None

    def settle(v: Any) -> Any:
        """The column's value after ``default``, ``required`` and ``allowed``."""
        if v is None:
            if default is not None:
                return default
            if must:
                raise _Problem(missing)
            return None
        if allowed is not None and v not in allowed:
            raise _Problem(f"value {v!r} is not allowed (allowed: "
                           f"{', '.join(map(str, sorted(allowed, key=str)))})")
        return v

    if fn is None:
        if not checks:
            if key is not None:
                return lambda rec, parent, ctx: rec.get(key)
            return lambda rec, parent, ctx: get(rec, parent)

        def plain(rec: Record, parent: Record | None, ctx: dict[str, Any]) -> Any:
            return settle(get(rec, parent))

        return plain
    assert transform is not None
    handles_none = transform.handles_none
    if not transform.uses_record and not handles_none and not checks:
        if key is not None:

            def simple_key(rec: Record, parent: Record | None, ctx: dict[str, Any]) -> Any:
                v = rec.get(key)
                return None if v is None else fn(v)

            return simple_key

        def simple(rec: Record, parent: Record | None, ctx: dict[str, Any]) -> Any:
            v = get(rec, parent)
            return None if v is None else fn(v)

        return simple
    uses_record = transform.uses_record

    def full(rec: Record, parent: Record | None, ctx: dict[str, Any]) -> Any:
        v = get(rec, parent)
        if v is not None or handles_none:
            v = fn(v, rec, parent, ctx) if uses_record else fn(v)
        return settle(v)

    return full


def _compile(data: Any, marks: dict[_Loc, int], duplicates: list[tuple[int, str]],
             label: str) -> Mapping:
    compiler = _Compiler(label, marks)
    compiler.problems.items.extend(duplicates)
    if not isinstance(data, dict):
        compiler.add((), "a mapping file is a YAML mapping that starts with `entities:`")
        raise compiler.problems.error()
    try:
        model = _FileModel.model_validate(data)
    except ValidationError as err:
        errors = err.errors()
        # A misspelt key gives "unknown key" and "missing key": report only the first.
        typos = {
            (tuple(e["loc"][:-1]), m)
            for e in errors if e["type"] == "extra_forbidden"
            for m in difflib.get_close_matches(str(e["loc"][-1]), _ALL_SHAPE_KEYS, n=1)
        }
        for e in errors:
            loc = tuple(e["loc"])
            if e["type"] == "missing" and (loc[:-1], loc[-1]) in typos:
                continue
            compiler.add(loc, _shape_message(e))
        raise compiler.problems.error() from None
    compiler.platform = model.platform
    entities: dict[str, EntityMapping] = {}
    for name, entity_model in model.entities.items():
        entity = compiler.entity(name, entity_model, ("entities", name))
        if entity is not None:
            entities[name] = entity
    compiler.problems.raise_if_any()
    return Mapping(label, model.platform, entities, model.outbound, marks,
                   tuple(compiler.fields))


_SHAPE_KEYS = {
    (): ("version", "platform", "description", "entities", "outbound"),
    ("entities", "*"): ("description", "rows", "tombstone"),
    ("entities", "*", "rows", "*"): ("table", "each", "owner", "skip_if", "description",
                                     "fields"),
}

_ALL_SHAPE_KEYS = sorted({k for keys in _SHAPE_KEYS.values() for k in keys})


def _shape_message(e: Any) -> str:
    loc = tuple(e["loc"])
    where = ".".join(str(p) for p in loc) or "the file"
    if e["type"] == "extra_forbidden":
        parent = tuple("*" if i % 2 else p for i, p in enumerate(loc[:-1]))
        keys = _SHAPE_KEYS.get(parent, ())
        return (f"unknown key {loc[-1]!r}{_suggest(str(loc[-1]), keys)}; allowed here: "
                f"{', '.join(keys)}")
    if e["type"] == "missing":
        example = {"entities": "entities: {invoices: {rows: [...]}}",
                   "rows": "rows: [{table: document, fields: {...}}]",
                   "table": "table: document", "fields": "fields: {external_id: Id}"}
        hint = example.get(str(loc[-1]), "")
        return f"`{loc[-1]}:` is missing" + (f", e.g. `{hint}`" if hint else "")
    if e["type"] == "too_short":
        return f"{where} is empty; it needs at least one entry"
    return f"{where}: {e['msg']}"


# -- entry points ------------------------------------------------------------------------------


def _source_text(source: str | Path) -> tuple[str, str]:
    """(label, text) of a packaged mapping name or a file path."""
    if isinstance(source, str) and _NAME.fullmatch(source) and not source.endswith(
        (".yaml", ".yml")
    ):
        package = resources.files("arconnect.mappings")
        resource = package.joinpath(f"{source}.yaml")
        if not resource.is_file():
            shipped = sorted(p.name[:-5] for p in package.iterdir() if p.name.endswith(".yaml"))
            raise MappingError(
                f"{source}.yaml:1: no mapping named {source!r} ships with arconnect "
                f"(shipped: {', '.join(shipped) or 'none'}); give a path to a .yaml file instead"
            )
        return str(resource), resource.read_text(encoding="utf-8")
    return read_text(source)


def load_mapping(source: str | Path = "xero") -> Mapping:
    """Load, validate and compile a mapping: a bare name (``"xero"``) is the one shipped in
    ``arconnect.mappings``; anything else is a path to a YAML file.

    Nothing is half-loaded: either every entity compiles or nothing is returned.

    Raises:
        MappingError: every problem found, one per line, each starting ``file:line: ``.
    """
    label, text = _source_text(source)
    data, marks, duplicates = _read_yaml(text, label)
    return _compile(data, marks, duplicates, label)


def check_mapping(source: str | Path = "xero", rules: Any = None) -> list[dict[str, Any]]:
    """Validate a mapping and summarise it: one row per entity and table with its field count.

    Raises:
        MappingError: as :func:`load_mapping`.
    """
    mapping = load_mapping(source)
    if rules is not None:
        mapping.outbound(rules)
    out: list[dict[str, Any]] = []
    for name, entity in mapping.entities.items():
        for row in entity.rows:
            out.append({
                "entity": name,
                "table": row.table,
                "each": row.each or "",
                "skip_if": "yes" if row.has_skip_if else "",
                "fields": len(row.columns),
                "line": row.line,
            })
    return out

