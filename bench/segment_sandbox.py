"""Benchmark: where the segments put the sandbox's payment archetypes.

    python bench/segment_sandbox.py [--rules FILE|PRESET] [--customers 300 --invoices 6000]
                                    [--seed 42] [--start 2026-12-01]

The Xero sandbox generates the demo company (the demo's seed and size by default) whose customers
follow known payment archetypes (``arconnect.sandbox.xero.generator``: early, on_time, late,
deteriorating, new, partial, non_payer). The company is synced over HTTP into a temporary SQLite
store like any organisation, segmented as of the sandbox's day, and each archetype's customers are
counted per segment. The archetype is the generator's, never served by the API: it is the answer
key, not an input.

Targets (issue 10): At risk holds at least 80 % of the non-paying and partly-paying customers and
at most 10 % of the early and on-time ones.

Prints the archetype × segment table, and as its last line one JSON object: ``segments`` (per
archetype, customers per segment), ``at_risk`` (share of each archetype in At risk) and the two
target shares ``at_risk_bad`` and ``at_risk_good``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, date, datetime

GOOD = ("early", "on_time")
BAD = ("non_payer", "partial")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", default="default", help="rules file or preset")
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--invoices", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", default="2026-12-01", help="the sandbox's today")
    parser.add_argument("--at-risk", default="At risk", help="the segment that holds credit")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from arconnect.auth.service import add_grant
    from arconnect.auth.vault import get_vault
    from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox
    from arconnect.segmenter.rules import load_rules
    from arconnect.segmenter.service import segment_tenant
    from arconnect.services import find_tenants, sync_tenants
    from arconnect.settings import get_settings
    from arconnect.store.db import dispose_engines, get_engine, upgrade

    start = datetime.combine(date.fromisoformat(args.start), datetime.min.time(), UTC)
    sandbox = XeroSandbox(SandboxConfig(
        seed=args.seed, start=start, strict_limits=False, client_id="cid",
        client_secret="secret",
        orgs=[OrgSpec(name="Demo Company (NZ)", base_currency="NZD",
                      timezone="NEWZEALANDSTANDARDTIME", customers=args.customers,
                      invoices=args.invoices, payments=args.invoices * 2,
                      suppliers=max(5, args.customers // 10), bills=args.invoices // 10)]))
    archetypes = dict(sandbox.orgs[0].archetypes)
    sandbox.start(host="127.0.0.1", port=0)
    console = Console(width=130)
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/sandbox.db"
        os.environ.update({
            "ARCONNECT_DATABASE_URL": db_url, "ARCONNECT_SECRET_KEY": "bench",
            "ARCONNECT_XERO_API_URL": sandbox.url, "ARCONNECT_XERO_IDENTITY_URL": sandbox.url,
            "ARCONNECT_XERO_LOGIN_URL": sandbox.url})
        get_settings.cache_clear()
        try:
            db = get_engine(db_url)
            upgrade(db)
            add_grant(db, "xero", client_id="cid", client_secret="secret",
                           refresh_token=sandbox.create_grant()["refresh_token"],
                           vault=get_vault())
            if not sync_tenants(db, None, full=True)[0].ok:
                raise SystemExit("the sandbox sync failed")
            tenant = find_tenants(db)[0]
            run = segment_tenant(db, tenant, rules=load_rules(args.rules), dry_run=True,
                                 run_date=start.date())
        finally:
            sandbox.stop()
            dispose_engines()

    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in run.results:
        kind = archetypes.get(r.customer_id)
        if kind is not None:
            counts[kind][r.assignment.segment] += 1
    segments = [s.name for s in load_rules(args.rules).segments]
    table = Table(title=f"Sandbox archetypes × segments ({args.rules}, as of {run.run_date})")
    table.add_column("archetype")
    for name in segments:
        table.add_column(name, justify="right")
    table.add_column(f"in {args.at_risk}", justify="right")
    at_risk = {}
    for kind in ("early", "on_time", "new", "deteriorating", "late", "partial", "non_payer"):
        row = counts.get(kind, Counter())
        total = sum(row.values())
        share = row[args.at_risk] / total if total else 0.0
        at_risk[kind] = round(share, 4)
        table.add_row(kind, *(str(row[name]) for name in segments), f"{share:.0%}")
    console.print(table)

    def pooled(kinds: tuple[str, ...]) -> float:
        total = sum(sum(counts[k].values()) for k in kinds)
        return sum(counts[k][args.at_risk] for k in kinds) / total if total else 0.0

    bad, good = pooled(BAD), pooled(GOOD)
    console.print(f"{args.at_risk}: {bad:.1%} of the non-paying and partly-paying customers "
                  f"(target ≥ 80 %), {good:.1%} of the early and on-time ones (target ≤ 10 %)")
    print(json.dumps({"rules": args.rules, "run_date": run.run_date.isoformat(),
                      "segments": {k: dict(v) for k, v in sorted(counts.items())},
                      "at_risk": at_risk, "at_risk_bad": round(bad, 4),
                      "at_risk_good": round(good, 4)}))


if __name__ == "__main__":
    main()
