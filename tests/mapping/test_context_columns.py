"""Columns the engine fills (tenant_id, synced_at) cannot be set by a mapping: a mapping that set
tenant_id would write one tenant's rows into another's data."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from arconnect.csv_import import import_csv
from arconnect.errors import MappingError
from arconnect.mapping import load_mapping
from arconnect.store.db import get_engine

SHIPPED = Path(__file__).parents[2] / "mappings"
EXPORT = """\
countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,Disputed,\
SettledDate,PaperlessBill,DaysToSettle,DaysLate
391,0379-NEVHP,4/6/2013,0000611365,1/2/2013,2/1/2013,55.94,No,1/15/2013,Paper,13,0
406,8976-AMJEO,3/3/2012,0007900770,1/26/2013,2/25/2013,61.74,Yes,3/3/2013,Electronic,36,6
"""


def _with_line_after(text: str, anchor: str, line: str) -> tuple[str, int]:
    """``text`` with ``line`` inserted after the first line containing ``anchor``; the new
    line's 1-based number."""
    lines = text.splitlines()
    at = next(i for i, got in enumerate(lines) if anchor in got) + 1
    indent = lines[at - 1][: len(lines[at - 1]) - len(lines[at - 1].lstrip())]
    lines.insert(at, indent + line)
    return "\n".join(lines) + "\n", at + 1


def test_a_csv_mapping_cannot_import_into_another_tenant(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path}/store.db")
    export = tmp_path / "ar.csv"
    export.write_text(EXPORT)
    victim = import_csv(engine, export, "csv_ibm", "Victim")
    assert victim.tenant_id == 1

    shipped = (SHIPPED / "csv_ibm.yaml").read_text()
    hostile, line = _with_line_after(shipped, "external_id: invoiceNumber", "tenant_id: {const: 1}")
    mapping = tmp_path / "hostile.yaml"
    mapping.write_text(hostile)
    before = _store(engine)
    with pytest.raises(MappingError) as caught:
        import_csv(engine, export, mapping, "Attacker")
    assert str(caught.value) == (
        f"{mapping}:{line}: column tenant_id is filled by arconnect (the tenant being synced or "
        "imported); a mapping cannot set it: remove this line"
    )
    assert _store(engine) == before  # no tenant 'Attacker', tenant 1 untouched


def test_a_xero_mapping_cannot_set_synced_at(tmp_path: Path) -> None:
    shipped = (SHIPPED / "xero.yaml").read_text()
    custom, line = _with_line_after(
        shipped, "external_id: ContactID", "synced_at: {path: UpdatedDateUTC, "
                                           "transform: xero_datetime}")
    mapping = tmp_path / "xero.yaml"
    mapping.write_text(custom)
    with pytest.raises(MappingError) as caught:
        load_mapping(mapping)
    assert str(caught.value) == (
        f"{mapping}:{line}: column synced_at is filled by arconnect (the time the row is "
        "stored); a mapping cannot set it: remove this line"
    )


def _store(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            *conn.execute(text("SELECT id, name FROM tenant ORDER BY id")),
            *conn.execute(text("SELECT tenant_id, external_id, total, synced_at FROM document "
                               "ORDER BY tenant_id, external_id")),
        ]
