"""Benchmark: how well the segments foretell late payment, on an imported AR history.

    python bench/segment_quality.py FILE [--rules FILE|PRESET] [--mapping csv_ibm]
                                         [--origins 2012-12-31,2013-03-31,2013-06-30]
                                         [--boot 2000] [--seed 7]

FILE is an invoice-per-row AR history the mapping reads (the shipped ``csv_ibm`` mapping reads
IBM's "Accounts Receivable" sample, ``WA_Fn-UseC_-Accounts-Receivable.csv``). It is imported into
a temporary SQLite store with :func:`arconnect.csv_import.import_csv`, then for each origin date
the segmenter runs as of that date (point in time: nothing after it is read) with the rules.

Scoring is a temporal split, per invoice:

* late = settled after its due date (an invoice still open at the end of the file counts as
  late when its due date has passed by then);
* each segment's late share = the late share of its members' invoices settled on or before the
  origin (what a credit controller could know on that day);
* each customer's score = the rank of its segment by that late share (equal shares, equal rank);
* AUC (Mann-Whitney, ties count 1/2) over the invoices issued after the origin: the chance that a
  late invoice belongs to a customer ranked riskier than the customer of an on-time one;
* a 95 % bootstrap interval resamples customers (with their invoices; the segments' ranks are
  those of the origin and stay fixed).

For comparison the table also scores single metrics of the same run (the customer's score is the
metric itself; a missing value ranks lowest) and the seed's 30-day fast/slow split.

Stability: the segment of each customer as of the end of the file's first half and as of its
end (each over the window before it); the share that kept its segment.

The last line is one JSON object: ``auc`` (per origin: segments, interval, fast/slow, best
metric), ``segments`` (per origin: customers, train and test late share per segment) and
``stability``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

ORIGINS = (date(2012, 12, 31), date(2013, 3, 31), date(2013, 6, 30))
# Metrics scored alone for comparison (higher = riskier, except where negated).
SINGLE_METRICS = ("days_late_weighted", "days_late_weighted_paid", "late_share",
                  "avg_days_to_pay_weighted", "avg_days_to_pay", "oldest_overdue_days",
                  "overdue_balance", "trend", "disputed_share")


@dataclass(frozen=True)
class Invoice:
    customer: str
    issued: date
    due: date
    settled: date | None

    def late_by(self, day: date) -> bool | None:
        """Late as known on ``day``: settled after due, or unsettled and past due. None: not
        known yet (unsettled and not yet due, or settled after ``day`` but not past due)."""
        if self.settled is not None and self.settled <= day:
            return self.settled > self.due
        if self.due < day:
            return True if self.settled is None or self.settled > self.due else None
        return None


def read_invoices(path: Path) -> list[Invoice]:
    """The scoring truth, read from the file directly (not from the store under test)."""
    out = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            settled = row.get("SettledDate") or ""
            out.append(Invoice(row["customerID"], _day(row["InvoiceDate"]), _day(row["DueDate"]),
                               _day(settled) if settled else None))
    return out


def _day(text: str) -> date:
    return datetime.strptime(text.strip(), "%m/%d/%Y").date()


def auc(pairs: Iterable[tuple[float, bool]]) -> float | None:
    """Mann-Whitney AUC of (score, positive) pairs; ties count 1/2. None without both classes."""
    by_score: dict[float, list[int]] = defaultdict(lambda: [0, 0])
    for score, positive in pairs:
        by_score[score][1 if positive else 0] += 1
    negatives_below = 0
    wins = 0.0
    positives = negatives = 0
    for score in sorted(by_score):
        neg, pos = by_score[score]
        wins += pos * (negatives_below + neg / 2)
        negatives_below += neg
        positives += pos
        negatives += neg
    if not positives or not negatives:
        return None
    return wins / (positives * negatives)


def segment_scores(segment_of: dict[str, str], invoices: list[Invoice], origin: date
                   ) -> tuple[dict[str, float], dict[str, tuple[int, int]]]:
    """Each segment's rank by the late share of its members' invoices settled by ``origin``."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for inv in invoices:
        seg = segment_of.get(inv.customer)
        if seg is None or inv.settled is None or inv.settled > origin:
            continue
        counts[seg][0] += inv.settled > inv.due
        counts[seg][1] += 1
    share = {seg: (late / n if n else 0.0) for seg, (late, n) in counts.items()}
    for seg in set(segment_of.values()) - set(share):
        share[seg] = 0.0
    ranks = {value: rank for rank, value in enumerate(sorted(set(share.values())))}
    return ({seg: float(ranks[s]) for seg, s in share.items()},
            {seg: (late, n) for seg, (late, n) in counts.items()})


