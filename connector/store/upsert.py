"""Dialect-aware bulk upsert: ``INSERT … ON CONFLICT (keys) DO UPDATE`` for SQLite and PostgreSQL.

Idempotent by construction: upserting the same page twice leaves the same rows, which is what
makes a cursor overlap and a resumed page harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
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
    # executemany of one cached statement: the driver loops in C (SQLite) or pipelines
    # (psycopg). A multi-VALUES statement would be compiled anew for every chunk.
    conn.execute(stmt, list(rows))
    return len(rows)
