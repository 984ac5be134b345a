"""Benchmark: full QuickBooks Online sync into SQLite and the first write-back, relaxed and under
QBO's strict limits.

    python bench/sync_quickbooks.py [--customers 5000 --invoices 100000 --payments 80000]
                                    [--strict-scale 3] [--skip-strict]

The company is the Xero benchmark's (``bench/sync_xero.py``: same seed and sizes; the QBO
sandbox translates the Xero generator's company), with one customer type per segment of the
default rules created beforehand (``CompanySpec.customer_types``; QBO's API cannot create
them), named as the ``outbound:`` section of ``mappings/quickbooks.yaml`` names them.

Each part runs in a fresh process, the sandbox in a child process of it, the client in the
part's own process, exactly as the product runs: the ``ARCONNECT_QBO_*`` hosts point at the
sandbox, ``add_grant`` stores the grant of the company's realm, ``sync_tenants`` syncs it, then
``segment_tenant`` and the write-back (``writeback_context``, ``plan_or_resume``,
``apply_plan``) place every customer: its segment's customer type (``CustomerTypeRef``) and
terms (``SalesTermRef``), a sparse update each, 30 to a ``POST /batch``.

Relaxed: no limits in the sandbox, and the client's pacing raised out of the way, so the
figures are throughput: records per second into SQLite, the client's peak RSS, API calls
against the minimum (⌈N / 1,000⌉ per entity, at least one, plus the ``CompanyInfo`` and
``Preferences`` reads), and write calls against the minimum (⌈customers changed / 30⌉
batches, plus ⌈terms created / 30⌉: :func:`arconnect.writeback.service.min_write_calls`). A
second plan and apply must write nothing; the sandbox's own customers must then hold their
segment's type.

Strict: the same under QBO's real limits (500 requests a minute per company, 10 at once, 40
batch requests a minute; https://developer.intuit.com/app/developer/qbo/docs/learn/rest-api-features#limits-and-throttles)
on a clock scaled by --strict-scale in both the sandbox and the client. We count 429s (the
client's pacing should cause none) and compare wall times with the floors the limits impose:
N calls need ⌈N / 500⌉ minute windows and B batches ⌈B / 40⌉, so the last window opens
(windows − 1) minutes after the first call. A full sync of the default company fits one
window (its floor is 0); the write-back's batches are what the limits hold back.

SQLite files go to a temporary folder (``TMPDIR`` chooses where; /dev/shm keeps the disk out
of the figures). The sandbox renders every record's JSON before the clock starts: its one-time
rendering is not ours to measure.

Prints a table, and as its last line one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sandbox_process import SandboxProcess

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
SEED = 2026  # the Xero benchmark's
# The company's own customer types (the generator gives its customers the first two or three).
OWN_TYPES = ("Commercial", "Residential", "Wholesale")
# QBO's limits per company (adapters/quickbooks/settings.py)
MINUTE_LIMIT, BATCH_MINUTE_LIMIT, PAGE = 500, 40, 1000


def segment_types() -> dict[str, str]:
    """Segment -> customer type name, as the shipped outbound mapping names them."""
    from arconnect.segmenter.rules import load_rules
    from arconnect.services import mapping_for

    outbound = mapping_for("quickbooks").outbound(load_rules("default"))
    [slot] = [s for s in outbound.references if s.source == "segment"]
    return dict(slot.names)


def _serve(conn: Any, sizes: dict[str, int], strict: bool, scale: float,
           types: tuple[str, ...]) -> None:
    """Child process: generate the company, serve it, hand back URL and a grant; then answer
    ``stats`` and ``types`` until ``stop``."""
    from arconnect.sandbox.quickbooks import CompanySpec, QboConfig, QboSandbox

    spec = CompanySpec(name="Bench Wholesale Ltd", customers=sizes["customers"],
                       invoices=sizes["invoices"], payments=sizes["payments"],
                       customer_types=(*OWN_TYPES, *types))
    started = time.monotonic()
    sandbox = QboSandbox(QboConfig(seed=SEED, companies=[spec], client_id=CLIENT_ID,
                                   client_secret=CLIENT_SECRET, auto_approve=True,
                                   strict_limits=strict, clock_scale=scale if strict else 1.0))
    company = sandbox.companies[0]
    for table in company.tables.values():  # the one-time rendering is not ours to measure
        for key in table:
            table.json(key)
    sandbox.start(host="127.0.0.1", port=0)
    counts = {e: len(company.tables[e]) for e in ("Customer", "Invoice", "CreditMemo",
                                                  "Payment", "RefundReceipt")}
    conn.send({"url": sandbox.url, "grant": sandbox.create_grant(), "counts": counts,
               "generate_s": time.monotonic() - started})
    while (ask := conn.recv()) != "stop":
        if ask == "stats":
            conn.send(sandbox.stats.as_dict())
        elif ask == "types":
            with company.lock:
                names = {str(t["Id"]): str(t["Name"])
                         for t in company.tables["CustomerType"].values()}
                conn.send({str(c["Id"]): names.get(str((c.get("CustomerTypeRef") or {})
                                                       .get("value")))
                           for c in company.tables["Customer"].values()})
    sandbox.stop()


def _settings(url: str, db_url: str, strict: bool, scale: float) -> None:
    os.environ.update({
        "ARCONNECT_DATABASE_URL": db_url,
        "ARCONNECT_SECRET_KEY": "bench-secret-key",
        "ARCONNECT_QBO_API_URL": url,
        "ARCONNECT_QBO_AUTH_URL": f"{url}/connect/oauth2",
        "ARCONNECT_QBO_TOKEN_URL": f"{url}/oauth2/v1/tokens/bearer",
        "ARCONNECT_QBO_REVOKE_URL": f"{url}/v2/oauth2/tokens/revoke",
        "ARCONNECT_QBO_CLIENT_ID": CLIENT_ID,
        "ARCONNECT_QBO_CLIENT_SECRET": CLIENT_SECRET,
        "ARCONNECT_TIME_SCALE": str(scale if strict else 1.0),
    })
    if not strict:  # the sandbox is relaxed: so is our pacing, to measure throughput alone
        os.environ.update({"ARCONNECT_QBO_MINUTE_LIMIT": "1000000",
                           "ARCONNECT_QBO_BATCH_MINUTE_LIMIT": "1000000"})


def _calls(stats: dict[str, Any]) -> int:
    """Accounting API calls the sandbox answered (OAuth calls aside)."""
    kinds: dict[str, int] = stats["kinds"]
    return sum(n for k, n in kinds.items() if k not in ("token", "revoke", "authorize"))


def _floor(calls: int, per_minute: int, scale: float) -> float:
    """Real seconds from the first to the last call's window: ``calls`` need ⌈calls /
    per_minute⌉ windows of a minute of the scaled clock."""
    return (max(math.ceil(calls / per_minute), 1) - 1) * 60 / scale


def _writeback(db: Any, tenant: Any, ask: Any) -> dict[str, Any]:
    """Segment, then the first write-back (plan, apply), then a second that must write
    nothing; the sandbox's customers are checked against the store's segments."""
    from sqlalchemy import text

    from arconnect.segmenter.service import segment_tenant
    from arconnect.services import writeback_context
    from arconnect.writeback import service as wb

    started = time.monotonic()
    segment_tenant(db, tenant)
    segment_s = time.monotonic() - started

    ctx = writeback_context(db, tenant)
    started = time.monotonic()
    choice = wb.plan_or_resume(ctx)
    plan = choice.plan
    plan_s = time.monotonic() - started
    assert plan.erp is not None
    minimum = wb.min_write_calls(ctx, plan, plan.erp)
    changed = {op["customer"] for op in plan.ops
               if op["action"] in ("terms.set", "field.set") and op["customer"]}
    before = ask("stats")
    started = time.monotonic()
    result = wb.apply_plan(ctx, plan, approved_by="bench", fresh=choice.fresh, budget=10**6)
    apply_s = time.monotonic() - started
    after = ask("stats")
    if result.status != "applied":
        raise SystemExit(f"write-back {result.status}: {result.errors[:3]}")

    again = wb.plan_or_resume(ctx, save_empty=False)
    second = (wb.apply_plan(ctx, again.plan, approved_by="bench", fresh=again.fresh,
                            budget=10**6) if again.plan.ops else None)

    [slot] = [s for s in ctx.outbound.references if s.source == "segment"]
    with db.connect() as conn:
        assigned = dict(conn.execute(text(  # what write-back writes: active customers
            "SELECT a.customer_external_id, a.segment FROM segment_assignment a"
            " JOIN customer c ON c.tenant_id = a.tenant_id"
            "  AND c.external_id = a.customer_external_id"
            " WHERE a.tenant_id = :t AND NOT c.is_archived"), {"t": tenant.id}).all())
    held = ask("types")
    wrong = sorted(c for c, s in assigned.items() if held.get(str(c)) != slot.names[s])
    batches = after["kinds"].get("batch", 0) - before["kinds"].get("batch", 0)
    return {
        "segment_s": round(segment_s, 2),
        "plan_s": round(plan_s, 2),
        "apply_s": round(apply_s, 2),
        "operations": plan.summary.get("operations", {}),
        "changed_customers": len(changed),
        "write_calls": result.write_calls,
        "write_calls_min": minimum,
        "batches_seen": batches,
        "write_429s": sum(after["throttled"].values()) - sum(before["throttled"].values()),
        "write_429s_by_limit": {k: n - before["throttled"].get(k, 0)
                                for k, n in after["throttled"].items()
                                if n > before["throttled"].get(k, 0)},
        "second_run_ops": len(again.plan.ops),
        "second_run_write_calls": second.write_calls if second else 0,
        "customers_checked": len(assigned),
        "customers_wrong_type": len(wrong),
        "wrong_examples": wrong[:5],
    }


def run_part(part: str, sizes: dict[str, int], scale: float) -> dict[str, Any]:
    """One measured sync and write-back (in this process), against a sandbox in a child
    process."""
    strict = part == "strict"
    types = segment_types()
    child = SandboxProcess(_serve, sizes, strict, scale, tuple(sorted(set(types.values()))))
    answer, ask = child.answer, child.ask
    info = answer()

    tmp = tempfile.mkdtemp(prefix=f"arconnect-bench-qbo-{part}-")

    atexit.register(shutil.rmtree, tmp, True)  # the store goes with the process
    _settings(info["url"], f"sqlite:///{tmp}/bench.db", strict, scale)
    from arconnect.adapters.quickbooks.settings import get_qbo_settings
    from arconnect.auth.service import add_grant
    from arconnect.auth.vault import get_vault
    from arconnect.services import sync_tenants
    from arconnect.settings import get_settings
    from arconnect.store.db import get_engine

    get_settings.cache_clear()
    get_qbo_settings.cache_clear()
    db = get_engine()
    [tenant] = add_grant(db, "quickbooks", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         refresh_token=info["grant"]["refresh_token"],
                         tenant_id=info["grant"]["realmId"], vault=get_vault())
    connected = ask("stats")  # add_grant read CompanyInfo to name the company
    started = time.monotonic()
    [result] = sync_tenants(db, None, full=True)
    wall = time.monotonic() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    synced = ask("stats")
    if not result.ok:
        child.stop()
        raise SystemExit(f"{part} sync failed: {result.status}: {result.error}")
    wb_out = _writeback(db, tenant, ask)
    child.stop()

    records = sum(result.records.values())
    minimum = 2 + sum(max(1, math.ceil(n / PAGE)) for n in result.records.values())
    out: dict[str, Any] = {
        "part": part,
        "records": records,
        "by_entity": result.records,
        "sandbox_counts": info["counts"],
        "seconds": round(wall, 2),
        "records_per_s": round(records / wall, 1),
        "api_calls": result.api_calls,
        "api_calls_seen": _calls(synced) - _calls(connected),
        "api_calls_min": minimum,
        "http_429s": result.http_429s,
        "sandbox_429s": sum(synced["throttled"].values()),
        "peak_rss_mb": round(rss, 1),
        "generate_s": round(info["generate_s"], 1),
        "writeback": wb_out,
    }
    if strict:
        out["floor_s"] = round(_floor(result.api_calls, MINUTE_LIMIT, scale), 2)
        out["writeback"]["floor_s"] = round(max(
            _floor(wb_out["write_calls"], BATCH_MINUTE_LIMIT, scale),
            _floor(wb_out["write_calls"], MINUTE_LIMIT, scale)), 2)
    return out


def _report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    title = (f"QuickBooks Online full sync: {args.customers:,} customers, {args.invoices:,} "
             f"invoices, {args.payments:,} payments (SQLite)")
    table = Table(title=title, title_justify="left")
    for col in ("run", "records", "seconds", "records/s", "API calls", "minimum", "calls/min",
                "429s", "peak RSS MB", "floor s", "wall / floor"):
        table.add_column(col, justify="right")
    for part, r in results.items():
        floor = r.get("floor_s")
        table.add_row(part, f"{r['records']:,}", f"{r['seconds']:.1f}",
                      f"{r['records_per_s']:,.0f}", str(r["api_calls"]), str(r["api_calls_min"]),
                      f"{r['api_calls'] / r['api_calls_min']:.3f}", str(r["http_429s"]),
                      f"{r['peak_rss_mb']:.0f}", f"{floor:.1f}" if floor is not None else "—",
                      f"{r['seconds'] / floor:.3f}" if floor else "—")
    console.print(table)

    table = Table(title="Write-back after the sync: every customer's type and terms "
                  "(segment, plan, apply; a second run)", title_justify="left")
    for col in ("run", "customers changed", "write calls", "minimum", "calls/min", "429s",
                "plan s", "apply s", "floor s", "second run calls", "wrong types"):
        table.add_column(col, justify="right")
    for part, r in results.items():
        w = r["writeback"]
        floor = w.get("floor_s")
        table.add_row(part, f"{w['changed_customers']:,}", str(w["write_calls"]),
                      str(w["write_calls_min"]),
                      f"{w['write_calls'] / w['write_calls_min']:.3f}"
                      if w["write_calls_min"] else "—",
                      str(w["write_429s"]), f"{w['plan_s']:.1f}", f"{w['apply_s']:.1f}",
                      f"{floor:.1f}" if floor is not None else "—",
                      str(w["second_run_write_calls"]),
                      f"{w['customers_wrong_type']} of {w['customers_checked']:,}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--payments", type=int, default=80_000)
    parser.add_argument("--strict-scale", type=float, default=3.0,
                        help="clock seconds per real second in the strict run")
    parser.add_argument("--skip-strict", action="store_true")
    parser.add_argument("--part", choices=["relaxed", "strict"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = {"customers": args.customers, "invoices": args.invoices, "payments": args.payments}

    if args.part:  # a child run: one part, JSON on stdout
        print(json.dumps(run_part(args.part, sizes, args.strict_scale)))
        return

    results = {}
    for part in ["relaxed"] + ([] if args.skip_strict else ["strict"]):
        # each part in a fresh process: clean RSS, pacers and clock
        cmd = [sys.executable, __file__, "--part", part, "--customers", str(args.customers),
               "--invoices", str(args.invoices), "--payments", str(args.payments),
               "--strict-scale", str(args.strict_scale)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.stderr.write(out.stdout + out.stderr)
            raise SystemExit(f"bench part {part} failed")
        results[part] = json.loads(out.stdout.strip().splitlines()[-1])

    _report(args, results)
    relaxed, strict = results["relaxed"], results.get("strict", {})
    swb = strict.get("writeback", {})
    print(json.dumps({
        "records": relaxed["records"],
        "records_per_s": relaxed["records_per_s"],
        "api_calls": relaxed["api_calls"],
        "api_calls_min": relaxed["api_calls_min"],
        "write_calls": relaxed["writeback"]["write_calls"],
        "write_calls_min": relaxed["writeback"]["write_calls_min"],
        "peak_rss_mb": relaxed["peak_rss_mb"],
        "changed_customers": relaxed["writeback"]["changed_customers"],
        "second_run_write_calls": relaxed["writeback"]["second_run_write_calls"],
        "strict_wall_s": strict.get("seconds"),
        "strict_floor_s": strict.get("floor_s"),
        "strict_429s": strict.get("http_429s"),
        "strict_write_calls": swb.get("write_calls"),
        "strict_apply_s": swb.get("apply_s"),
        "strict_apply_floor_s": swb.get("floor_s"),
        "strict_write_429s": swb.get("write_429s"),
        "strict_scale": args.strict_scale if strict else None,
    }))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
