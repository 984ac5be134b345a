"""The store's own words: the migration that moves existing rows to them (and back), every
shipped mapping writing only them, and deletes that arrive as tombstones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic import command
from sqlalchemy import Engine, select

from arconnect.errors import MappingError
from arconnect.mapping import load_mapping
from arconnect.store import db
from arconnect.store.models import Allocation, Document, Payment, Tenant
from arconnect.store.upsert import update_existing, upsert
from arconnect.store.vocabulary import (
    DOCUMENT_STATUSES,
    PAYMENT_KINDS,
    REFUND_KINDS,
    VOCABULARY,
    sql_words,
)
from tests.xero_words import XERO_DOCUMENT_STATUS, XERO_PAYMENT_STATUS, XERO_PAYMENT_TYPE

DOC = Document.__table__  # type: ignore[attr-defined]
PAY = Payment.__table__  # type: ignore[attr-defined]
ALLOC = Allocation.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _tenant(engine: Engine) -> int:
    with engine.begin() as conn:
        res = conn.execute(Tenant.__table__.insert().values(  # type: ignore[attr-defined]
            platform="xero", external_id="org-1", name="Org", created_at=NOW, updated_at=NOW))
        return int(res.inserted_primary_key[0])


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    cfg = db.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _column(engine: Engine, table: Any, column: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(table.c.external_id, table.c[column])).all())  # type: ignore[arg-type]


# -- the vocabulary itself ---------------------------------------------------------------------


def test_xero_translations_land_in_the_vocabulary() -> None:
    assert set(XERO_DOCUMENT_STATUS.values()) == set(DOCUMENT_STATUSES)
    assert set(XERO_PAYMENT_TYPE.values()) <= set(PAYMENT_KINDS)
    assert set(XERO_PAYMENT_STATUS.values()) <= set(VOCABULARY[("payment", "status")])
    assert set(REFUND_KINDS) < set(PAYMENT_KINDS) and "receipt" not in REFUND_KINDS
    assert sql_words(("draft", "open")) == "('draft', 'open')"
    with pytest.raises(ValueError, match="not a vocabulary word"):
        sql_words(("x'; drop table document; --",))


# -- the migration -----------------------------------------------------------------------------


def test_migration_moves_xero_words_and_back(db_url: str) -> None:
    engine = db.create_store_engine(db_url)
    try:
        _migrate(engine, "0006")
        tid = _tenant(engine)
        statuses = [*XERO_DOCUMENT_STATUS, "SOMETHING_ELSE"]
        kinds = [*XERO_PAYMENT_TYPE, None]
        with engine.begin() as conn:
            conn.execute(DOC.insert(), [
                {"tenant_id": tid, "external_id": f"d-{s}", "kind": "invoice", "status": s,
                 "is_deleted": False, "synced_at": NOW} for s in statuses])
            conn.execute(PAY.insert(), [
                {"tenant_id": tid, "external_id": f"p-{k}", "payment_type": k,
                 "status": "DELETED" if k is None else "AUTHORISED", "is_deleted": False,
                 "synced_at": NOW} for k in kinds])
        _migrate(engine, "0007")
        assert _column(engine, DOC, "status") == {
            **{f"d-{s}": w for s, w in XERO_DOCUMENT_STATUS.items()},
            "d-SOMETHING_ELSE": "SOMETHING_ELSE"}  # an unknown word is left alone
        assert _column(engine, PAY, "payment_type") == {
            **{f"p-{k}": w for k, w in XERO_PAYMENT_TYPE.items()}, "p-None": None}
        assert set(_column(engine, PAY, "status").values()) == {"posted", "deleted"}

        _migrate(engine, "0006", down=True)
        back = _column(engine, DOC, "status")
        assert back == {f"d-{s}": "DRAFT" if s == "SUBMITTED" else s for s in statuses}
        assert _column(engine, PAY, "payment_type") == {f"p-{k}": k for k in kinds}
        assert set(_column(engine, PAY, "status").values()) == {"AUTHORISED", "DELETED"}
    finally:
        engine.dispose()


# -- every shipped mapping writes only the store's words ---------------------------------------


def _shipped() -> list[Path]:
    folder = resources.files("arconnect.mappings")
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml"))


def _words(spec: Any) -> list[Any] | None:
    """The values a field spec can store, or None when it stores what the platform sent."""
    if not isinstance(spec, dict):
        return None  # a bare path: the platform's own value
    if "const" in spec:
        return [spec["const"]]
    if spec.get("transform") == "lookup":
        found = list(spec["map"].values())
        return [*found, spec["default"]] if spec.get("default") is not None else found
    if spec.get("transform") == "if_present":
        return [spec.get("then"), spec.get("otherwise")]
    return None


def _vocabulary_fields(data: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(where, table.column, spec) of every field a mapping fills that holds vocabulary words:
    the rows' fields and the tombstones' set values."""
    out = []
    for entity, body in data["entities"].items():
        for i, row in enumerate(body["rows"]):
            for column, spec in row["fields"].items():
                if (row["table"], column) in VOCABULARY:
                    out.append((f"{entity}.rows[{i}]", f"{row['table']}.{column}", spec))
        for update in (body.get("tombstone") or {}).get("update", []):
            for column, value in update["set"].items():
                if (update["table"], column) in VOCABULARY:
                    spec = value if isinstance(value, dict) else {"const": value}
                    out.append((f"{entity}.tombstone", f"{update['table']}.{column}", spec))
    return out


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: p.name)
def test_every_shipped_mapping_writes_only_vocabulary_words(path: Path) -> None:
    load_mapping(path)  # it loads
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fields = _vocabulary_fields(data)
    assert any(c == "document.status" for _, c, _ in fields), "no document.status found"
    for where, column, spec in fields:
        words = _words(spec)
        table, name = column.split(".")
        assert words is not None, f"{path.name} {where}: {column} stores the platform's value"
        stray = [w for w in words if w not in VOCABULARY[(table, name)]]
        assert not stray, f"{path.name} {where}: {column} writes {stray}, not the store's words"


