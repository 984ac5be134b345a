"""import_csv checks what a spreadsheet export gets wrong: the header against the mapping before
anything is read, date formats that reject most values, duplicate invoices, amounts the store
cannot hold."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from arconnect.adapters.csv import CsvFileError
from arconnect.csv_import import import_csv
from arconnect.mapping import load_mapping
from arconnect.store.db import get_engine
from arconnect.store.models import Allocation, Document, Tenant

HEADER = ("countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,"
          "Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate")
SHIPPED = load_mapping("csv_ibm").source


def row(number: str, amount: str = "55.94", issued: str = "1/2/2013", due: str = "2/1/2013",
        settled: str = "1/15/2013", customer: str = "0379-NEVHP") -> str:
    return f"391,{customer},4/6/2013,{number},{issued},{due},{amount},No,{settled},Paper,13,0"


def export(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "ar.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def stored(engine: Engine) -> list[tuple[object, ...]]:
    """Tenants, each invoice's total (a Decimal on both databases), allocations."""
    doc = Document.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return [
            ("tenant", conn.execute(select(func.count()).select_from(Tenant)).scalar_one()),
            *(tuple(r) for r in conn.execute(select(doc.external_id, doc.total)
                                             .order_by(doc.external_id))),
            ("allocations",
             conn.execute(select(func.count()).select_from(Allocation)).scalar_one()),
        ]


def line_of(mapping: Path | str, column: str) -> int:
    return next(f.line for f in load_mapping(mapping).fields if f.column == column)


def test_a_column_the_mapping_needs_is_checked_before_any_row(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path}/store.db")
    path = export(tmp_path, [row("0000611365")], HEADER.replace("InvoiceAmount", "InvoiceAmnt"))
    with pytest.raises(CsvFileError) as caught:
        import_csv(engine, path, "csv_ibm", "Sample")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        f"{path}:1: no column 'InvoiceAmount' (mapping {SHIPPED}:"
        f"{line_of('csv_ibm', 'document.total')} reads it for document.total); did you mean "
        "'InvoiceAmnt'?; the header has: countryCode, customerID,")
    assert message.endswith("; fix the header or the mapping (nothing was imported)")
    assert stored(engine) == [("tenant", 0), ("allocations", 0)]


def test_a_misspelt_optional_column_warns(tmp_path: Path) -> None:
    # SettledDat: every invoice would silently be open.
    mapping = tmp_path / "ibm.yaml"
    mapping.write_text(Path(SHIPPED).read_text().replace("SettledDate", "SettledDat"))
    engine = get_engine(f"sqlite:///{tmp_path}/store.db")
    path = export(tmp_path, [row("0000611365")])
    result = import_csv(engine, path, mapping, "Sample")
    assert result.warnings == [
        f"{path}:1: no column 'SettledDat' (mapping {mapping}:"
        f"{line_of(mapping, 'document.status')} reads it for document.status): every row reads "
        "it as empty; did you mean 'SettledDate'?"
    ]
    # Warned, not refused: the rows are imported (as open invoices).
    assert result.rejects == [] and result.imported["document"] == 1


def test_a_date_format_that_rejects_most_values_warns(tmp_path: Path) -> None:
    # Day and month swapped: 13/1/2013 and later days are rejected, 1/2 to 12/2 read wrongly.
    days = [3, 7, 11, 13, 17, 21, 25, 28]
    rows = [row(f"{n:010d}", issued=f"{n}/1/2013", due="2/1/2013", settled="")
            for n in days]
    engine = get_engine(f"sqlite:///{tmp_path}/store.db")
    path = export(tmp_path, rows)
    result = import_csv(engine, path, "csv_ibm", "Sample")
    assert len(result.rejects) == 5
    assert result.warnings == [
        f"{path}: column 'InvoiceDate': the format %m/%d/%Y (mapping {SHIPPED}:"
        f"{line_of('csv_ibm', 'document.issue_date')}) reads 3 of 8 values and rejects 5: it is "
        "probably the wrong format; %d/%m/%Y reads 8 of them"
    ]
    # A format that reads most values (one typo) gives no warning.
    fine = import_csv(engine, export(tmp_path, [row("1"), row("2"), row("3", issued="13/1/2013")]),
                      "csv_ibm", "Other")
    assert len(fine.rejects) == 1 and fine.warnings == []


def test_duplicate_invoices_are_rejected_not_last_wins(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path}/store.db")
    path = export(tmp_path, [row("0000611365"), row("0000611366"),
                             row("0000611365", amount="99.00"), row("0000611367")])
    result = import_csv(engine, path, "csv_ibm", "Sample")
    assert [(r.line, r.problem) for r in result.rejects] == [
        (line, "document 0000611365 is on lines 2 and 4; the file must list it once: remove "
               "or renumber the other rows") for line in (2, 4)
    ]
    assert result.imported == {"customer": 1, "document": 2, "allocation": 2}
    assert stored(engine) == [("tenant", 1), ("0000611366", Decimal("55.94")),
                              ("0000611367", Decimal("55.94")), ("allocations", 2)]


def test_amounts_the_store_cannot_hold_are_rejected(db_url: str, tmp_path: Path) -> None:
    engine = get_engine(db_url)
    # NUMERIC(18, 2) holds 16 digits before the point; SQLite keeps 15 significant digits.
    digits = 13 if engine.dialect.name == "sqlite" else 16
    widest = "9" * digits + ".99"
    path = export(tmp_path, [row("1"), row("2", amount="-55.94"),
                             row("3", amount="12345678901234567.89"),
                             row("4", amount=widest), row("5", amount="1" + widest)])
    result = import_csv(engine, path, "csv_ibm", "Sample")
    too_large = ("is too large (read from InvoiceAmount): the store keeps at most "
                 f"{digits} digits before the decimal point")
    assert [str(r) for r in result.rejects] == [
        "line 3: document.total: -55.94 is negative (read from InvoiceAmount); an AR export "
        "lists amounts as positive numbers (fix the row or leave it out)",
        f"line 4: document.total: 12345678901234567.89 {too_large}",
        f"line 6: document.total: 1{widest} {too_large}",
    ]
    assert stored(engine) == [("tenant", 1), ("1", Decimal("55.94")), ("4", Decimal(widest)),
                              ("allocations", 2)]
