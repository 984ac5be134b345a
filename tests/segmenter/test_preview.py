"""Honest previews: ``rules diff`` and ``segment --dry-run`` against the stored results say who
moves, who min_days_in_segment or a margin holds (and why), and name both rule sets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from arconnect.csv_import import import_csv
from arconnect.segmenter.preview import preview_rules
from arconnect.segmenter.rules import Lock, PreviousAssignment, assign, load_rules
from arconnect.segmenter.service import lock_customer, segment_tenant
from arconnect.services import find_tenants
from arconnect.settings import get_settings
from arconnect.store.db import dispose_engines, get_engine
from arconnect.store.models import SegmentAssignment, Tenant
from tests.clitools import arconnect

RUN_DATE = date(2026, 6, 30)
# The engine is tested against a fixed rule set, not the current defaults.
CLASSIC = Path(__file__).with_name("classic_rules.yaml")
HEADER = ("countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,"
          "Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate")
# customer -> days every invoice takes to be paid (amount-weighted days to pay, exactly)
DAYS = {"HELD-DAYS": 40, "HELD-MARGIN": 44, "MOVES": 38, "STAYS": 20}


def _export(tmp_path: Path) -> Path:
    """Synthetic AR history of the IBM export's shape: per customer six invoices over the
    last year, all paid after DAYS[customer] days, due after 60 (nothing late)."""
    rows, number = [], 1000
    for customer, days in DAYS.items():
        for k in range(6):
            issued = RUN_DATE - timedelta(days=330 - 50 * k)
            number += 1
            rows.append(",".join([
                "391", customer, "", str(number), f"{issued:%-m/%-d/%Y}",
                f"{issued + timedelta(days=60):%-m/%-d/%Y}", "500", "No",
                f"{issued + timedelta(days=days):%-m/%-d/%Y}", "Electronic", str(days), "0"]))
    # the last activity is the run date: an invoice issued that day, not yet due
    rows.append(f"391,STAYS,,999,{RUN_DATE:%-m/%-d/%Y},{RUN_DATE + timedelta(days=60):%-m/%-d/%Y},"
                "500,No,,Electronic,,")
    path = tmp_path / "ar.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def _slow_at_45(tmp_path: Path) -> Path:
    """The classic rules with fast/slow moved from 30 to 45 days."""
    text = Path(load_rules(CLASSIC).source).read_text()
    for old, new in (("{tag: fast, lte: 30,", "{tag: fast, lte: 45,"),
                     ("{tag: slow, gt: 30,", "{tag: slow, gt: 45,")):
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "slow45.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def stored(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[tuple[Engine, Tenant]]:
    """A store segmented today by the classic rules; MOVES entered its segment 60 days ago."""
    monkeypatch.setenv("ARCONNECT_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    db = get_engine(sqlite_url)
    try:
        import_csv(db, _export(tmp_path), "csv_ibm", "History")
        (tenant,) = find_tenants(db)
        run = segment_tenant(db, tenant, rules=load_rules(CLASSIC), run_date=RUN_DATE)
        assert {r.customer_id: r.assignment.segment for r in run.results} == {
            "HELD-DAYS": "Occasionally late", "HELD-MARGIN": "Occasionally late",
            "MOVES": "Occasionally late", "STAYS": "Reliable"}
        a = SegmentAssignment.__table__.c  # type: ignore[attr-defined]
        with db.begin() as conn:
            conn.execute(update(SegmentAssignment.__table__).where(  # type: ignore[attr-defined]
                a.customer_external_id == "MOVES").values(since=datetime(2026, 5, 1, tzinfo=UTC)))
        yield db, tenant
    finally:
        dispose_engines()


def test_held_customers_are_counted_by_the_rule_that_holds_them(
        stored: tuple[Engine, Tenant], tmp_path: Path) -> None:
    db, tenant = stored
    rules = load_rules(_slow_at_45(tmp_path))
    preview, _ = preview_rules(db, tenant, rules, run_date=RUN_DATE)
    by_customer = {r.customer_id: r for r in preview.rows}
    assert {c: r.status for c, r in by_customer.items()} == {
        "HELD-DAYS": "held_min_days", "HELD-MARGIN": "held_margin", "MOVES": "moving",
        "STAYS": "staying"}
    assert preview.counts() == {"moving": 1, "held_min_days": 1, "held_margin": 1, "locked": 0,
                                "staying": 1}
    held_days, held_margin = by_customer["HELD-DAYS"], by_customer["HELD-MARGIN"]
    assert (held_days.segment, held_days.rules_say) == ("Occasionally late", "Reliable")
    assert "0 days in the segment, 30 needed" in (held_days.reason or "")
    assert (held_margin.segment, held_margin.rules_say) == ("Occasionally late", "Reliable")
    assert "within the margin of 2" in (held_margin.reason or "")

    steady, _ = preview_rules(db, tenant, rules, hysteresis=False, run_date=RUN_DATE)
    assert {r.customer_id: (r.status, r.segment) for r in steady.rows} == {
        "HELD-DAYS": ("moving", "Reliable"), "HELD-MARGIN": ("moving", "Reliable"),
        "MOVES": ("moving", "Reliable"), "STAYS": ("staying", "Reliable")}


def test_the_header_names_the_rules_of_the_stored_results(
        stored: tuple[Engine, Tenant], tmp_path: Path) -> None:
    db, tenant = stored
    default, changed = load_rules(CLASSIC), load_rules(_slow_at_45(tmp_path))
    preview, _ = preview_rules(db, tenant, changed, run_date=RUN_DATE)
    assert preview.stored_rules == {(default.ref, default.digest): 4}
    assert preview.stored_label() == f"{default.ref} (sha256 {default.digest[:12]})"
    assert not preview.same_rules()
    again, _ = preview_rules(db, tenant, default, run_date=RUN_DATE)
    assert again.same_rules() and again.counts()["moving"] == 0

    # a run of other rules records them
    segment_tenant(db, tenant, rules=changed, run_date=RUN_DATE)
    after, _ = preview_rules(db, tenant, default, run_date=RUN_DATE)
    assert after.stored_label() == f"{changed.ref} (sha256 {changed.digest[:12]})"
    assert changed.ref.endswith("slow45.yaml")

    # ... also where nothing else changes (rows the run does not rewrite)
    copy = tmp_path / "copy.yaml"
    copy.write_text(Path(changed.source).read_text() + "# a copy\n")
    again_rules = load_rules(copy)
    segment_tenant(db, tenant, rules=again_rules, run_date=RUN_DATE)
    last, _ = preview_rules(db, tenant, default, run_date=RUN_DATE)
    assert last.stored_rules == {(str(copy), again_rules.digest): 4}


def test_rules_diff_and_dry_run_show_held_and_steady_state(
        stored: tuple[Engine, Tenant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = str(_slow_at_45(tmp_path))
    monkeypatch.setattr("arconnect.segmenter.service.run_date_for", lambda _t: RUN_DATE)
    shown = arconnect("rules", "diff", rules, width=200)
    head = shown.tables[0]
    assert str(head.title) == "History: 1 of 4 customers would move"
    rows = {str(k): str(v) for k, v in zip(head.columns[0].cells, head.columns[1].cells,
                                           strict=True)}
    assert rows == {"stored results": f"{CLASSIC} (sha256 {load_rules(CLASSIC).digest[:12]})",
                    "rules previewed": f"{rules} (sha256 {load_rules(rules).digest[:12]})",
                    "would move now": "1", "held by min_days_in_segment": "1",
                    "held by a margin": "1", "staying": "1"}
    text = " ".join(shown.cells())
    assert "within the margin of 2" in text and "30 needed before moving" in text

    (doc,) = json.loads(arconnect("rules", "diff", rules, "--format", "json").stdout)
    assert (doc["customers"], doc["moving"], doc["held_min_days"], doc["held_margin"]) == (
        4, 1, 1, 1)
    assert doc["stored_rules"][0]["rules"] == str(CLASSIC) and doc["rules"]["rules"] == rules
    assert {h["customer_id"]: h["held_by"] for h in doc["held"]} == {
        "HELD-DAYS": "held_min_days", "HELD-MARGIN": "held_margin"}
    (steady,) = json.loads(arconnect("rules", "diff", rules, "--ignore-hysteresis",
                                     "--format", "json").stdout)
    assert (steady["moving"], steady["held"], steady["ignore_hysteresis"]) == (3, [], True)

    (dry,) = json.loads(arconnect("segment", "--rules", rules, "--dry-run",
                                  "--format", "json").stdout)
    assert (dry["preview"]["moving"], dry["preview"]["held_margin"]) == (1, 1)
    wrong = arconnect("segment", "--ignore-hysteresis", code=2)
    assert "--dry-run" in str(wrong.result.exception)


def _payer(days: float) -> dict[str, object]:
    return {"paid_invoice_count": 14, "invoice_count": 14, "tenure_days": 700,
            "avg_days_to_pay_weighted": days, "open_balance": 0, "oldest_overdue_days": 0,
            "turnover_12m": 49380, "avg_monthly_sales": 4115, "late_share": 0}


def test_assign_says_which_rule_held_the_customer() -> None:
    rules = load_rules(CLASSIC)
    fast_since_10_days = PreviousAssignment("Reliable", ("fast",), RUN_DATE - timedelta(days=10))
    slow_long_ago = PreviousAssignment("Occasionally late", ("slow",), date(2025, 1, 1))

    days = assign(rules, _payer(35), fast_since_10_days, None, RUN_DATE)  # slow, 10 days in
    assert (days.segment, days.held_by, days.rules_say) == ("Reliable", "min_days",
                                                            "Occasionally late")
    margin = assign(rules, _payer(29), slow_long_ago, None, RUN_DATE)  # fast, within 2 of 30
    assert (margin.segment, margin.held_by, margin.rules_say) == (
        "Occasionally late", "margin", "Reliable")
    assert "kept from before" in (margin.held_reason or "")
    locked = assign(rules, _payer(20), fast_since_10_days, Lock("At risk"), RUN_DATE)
    assert (locked.segment, locked.held_by, locked.rules_say) == ("At risk", "lock", "Reliable")
    free = assign(rules, _payer(20), fast_since_10_days, None, RUN_DATE)
    assert (free.segment, free.held_by, free.rules_say) == ("Reliable", None, None)

    # without hysteresis: where the rules alone put them; a lock still holds
    assert assign(rules, _payer(35), fast_since_10_days, None, RUN_DATE,
                  hysteresis=False).segment == "Occasionally late"
    assert assign(rules, _payer(29), slow_long_ago, None, RUN_DATE,
                  hysteresis=False).segment == "Reliable"
    assert assign(rules, _payer(20), fast_since_10_days, Lock("At risk"), RUN_DATE,
                  hysteresis=False).held_by == "lock"


def test_a_locked_customer_is_held_by_its_lock(stored: tuple[Engine, Tenant]) -> None:
    db, tenant = stored
    lock_customer(db, tenant, "STAYS", segment="At risk")
    for hysteresis in (True, False):
        preview, _ = preview_rules(db, tenant, load_rules(CLASSIC), run_date=RUN_DATE,
                                   hysteresis=hysteresis)
        (row,) = [r for r in preview.rows if r.customer_id == "STAYS"]
        assert (row.status, row.segment, row.rules_say) == ("locked", "At risk", "Reliable")
        assert (row.reason or "").startswith("Locked to At risk by a manual lock")
