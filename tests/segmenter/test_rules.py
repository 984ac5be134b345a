"""Segment rules: every default bound on both sides, the decision list, credit policy,
hysteresis, locks, minimum history, presets and file:line errors. Metrics are hand-made dicts of
the metrics contract; nothing here touches a database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arconnect.errors import MappingError
from arconnect.segmenter.rules import (
    Assignment,
    Lock,
    PreviousAssignment,
    Rules,
    assign,
    check_rules,
    load_rules,
    shipped_presets,
)
from arconnect.yamlfile import load_yaml_with_lines

TODAY = date(2026, 11, 23)
CLASSIC = Path(__file__).with_name("classic_rules.yaml")
D = Decimal


@pytest.fixture(scope="module")
def rules() -> Rules:
    """The engine's mechanics are tested against a fixed rule set (the defaults up to December
    2026), not the current defaults: those are tested by test_defaults.py."""
    return load_rules(CLASSIC)


def metrics(**over: Any) -> dict[str, Any]:
    """A reliable, established customer (every contract key), with ``over`` applied."""
    m: dict[str, Any] = {
        "invoice_count": 14, "paid_invoice_count": 14, "avg_days_to_pay": 20.0,
        "avg_days_to_pay_weighted": 20.0, "days_late_weighted": -5.0,
        "days_late_weighted_paid": -5.0, "late_share": 0.0, "open_balance": D("500.00"),
        "overdue_balance": D("0.00"), "aging_current": D("500.00"), "aging_1_30": D("0.00"),
        "aging_31_60": D("0.00"), "aging_61_90": D("0.00"), "aging_91_plus": D("0.00"),
        "oldest_overdue_days": 0, "unapplied_credit": D("0.00"), "net_exposure": D("500.00"),
        "turnover_12m": D("48000.00"),
        "avg_monthly_sales": D("4000.00"), "first_invoice_date": "2024-01-01",
        "tenure_days": 400, "days_since_last_payment": 5, "trend": 0.0,
        "credit_note_ratio": 0.0, "terms_days": 30, "delivery_mode": None,
        "payment_method_mix": {},
    }
    m.update(over)
    return m


def run(rules: Rules, previous: PreviousAssignment | None = None, lock: Lock | None = None,
        **over: Any) -> Assignment:
    return assign(rules, metrics(**over), previous, lock, TODAY)


# -- bounds of the default, both sides ---------------------------------------------------------


@pytest.mark.parametrize(("days", "tag"), [(30, "fast"), (30.0, "fast"), (30.0001, "slow"),
                                           (-3, "fast"), (120, "slow")])
def test_payment_speed_bound(rules: Rules, days: float, tag: str) -> None:
    assert tag in run(rules, avg_days_to_pay_weighted=days).tags


@pytest.mark.parametrize(("balance", "tag"), [("1000.00", "low_exposure"),
                                              ("1000.01", "high_exposure"),
                                              ("0.00", "low_exposure")])
def test_exposure_bound(rules: Rules, balance: str, tag: str) -> None:
    assert tag in run(rules, open_balance=D(balance)).tags


@pytest.mark.parametrize(("days", "tag"), [(179, "new"), (180, "established"), (None, "new")])
def test_tenure_bound(rules: Rules, days: int | None, tag: str) -> None:
    assert tag in run(rules, tenure_days=days).tags


@pytest.mark.parametrize(("days", "tag"), [(0, "current"), (1, "early"), (30, "early"),
                                           (31, "late")])
def test_delinquency_bounds(rules: Rules, days: int, tag: str) -> None:
    assert tag in run(rules, oldest_overdue_days=days).tags


@pytest.mark.parametrize("bucket", ["1_30", "31_60", "61_90", "91_plus"])
def test_aging_takes_the_worst_bucket_with_an_open_amount(rules: Rules, bucket: str) -> None:
    over = {f"aging_{bucket}": D("0.01")}
    tags = run(rules, **over).tags
    assert f"aging_{bucket}" in tags
    assert not {t for t in tags if t.startswith("aging_")} - {f"aging_{bucket}"}
    worst = run(rules, aging_1_30=D("10.00"), aging_61_90=D("5.00")).tags
    assert "aging_61_90" in worst and "aging_1_30" not in worst


def test_aging_current_when_nothing_is_past_due(rules: Rules) -> None:
    assert "aging_current" in run(rules).tags
    assert "aging_current" in run(rules, aging_current=D("0.00"), open_balance=D("0.00")).tags


@pytest.mark.parametrize(("turnover", "tag"), [("9999.99", "small"), ("10000.00", "medium"),
                                               ("99999.99", "medium"), ("100000.00", "large")])
def test_size_bounds(rules: Rules, turnover: str, tag: str) -> None:
    assert tag in run(rules, turnover_12m=D(turnover)).tags


@pytest.mark.parametrize(("over", "risk"), [
    ({}, "low_risk"),
    ({"oldest_overdue_days": 30}, "low_risk"),
    ({"oldest_overdue_days": 31}, "medium_risk"),
    ({"oldest_overdue_days": 60}, "medium_risk"),
    ({"oldest_overdue_days": 61}, "high_risk"),
    ({"avg_days_to_pay_weighted": 31}, "medium_risk"),
    ({"avg_days_to_pay_weighted": 31, "open_balance": D("1000.00")}, "medium_risk"),
    ({"avg_days_to_pay_weighted": 31, "open_balance": D("1000.01")}, "high_risk"),
    ({"avg_days_to_pay_weighted": 30, "open_balance": D("50000.00")}, "low_risk"),
])
def test_risk_combinations(rules: Rules, over: dict[str, Any], risk: str) -> None:
    tags = run(rules, **over).tags
    assert risk in tags
    assert len([t for t in tags if t.endswith("_risk")]) == 1


# -- the decision list -------------------------------------------------------------------------


@pytest.mark.parametrize(("over", "segment"), [
    ({}, "Reliable"),
    ({"tenure_days": 100, "paid_invoice_count": 2}, "New"),
    ({"tenure_days": 100, "paid_invoice_count": 3}, "Reliable"),
    # New comes before At risk in the list
    ({"tenure_days": 100, "paid_invoice_count": 2, "oldest_overdue_days": 95}, "New"),
    ({"oldest_overdue_days": 61}, "At risk"),
    # At risk (slow and high exposure) comes before Chronic late (slow and late)
    ({"avg_days_to_pay_weighted": 45, "oldest_overdue_days": 40,
      "open_balance": D("5000.00")}, "At risk"),
    ({"avg_days_to_pay_weighted": 45, "oldest_overdue_days": 40}, "Chronic late"),
    ({"avg_days_to_pay_weighted": 45}, "Occasionally late"),
    ({"oldest_overdue_days": 5}, "Occasionally late"),
    ({"oldest_overdue_days": 31}, "Reliable"),  # late but fast: medium risk, not a segment rule
])
def test_decision_list_order(rules: Rules, over: dict[str, Any], segment: str) -> None:
    assert run(rules, **over).segment == segment


def test_reasons_are_plain_words_with_numbers(rules: Rules) -> None:
    a = run(rules, avg_days_to_pay_weighted=41.2, oldest_overdue_days=40)
    assert a.segment == "Chronic late"
    assert "Slow payer: amount-weighted days to pay 41.2 > 30 over 14 paid invoices" in a.reasons
    assert any(r.startswith("Late delinquency: days past due of the oldest open item 40")
               for r in a.reasons)
    assert a.reasons[0] == "Chronic late: first matching segment"


# -- credit policy -----------------------------------------------------------------------------


def test_reliable_limit_formula(rules: Rules) -> None:
    a = run(rules)  # 2 × 4,000 × (30 + 30) / 30
    assert (a.credit_limit, a.terms_days, a.credit_hold) == (D(16000), None, False)
    assert any(r.startswith("Credit limit 16,000: 2 × avg_monthly_sales 4,000") for r in a.reasons)


def test_limit_rounds_down_to_100(rules: Rules) -> None:
    a = run(rules, avg_monthly_sales=D("4123.45"))  # 16,493.80
    assert a.credit_limit == D(16400)
    assert any("rounded down to 100" in r for r in a.reasons)


def test_limit_floor_and_cap(rules: Rules) -> None:
    assert run(rules, avg_monthly_sales=D("100.00")).credit_limit == D(1000)
    assert run(rules, avg_monthly_sales=D("100000.00")).credit_limit == D(250000)
    occasionally = run(rules, oldest_overdue_days=3, avg_monthly_sales=D("10.00"))
    assert (occasionally.segment, occasionally.credit_limit) == ("Occasionally late", D(500))


def test_terms_feed_the_formula(rules: Rules) -> None:
    assert run(rules, terms_days=60).credit_limit == D(24000)  # 2 × 4,000 × 90 / 30
    assert run(rules, terms_days=None).credit_limit == D(16000)  # default 30 days
    occ = run(rules, oldest_overdue_days=3)  # 1.5 × 4,000 × 2
    assert occ.credit_limit == D(12000)


def test_chronic_late_gets_net_15_and_k_1(rules: Rules) -> None:
    a = run(rules, avg_days_to_pay_weighted=45, oldest_overdue_days=40)
    assert a.terms_days == 15
    assert a.credit_limit == D(6000)  # 1 × 4,000 × (15 + 30) / 30
    assert "Payment terms net 15 for Chronic late" in a.reasons


def test_at_risk_is_zero_and_on_hold(rules: Rules) -> None:
    a = run(rules, oldest_overdue_days=90)
    assert (a.segment, a.credit_limit, a.credit_hold) == ("At risk", D(0), True)
    assert any(r.startswith("Credit hold") for r in a.reasons)


@pytest.mark.parametrize(("paid", "late_share", "limit"), [
    (0, 0.0, 1000), (1, 0.0, 1500), (2, 0.0, 2000), (2, 0.5, 1500), (2, 1.0, 1000),
])
def test_new_starter_limit_ramps_with_invoices_paid_on_time(
        rules: Rules, paid: int, late_share: float, limit: int) -> None:
    a = run(rules, tenure_days=60, paid_invoice_count=paid, late_share=late_share)
    assert (a.segment, a.credit_limit) == ("New", D(limit))


# -- minimum history ---------------------------------------------------------------------------


def test_no_history_gets_the_default_segment(rules: Rules) -> None:
    empty = metrics(invoice_count=0, paid_invoice_count=0, avg_days_to_pay=None,
                    avg_days_to_pay_weighted=None, days_late_weighted=None,
                    days_late_weighted_paid=None, late_share=None, tenure_days=None,
                    first_invoice_date=None, turnover_12m=D("0.00"),
                    avg_monthly_sales=D("0.00"), open_balance=D("0.00"))
    a = assign(rules, empty, None, None, TODAY)
    assert a.segment == "New"
    assert any("insufficient history" in r for r in a.reasons)
    assert a.credit_limit == D(1000)
    assert "fast" not in a.tags and "slow" not in a.tags
    bare = assign(rules, {}, None, None, TODAY)
    assert bare.segment == "New" and "insufficient history" in bare.reasons[0]


def test_established_customer_without_payments_is_insufficient_history(rules: Rules) -> None:
    a = run(rules, paid_invoice_count=0, avg_days_to_pay_weighted=None,
            oldest_overdue_days=100)
    assert a.segment == "New" and "insufficient history" in a.reasons[0]


# -- hysteresis --------------------------------------------------------------------------------


def fast_before(since: date | None = None) -> PreviousAssignment:
    return PreviousAssignment("Reliable", ("fast", "current"), since or TODAY - timedelta(400))


@pytest.mark.parametrize(("days", "tag"), [(31.5, "fast"), (32, "fast"), (32.0001, "slow")])
def test_margin_keeps_a_fast_payer_fast(rules: Rules, days: float, tag: str) -> None:
    a = run(rules, previous=fast_before(), avg_days_to_pay_weighted=days)
    assert tag in a.tags
    if days == 31.5:
        assert ("Fast payer: amount-weighted days to pay 31.5 ≤ 32 over 14 paid invoices (kept "
                "from before: within the margin of 2 beyond ≤ 30; a new customer would be slow)"
                in a.reasons)


@pytest.mark.parametrize(("days", "tag"), [(28.5, "slow"), (28.0001, "slow"), (28, "fast")])
def test_margin_keeps_a_slow_payer_slow(rules: Rules, days: float, tag: str) -> None:
    previous = PreviousAssignment("Occasionally late", ("slow",), TODAY - timedelta(100))
    assert tag in run(rules, previous=previous, avg_days_to_pay_weighted=days).tags


def test_without_previous_the_plain_bound_applies(rules: Rules) -> None:
    assert "slow" in run(rules, avg_days_to_pay_weighted=31.5).tags


def test_min_days_in_segment(rules: Rules) -> None:
    previous = fast_before(since=TODAY - timedelta(days=29))
    stays = run(rules, previous=previous, oldest_overdue_days=5)
    assert stays.segment == "Reliable"
    assert stays.reasons[0].startswith("Stays Reliable: 29 days in the segment, 30 needed")
    assert stays.credit_limit == D(16000)
    moves = run(rules, previous=fast_before(since=TODAY - timedelta(days=30)),
                oldest_overdue_days=5)
    assert moves.segment == "Occasionally late"


def test_immediate_segment_skips_min_days(rules: Rules) -> None:
    a = run(rules, previous=fast_before(since=TODAY - timedelta(days=1)), oldest_overdue_days=61)
    assert a.segment == "At risk" and a.credit_hold


# -- locks -------------------------------------------------------------------------------------


def test_segment_lock_is_honoured(rules: Rules) -> None:
    a = run(rules, lock=Lock(segment="Reliable"), oldest_overdue_days=95)
    assert (a.segment, a.credit_limit, a.credit_hold) == ("Reliable", D(16000), False)
    assert a.reasons[0] == "Locked to Reliable by a manual lock (rules say At risk)"
    assert "high_risk" in a.tags  # tags still tell the truth


def test_lock_until_today_holds_and_after_it_ends(rules: Rules) -> None:
    held = run(rules, lock=Lock("Reliable", TODAY), oldest_overdue_days=95)
    assert held.segment == "Reliable"
    assert held.reasons[0].startswith("Locked to Reliable until 2026-11-23")
    ended = run(rules, lock=Lock("Reliable", TODAY - timedelta(days=1)), oldest_overdue_days=95)
    assert ended.segment == "At risk"
    assert "Manual lock ended on 2026-11-22: the rules apply" in ended.reasons


def test_lock_without_segment_freezes_the_previous_one(rules: Rules) -> None:
    a = run(rules, previous=fast_before(), lock=Lock(until=TODAY + timedelta(days=5)),
            oldest_overdue_days=95)
    assert a.segment == "Reliable"
    no_previous = run(rules, lock=Lock(), oldest_overdue_days=95)
    assert no_previous.segment == "At risk"


def test_lock_beats_min_history_and_min_days(rules: Rules) -> None:
    a = assign(rules, {}, fast_before(TODAY), Lock("Chronic late"), TODAY)
    assert (a.segment, a.terms_days) == ("Chronic late", 15)


def test_lock_to_a_segment_the_rules_do_not_know(rules: Rules) -> None:
    a = run(rules, lock=Lock("VIP"))
    assert (a.segment, a.credit_limit, a.credit_hold) == ("VIP", None, False)
    assert any("not in the rules" in r for r in a.reasons)


def test_exposure_net_of_credit(rules: Rules, tmp_path: Path) -> None:
    # A consultant nets the credit a customer holds (overpayments, deposits, credit notes)
    # against what it owes: the exposure dimension names net_exposure instead.
    text = Path(rules.source).read_text().replace("    metric: open_balance\n",
                                                  "    metric: net_exposure\n", 1)
    assert "metric: net_exposure" in text
    (tmp_path / "net.yaml").write_text(text)
    net = load_rules(tmp_path / "net.yaml")
    owes = {"open_balance": D("3000.00"), "unapplied_credit": D("2500.00"),
            "net_exposure": D("500.00")}
    assert "high_exposure" in run(rules, **owes).tags
    netted = run(net, **owes)
    assert "low_exposure" in netted.tags


# -- presets -----------------------------------------------------------------------------------


def test_presets_ship() -> None:
    assert shipped_presets() == ["crf_aging", "tesorio", "upflow"]


@pytest.mark.parametrize("name", ["default", "upflow", "tesorio", "crf_aging"])
def test_every_preset_loads_and_assigns(name: str) -> None:
    preset = load_rules(name)
    a = assign(preset, metrics(), None, None, TODAY)
    assert a.segment in [s.name for s in preset.segments]
    assert a.reasons
    empty = assign(preset, {}, None, None, TODAY)
    assert empty.segment == preset.default_segment
    assert check_rules(name)[0]["line"] > 1


@pytest.mark.parametrize(("delay", "segment"), [(30, "A"), (30.5, "B"), (60, "B"), (61, "C"),
                                                (90, "C"), (91, "D")])
def test_upflow_brackets(delay: float, segment: str) -> None:
    a = run(load_rules("upflow"), days_late_weighted=delay)
    assert a.segment == segment
    assert a.credit_hold == (segment == "D")


@pytest.mark.parametrize(("days", "segment"), [(-4, "Great"), (15, "Great"), (16, "Good"),
                                               (45, "Good"), (46, "Poor"), (90, "Poor"),
                                               (91, "Risk")])
def test_tesorio_bands(days: float, segment: str) -> None:
    assert run(load_rules("tesorio"), days_late_weighted_paid=days).segment == segment


@pytest.mark.parametrize(("days", "segment"), [(0, "Current"), (1, "1-30"), (30, "1-30"),
                                               (31, "31-60"), (60, "31-60"), (61, "61-90"),
                                               (90, "61-90"), (91, "91-120"), (120, "91-120"),
                                               (121, "Over 120")])
def test_crf_aging_buckets(days: int, segment: str) -> None:
    assert run(load_rules("crf_aging"), oldest_overdue_days=days).segment == segment


# -- bad rule files ----------------------------------------------------------------------------

GOOD = """\
version: 1
dimensions:
  - name: payment_speed
    metric: avg_days_to_pay_weighted
    buckets:
      - {tag: fast, lte: 30}
      - {tag: slow, gt: 30}
