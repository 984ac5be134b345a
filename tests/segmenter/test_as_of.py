"""Point-in-time runs on an imported AR history: as of a date, over a window.

The history is a synthetic export in the layout of ``mappings/csv_ibm.yaml`` (one invoice per
row: customer, invoice, due and settled dates, amount), generated here and imported through
:func:`arconnect.csv_import.import_csv`. The figures the segmenter gives as of a date are
compared with a reconstruction in plain Python over the generated rows.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from arconnect.cli import app
from arconnect.csv_import import import_csv
from arconnect.segmenter.rules import load_rules
from arconnect.segmenter.service import segment_tenant
from arconnect.services import find_tenants
from arconnect.settings import get_settings
from arconnect.store.db import dispose_engines, get_engine
from arconnect.store.models import SegmentAssignment, SegmentHistory, Tenant
from tests.test_bad_input import assert_one_line_error, run_cli

HEADER = ("countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,"
          "Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate")
# The history runs from 2012-01-01 to about 2013-12-31; these dates fall inside it.
DATES = (date(2012, 9, 30), date(2013, 3, 15), date(2013, 11, 1))


@dataclass(frozen=True)
class Row:
    customer: str
    number: str
    issued: date
    due: date
    amount: Decimal
    settled: date | None


def history(seed: int = 7, customers: int = 12, invoices: int = 360) -> list[Row]:
    """An IBM-shaped history: net-30 invoices over two years, most settled (some late, some
    early), a few still open at the end."""
    rnd = random.Random(seed)
    ids = [f"{1000 + i:04d}-{''.join(rnd.choices('ABCDEFGHJKLMNPQRSTUVWXYZ', k=5))}"
           for i in range(customers)]
    rows = []
    for n in range(invoices):
        issued = date(2012, 1, 1) + timedelta(days=rnd.randrange(720))
        due = issued + timedelta(days=30)
        amount = Decimal(rnd.randrange(1_000, 900_000)).scaleb(-2)
        settled = (None if rnd.random() < 0.08
                   else issued + timedelta(days=rnd.choice([5, 12, 25, 31, 38, 55, 70, 95])))
        rows.append(Row(rnd.choice(ids), f"{n:010d}", issued, due, amount, settled))
    return rows


def _us(d: date) -> str:
    return f"{d.month}/{d.day}/{d.year}"


def write_csv(path: Path, rows: list[Row]) -> Path:
    lines = [HEADER]
    for r in rows:
        settled = _us(r.settled) if r.settled else ""
        lines.append(f"391,{r.customer},,{r.number},{_us(r.issued)},{_us(r.due)},{r.amount},No,"
                     f"{settled},Paper,,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def reconstruct(rows: list[Row], at: date, window: int = 365) -> dict[str, dict[str, Any]]:
    """The figures as of ``at``, from the rows alone."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r.issued > at:
            continue
        m = out.setdefault(r.customer, {
            "open_balance": Decimal("0.00"), "overdue_balance": Decimal("0.00"),
            "aging_1_30": Decimal("0.00"), "aging_91_plus": Decimal("0.00"),
            "oldest_overdue_days": 0, "invoice_count": 0, "paid_invoice_count": 0,
            "last_paid": None})
        in_window = at - timedelta(days=window) < r.issued
        m["invoice_count"] += in_window
        if r.settled is not None and r.settled <= at:
            m["paid_invoice_count"] += in_window and r.settled > at - timedelta(days=window)
            m["last_paid"] = max(filter(None, (m["last_paid"], r.settled)))
            continue
        m["open_balance"] += r.amount
        late = (at - r.due).days
        if late > 0:
            m["overdue_balance"] += r.amount
            m["oldest_overdue_days"] = max(m["oldest_overdue_days"], late)
            if late <= 30:
                m["aging_1_30"] += r.amount
            if late > 90:
                m["aging_91_plus"] += r.amount
    for m in out.values():
        last = m.pop("last_paid")
        m["days_since_last_payment"] = (at - last).days if last else None
    return out


def _metrics(db: Engine, tenant: Tenant, at: date | None, **kw: Any) -> dict[str, dict[str, Any]]:
    run = segment_tenant(db, tenant, run_date=at, dry_run=True, **kw)
    return {r.customer_id: r.metrics for r in run.results}


def _picked(got: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]]
            ) -> dict[str, dict[str, Any]]:
    return {c: {k: got[c][k] for k in m} for c, m in want.items()}


