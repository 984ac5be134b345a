"""import_csv on a generated IBM-layout export: exact rows, rejects by line, strict, idempotent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from arconnect.adapters.csv import CsvFileError
from arconnect.csv_import import ImportResult, import_csv
from arconnect.errors import ArconnectError, MappingError
from arconnect.store.db import get_engine
from arconnect.store.models import SQLModel

HEADER = ("countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,"
          "Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate")
# Three customers; settled and open invoices; zero-padded numbers; paper and e-invoices.
ROWS = [
    "391,0379-NEVHP,4/6/2013,0000611365,1/2/2013,2/1/2013,55.94,No,1/15/2013,Paper,13,0",
    "406,8976-AMJEO,3/3/2012,0007900770,1/26/2013,2/25/2013,61.74,Yes,3/3/2013,Electronic,36,6",
    "391,0379-NEVHP,4/6/2013,0000611366,5/2/2013,6/1/2013,100,No,,Electronic,,",
    "406,8976-AMJEO,3/3/2012,0007900771,11/30/2013,12/30/2013,12.5,No,,Electronic,,",
    "770,2820-XGXSB,1/26/2012,0000000042,7/3/2013,8/2/2013,65.88,Yes,7/8/2013,Electronic,5,0",
]


def write_export(tmp_path: Path, rows: list[str], name: str = "ar.csv") -> Path:
    path = tmp_path / name
    # As the IBM file: CRLF line endings.
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("utf-8"))
    return path


def query(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def counts(engine: Engine) -> dict[str, int]:
    tables = ("tenant", "customer", "document", "allocation", "payment")
    return {t: query(engine, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def rows(engine: Engine, table: str, columns: str) -> list[tuple[Any, ...]]:
    """``columns`` of ``table`` ordered by external_id, typed by the models (Decimal, date,
    bool, JSON) on both databases."""
    t = SQLModel.metadata.tables[table]
    stmt = select(*(t.c[c.strip()] for c in columns.split(","))).order_by(t.c.external_id)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(stmt)]


def test_import_stores_exact_rows(db_url: str, tmp_path: Path) -> None:
    engine = get_engine(db_url)
    path = write_export(tmp_path, ROWS)
    result = import_csv(engine, path, "csv_ibm", "IBM sample")
    assert result == ImportResult(
        rows_read=5, imported={"customer": 3, "document": 5, "allocation": 3}, rejects=[],
        tenant_id=result.tenant_id,
    )
    assert query(engine, "SELECT id, platform, external_id, name, base_currency FROM tenant") == [
        (result.tenant_id, "csv", "IBM sample", "IBM sample", "USD")
    ]
    customers = rows(engine, "customer", "external_id, name, delivery_mode, is_customer, extra")
    assert [c[:4] for c in customers] == [
        # 0379-NEVHP's last row is an e-invoice: the row read last wins.
        ("0379-NEVHP", "0379-NEVHP", "electronic", True),
        ("2820-XGXSB", "2820-XGXSB", "electronic", True),
        ("8976-AMJEO", "8976-AMJEO", "electronic", True),
    ]
    assert customers[0][4] == {"country": "391", "paperless_since": "2013-04-06"}
    got = rows(engine, "document", "external_id, kind, number, customer_external_id, status,"
               " issue_date, due_date, fully_paid_on, currency, total, total_base, amount_due,"
               " amount_due_base, amount_paid, delivery_mode, extra, tenant_id, is_deleted")
    tid = result.tenant_id
    assert got == [
        ("0000000042", "invoice", "0000000042", "2820-XGXSB", "paid", date(2013, 7, 3),
         date(2013, 8, 2), date(2013, 7, 8), "USD", Decimal("65.88"), Decimal("65.88"),
         Decimal("0.00"), Decimal("0.00"), Decimal("65.88"), "electronic",
         {"disputed": True, "country": "770"}, tid, False),
        ("0000611365", "invoice", "0000611365", "0379-NEVHP", "paid", date(2013, 1, 2),
         date(2013, 2, 1), date(2013, 1, 15), "USD", Decimal("55.94"), Decimal("55.94"),
         Decimal("0.00"), Decimal("0.00"), Decimal("55.94"), "paper",
         {"disputed": False, "country": "391"}, tid, False),
        ("0000611366", "invoice", "0000611366", "0379-NEVHP", "open", date(2013, 5, 2),
         date(2013, 6, 1), None, "USD", Decimal("100.00"), Decimal("100.00"),
         Decimal("100.00"), Decimal("100.00"), Decimal("0.00"), "electronic",
         {"disputed": False, "country": "391"}, tid, False),
        ("0007900770", "invoice", "0007900770", "8976-AMJEO", "paid", date(2013, 1, 26),
         date(2013, 2, 25), date(2013, 3, 3), "USD", Decimal("61.74"), Decimal("61.74"),
         Decimal("0.00"), Decimal("0.00"), Decimal("61.74"), "electronic",
         {"disputed": True, "country": "406"}, tid, False),
        ("0007900771", "invoice", "0007900771", "8976-AMJEO", "open", date(2013, 11, 30),
         date(2013, 12, 30), None, "USD", Decimal("12.50"), Decimal("12.50"),
         Decimal("12.50"), Decimal("12.50"), Decimal("0.00"), "electronic",
         {"disputed": False, "country": "406"}, tid, False),
    ]
    allocations = rows(engine, "allocation", "external_id, source_kind, source_external_id,"
                       " document_external_id, customer_external_id, allocated_on, amount,"
                       " amount_base, is_deleted")
    assert allocations == [
        ("0000000042", "settlement", "0000000042", "0000000042", "2820-XGXSB",
         date(2013, 7, 8), Decimal("65.88"), Decimal("65.88"), False),
        ("0000611365", "settlement", "0000611365", "0000611365", "0379-NEVHP",
         date(2013, 1, 15), Decimal("55.94"), Decimal("55.94"), False),
        ("0007900770", "settlement", "0007900770", "0007900770", "8976-AMJEO",
         date(2013, 3, 3), Decimal("61.74"), Decimal("61.74"), False),
    ]
    assert counts(engine)["payment"] == 0


def test_reimport_is_idempotent_and_updates(db_url: str, tmp_path: Path) -> None:
    engine = get_engine(db_url)
    path = write_export(tmp_path, ROWS)
    first = import_csv(engine, path, "csv_ibm", "IBM sample")
    before = counts(engine)
    snapshot = query(engine, "SELECT * FROM document ORDER BY external_id")
    again = import_csv(engine, path, "csv_ibm", "IBM sample")
    assert again.tenant_id == first.tenant_id and again.imported == first.imported
    assert counts(engine) == before == {"tenant": 1, "customer": 3, "document": 5,
                                        "allocation": 3, "payment": 0}
    # Same rows (ids kept); only synced_at moves.
    strip = [r[:-1] for r in snapshot]
    assert [r[:-1] for r in query(engine, "SELECT * FROM document ORDER BY external_id")] == strip
    # A later export where the open invoice got settled: updated in place, one more allocation.
    settled = ROWS[2].replace(",100,No,,Electronic,,", ",100,No,6/20/2013,Electronic,49,19")
    import_csv(engine, write_export(tmp_path, [*ROWS[:2], settled, *ROWS[3:]], "later.csv"),
               "csv_ibm", "IBM sample")
    assert rows(engine, "document", "external_id, status, amount_due")[2] == (
        "0000611366", "paid", Decimal("0.00"))
    assert counts(engine)["allocation"] == 4 and counts(engine)["document"] == 5
    # Another tenant name is another tenant: nothing shared.
    other = import_csv(engine, path, "csv_ibm", "Other", base_currency="EUR")
    assert other.tenant_id != first.tenant_id
    assert query(engine, "SELECT count(*) FROM document WHERE currency = 'EUR'") == [(5,)]


BAD_ROWS = [
    ROWS[0],
    "391,0379-NEVHP,4/6/2013,0000611367,13/45/2013,2/1/2013,55.94,No,,Paper,,",   # line 3
    ROWS[1],
    "391,,4/6/2013,0000611368,1/2/2013,2/1/2013,55.94,No,,Paper,,",               # line 5
    "391,0379-NEVHP,4/6/2013,0000611369,1/2/2013,2/1/2013,12.x,No,,Paper,,",      # line 6
    "391,0379-NEVHP,4/6/2013,,1/2/2013,2/1/2013,10,No,,Paper,,",                  # line 7
    "391,0379-NEVHP,4/6/2013,0000611370,1/2/2013",                                # line 8
    "391,0379-NEVHP,4/6/2013,0000611371,1/2/2013,2/1/2013,10,No,,Fax,,",          # line 9
    "391,0379-NEVHP,4/6/2013,0000611372,1/2/2013,2/1/2013,10,Maybe,,Paper,,",     # line 10
    ROWS[4],
]


def test_bad_rows_are_rejected_with_their_line(db_url: str, tmp_path: Path) -> None:
    engine = get_engine(db_url)
    result = import_csv(engine, write_export(tmp_path, BAD_ROWS), "csv_ibm", "IBM sample")
    assert result.rows_read == 10
    assert [r.line for r in result.rejects] == [3, 5, 6, 7, 8, 9, 10]
    problems = {r.line: r.problem for r in result.rejects}
    assert "'13/45/2013' is not a date in the format %m/%d/%Y (read from InvoiceDate)" in (
        problems[3])
    assert problems[5].startswith("customer.external_id: cannot be empty (path customerID")
    assert "'12.x' is not a number" in problems[6] and "total" in problems[6]
    assert problems[7].startswith("document.external_id: cannot be empty (path invoiceNumber")
    assert "the row has 5 fields, the header 12" in problems[8]
    assert "value 'fax' is not allowed (allowed: electronic, paper)" in problems[9]
    assert "'Maybe' is not true or false" in problems[10]
    assert str(result.rejects[0]).startswith("line 3: document.issue_date: ")
    # Everything valid is imported, nothing of a rejected row (not even its customer).
    assert result.imported == {"customer": 3, "document": 3, "allocation": 3}
    assert [r[0] for r in query(engine, "SELECT external_id FROM document ORDER BY 1")] == [
        "0000000042", "0000611365", "0007900770"]


def test_strict_commits_nothing(db_url: str, tmp_path: Path) -> None:
    engine = get_engine(db_url)
    path = write_export(tmp_path, BAD_ROWS)
    with pytest.raises(ArconnectError) as caught:
        import_csv(engine, path, "csv_ibm", "IBM sample", strict=True)
    message = str(caught.value)
    assert message.startswith(f"{path}: 7 row(s) rejected, nothing imported (strict): line 3: ")
    assert "line 8:" in message and "line 9:" not in message and "and 2 more" in message
    assert counts(engine) == {"tenant": 0, "customer": 0, "document": 0, "allocation": 0,
                              "payment": 0}
    # A clean file imports in strict mode.
    ok = import_csv(engine, write_export(tmp_path, ROWS, "ok.csv"), "csv_ibm", "IBM sample",
                    strict=True)
    assert ok.rejects == [] and counts(engine)["document"] == 5


BAD_MAPPING = """\
version: 1
platform: csv
entities:
  invoices:
    rows:
      - table: document
        fields:
          external_id: invoiceNumber
          kind: {const: invoice}
          status: {const: paid}
          issue_date: {path: InvoiceDate, transform: date, format: "%m/%Y"}
          due_date: {path: DueDate, transform: date}
