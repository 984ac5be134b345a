"""The store on SQLite and PostgreSQL: migrations create it, upserts are idempotent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from arconnect.errors import ConfigError
from arconnect.settings import load_settings
from arconnect.store import db
from arconnect.store.models import Document, SQLModel, Tenant
from arconnect.store.upsert import upsert


def _tenant(conn: object) -> int:
    now = datetime.now(UTC)
    t = Tenant.__table__  # type: ignore[attr-defined]
    res = conn.execute(  # type: ignore[attr-defined]
        t.insert().values(platform="xero", external_id="org-1", name="Org", created_at=now,
                          updated_at=now)
    )
    return int(res.inserted_primary_key[0])


def test_fresh_database_is_migrated_to_head(db_url: str) -> None:
    engine = db.get_engine(db_url)
    assert db.current_revision(engine) == db.head_revision(engine)


def test_migrations_match_the_models(db_url: str) -> None:
    engine = db.get_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_upsert_is_idempotent_and_exact(db_url: str) -> None:
    engine = db.get_engine(db_url)
    table = Document.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        tid = _tenant(conn)
    row = {
        "tenant_id": tid, "external_id": "inv-1", "kind": "invoice", "status": "open",
        "is_deleted": False, "issue_date": date(1967, 6, 18), "total": Decimal("1234567.89"),
        "total_base": Decimal("0.01"), "currency_rate": Decimal("0.9370530000"),
        "synced_at": datetime.now(UTC),
    }
    for _ in range(3):
        with engine.begin() as conn:
            upsert(conn, table, [row], ("tenant_id", "external_id"))
    with engine.begin() as conn:
        upsert(conn, table, [{**row, "status": "paid"}], ("tenant_id", "external_id"))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 1
        got = conn.execute(select(table)).mappings().one()
    assert got["status"] == "paid"
    assert got["total"] == Decimal("1234567.89")
    assert got["total_base"] == Decimal("0.01")
    assert got["issue_date"] == date(1967, 6, 18)
    assert got["currency_rate"] == Decimal("0.937053")


def test_upsert_many_rows_in_chunks(db_url: str) -> None:
    engine = db.get_engine(db_url)
    table = Document.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        tid = _tenant(conn)
        now = datetime.now(UTC)
        rows = [
            {"tenant_id": tid, "external_id": f"inv-{i}", "kind": "invoice",
             "status": "paid", "is_deleted": False, "synced_at": now}
            for i in range(5000)
        ]
        upsert(conn, table, rows, ("tenant_id", "external_id"))
        upsert(conn, table, rows, ("tenant_id", "external_id"))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 5000


def test_unknown_database_scheme_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match="ARCONNECT_DATABASE_URL: .*unknown scheme 'mysql'"):
        load_settings(database_url="mysql://localhost/x")


def test_unreachable_postgres_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot open the store"):
        db.get_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