@pytest.fixture
def imported(db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Tenant, list[Row]]]:
    rows = history()
    db = get_engine(db_url)
    result = import_csv(db, write_csv(tmp_path / "ar.csv", rows), "csv_ibm", "hist")
    assert not result.rejects
    (tenant,) = find_tenants(db, ["hist"])
    try:
        yield db, tenant, rows
    finally:
        dispose_engines()


def test_back_dated_balances_match_a_reconstruction_from_the_rows(
        imported: tuple[Engine, Tenant, list[Row]]) -> None:
    """Open and overdue amounts, aging, counts and the last payment (a CSV settlement) as of
    three dates equal the rows' reconstruction, on SQLite and PostgreSQL alike."""
    db, tenant, rows = imported
    for at in DATES:
        want = reconstruct(rows, at)
        assert any(m["overdue_balance"] > 0 for m in want.values())  # the test can fail
        assert _picked(_metrics(db, tenant, at), want) == want, at


def test_a_customer_without_anything_by_the_date_is_left_out(
        imported: tuple[Engine, Tenant, list[Row]], tmp_path: Path) -> None:
    """As of a date before its first invoice a customer did not exist yet: it is not listed
    (not New), and it is as of a date after it."""
    db, tenant, rows = imported
    late = Row("9999-LATER", "8888888888", DATES[1] + timedelta(days=10),
               DATES[1] + timedelta(days=40), Decimal("100.00"), None)
    assert not import_csv(db, write_csv(tmp_path / "more.csv", [*rows, late]), "csv_ibm",
                          "hist").rejects
    assert "9999-LATER" not in _metrics(db, tenant, DATES[1])
    assert set(_metrics(db, tenant, DATES[1])) == set(reconstruct(rows, DATES[1]))
    assert _metrics(db, tenant, DATES[2])["9999-LATER"]["open_balance"] == Decimal("100.00")


def test_nothing_after_the_as_of_date_is_read(
        imported: tuple[Engine, Tenant, list[Row]], tmp_path: Path) -> None:
    db, tenant, rows = imported
    at = DATES[1]
    before = _metrics(db, tenant, at)
    # Later: an invoice issued after the date, and an invoice open on the date settled after
    # it (its current status becomes paid, its amount due 0).
    still_open = next(r for r in rows if r.issued <= at and r.settled is None)
    later = [r if r is not still_open else Row(r.customer, r.number, r.issued, r.due, r.amount,
                                                at + timedelta(days=3))
             for r in rows]
    later.append(Row(still_open.customer, "9999999999", at + timedelta(days=1),
                     at + timedelta(days=31), Decimal("5000.00"), at + timedelta(days=2)))
    assert not import_csv(db, write_csv(tmp_path / "later.csv", later), "csv_ibm",
                          "hist").rejects
    assert _metrics(db, tenant, at) == before
    # ... and a run as of the later day sees both.
    after = _metrics(db, tenant, at + timedelta(days=3))[still_open.customer]
    assert after["days_since_last_payment"] == 0


def test_window_days_in_the_rules_and_the_option_choose_the_documents(
        imported: tuple[Engine, Tenant, list[Row]], tmp_path: Path) -> None:
    db, tenant, rows = imported
    at = DATES[2]
    source = Path(load_rules().source).read_text(encoding="utf-8")
    short = tmp_path / "short.yaml"
    short.write_text(source.replace("window_days: 365", "window_days: 90"), encoding="utf-8")
    rules = load_rules(str(short))
    assert rules.window_days == 90
    want = {c: {"invoice_count": m["invoice_count"]} for c, m in reconstruct(rows, at, 90).items()}
    assert _picked(_metrics(db, tenant, at, rules=rules), want) == want
    year = _metrics(db, tenant, at)
    assert sum(m["invoice_count"] for m in year.values()) > sum(
        m["invoice_count"] for m in want.values())
    # the option overrides the rules
    want = {c: {"invoice_count": m["invoice_count"]} for c, m in reconstruct(rows, at, 30).items()}
    assert _picked(_metrics(db, tenant, at, rules=rules, window_days=30), want) == want