def test_invoices(invoices: list[Invoice], origin: date, end: date) -> list[tuple[str, bool]]:
    """(customer, late) for each invoice issued after ``origin`` whose outcome is known at the
    end of the file."""
    out = []
    for inv in invoices:
        if inv.issued <= origin:
            continue
        late = inv.late_by(end)
        if late is not None:
            out.append((inv.customer, late))
    return out


def scored_auc(score_of: Callable[[str], float], tested: list[tuple[str, bool]]) -> float | None:
    return auc((score_of(customer), late) for customer, late in tested)


def bootstrap(score_of: Callable[[str], float], tested: list[tuple[str, bool]], reps: int,
              seed: int) -> tuple[float, float]:
    """95 % interval of the AUC, resampling customers with all their test invoices."""
    by_customer: dict[str, list[bool]] = defaultdict(list)
    for customer, late in tested:
        by_customer[customer].append(late)
    customers = sorted(by_customer)
    rng = random.Random(seed)
    values = []
    for _ in range(reps):
        sample = [rng.choice(customers) for _ in customers]
        value = auc((score_of(c), late) for c in sample for late in by_customer[c])
        if value is not None:
            values.append(value)
    values.sort()
    return values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]


def run_segmenter(db_url: str, rules_source: str, origin: date, window_days: int | None = None
                  ) -> dict[str, dict[str, Any]]:
    """customer id → {segment, tags, metrics} as of ``origin`` (nothing stored)."""
    from sqlmodel import Session, select

    from arconnect.segmenter.rules import load_rules
    from arconnect.segmenter.service import evaluate
    from arconnect.store.db import create_store_engine
    from arconnect.store.models import Tenant

    engine = create_store_engine(db_url)
    rules = load_rules(rules_source)
    with Session(engine) as session:
        tenant = session.exec(select(Tenant)).one()
    with engine.connect() as conn:
        results, _ = evaluate(conn, tenant, rules, origin, window_days=window_days,
                              point_in_time=True)
    engine.dispose()
    return {r.customer_id: {"segment": r.assignment.segment, "tags": list(r.assignment.tags),
                            "metrics": r.metrics} for r in results}