def test_the_vocabulary_check_catches_a_platform_word() -> None:
    data = {"entities": {"invoices": {"rows": [{"table": "document", "fields": {
        "status": {"path": "Status", "transform": "lookup", "map": {"AUTHORISED": "AUTHORISED"}},
        "kind": "Type"}}]}}}
    (_, _, status), (_, _, kind) = _vocabulary_fields(data)
    assert _words(status) == ["AUTHORISED"]
    assert _words(kind) is None


# -- lookup with allowed: guards the platform's words ------------------------------------------


def _mapping(tmp_path: Path, status: str, extra: str = "") -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(
        "entities:\n"
        "  invoices:\n"
        "    rows:\n"
        "      - table: document\n"
        "        fields:\n"
        "          external_id: Id\n"
        "          kind: {const: invoice}\n"
        f"          status: {status}\n"
        f"{extra}", encoding="utf-8")
    return path


def test_lookup_allowed_lists_the_platforms_words(tmp_path: Path) -> None:
    m = load_mapping(_mapping(tmp_path, "{path: S, transform: lookup, map: {A: open, P: paid}, "
                                        "default: open, allowed: [A, P]}"))
    rows = m.entities["invoices"].map_page([{"Id": "1", "S": "P"}], {"tenant_id": 1,
                                                                     "synced_at": NOW})
    assert rows["document"][0]["status"] == "paid"
    # a word the platform should never send fails the page, even with a default
    with pytest.raises(ValueError, match="value 'X' is not allowed"):
        m.entities["invoices"].map_page([{"Id": "1", "S": "X"}], {"tenant_id": 1,
                                                                  "synced_at": NOW})


def test_lookup_allowed_follows_ignore_case(tmp_path: Path) -> None:
    m = load_mapping(_mapping(tmp_path, "{path: S, transform: lookup, map: {open: open}, "
                                        "ignore_case: true, allowed: [Open]}"))
    ctx = {"tenant_id": 1, "synced_at": NOW}
    assert m.entities["invoices"].map_page([{"Id": "1", "S": "OPEN"}], ctx)["document"][0][
        "status"] == "open"
    with pytest.raises(ValueError, match="value 'Paid' is not allowed"):
        m.entities["invoices"].map_page([{"Id": "1", "S": "Paid"}], ctx)


def test_lookup_allowed_word_without_translation_is_a_load_error(tmp_path: Path) -> None:
    path = _mapping(tmp_path, "{path: S, transform: lookup, map: {A: open}, allowed: [A, P]}")
    with pytest.raises(MappingError, match=r"m\.yaml:8: .*allowed P has no translation"):
        load_mapping(path)


# -- tombstones --------------------------------------------------------------------------------

TOMBSTONE = """\
    tombstone:
      when: {path: status, equals: Deleted}
      id: Id
      update:
        - table: document
          set: {status: deleted, is_deleted: true}
"""


def _qbo_like(tmp_path: Path, tombstone: str = TOMBSTONE) -> Path:
    return _mapping(tmp_path, "{path: Balance, transform: if_present, then: open, "
                              "otherwise: paid}\n"
                              "          total: {path: TotalAmt, transform: decimal}\n"
                              "          customer_external_id: CustomerRef.value\n", tombstone)