def test_a_back_dated_run_dates_its_history_at_the_as_of_date(
        imported: tuple[Engine, Tenant, list[Row]]) -> None:
    """A run as of an earlier day after a later one: no negative days in the segment, the
    customers entered their segments by that day, and the history rows carry that day."""
    db, tenant, _ = imported
    later = segment_tenant(db, tenant, run_date=DATES[2])
    earlier = segment_tenant(db, tenant, run_date=DATES[0])
    # some customers were elsewhere then (min_days_in_segment would have held them)
    assert {r.customer_id: r.assignment.segment for r in later.results} != {
        r.customer_id: r.assignment.segment for r in earlier.results}
    assert not any("-" in reason.split(" day")[0] for r in earlier.results
                   for reason in r.assignment.reasons if reason.startswith("Stays"))
    midnight = datetime(DATES[0].year, DATES[0].month, DATES[0].day)
    with db.connect() as conn:
        since = conn.execute(select(SegmentAssignment.since)).scalars().all()  # type: ignore[call-overload]
        changed = conn.execute(select(SegmentHistory.changed_at)).scalars().all()  # type: ignore[call-overload]
    assert since and all(s.replace(tzinfo=None) <= midnight for s in since)
    assert midnight in {c.replace(tzinfo=None) for c in changed}
    assert all(c.replace(tzinfo=None) in (midnight, _midnight(DATES[2])) for c in changed)


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


# -- the commands ------------------------------------------------------------------------------