segments:
  - name: Late
    when: {tag: slow}
    credit: {limit: 0}
  - name: Fine
    credit:
      limit: {mul: [2, avg_monthly_sales]}
default_segment: Fine
"""


def load_text(tmp_path: Path, text: str) -> Rules:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return load_rules(path)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(MappingError) as info:
        load_text(tmp_path, text)
    return str(info.value)


def test_the_minimal_file_loads(tmp_path: Path) -> None:
    r = load_text(tmp_path, GOOD)
    assert run(r).credit_limit == D(8000)
    assert run(r, avg_days_to_pay_weighted=31).segment == "Late"


@pytest.mark.parametrize(("old", "new", "line", "words"), [
    ("metric: avg_days_to_pay_weighted", "metric: avg_days_to_pay_weigted", 4,
     "unknown metric 'avg_days_to_pay_weigted' (did you mean 'avg_days_to_pay_weighted'?)"),
    ("when: {tag: slow}", "when: {tag: slo}", 10, "unknown tag 'slo' (did you mean 'slow'?)"),
    ("    credit: {limit: 0}", "    credits: {limit: 0}", 11,
     "unknown key 'credits' (did you mean 'credit'?)"),
    ("default_segment: Fine", "default_segment: Fin", 15,
     "default segment 'Fin' is not in `segments:` (did you mean 'Fine'?)"),
    ("{tag: slow, gt: 30}", "{tag: slow, gt: 30, gte: 31}", 7, "at most one lower bound"),
    ("{mul: [2, avg_monthly_sales]}", "{pow: [2, avg_monthly_sales]}", 14,
     "unknown operation 'pow'"),
    ("{mul: [2, avg_monthly_sales]}", "{mul: [2, monthly_sales]}", 14,
     "unknown name 'monthly_sales' in the formula"),
    ("{mul: [2, avg_monthly_sales]}", "{div: [2]}", 14, "`div:` takes a list of two"),
    ("when: {tag: slow}", "when: {metric: late_share, above: 0.5}", 10,
     "a metric condition takes gt, gte, lt, lte, eq, ne"),
    ("when: {tag: slow}", "when: {tag: slow, any: []}", 10, "not a condition"),
    ("{tag: fast, lte: 30}", "{tag: fast, lte: thirty}", 6, "valid number"),
    ("      - {tag: slow, gt: 30}", "      - {tag: slow, gt: 30\n", 9,
     "did not find expected ',' or '}' (while parsing a flow mapping on line 7)"),
    ("  - name: Fine", "  - name: Late", 12, "segment 'Late' is listed twice"),
    ("{tag: slow, gt: 30}", "{tag: fast, gt: 30}", 7, "tag 'fast' is already a tag"),
    ("version: 1", "version: 1\nversion: 1", 2, "duplicate key 'version'"),
])
def test_bad_files_give_file_and_line(tmp_path: Path, old: str, new: str, line: int,
                                      words: str) -> None:
    assert old in GOOD
    message = error_of(tmp_path, GOOD.replace(old, new, 1))
    assert f"rules.yaml:{line}: " in message, message
    assert words in message, message


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = GOOD.replace("{tag: slow}", "{tag: slo}").replace("segment: Fine", "segment: Fin")
    lines = error_of(tmp_path, text).splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(":10: unknown tag 'slo' (did you mean 'slow'?); tags come from "
                             "the dimensions above")


def test_missing_and_empty(tmp_path: Path) -> None:
    assert ":1: `segments:` is missing" in error_of(
        tmp_path, "dimensions: [{name: d, cases: [{tag: x}]}]\ndefault_segment: X\n")
    assert "rules.yaml:1: the file is empty" in error_of(tmp_path, "# nothing\n")
    with pytest.raises(MappingError, match=r"nope\.yaml:1: no such file"):
        load_rules(tmp_path / "nope.yaml")
    with pytest.raises(MappingError, match=r"no rules named 'nope' ship"):
        load_rules("nope")


def test_load_yaml_with_lines() -> None:
    data, line_of = load_yaml_with_lines("a:\n  b:\n    - 1\n    - {c: 2}\n", "x.yaml")
    assert data == {"a": {"b": [1, {"c": 2}]}}
    assert line_of(("a", "b", 1, "c")) == 4
    assert line_of(("a", "b", 0)) == 3
    assert line_of(("a", "b", 7, "missing")) == 2
    assert line_of(()) == 1


DERIVED = GOOD.replace("segments:\n", """\
  - name: first
    cases:
      - {tag: one, when: {not: {tag: slow}}}
      - {tag: two}
  - name: second
    cases:
      - {tag: three, when: {all: [{tag: one}, {metric: late_share, gte: 0.5}]}}
      - {tag: four}
