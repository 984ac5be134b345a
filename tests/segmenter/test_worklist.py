"""The collections worklist and the dunning policies: ranking, likelihood, items as of a date,
the next step by cadence, the export's dunning step, validation, and the CLI.

The store is a small synthetic ledger (the store builder of ``test_metrics``) whose priorities
are worked out by hand below from the formula of :mod:`arconnect.segmenter.worklist`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from arconnect.errors import MappingError, NotFoundError
from arconnect.segmenter.dunning import DunningPolicy, DunningStep, dunning_status, status_words
from arconnect.segmenter.rules import Rules, load_rules, shipped_presets
from arconnect.segmenter.service import export_rows, export_text, segment_tenant
from arconnect.segmenter.worklist import build_worklist, late_probability, priority
from arconnect.settings import get_settings
from arconnect.store import db as store_db
from arconnect.store.models import Customer, Document, Tenant
from tests.clitools import arconnect, cut_headers
from tests.segmenter.test_metrics import Alloc, Cust, Doc, History, store

RUN = date(2026, 6, 30)  # before today: a point-in-time date
D = timedelta

RULES = """\
version: 1
dimensions:
  - name: delinquency
    metric: oldest_overdue_days
    buckets:
      - {tag: current, lte: 0}
      - {tag: early, gte: 1, lte: 30}
      - {tag: late, gte: 31}
segments:
  - name: Late
    when: {tag: late}
    dunning:
      tone: firm
      channel: phone
      steps:
        - {after_days: 1, action: Reminder e-mail, channel: email, tone: friendly}
        - {after_days: 15, action: Call the accounts payable contact}
        - {after_days: 45, action: Stop supply; final notice, channel: letter, tone: final}
  - name: Fine
    explain: [delinquency]
    dunning:
      steps:
        - {after_days: 7, action: Friendly reminder, tone: friendly}