@pytest.fixture
def cli(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ARCONNECT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ARCONNECT_SECRET_KEY", "k")
    get_settings.cache_clear()
    yield CliRunner()
    dispose_engines()


def test_readme_flow_on_an_imported_history_needs_no_date(cli: CliRunner, tmp_path: Path) -> None:
    """`import csv` ─▶ `segment` ─▶ `export`: measured at the data's last activity, not today
    (which would make every customer New), and the command says so."""
    rows = history()
    path = write_csv(tmp_path / "ar.csv", rows)
    assert cli.invoke(app, ["import", "csv", str(path), "--mapping", "csv_ibm",
                            "--tenant", "hist"]).exit_code == 0
    last = max(d for r in rows for d in (r.issued, r.settled) if d is not None)
    seg = cli.invoke(app, ["segment", "hist", "--format", "json"])
    assert seg.exit_code == 0, seg.output
    doc = json.loads(seg.stdout)[0]
    assert doc["run_date"] == last.isoformat()
    assert (f"as of {last.isoformat()}, the last activity in this tenant's data; --as-of to "
            "change") in " ".join(seg.stderr.split())
    out = cli.invoke(app, ["export", "hist", "--format", "json"])
    assert out.exit_code == 0, out.output
    segments = {r["segment"] for r in json.loads(out.stdout)}
    assert segments - {"New"}, segments
    # --as-of on export measures afresh at that day (nothing stored); a lock still shows
    held = rows[0].customer
    assert cli.invoke(app, ["lock", "hist", held, "--segment", "At risk"]).exit_code == 0
    at = cli.invoke(app, ["export", "hist", "--format", "json", "--as-of", DATES[0].isoformat()])
    assert at.exit_code == 0, at.output
    want = reconstruct(rows, DATES[0])
    exported = {r["customer_id"]: r for r in json.loads(at.stdout)}
    assert {c: exported[c]["metrics"]["open_balance"] for c in want} == {
        c: float(m["open_balance"]) for c, m in want.items()}
    assert {c for c, r in exported.items() if r["locked"]} == {held}
    assert exported[held]["segment"] == "At risk"
    # rules diff takes the same options
    diff = cli.invoke(app, ["rules", "diff", "upflow", "hist", "--as-of", DATES[1].isoformat(),
                            "--window-days", "200", "--format", "json"])
    assert diff.exit_code == 0, diff.output
    assert json.loads(diff.stdout)[0]["customers"] == len(want)


def test_a_window_without_activity_warns(cli: CliRunner, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ar.csv", history())
    assert cli.invoke(app, ["import", "csv", str(path), "--mapping", "csv_ibm",
                            "--tenant", "hist"]).exit_code == 0
    run = cli.invoke(app, ["segment", "hist", "--as-of", "2020-06-30", "--window-days", "30",
                           "--format", "json"])
    assert run.exit_code == 0, run.output
    warning = " ".join(run.stderr.split())
    assert ("hist: no invoice or payment between 2020-05-31 and 2020-06-30 (the 30-day window)"
            in warning and "give --as-of that date or a longer --window-days" in warning)
    assert len(run.stderr.strip().splitlines()) <= 3  # one message, folded to the terminal
    quiet = cli.invoke(app, ["segment", "hist", "--format", "json"])
    assert "no invoice or payment" not in quiet.stderr


def test_bad_dates_and_windows_are_one_line_errors(
        cli: CliRunner, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "ar.csv", history(invoices=20))
    assert cli.invoke(app, ["import", "csv", str(path), "--mapping", "csv_ibm",
                            "--tenant", "hist"]).exit_code == 0
    future = (datetime.now(UTC).date() + timedelta(days=400)).isoformat()
    assert_one_line_error(run_cli(capsys, "segment", "hist", "--as-of", future),
                          f"--as-of {future}: after today", "give a date up to today")
    ran = run_cli(capsys, "export", "hist", "--as-of", "2013-02-30")
    assert ran.code == 2 and "--as-of" in ran.said and "Traceback" not in ran.err
    ran = run_cli(capsys, "rules", "diff", "upflow", "hist", "--window-days", "0")
    assert ran.code == 2 and "--window-days" in ran.said and "Traceback" not in ran.err
    bad = tmp_path / "bad.yaml"
    source = Path(load_rules().source).read_text(encoding="utf-8")
    bad.write_text(source.replace("window_days: 365", "window_days: 0"), encoding="utf-8")
    line = next(n for n, x in enumerate(source.splitlines(), 1) if x.startswith("window_days:"))
    assert_one_line_error(run_cli(capsys, "segment", "hist", "--rules", str(bad)),
                          f"{bad}:{line}: window_days:")


# -- an ERP's history: partial payments and credit, through the Python API --------------------


def test_partial_payments_and_credit_as_of_a_date(db_url: str) -> None:
    """A synced tenant as it stood on three days: open amounts less the allocations dated by
    then (the invoices are paid today), credit unapplied until its allocation's date, and
    nothing issued later."""
    from tests.segmenter.test_metrics import Alloc, Cust, Doc, History, store

    d = date.fromisoformat
    history = History([Cust("A", terms_days=30)], [
        Doc("INV1", "invoice", "A", "paid", False, d("2026-01-01"), d("2026-01-31"),
            d("2026-03-10"), 100_000, 100_000, 0,
            [Alloc("P1", "payment", d("2026-02-01"), 40_000),
             Alloc("P2", "payment", d("2026-03-10"), 60_000)]),
        Doc("CN1", "credit_note", "A", "paid", False, d("2026-01-15"), None, None,
            30_000, 30_000, 0),
        Doc("INV2", "invoice", "A", "paid", False, d("2026-03-01"), d("2026-03-31"), None,
            50_000, 50_000, 0,
            [Alloc("CN1", "credit_note", d("2026-04-01"), 30_000),
             Alloc("P3", "payment", d("2026-04-05"), 20_000)]),
        Doc("INV3", "invoice", "A", "open", False, d("2026-05-01"), d("2026-05-31"),
            None, 70_000, 70_000, 70_000),
    ])
    db = get_engine(db_url)
    try:
        store(db, history)
        (tenant,) = find_tenants(db)
        want = {
            # INV1 has 40,000 of 100,000 paid, 15 days past due; CN1 not used yet
            "2026-02-15": {"open_balance": "600.00", "aging_1_30": "600.00",
                           "oldest_overdue_days": 15, "unapplied_credit": "300.00",
                           "net_exposure": "300.00", "days_since_last_payment": 14,
                           "invoice_count": 1},
            # INV1 paid; INV2 open, not yet due; CN1 still unused
            "2026-03-20": {"open_balance": "500.00", "aging_1_30": "0.00",
                           "oldest_overdue_days": 0, "unapplied_credit": "300.00",
                           "net_exposure": "200.00", "days_since_last_payment": 10,
                           "invoice_count": 2},
            # CN1 applied to INV2: 200.00 left, 2 days past due
            "2026-04-02": {"open_balance": "200.00", "aging_1_30": "200.00",
                           "oldest_overdue_days": 2, "unapplied_credit": "0.00",
                           "net_exposure": "200.00", "days_since_last_payment": 23,
                           "invoice_count": 2},
        }
        for day, figures in want.items():
            got = _metrics(db, tenant, d(day))["A"]
            assert {k: str(got[k]) if isinstance(got[k], Decimal) else got[k]
                    for k in figures} == figures, day
    finally:
        dispose_engines()