"""


def test_a_bad_mapping_names_file_and_line_before_writing(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path}/store.db")
    mapping = tmp_path / "bad.yaml"
    mapping.write_text(BAD_MAPPING, encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        import_csv(engine, write_export(tmp_path, ROWS), mapping, "IBM sample")
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"{mapping}:11: column issue_date: transform date: format")
    assert "does not read a day, a month and a year" in lines[0]
    assert lines[1].startswith(f"{mapping}:12: column due_date: transform date: argument "
                               "`format` is required")
    assert counts(engine)["tenant"] == 0
    # A mapping of another platform is refused too.
    with pytest.raises(MappingError, match=r"xero.yaml:1: this mapping is for platform 'xero'"):
        import_csv(engine, write_export(tmp_path, ROWS), "xero", "IBM sample")
    assert counts(engine)["tenant"] == 0


def test_file_errors_write_nothing(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path}/store.db")
    with pytest.raises(CsvFileError, match="missing.csv: no such file"):
        import_csv(engine, tmp_path / "missing.csv", "csv_ibm", "IBM sample")
    with pytest.raises(ArconnectError, match="tenant name is empty"):
        import_csv(engine, write_export(tmp_path, ROWS), "csv_ibm", "  ")
    assert counts(engine)["tenant"] == 0


def test_sniffed_semicolons_and_a_url(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("\n".join([HEADER, *ROWS[:2]]).replace(",", ";") + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path}/store.db"
    result = import_csv(url, path, "csv_ibm", "IBM sample")
    assert result.rejects == [] and result.imported["document"] == 2
