"""Dialect-aware bulk upsert: ``INSERT … ON CONFLICT (keys) DO UPDATE`` for SQLite and PostgreSQL,
and :func:`update_existing`, the partial update a tombstone makes.

Idempotent by construction: upserting the same page twice leaves the same rows, which is what
makes a cursor overlap and a resumed page harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> int:
    """Insert ``rows`` into ``table``, updating the ``update`` columns of rows that exist.

    Args:
        conn: a connection inside the caller's transaction (this function never commits).
        table: the target table.
        rows: dicts with the same keys each.
        keys: the unique constraint that identifies a row.
        update: columns to overwrite on conflict (default: every column in the rows but the keys).

    Returns:
        The number of rows sent.
    """
    if not rows:
        return 0
    columns = list(rows[0].keys())
    update = [c for c in (update if update is not None else columns) if c not in keys]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    if conn.dialect.name == "sqlite" and _same_keys(rows):
        _sqlite_executemany(conn, stmt, (table.name, tuple(columns), tuple(keys), tuple(update)),
                            columns, rows)
    else:
        # executemany of one cached statement: psycopg pipelines it.
        conn.execute(stmt, list(rows))
    return len(rows)


_compiled: dict[Any, tuple[str, list[str], list[Any], dict[str, Any], list[bool]]] = {}


def _same_keys(rows: Sequence[dict[str, Any]]) -> bool:
    """True when every row has the first row's columns (else SQLAlchemy fills the gaps)."""
    first = rows[0].keys()
    return all(row.keys() == first for row in rows)


def _sqlite_executemany(conn: Connection, stmt: Any, key: Any, columns: Sequence[str],
                        rows: Sequence[dict[str, Any]]) -> None:
    """The driver's executemany with each value through its column type's bind processor —
    what SQLAlchemy does, without its per-row parameter bookkeeping (the hottest write path).
    Columns the rows leave out get their scalar default, as SQLAlchemy would give them."""
    found = _compiled.get(key)
    if found is None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(columns))
        names = list(compiled.positiontup or [])
        table = stmt.table
        given = set(columns)
        defaults: dict[str, Any] = {}
        for n in names:
            if n not in given:
                default = table.c[n].default
                if default is None or not default.is_scalar:
                    conn.execute(stmt, list(rows))  # a computed default: SQLAlchemy's way
                    return
                defaults[n] = default.arg
        procs = [table.c[n].type._cached_bind_processor(conn.dialect) for n in names]
        memo = [isinstance(table.c[n].type, Date | DateTime) for n in names]
        found = (str(compiled), names, procs, defaults, memo)
        _compiled[key] = found
    sql, names, procs, defaults, memo = found
    # Column by column (a list comprehension per column beats a generator per row); a
    # column's default is processed once, and so is each distinct timestamp (a run stamps
    # every row with the same one).
    columns_out: list[list[Any]] = []
    for n, p, m in zip(names, procs, memo, strict=True):
        if n in defaults:
            value = p(defaults[n]) if p is not None else defaults[n]
            columns_out.append([value] * len(rows))
        elif p is None:
            columns_out.append([row[n] for row in rows])
        elif m:
            seen: dict[Any, Any] = {}
            columns_out.append([seen[v] if v in seen else seen.setdefault(v, p(v))
                                for v in (row[n] for row in rows)])
        else:
            columns_out.append([p(row[n]) for row in rows])
    params = list(zip(*columns_out, strict=True))
    conn.exec_driver_sql(sql, params)


def update_existing(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
) -> int:
    """Set, on the rows that exist, only the columns ``rows`` give; insert nothing.

    The partial upsert of a delete that arrives as a tombstone: ``UPDATE table SET <the rows'
    other columns> WHERE <keys match>``, one statement executed for every row, the same on
    SQLite and PostgreSQL. A row whose keys match nothing changes nothing (nothing to delete);
    the keys need not be a unique constraint (every matching row is updated).

    Args:
        conn: a connection inside the caller's transaction (this function never commits).
        table: the target table.
        rows: dicts with the same keys each: the ``keys`` plus the columns to set.
        keys: the columns that find the rows.

    Returns:
        The number of rows sent.

    Raises:
        ValueError: a row that sets no column, or lacks a key.
    """
    if not rows:
        return 0
    columns = [c for c in rows[0] if c not in keys]
    missing = [k for k in keys if k not in rows[0]]
    if not columns or missing:
        raise ValueError(f"update_existing on {table.name}: rows need the keys "
                         f"{', '.join(keys)} and at least one column to set")
    # Bind names differ from the column names: SQLAlchemy reserves those for SET.
    stmt = (
        table.update()
        .where(*[table.c[k] == bindparam(f"key_{k}") for k in keys])
        .values({c: bindparam(f"set_{c}", type_=table.c[c].type) for c in columns})
    )
    params = [{**{f"key_{k}": row[k] for k in keys}, **{f"set_{c}": row[c] for c in columns}}
              for row in rows]
    conn.execute(stmt, params)
    return len(rows)


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Plain INSERT of ``rows`` (dicts with the same keys), through the fast path on SQLite."""
    if not rows:
        return 0
    columns = list(rows[0].keys())
    if conn.dialect.name == "sqlite" and _same_keys(rows):
        _sqlite_executemany(conn, table.insert(), (table.name, tuple(columns), "insert"),
                            columns, rows)
    else:
        conn.execute(table.insert(), list(rows))
    return len(rows)