def _num(value: Any) -> float:
    if value is None:
        return float("-inf")
    return float(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="the AR history CSV")
    parser.add_argument("--rules", default="default", help="rules file or preset")
    parser.add_argument("--mapping", default="csv_ibm", help="the CSV mapping")
    parser.add_argument("--origins", default=",".join(d.isoformat() for d in ORIGINS),
                        help="comma-separated origin dates; the first is the tuning one")
    parser.add_argument("--boot", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not args.file.is_file():
        raise SystemExit(f"{args.file}: no such file")

    from rich.console import Console
    from rich.table import Table

    from arconnect.csv_import import import_csv
    from arconnect.store.db import create_store_engine, upgrade

    origins = [date.fromisoformat(part) for part in args.origins.split(",")]
    invoices = read_invoices(args.file)
    end = max(max(i.issued for i in invoices),
              max((i.settled for i in invoices if i.settled), default=date.min))
    console = Console(width=130)
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/quality.db"
        engine = create_store_engine(db_url)
        upgrade(engine)
        import_csv(engine, args.file, args.mapping, "history", strict=True)
        engine.dispose()

        auc_doc: dict[str, Any] = {}
        seg_doc: dict[str, Any] = {}
        summary = Table(title=f"Late-payment AUC of the segments ({args.rules}), per origin")
        for col in ("origin", "test invoices", "segments AUC", "95% interval", "fast/slow 30d",
                    "best single metric"):
            summary.add_column(col, justify="right" if col != "best single metric" else "left")
        for origin in origins:
            run = run_segmenter(db_url, args.rules, origin)
            segment_of = {c: r["segment"] for c, r in run.items()}
            ranks, train = segment_scores(segment_of, invoices, origin)
            tested = test_invoices(invoices, origin, end)

            def seg_score(c: str, _r: dict[str, float] = ranks,
                          _s: dict[str, str] = segment_of) -> float:
                return _r.get(_s.get(c, ""), -1.0)

            value = scored_auc(seg_score, tested)
            low, high = bootstrap(seg_score, tested, args.boot, args.seed)
            speed = {c: r["metrics"].get("avg_days_to_pay_weighted") for c, r in run.items()}
            fast_slow = scored_auc(
                lambda c, _v=speed: 1.0 if _v.get(c) is not None and float(_v[c]) > 30 else 0.0,
                tested)
            singles = {}
            for metric in SINGLE_METRICS:
                values = {c: _num(r["metrics"].get(metric)) for c, r in run.items()}
                singles[metric] = scored_auc(lambda c, _v=values: _v.get(c, float("-inf")),
                                             tested)
            best = max((k for k in singles if singles[k] is not None),
                       key=lambda k: singles[k] or 0.0)
            key = origin.isoformat()
            auc_doc[key] = {"segments": _r4(value), "low": _r4(low), "high": _r4(high),
                            "fast_slow": _r4(fast_slow),
                            "best_metric": best, "best_metric_auc": _r4(singles[best]),
                            "metrics": {k: _r4(v) for k, v in singles.items()},
                            "test_invoices": len(tested)}
            summary.add_row(key, str(len(tested)), f"{value:.3f}", f"{low:.3f}–{high:.3f}",
                            f"{fast_slow:.3f}", f"{best} {singles[best]:.3f}")

            test_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for customer, late in tested:
                seg = segment_of.get(customer, "?")
                test_counts[seg][0] += late
                test_counts[seg][1] += 1
            members: dict[str, int] = defaultdict(int)
            for seg in segment_of.values():
                members[seg] += 1
            per_seg = {}
            table = Table(title=f"Segments as of {key}: late share of their invoices")
            for col in ("segment", "customers", "settled by origin", "late then",
                        "issued after", "late after"):
                table.add_column(col, justify="left" if col == "segment" else "right")
            for seg in sorted(members, key=lambda s: ranks.get(s, -1)):
                tl, tn = train.get(seg, (0, 0))
                fl, fn = test_counts.get(seg, [0, 0])
                per_seg[seg] = {"customers": members[seg], "train_invoices": tn,
                                "train_late_share": _r4(tl / tn) if tn else None,
                                "test_invoices": fn,
                                "test_late_share": _r4(fl / fn) if fn else None}
                table.add_row(seg, str(members[seg]), str(tn),
                              f"{tl / tn:.1%}" if tn else "–", str(fn),
                              f"{fl / fn:.1%}" if fn else "–")
            seg_doc[key] = per_seg
            console.print(table)

        start = min(i.issued for i in invoices)
        middle = start + (end - start) / 2
        first = run_segmenter(db_url, args.rules, middle)
        second = run_segmenter(db_url, args.rules, end)
        both = sorted(set(first) & set(second))
        kept = sum(first[c]["segment"] == second[c]["segment"] for c in both)
        moves: dict[str, int] = defaultdict(int)
        for c in both:
            if first[c]["segment"] != second[c]["segment"]:
                moves[f"{first[c]['segment']} → {second[c]['segment']}"] += 1
        stability = {"first_half_end": middle.isoformat(), "second_half_end": end.isoformat(),
                     "customers": len(both), "kept": kept,
                     "share": _r4(kept / len(both)) if both else None,
                     "moves": dict(sorted(moves.items(), key=lambda kv: -kv[1]))}

    console.print(summary)
    console.print(f"Stability: {kept} of {len(both)} customers keep their segment from "
                  f"{middle.isoformat()} to {end.isoformat()} "
                  f"({(kept / len(both)) if both else 0:.1%}); moves: "
                  + ", ".join(f"{k} {v}" for k, v in stability["moves"].items()))
    sys.stdout.flush()
    print(json.dumps({"rules": args.rules, "auc": auc_doc, "segments": seg_doc,
                      "stability": stability}))


def _r4(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


if __name__ == "__main__":
    main()
