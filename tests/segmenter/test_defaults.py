"""The shipped default rules (config/segments.yaml) put the customers a credit controller worries
about where the controller would: the cases that the defaults before December 2026 got wrong,
each band edge, and the sandbox's payment archetypes. The engine's mechanics are tested by
test_rules.py against a fixed rule set; the choice of thresholds is argued in docs/segments.md."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox
from arconnect.segmenter.rules import Assignment, Rules, assign, load_rules
from arconnect.segmenter.service import segment_tenant
from arconnect.store.models import Tenant
from tests.segmenter.test_rules import metrics
from tests.segmenter.test_service import _synced

TODAY = date(2026, 11, 23)
D = Decimal


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules("default")


def run(rules: Rules, **over: Any) -> Assignment:
    return assign(rules, metrics(**over), None, None, TODAY)


def test_a_non_payer_with_an_old_overdue_item_is_at_risk_not_new(rules: Rules) -> None:
    # 629 days a customer, nothing ever paid, 112,212 owed, an item 599 days overdue
    a = run(rules, paid_invoice_count=0, invoice_count=3, avg_days_to_pay=None,
            avg_days_to_pay_weighted=None, days_late_weighted=420.0,
            days_late_weighted_paid=None, late_share=None, tenure_days=629,
            open_balance=D("112212.00"), overdue_balance=D("112212.00"),
            aging_91_plus=D("112212.00"), oldest_overdue_days=599, turnover_12m=D("0.00"),
            avg_monthly_sales=D("0.00"),
            exposure_months=None)
    assert (a.segment, a.credit_limit, a.credit_hold) == ("At risk", D(0), True)
    assert "overdue_61_plus" in a.tags


def test_a_small_residue_long_overdue_is_no_hold(rules: Rules) -> None:
    # 0.40 left of a short payment, 121 days overdue: chased, not held
    residue = run(rules, oldest_overdue_days=121, overdue_balance=D("0.40"),
                  aging_91_plus=D("0.40"), days_late_weighted=-4.0)
    assert "overdue_61_plus" in residue.tags and not residue.credit_hold
    assert residue.segment == "Prompt"
    held = run(rules, oldest_overdue_days=121, overdue_balance=D("5.00"),
               aging_91_plus=D("5.00"), days_late_weighted=-4.0)
    assert (held.segment, held.credit_hold) == ("At risk", True)


def test_overdue_items_are_never_new(rules: Rules) -> None:
    young = {"tenure_days": 40, "paid_invoice_count": 1, "days_late_weighted": 1.0}
    assert run(rules, **young).segment == "New"
    assert run(rules, **young, oldest_overdue_days=12,
               overdue_balance=D("300.00")).segment == "Reliable"
    assert run(rules, **{**young, "days_late_weighted": 20.0}, oldest_overdue_days=40,
               overdue_balance=D("300.00")).segment == "Chronic late"


def test_a_prompt_payer_with_an_item_31_to_60_days_overdue_is_not_reliable(rules: Rules) -> None:
    a = run(rules, days_late_weighted=-5.0, oldest_overdue_days=45,
            overdue_balance=D("800.00"), exposure_months=0.5)
    assert a.segment == "Occasionally late" and not a.credit_hold
    # with more than 3 months of its sales owed, the same item is a hold
    held = run(rules, days_late_weighted=-5.0, oldest_overdue_days=45,
               overdue_balance=D("800.00"), exposure_months=3.5)
    assert (held.segment, held.credit_hold) == ("At risk", True)


def test_a_large_customer_owing_a_lot_with_nothing_overdue_is_not_on_hold(rules: Rules) -> None:
    # 600k a year, 60k owed (1.2 months of its sales), nothing overdue, pays on the due date
    a = run(rules, turnover_12m=D("600000.00"), avg_monthly_sales=D("50000.00"),
            open_balance=D("60000.00"), exposure_months=1.2, days_late_weighted=0.5)
    assert a.segment == "Reliable" and not a.credit_hold
    assert a.credit_limit == D(200000)  # 2 × 50,000 × (30 + 30) / 30
    assert "high_balance" in a.tags  # the fixed 1,000 stays a chasing tag


def test_lateness_is_against_the_customers_own_terms(rules: Rules) -> None:
    # net 60, paid on day 45: 15 days early. Slow by the 30-day split, prompt against its terms.
    a = run(rules, terms_days=60, avg_days_to_pay_weighted=45.0, days_late_weighted=-15.0)
    assert a.segment == "Prompt" and "slow" in a.tags
    # net 7, paid on day 25: fast by the 30-day split, 18 days late against its terms
    b = run(rules, terms_days=7, avg_days_to_pay_weighted=25.0, days_late_weighted=18.0)
    assert b.segment == "Chronic late" and "fast" in b.tags and b.terms_days == 15


@pytest.mark.parametrize(("days", "segment"), [
    (-3.0, "Prompt"), (-2.99, "Reliable"), (3.0, "Reliable"), (3.01, "Occasionally late"),
    (9.99, "Occasionally late"), (10.0, "Chronic late"),
])
def test_lateness_bands(rules: Rules, days: float, segment: str) -> None:
    assert run(rules, days_late_weighted=days).segment == segment


def test_no_payment_history_in_the_window_is_new_with_a_starter_limit(rules: Rules) -> None:
    a = run(rules, paid_invoice_count=0, invoice_count=0, days_late_weighted=None,
            tenure_days=800, open_balance=D("0.00"), exposure_months=0.0)
    assert (a.segment, a.credit_limit) == ("New", D(1000))


def test_limits_scale_with_small_customers(rules: Rules) -> None:
    # sales of 120 a month (the IBM sample's scale): 2 × 120 × 2 = 480, rounded down to 400
    a = run(rules, days_late_weighted=1.0, avg_monthly_sales=D("120.00"),
            turnover_12m=D("1440.00"))
    assert (a.segment, a.credit_limit) == ("Reliable", D(400))


START = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def sandbox_store(sqlite_url: str, monkeypatch: pytest.MonkeyPatch
                  ) -> Iterator[tuple[Engine, Tenant, dict[str, str]]]:
    """A sandbox company synced over HTTP, with the generator's archetype of each customer."""
    sandbox = XeroSandbox(SandboxConfig(
        seed=42, start=START, strict_limits=False, client_id="cid", client_secret="secret",
        orgs=[OrgSpec(name="Archetypes", customers=60, invoices=1200, payments=2400)]))
    for db, tenant in _synced(sqlite_url, monkeypatch, sandbox):
        yield db, tenant, dict(sandbox.orgs[0].archetypes)


def test_sandbox_archetypes(sandbox_store: tuple[Engine, Tenant, dict[str, str]]) -> None:
    """The sandbox's non-payers and partial payers are held; its early and on-time payers are
    not (the generator's archetype is the answer key, never served by its API)."""
    db, tenant, archetypes = sandbox_store
    run_ = segment_tenant(db, tenant, run_date=START.date(), dry_run=True)
    by_kind: dict[str, Counter[str]] = {}
    for r in run_.results:
        kind = archetypes.get(r.customer_id)
        if kind:
            by_kind.setdefault(kind, Counter())[r.assignment.segment] += 1
    bad = by_kind["non_payer"] + by_kind["partial"]
    good = by_kind["early"] + by_kind["on_time"]
    assert sum(bad.values()) >= 5 and sum(good.values()) >= 10
    assert bad["At risk"] >= 0.8 * sum(bad.values())
    assert good["At risk"] <= 0.1 * sum(good.values())
    assert by_kind["early"]["Prompt"] > 0 and by_kind["on_time"]["Reliable"] > 0
    assert not by_kind["new"]["At risk"]