default_segment: Fine
"""

_n = iter(range(1, 10_000))


def _paid(cust: str, issued: date, days_to_pay: int, cents: int = 100_000) -> Doc:
    """An invoice due 30 days after issue, paid ``days_to_pay`` days after issue."""
    return Doc(f"P{next(_n)}", "invoice", cust, "paid", False, issued, issued + D(30),
               issued + D(days_to_pay), cents, cents, 0)


def _open(cust: str, number: str, issued: date, cents: int, *,
          paid_on: date | None = None) -> Doc:
    """An invoice due 30 days after issue, unpaid; or paid in full on ``paid_on``, after RUN:
    open as of RUN, paid now."""
    status, due_now = ("paid", 0) if paid_on else ("open", cents)
    return Doc(number, "invoice", cust, status, False, issued, issued + D(30), paid_on, cents,
               cents, due_now)


def ledger() -> History:
    """As of RUN (every date counts back from it; invoices are due 30 days after issue):

    * A: 12,000.00 overdue, the oldest 60 days (Late); paid 3 invoices, all late. INV-A2
      (2,000.00) was open on RUN and paid in full 10 days later.
    * B: 10,000.00 overdue, the oldest 5 days (Fine); paid 6 invoices, all on time. INV-B2
      was paid 400.00 before RUN and 600.00 after: 600.00 was due on RUN.
    * C: 1,000.00 overdue 90 days (Late); paid 2 invoices, both late.
    * E: nothing overdue on RUN (Fine): one invoice due 20 days later; paid 2, both late.
    """
    docs = [
        *(_paid("A", RUN - D(300 - 40 * i), 45) for i in range(3)),
        _open("A", "INV-A1", RUN - D(90), 1_000_000),
        _open("A", "INV-A2", RUN - D(40), 200_000, paid_on=RUN + D(10)),
        *(_paid("B", RUN - D(300 - 30 * i), 20) for i in range(6)),
        _open("B", "INV-B1", RUN - D(35), 940_000),
        # paid in full now, by two payments (no paid date from the ERP)
        Doc("INV-B2", "invoice", "B", "paid", False, RUN - D(34), RUN - D(4), None, 100_000,
            100_000, 0, [Alloc("PB1", "payment", RUN - D(20), 40_000),
                         Alloc("PB2", "payment", RUN + D(5), 60_000)]),
        *(_paid("C", RUN - D(300 - 50 * i), 50) for i in range(2)),
        _open("C", "INV-C1", RUN - D(120), 100_000),
        *(_paid("E", RUN - D(200 - 50 * i), 40) for i in range(2)),
        _open("E", "INV-E1", RUN - D(10), 500_000),
    ]
    return History([Cust("A"), Cust("B"), Cust("C"), Cust("E")], docs)


@dataclass
class Ledger:
    db: Engine
    tenant: Tenant
    rules: Rules
    rules_path: Path


@pytest.fixture
def ledger_store(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[Ledger]:
    """The ledger on SQLite (the CLI's store)."""
    yield from _ledger(sqlite_url, tmp_path, monkeypatch)


@pytest.fixture
def ledger_both(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[Ledger]:
    """The ledger on SQLite and on PostgreSQL (the items' SQL differs between them)."""
    yield from _ledger(db_url, tmp_path, monkeypatch)


def _ledger(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    monkeypatch.setenv("ARCONNECT_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = store_db.get_engine(url)
    tenant_id = store(engine, ledger())
    names = {"A": "Acme [bold]Ltd", "B": "Beta\x1b[2J", "C": '=HYPERLINK("http://x","y")',
             "E": "Echo"}
    with engine.begin() as conn:
        conn.execute(update(Document).where(Document.tenant_id == tenant_id)
                     .values(number=Document.external_id))  # the invoice numbers
        for ext, name in names.items():
            conn.execute(update(Customer).where(Customer.tenant_id == tenant_id,
                                                Customer.external_id == ext).values(name=name))
        tenant = Tenant(**conn.execute(select(Tenant.__table__).where(  # type: ignore[attr-defined]
            Tenant.id == tenant_id)).mappings().one())
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    try:
        yield Ledger(engine, tenant, load_rules(path), path)
    finally:
        store_db.dispose_engines()


# Pooled late shares: Late = A and C, (3 + 2) / (3 + 2) = 1; Fine = B and E, (0 + 2) / (6 + 2).
LATE_SHARE = {"Late": 1.0, "Fine": 0.25}
# priority = p × overdue × (1 + oldest / 30); p = (late + 3 × segment share) / (paid + 3)
EXPECTED = [  # (customer, p, overdue, oldest, priority), in rank order
    ("A", 1.0, Decimal("12000.00"), 60, Decimal("36000.00")),  # 1 × 12,000 × 3
    ("C", 1.0, Decimal("1000.00"), 90, Decimal("4000.00")),  # 1 × 1,000 × 4
    # 0.75 / 9 = 0.0833 (rounded) × 10,000 × (1 + 5/30) = 972.1833…
    ("B", 0.0833, Decimal("10000.00"), 35 - 30, Decimal("971.83")),
]


def test_likelihood_and_priority_formulas() -> None:
    assert late_probability(9, 7, 0.5) == round((7 + 3 * 0.5) / (9 + 3), 4) == 0.7083
    assert late_probability(0, 0, 0.4) == 0.4  # no history of its own: the segment's share
    assert late_probability(100, 0, 1.0) == round(3 / 103, 4)  # much history: mostly its own
    assert priority(0.5, Decimal("1000.00"), 0) == Decimal("500.00")
    assert priority(0.5, Decimal("1000.00"), 60) == Decimal("1500.00")  # × (1 + 60/30)


def test_ranking_items_and_next_steps_as_of_a_date(ledger_both: Ledger) -> None:
    s = ledger_both
    wl = build_worklist(s.db, s.tenant, rules=s.rules, run_date=RUN)
    assert wl.run_date == RUN and not wl.stored
    assert wl.segment_late_share == LATE_SHARE
    got = [(r.customer_id, r.late_probability, r.overdue_balance, r.oldest_overdue_days,
            r.priority) for r in wl.rows]
    assert got == EXPECTED
    assert [r.rank for r in wl.rows] == [1, 2, 3]
    assert wl.customers == 3 and wl.total_overdue == Decimal("23000.00")  # E is not overdue
    a, c, b = wl.rows
    # items as of RUN: INV-A2 (settled after RUN) is open; 600 of INV-B2 was still due
    assert [(i.number, i.days_overdue, i.amount_due) for i in a.items] == [
        ("INV-A1", 60, Decimal("10000.00")), ("INV-A2", 10, Decimal("2000.00"))]
    assert [(i.number, i.amount_due) for i in b.items] == [
        ("INV-B1", Decimal("9400.00")), ("INV-B2", Decimal("600.00"))]
    for row in wl.rows:  # the items are what the overdue balance is made of
        assert sum(i.amount_due for i in row.items) == row.overdue_balance
    assert a.reason == ("2 items overdue, oldest 60 days; pays late 3 of 3 times; "
                        "segment Late (pays late 100%)")
    assert b.reason.startswith("2 items overdue, oldest 5 days; pays late 0 of 6 times")
    # the cadence: A (60 days) and C (90) are past Late's last step; B (5 days) waits for
    # Fine's first, due on day 7
    assert a.next_step == ("Stop supply; final notice (letter, final) since day 45; "
                           "the last step")
    assert c.dunning is not None and c.dunning.number == 3
    assert b.next_step == ("no step yet; first: Friendly reminder (email, friendly) on day 7, "
                           f"in 2 days ({(RUN + D(2)).isoformat()})")
    top = build_worklist(s.db, s.tenant, rules=s.rules, run_date=RUN, limit=1)
    assert [r.customer_id for r in top.rows] == ["A"] and top.customers == 3


def test_todays_items_differ_from_the_back_dated_ones(ledger_both: Ledger) -> None:
    s = ledger_both
    back = build_worklist(s.db, s.tenant, rules=s.rules, run_date=RUN)
    today = build_worklist(s.db, s.tenant, rules=s.rules)
    assert today.run_date > RUN
    items = {r.customer_id: [(i.number, i.days_overdue, i.amount_due) for i in r.items]
             for r in today.rows}
    gap = (today.run_date - RUN).days
    # today INV-A2 and INV-B2 are paid; the rest is older by the days since RUN; E is overdue
    assert items["A"] == [("INV-A1", 60 + gap, Decimal("10000.00"))]
    assert items["B"] == [("INV-B1", 5 + gap, Decimal("9400.00"))]
    assert items["E"] == [("INV-E1", gap - 20, Decimal("5000.00"))]
    assert items != {r.customer_id: [(i.number, i.days_overdue, i.amount_due) for i in r.items]
                     for r in back.rows}


def test_stored_run_no_run_yet_and_export_dunning(ledger_store: Ledger) -> None:
    s = ledger_store
    with pytest.raises(NotFoundError, match=r"arconnect segment .*first.*--as-of"):
        build_worklist(s.db, s.tenant)
    segment_tenant(s.db, s.tenant, rules=s.rules, run_date=RUN)
    stored = build_worklist(s.db, s.tenant)
    assert stored.stored and stored.run_date == RUN  # the date the stored metrics are as of
    computed = build_worklist(s.db, s.tenant, rules=s.rules, run_date=RUN)
    assert [(r.customer_id, r.priority, r.next_step, r.items) for r in stored.rows] == [
        (r.customer_id, r.priority, r.next_step, r.items) for r in computed.rows]

    rows = {r["customer_id"]: r for r in export_rows(s.db, s.tenant)}
    a = rows["A"]["dunning"]
    assert a["tone"] == "firm" and a["channel"] == "phone" and len(a["steps"]) == 3
    assert a["steps"][1] == {"after_days": 15, "action": "Call the accounts payable contact",
                             "channel": "phone", "tone": "firm"}  # the policy's defaults
    assert a["days_overdue"] == 60 and a["step"]["number"] == 3 and a["next"] is None
    e = rows["E"]["dunning"]  # nothing overdue: no step, none waited for
    assert e["step"] is None and e["next"] is None and e["next_step"] == "nothing overdue"
    table = list(csv.DictReader(io.StringIO(export_text(list(rows.values()), "csv"))))
    by_id = {r["customer_id"]: r for r in table}
    assert by_id["A"]["next_step"] == a["next_step"]
    assert by_id["B"]["next_step"].startswith("no step yet; first: Friendly reminder")
    # computed as of a date: the same step
    dated = {r["customer_id"]: r for r in export_rows(s.db, s.tenant, run_date=RUN,
                                                       rules=s.rules)}
    assert dated["A"]["dunning"] == a


def test_dunning_cadence() -> None:
    policy = DunningPolicy("firm", "phone", (
        DunningStep(1, "Reminder", "email", "friendly"), DunningStep(15, "Call", "phone", "firm"),
        DunningStep(45, "Final notice", "letter", "final")))
    assert dunning_status(policy, 0).step is None and dunning_status(policy, 0).next is None
    one = dunning_status(policy, 1)
    assert (one.number, one.next, one.days_to_next) == (1, policy.steps[1], 14)
    fourteen = dunning_status(policy, 14)
    assert fourteen.step == policy.steps[0] and fourteen.days_to_next == 1
    assert dunning_status(policy, 15).number == 2
    assert status_words(dunning_status(policy, 20), date(2026, 1, 1)) == (
        "Call (phone, firm) since day 15; next: Final notice (letter, final) on day 45, "
        "in 25 days (2026-01-26)")
    assert dunning_status(policy, 400).next is None


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_dunning_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    bad = RULES.replace("tone: firm\n", "tone: stern\n").replace(
        "{after_days: 7, action:", "{after_days: 7, acton:")
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(MappingError) as err:
        load_rules(path)
    text = str(err.value)
    assert (f"{path}:{_line(bad, 'stern')}: segments.0.dunning.tone: Input should be "
            "'friendly', 'neutral', 'firm' or 'final'") in text
    assert f"{path}:{_line(bad, 'acton')}: unknown key 'acton' (did you mean 'action'?)" in text
    # the order of the steps is checked once their shape is right
    bad = RULES.replace("after_days: 45", "after_days: 15")
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(MappingError, match=rf"{path}:{_line(bad, 'Stop supply')}: dunning step "
                                           r"after_days 15 is not after the step above it "
                                           r"\(15\)"):
        load_rules(path)


def test_every_shipped_segment_has_a_dunning_policy() -> None:
    for name in ("default", *shipped_presets()):
        rules = load_rules(name)
        assert [s.name for s in rules.segments if s.dunning is None] == [], name
    at_risk = load_rules().segment("At risk")
    assert at_risk is not None and at_risk.dunning is not None
    assert status_words(dunning_status(at_risk.dunning, 38)) == (
        "Final notice: orders stay on hold; collections at 75 days (letter, final) since day 31;"
        " next: Call; escalate to the customer's finance lead (phone, final) on day 45, in 7 days")


def test_cli_table_json_csv_and_errors(ledger_store: Ledger) -> None:
    s, name = ledger_store, ledger_store.tenant.name
    common = ("--as-of", RUN.isoformat(), "--rules", str(s.rules_path))
    table = arconnect("worklist", name, *common)
    cells = table.cells()
    # names as typed, without their control characters
    assert {"Acme [bold]Ltd", '=HYPERLINK("http://x","y")', "Beta[2J", "INV-A1", "INV-A2",
            "36,000", "60"} <= cells
    assert "\x1b" not in table.stdout
    assert len(table.tables) == 2
    assert [cut_headers(t, 80) for t in table.tables] == [[], []]  # fits 80 columns
    assert arconnect("worklist", name, *common, "--no-items").tables.__len__() == 1
    doc = json.loads(arconnect("worklist", name, *common, "--format", "json").stdout)
    assert [r["customer_id"] for r in doc["rows"]] == ["A", "C", "B"]
    assert doc["rows"][0]["items"][0] == {
        "document_id": "INV-A1", "number": "INV-A1", "issue_date": (RUN - D(90)).isoformat(),
        "due_date": (RUN - D(60)).isoformat(), "days_overdue": 60, "amount_due": 10000.0}
    assert doc["total_overdue"] == 23000.0 and doc["run_date"] == RUN.isoformat()
    lines = list(csv.DictReader(io.StringIO(
        arconnect("worklist", name, *common, "-f", "csv", "--limit", "2").stdout)))
    assert [(r["rank"], r["customer_id"], r["documents"]) for r in lines] == [
        ("1", "A", "INV-A1;INV-A2"), ("2", "C", "INV-C1")]
    assert lines[1]["name"] == "'=HYPERLINK(\"http://x\",\"y\")"  # never a formula
    # no stored run yet; an unknown tenant; a bad format
    assert "arconnect segment" in str(arconnect("worklist", name, code=2).result.exception)
    assert "nobody" in str(arconnect("worklist", "nobody", code=2).result.exception)
    bad = arconnect("worklist", name, "-f", "xml", code=2)
    assert "table, json or csv" in str(bad.result.exception)
