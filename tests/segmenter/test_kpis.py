"""KPIs per segment against figures worked out by hand on a tiny imported history.

Two customers, six invoices (net 30), run as of 2013-06-30 with the KPI period the 90 days
before it, (2013-04-01, 2013-06-30]:

=====  ==========  ==========  ======  ==========  ==============================
inv    issued      due         amount  settled     as of 2013-06-30
=====  ==========  ==========  ======  ==========  ==============================
A1     2013-03-01  2013-03-31  1000    2013-04-20  open at the period start; 20 days late
A2     2013-05-01  2013-05-31   500    —           overdue 30 days
A3     2013-06-15  2013-07-15   300    —           current
B1     2013-02-01  2013-03-03  2000    2013-03-01  paid before the period, 2 days early
B2     2013-04-10  2013-05-10   800    2013-05-05  5 days early
B3     2013-06-01  2013-07-01   400    —           current
=====  ==========  ==========  ======  ==========  ==============================

Opening receivables 1000 (A1), sales of the period 2000 (A2, A3, B2, B3), closing 1200, of
which current 700: CEI = (1000 + 2000 - 1200) / (1000 + 2000 - 700) x 100 = 78.3;
DSO = 1200 / 2000 x 90 = 54.0. Per customer: A's CEI = (1000 + 800 - 800) / (1000 + 800 -
300) = 66.7 and DSO = 800 / 800 x 90 = 90.0; B's CEI = 100.0 and DSO = 400 / 1200 x 90 = 30.0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from arconnect.console import segment_tables
from arconnect.csv_import import import_csv
from arconnect.errors import NotFoundError
from arconnect.segmenter.kpis import (
    LEDGER,
    Kpis,
    Member,
    kpis_of,
    segment_kpis,
    snapshot,
)
from arconnect.segmenter.service import segment_tenant
from arconnect.services import find_tenants
from arconnect.store.db import dispose_engines, get_engine
from arconnect.store.models import Tenant
from tests.clitools import cut_headers, render
from tests.segmenter.test_as_of import Row, write_csv

RUN = date(2013, 6, 30)
ROWS = [
    Row("A", "A1", date(2013, 3, 1), date(2013, 3, 31), Decimal(1000), date(2013, 4, 20)),
    Row("A", "A2", date(2013, 5, 1), date(2013, 5, 31), Decimal(500), None),
    Row("A", "A3", date(2013, 6, 15), date(2013, 7, 15), Decimal(300), None),
    Row("B", "B1", date(2013, 2, 1), date(2013, 3, 3), Decimal(2000), date(2013, 3, 1)),
    Row("B", "B2", date(2013, 4, 10), date(2013, 5, 10), Decimal(800), date(2013, 5, 5)),
    Row("B", "B3", date(2013, 6, 1), date(2013, 7, 1), Decimal(400), None),
]


@pytest.fixture
def tiny(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Tenant]]:
    yield from _tiny(sqlite_url, tmp_path)


@pytest.fixture
def tiny_both(db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Tenant]]:
    """The tiny history on SQLite and on PostgreSQL."""
    yield from _tiny(db_url, tmp_path)


def _tiny(url: str, tmp_path: Path, rows: list[Row] | None = None
          ) -> Iterator[tuple[Engine, Tenant]]:
    """A store holding ``rows`` (default: the tiny history above) as the tenant "tiny"."""
    db = get_engine(url)
    assert not import_csv(db, write_csv(tmp_path / "ar.csv", ROWS if rows is None else rows),
                          "csv_ibm", "tiny").rejects
    (tenant,) = find_tenants(db, ["tiny"])
    try:
        yield db, tenant
    finally:
        dispose_engines()


def _figures(k: Kpis) -> dict[str, object]:
    return {"opening": k.opening, "sales": k.sales, "open": k.open, "current": k.current,
            "overdue": k.overdue, "cei": k.cei, "dso": k.dso}


def test_dso_and_cei_of_the_ledger_as_of_a_date(tiny_both: tuple[Engine, Tenant]) -> None:
    db, tenant = tiny_both
    report = segment_kpis(db, tenant, run_date=RUN)
    assert report.period_start == date(2013, 4, 1)
    assert _figures(report.ledger) == {
        "opening": Decimal("1000.00"), "sales": Decimal("2000.00"), "open": Decimal("1200.00"),
        "current": Decimal("700.00"), "overdue": Decimal("500.00"), "cei": 78.3, "dso": 54.0}
    assert report.ledger.overdue_share == round(500 / 1200, 4)
    assert report.ledger.customers == 2 == sum(k.customers for k in report.segments)
    # paid in the window: A1 20 days late; B1 2 and B2 5 days early (B: -2.8571 weighted)
    assert report.ledger.late_share == round(1 / 3, 4)
    assert report.ledger.avg_days_late == round((20 - 2.8571 * 2) / 3, 1)
    assert report.ledger.aging == (Decimal("700.00"), Decimal("500.00"), Decimal("0.00"),
                                   Decimal("0.00"), Decimal("0.00"))


def test_an_earlier_date_gives_that_day_s_figures(tiny: tuple[Engine, Tenant]) -> None:
    """As of 2013-04-30: nothing was open on 2013-01-30; B1, A1 and B2 were sold in the
    period; only B2 (current) is open."""
    db, tenant = tiny
    ledger = segment_kpis(db, tenant, run_date=date(2013, 4, 30)).ledger
    assert _figures(ledger) == {
        "opening": Decimal("0.00"), "sales": Decimal("3800.00"), "open": Decimal("800.00"),
        "current": Decimal("800.00"), "overdue": Decimal("0.00"), "cei": 100.0,
        "dso": round(800 / 3800 * 90, 1)}


def test_each_segment_counts_its_own_members(tiny: tuple[Engine, Tenant]) -> None:
    db, tenant = tiny
    snap = snapshot(db, tenant, run_date=RUN)
    split = replace(snap, members=[
        Member(m.customer_id, m.name, f"Seg {m.customer_id}", Decimal(100), m.metrics)
        for m in snap.members])
    report = kpis_of(db, split)
    got = {k.segment: (k.customers, k.cei, k.dso, k.late_share, k.credit_limits)
           for k in report.segments}
    assert got == {"Seg A": (1, 66.7, 90.0, 1.0, Decimal(100)),
                   "Seg B": (1, 100.0, 30.0, 0.0, Decimal(100))}
    assert report.ledger.segment == LEDGER and report.ledger.cei == 78.3
    assert report.ledger.credit_limits == Decimal(200)


def test_the_stored_run_is_read_with_its_as_of_date(tiny: tuple[Engine, Tenant]) -> None:
    db, tenant = tiny
    with pytest.raises(NotFoundError, match="run `arconnect segment` first"):
        segment_kpis(db, tenant)
    segment_tenant(db, tenant, run_date=RUN)
    stored = segment_kpis(db, tenant)
    assert stored.run_date == RUN
    assert _figures(stored.ledger) == _figures(segment_kpis(db, tenant, run_date=RUN).ledger)


def test_the_segment_table_shows_the_kpis_whole(tiny: tuple[Engine, Tenant]) -> None:
    """At 100 columns no figure folds; at 80 no header word is cut."""
    db, tenant = tiny
    run = segment_tenant(db, tenant, run_date=RUN, dry_run=True)
    kpis = segment_kpis(db, tenant, run=run)
    (table,) = segment_tables(run, show=0, kpis=kpis)
    assert cut_headers(table, 80) == [] and cut_headers(table, 100) == []
    shown = render(table, 100)
    ledger = next(line for line in shown if line.strip().startswith(LEDGER))
    assert ledger.split()[2:] == ["2", "1,200", "42%", "54", "78", "33%", "5",
                                  f"{kpis.ledger.credit_limits:,.0f}"]