def test_tombstone_updates_only_what_it_sets(db_url: str, tmp_path: Path) -> None:
    entity = load_mapping(_qbo_like(tmp_path)).entities["invoices"]
    engine = db.get_engine(db_url)
    tid = _tenant(engine)
    ctx = {"tenant_id": tid, "synced_at": NOW}
    live = [{"Id": "7", "Balance": 5, "TotalAmt": 12.5, "CustomerRef": {"value": "c-1"}},
            {"Id": "8", "Balance": 5, "TotalAmt": 3, "CustomerRef": {"value": "c-2"}}]
    with engine.begin() as conn:
        upsert(conn, DOC, entity.map_page(live, ctx)["document"], ("tenant_id", "external_id"))
    # QBO change data capture: a deleted entity is its Id and status "Deleted"
    # https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture
    page = [{"domain": "QBO", "status": "Deleted", "Id": "7",
             "MetaData": {"LastUpdatedTime": "2026-12-02T10:00:00-08:00"}},
            {"domain": "QBO", "status": "Deleted", "Id": "99"}]  # never stored
    later = datetime(2026, 12, 2, tzinfo=UTC)
    assert entity.map_page(page, {**ctx, "synced_at": later})["document"] == []
    (update, rows), = entity.map_tombstones(page, {**ctx, "synced_at": later})
    assert update.keys == ("tenant_id", "external_id")
    assert rows[0] == {"tenant_id": tid, "external_id": "7", "status": "deleted",
                       "is_deleted": True, "synced_at": later}
    with engine.begin() as conn:
        update_existing(conn, DOC, rows, update.keys)
    with engine.connect() as conn:
        got = {r.external_id: r for r in conn.execute(select(DOC)).all()}
    assert set(got) == {"7", "8"}  # the unknown id was not inserted
    assert (got["7"].status, got["7"].is_deleted) == ("deleted", True)
    # every other column kept what the live record stored
    assert (got["7"].kind, got["7"].total, got["7"].customer_external_id) == (
        "invoice", Decimal("12.50"), "c-1")
    assert (got["8"].status, got["8"].is_deleted) == ("open", False)


def test_tombstone_updates_a_non_unique_match_with_where(db_url: str) -> None:
    engine = db.get_engine(db_url)
    tid = _tenant(engine)
    base = {"tenant_id": tid, "document_external_id": "inv", "allocated_on": date(2026, 1, 1),
            "amount": Decimal("1.00"), "is_deleted": False, "synced_at": NOW}
    with engine.begin() as conn:
        conn.execute(ALLOC.insert(), [
            {**base, "external_id": "p1-1", "source_kind": "payment", "source_external_id": "p1"},
            {**base, "external_id": "p1-2", "source_kind": "payment", "source_external_id": "p1"},
            {**base, "external_id": "c1", "source_kind": "credit_note",
             "source_external_id": "p1"}])
        update_existing(conn, ALLOC, [{"tenant_id": tid, "source_external_id": "p1",
                                       "source_kind": "payment", "is_deleted": True}],
                        ("tenant_id", "source_external_id", "source_kind"))
    with engine.connect() as conn:
        got = dict(conn.execute(select(ALLOC.c.external_id, ALLOC.c.is_deleted)).all())  # type: ignore[arg-type]
    assert got == {"p1-1": True, "p1-2": True, "c1": False}


def test_update_existing_needs_columns_to_set(sqlite_url: str) -> None:
    engine = db.get_engine(sqlite_url)
    with engine.begin() as conn, pytest.raises(ValueError, match="at least one column"):
        update_existing(conn, DOC, [{"tenant_id": 1, "external_id": "x"}],
                        ("tenant_id", "external_id"))


def test_tombstone_without_an_id_names_the_record(tmp_path: Path) -> None:
    entity = load_mapping(_qbo_like(tmp_path)).entities["invoices"]
    with pytest.raises(ValueError, match=r"tombstone: the tombstone has no id \(path Id\)"):
        entity.map_tombstones([{"status": "Deleted"}], {"tenant_id": 1, "synced_at": NOW})


@pytest.mark.parametrize(("tombstone", "error"), [
    (TOMBSTONE.replace("      id: Id\n", ""), r"m\.yaml:12: tombstone needs id; e\.g\."),
    (TOMBSTONE.replace("table: document", "table: payment"),
     r":16: tombstone updates table 'payment', which this entity's rows do not fill"),
    (TOMBSTONE.replace("is_deleted: true", "is_delted: true"),
     r":17: tombstone set: table document has no column 'is_delted' \(did you mean "
     r"'is_deleted'\?\)"),
    (TOMBSTONE.replace("set: {", "set: {external_id: x, "),
     r":17: tombstone set: column 'external_id' cannot be set \(it finds the rows\)"),
    (TOMBSTONE.replace("- table: document", "- table: document\n          match: total"),
     r":17: tombstone match: 'total' is not a text column of document$"),
    (TOMBSTONE.replace("when:", "whenn:"), r":13: unknown key 'whenn' in tombstone \(did you "
                                          r"mean 'when'\?\)"),
])
def test_tombstone_mistakes_are_load_errors_with_lines(tmp_path: Path, tombstone: str,
                                                       error: str) -> None:
    with pytest.raises(MappingError, match=error):
        load_mapping(_qbo_like(tmp_path, tombstone))