segments:
""")


def test_derived_dimensions_see_the_ones_above(tmp_path: Path) -> None:
    r = load_text(tmp_path, DERIVED)
    assert run(r, late_share=0.5).tags == ["fast", "one", "three"]
    assert run(r, avg_days_to_pay_weighted=31).tags == ["slow", "two", "four"]
    forward = DERIVED.replace("{not: {tag: slow}}", "{not: {tag: four}}")
    assert ":10: tag 'four' is given by a later dimension" in error_of(tmp_path, forward)


def test_dimension_shape_errors(tmp_path: Path) -> None:
    both = GOOD.replace("    buckets:\n", "    cases: [{tag: x}]\n    buckets:\n")
    assert ":3: dimension 'payment_speed' needs either `buckets:`" in error_of(tmp_path, both)
    no_metric = GOOD.replace("    metric: avg_days_to_pay_weighted\n", "")
    assert "has buckets but no `metric:`" in error_of(tmp_path, no_metric)
    missing = GOOD.replace("    buckets:\n", "    when_missing: medium\n    buckets:\n")
    assert ":5: when_missing 'medium' is not one of this dimension's tags (fast, slow)" in (
        error_of(tmp_path, missing))


def test_uncomputable_formula_falls_back_to_the_floor(tmp_path: Path) -> None:
    text = GOOD.replace("{mul: [2, avg_monthly_sales]}",
                        "{div: [turnover_12m, days_since_last_payment]}\n      floor: 700")
    r = load_text(tmp_path, text)
    a = run(r, days_since_last_payment=0)
    assert a.credit_limit == D(700)
    assert any("(the floor): the formula turnover_12m 48,000 / days_since_last_payment 0 "
               "cannot be computed" in x for x in a.reasons)
    none = run(r, days_since_last_payment=None)
    assert none.credit_limit == D(700)


def test_check_rules_summarises_the_decision_list() -> None:
    rows = check_rules("default")
    assert [(r["segment"], r["when"]) for r in rows] == [
        ("At risk", "high_risk"),
        ("Chronic late", "very_late"), ("New", "current and (new or paid_invoice_count = 0)"),
        ("Occasionally late", "late_payer or overdue_31_60"), ("Prompt", "prompt"),
        ("Reliable", "otherwise")]
    assert rows[0]["credit_hold"] and rows[1]["terms_days"] == 15 and rows[2]["default"]
