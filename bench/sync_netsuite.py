"""Benchmark: full NetSuite sync into SQLite, the first write-back, and an account past
SuiteQL's row cap.

    python bench/sync_netsuite.py [--customers 5000 --invoices 100000 --payments 80000]
                                  [--big-invoices 250000] [--skip-big]

The account is generated from the Xero benchmark's history (``bench/sync_xero.py``: same seed
and sizes; the NetSuite sandbox translates the Xero generator's company into a OneWorld account
with two subsidiaries, the Dunning Letters SuiteApp and its three procedures). Each part runs in
a fresh process, the sandbox in a child process of it, the client in the part's own process,
exactly as the product runs: ``ARCONNECT_NETSUITE_REST_URL`` and ``…_APP_URL`` point at the
sandbox in path form (``<url>/{account}``), an authorization-code grant is stored as ``tenants
add netsuite`` stores it (``NetSuitePlatform.headless_grant``, ``add_grant``) and
``sync_tenants`` syncs it.

1. **Full sync** (relaxed: the sandbox refuses nothing over the account's concurrency limit, and
   the client's concurrency and minute window are raised out of the way): records per second
   into SQLite, the client's peak RSS, and the REST calls the sandbox answered (SuiteQL pages,
   record reads and writes, ``governanceLimits``; token calls aside) against the minimum: one
   page per 1,000 rows of every table read —

   - ``customer``; ``transaction`` for each type (``CustInvc``, ``CustCred``, ``CustPymt``);
   - ``nexttransactionlinelink``: the rows whose ``nextdoc`` is a credit memo or a payment (what
     the applications of those are read from, counted in the account);
   - ``deletedrecord`` per record type (``customer``, ``invoice``, ``creditmemo``,
     ``customerpayment``), at least one page each (the query that finds none is still made);

   plus the six fixed set-up calls of a run: ``currency``, ``subsidiary`` and
   ``governanceLimits`` (the account's facts), ``term``, ``customercategory`` and
   ``customrecord_3805_dunning_procedure`` (the lists customers refer to). Targets: at most
   1.05 times the minimum, at least 10,000 records a second.
2. **Write-back** after the sync: segment, plan, apply (approved) — every customer's category
   (``AR {segment}``, created when missing), hold, dunning procedure, terms and credit limit in
   one ``PATCH`` — write calls against the minimum
   (:func:`arconnect.writeback.service.min_write_calls`: one ``PATCH`` per customer changed
   plus one ``POST`` per category created); a second plan and apply must write nothing; the
   sandbox's own customers must then hold their segment's category.
3. **Big account**: ``--big-invoices`` invoices (customers and payments in the default
   account's proportions: one customer per 20 invoices, 0.8 payments per invoice) with the
   sandbox's real row cap (100,000 rows reached by ``offset``). Keyset pages (``id > N``,
   ``offset=0``) never come near the cap; the sandbox refuses any ``offset`` at or past it with
   400, so a completed sync shows that no read paged by position that far. Generating such an
   account takes a while; that time is reported apart and is not part of records per second.

SQLite files go to a temporary folder (``TMPDIR`` chooses where; /dev/shm keeps the disk out
of the figures). Prints a table per part, and as its last line one JSON object with the
figures.
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

CLIENT_ID, CLIENT_SECRET = "bench-ns-client", "bench-ns-secret"
ACCOUNT = "1234567_SB1"
SEED = 2026  # the Xero benchmark's
PAGE = 1000  # SuiteQL's largest page
ROW_CAP = 100_000  # rows one SuiteQL result reaches by offset (NetSuite, without Connect)
# The fixed set-up calls of a run (adapters/netsuite/adapter.py: _setup and _lookups).
SETUP_CALLS = ("currency", "subsidiary", "governanceLimits", "term", "customercategory",
               "customrecord_3805_dunning_procedure")
# the sync's entities -> (transaction type or None for customers, deletedrecord type)
ENTITIES = {"customers": (None, "customer"), "invoices": ("CustInvc", "invoice"),
            "credit_memos": ("CustCred", "creditmemo"),
            "payments": ("CustPymt", "customerpayment")}
NOT_CALLS = ("token", "rows_returned")  # sandbox stats kinds that are no REST call


def big_sizes(invoices: int) -> dict[str, int]:
    """The big account's sizes: the default account's proportions (5,000 customers and 80,000
    payments to 100,000 invoices)."""
    return {"customers": max(1, invoices // 20), "invoices": invoices,
            "payments": invoices * 4 // 5}


def _counts(account: Any) -> dict[str, Any]:
    """What a full read must read, counted in the sandbox's account: rows per entity, link
    rows of credit memos and payments, deletedrecord rows per record type."""
    from arconnect.sandbox.netsuite.model import CREDIT, PAYMENT

    with account.lock:
        kinds: dict[str, int] = {}
        for row in account.transactions:
            kinds[row["type"]] = kinds.get(row["type"], 0) + 1
        links = sum(1 for r in account.links if r["nexttype"] in (CREDIT, PAYMENT))
        _, rtype, _, _ = account.config.deleted_columns
        deleted: dict[str, int] = {}
        for row in account.deleted.rows():
            deleted[row[rtype]] = deleted.get(row[rtype], 0) + 1
        rows = {entity: (len(account.customers) if kind is None else kinds.get(kind, 0))
                for entity, (kind, _) in ENTITIES.items()}
        return {"rows": rows, "links": links,
                "deleted": {entity: deleted.get(dtype, 0)
                            for entity, (_, dtype) in ENTITIES.items()},
                "transactions": len(account.transactions)}


def minimum_calls(counts: dict[str, Any]) -> dict[str, int]:
    """The fewest calls a full read takes, by what they read (see the module docstring)."""
    pages = {f"{e} pages": max(1, math.ceil(n / PAGE)) for e, n in counts["rows"].items()}
    deleted = {f"{e} deletedrecord": max(1, math.ceil(n / PAGE))
               for e, n in counts["deleted"].items()}
    return {**pages, "link pages": math.ceil(counts["links"] / PAGE), **deleted,
            "set-up": len(SETUP_CALLS)}


def _serve(conn: Any, sizes: dict[str, int], row_cap: int) -> None:
    """Child process: generate the account, serve it (relaxed), hand back URL, a grant and the
    counts; then answer ``stats`` and ``categories`` until ``stop``."""
    from arconnect.sandbox.netsuite import AccountSpec, NsConfig, NsSandbox

    spec = AccountSpec(account_id=ACCOUNT, name="Bench Wholesale Ltd",
                       customers=sizes["customers"], invoices=sizes["invoices"],
                       payments=sizes["payments"])
    started = time.monotonic()
    sandbox = NsSandbox(NsConfig(seed=SEED, accounts=[spec], client_id=CLIENT_ID,
                                 client_secret=CLIENT_SECRET, strict_limits=False,
                                 row_cap=row_cap))
    account = sandbox.account(ACCOUNT)
    generate_s = time.monotonic() - started
    sandbox.start(host="127.0.0.1", port=0)
    conn.send({"url": sandbox.url, "grant": sandbox.create_grant(ACCOUNT),
               "counts": _counts(account), "timezone": spec.timezone,
               "generate_s": generate_s})
    while (ask := conn.recv()) != "stop":
        if ask == "stats":
            conn.send(dict(sandbox.stats.by_account.get(account.account_id, {})))
        elif ask == "cpu":  # CPU seconds of this process (every thread)
            conn.send(time.process_time())
        elif ask == "categories":  # customer id -> its category's name
            with account.lock:
                names = {r["id"]: r["name"] for r in account.tables["customercategory"]}
                conn.send({str(r["id"]): names.get(r["category"]) for r in account.customers})
    sandbox.stop()


def _settings(url: str, db_url: str, timezone: str) -> None:
    base = f"{url}/{{account}}"
    os.environ.update({
        "ARCONNECT_DATABASE_URL": db_url,
        "ARCONNECT_SECRET_KEY": "bench-secret-key",
        "ARCONNECT_NETSUITE_REST_URL": base,
        "ARCONNECT_NETSUITE_APP_URL": base,
        "ARCONNECT_NETSUITE_CLIENT_ID": CLIENT_ID,
        "ARCONNECT_NETSUITE_CLIENT_SECRET": CLIENT_SECRET,
        "ARCONNECT_NETSUITE_TIMEZONE": timezone,
        # the sandbox is relaxed: so is our pacing, to measure throughput alone
        "ARCONNECT_NETSUITE_CONCURRENCY": "64",
        "ARCONNECT_NETSUITE_MINUTE_LIMIT": "1000000",
    })


def _calls(stats: dict[str, int]) -> int:
    """REST calls the sandbox answered (token calls and the rows counter aside)."""
    return sum(n for kind, n in stats.items() if kind not in NOT_CALLS)


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


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
    before_plan = ask("stats")
    started = time.monotonic()
    choice = wb.plan_or_resume(ctx)
    plan = choice.plan
    plan_s = time.monotonic() - started
    assert plan.erp is not None
    minimum = wb.min_write_calls(ctx, plan, plan.erp)
    changed = {op["customer"] for op in plan.ops
               if op["action"] in ("terms.set", "field.set") and op["customer"]}
    created = sum(1 for op in plan.ops if op["action"] == "object.create")
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
    final = ask("stats")

    [slot] = [s for s in ctx.outbound.references
              if s.source == "segment" and s.target == "category"]
    with db.connect() as conn:
        assigned = dict(conn.execute(text(  # what write-back writes: active customers
            "SELECT a.customer_external_id, a.segment FROM segment_assignment a"
            " JOIN customer c ON c.tenant_id = a.tenant_id"
            "  AND c.external_id = a.customer_external_id"
            " WHERE a.tenant_id = :t AND NOT c.is_archived"), {"t": tenant.id}).all())
    held = ask("categories")
    wrong = sorted(c for c, s in assigned.items() if held.get(str(c)) != slot.names[s])
    writes = _delta(after, before)
    return {
        "segment_s": round(segment_s, 2),
        "plan_s": round(plan_s, 2),
        "apply_s": round(apply_s, 2),
        "plan_reads": _calls(_delta(before, before_plan)),
        "operations": plan.summary.get("operations", {}),
        "changed_customers": len(changed),
        "categories_created": created,
        "write_calls": result.write_calls,
        "write_calls_min": minimum,
        "writes_seen": writes.get("record_patch", 0) + writes.get("record_post", 0),
        "apply_calls_by_kind": {k: n for k, n in writes.items() if k not in NOT_CALLS},
        "second_run_ops": len(again.plan.ops),
        "second_run_write_calls": second.write_calls if second else 0,
        "second_run_writes_seen": sum(_delta(final, after).get(k, 0)
                                      for k in ("record_patch", "record_post")),
        "customers_checked": len(assigned),
        "customers_wrong_category": len(wrong),
        "wrong_examples": wrong[:5],
    }


def run_part(part: str, sizes: dict[str, int]) -> dict[str, Any]:
    """One measured sync (and, for ``full``, the write-back) in this process, against a
    sandbox in a child process."""
    child = SandboxProcess(_serve, sizes, ROW_CAP)
    answer, ask = child.answer, child.ask
    info = answer()
    tmp = tempfile.mkdtemp(prefix=f"arconnect-bench-ns-{part}-")
    atexit.register(shutil.rmtree, tmp, True)  # the store goes with the process
    _settings(info["url"], f"sqlite:///{tmp}/bench.db", info["timezone"])
    from arconnect.adapters.netsuite.settings import get_ns_settings
    from arconnect.auth.service import add_grant
    from arconnect.auth.vault import get_vault
    from arconnect.platforms import get_platform
    from arconnect.services import sync_tenants
    from arconnect.settings import get_settings
    from arconnect.store.db import get_engine

    get_settings.cache_clear()
    get_ns_settings.cache_clear()  # type: ignore[attr-defined]
    db = get_engine()
    client_id, client_secret, secret = get_platform("netsuite").headless_grant(
        get_settings(), {"account": ACCOUNT, "client_id": CLIENT_ID,
                         "client_secret": CLIENT_SECRET,
                         "refresh_token": info["grant"]["refresh_token"]})
    [tenant] = add_grant(db, "netsuite", client_id=client_id, client_secret=client_secret,
                         refresh_token=secret, tenant_id=ACCOUNT, vault=get_vault())
    connected = ask("stats")  # what connecting read (the account's name)
    sandbox_cpu = ask("cpu")
    started, cpu = time.monotonic(), time.process_time()
    [result] = sync_tenants(db, None, full=True)
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    sandbox_cpu = ask("cpu") - sandbox_cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    synced = ask("stats")
    if not result.ok:
        child.stop()
        raise SystemExit(f"{part} sync failed: {result.status}: {result.error}")
    wb_out = _writeback(db, tenant, ask) if part == "full" else None
    child.stop()

    counts = info["counts"]
    minimum = minimum_calls(counts)
    sync_kinds = _delta(synced, connected)
    records = sum(result.records.values())
    out: dict[str, Any] = {
        "part": part,
        "sizes": sizes,
        "records": records,
        "by_entity": result.records,
        "account_rows": counts["rows"],
        "account_links": counts["links"],
        "account_deleted": counts["deleted"],
        "account_transactions": counts["transactions"],
        "seconds": round(wall, 2),
        "records_per_s": round(records / wall, 1),
        "client_cpu_s": round(cpu, 2),
        "sandbox_cpu_s": round(sandbox_cpu, 2),
        "api_calls": _calls(sync_kinds),
        "api_calls_client": result.api_calls,
        "api_calls_min": sum(minimum.values()),
        "api_calls_min_by_read": minimum,
        "calls_by_kind": {k: n for k, n in sync_kinds.items() if k not in NOT_CALLS},
        "rows_returned": sync_kinds.get("rows_returned", 0),
        "http_429s": result.http_429s,
        "peak_rss_mb": round(rss, 1),
        "generate_s": round(info["generate_s"], 1),
        "row_cap": ROW_CAP,
        # a read paged by position would have needed offset >= row_cap, which the sandbox
        # refuses: keyset pages alone get past it
        "past_row_cap": counts["transactions"] > ROW_CAP,
    }
    if wb_out is not None:
        out["writeback"] = wb_out
    return out


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "—"


def _report(results: dict[str, dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    for part, r in results.items():
        s = r["sizes"]
        title = (f"NetSuite full sync ({part}): {s['customers']:,} customers, "
                 f"{s['invoices']:,} invoices, {s['payments']:,} payments asked "
                 f"(SQLite; account generated in {r['generate_s']:.0f} s, not counted)")
        table = Table(title=title, title_justify="left")
        for col in ("records", "seconds", "records/s", "client CPU s", "sandbox CPU s",
                    "REST calls", "minimum", "calls/min", "client calls", "429s", "RSS MB",
                    "txn rows", "row cap"):
            table.add_column(col, justify="right")
        table.add_row(f"{r['records']:,}", f"{r['seconds']:.1f}", f"{r['records_per_s']:,.0f}",
                      f"{r['client_cpu_s']:.1f}", f"{r['sandbox_cpu_s']:.1f}",
                      str(r["api_calls"]), str(r["api_calls_min"]),
                      _ratio(r["api_calls"], r["api_calls_min"]), str(r["api_calls_client"]),
                      str(r["http_429s"]), f"{r['peak_rss_mb']:.0f}",
                      f"{r['account_transactions']:,}", f"{r['row_cap']:,}")
        console.print(table)
        table = Table(title=f"The minimum, by what it reads ({part}), and the calls the "
                      "sandbox answered", title_justify="left",
                      caption="set-up: " + ", ".join(SETUP_CALLS), caption_justify="left")
        table.add_column("read", justify="left")
        table.add_column("rows", justify="right")
        table.add_column("minimum calls", justify="right")
        rows = {**{f"{e} pages": n for e, n in r["account_rows"].items()},
                "link pages": r["account_links"],
                **{f"{e} deletedrecord": n for e, n in r["account_deleted"].items()}}
        for read, n in r["api_calls_min_by_read"].items():
            table.add_row(read, f"{rows[read]:,}" if read in rows else "—", str(n))
        table.add_row("answered, by kind", f"{r['rows_returned']:,} rows",
                      ", ".join(f"{k} {n}" for k, n in sorted(r["calls_by_kind"].items())))
        console.print(table)

    for r in results.values():
        w = r.get("writeback")
        if w is None:
            continue
        table = Table(title="Write-back after the sync: every customer's category, hold, "
                      "dunning procedure, terms and credit limit, one PATCH each (segment, "
                      "plan, apply; a second run)", title_justify="left")
        for col in ("customers changed", "categories created", "write calls", "minimum",
                    "calls/min", "PATCH+POST seen", "plan s", "apply s", "second run calls",
                    "wrong categories"):
            table.add_column(col, justify="right")
        table.add_row(f"{w['changed_customers']:,}", str(w["categories_created"]),
                      str(w["write_calls"]), str(w["write_calls_min"]),
                      _ratio(w["write_calls"], w["write_calls_min"]), str(w["writes_seen"]),
                      f"{w['plan_s']:.1f}", f"{w['apply_s']:.1f}",
                      str(w["second_run_write_calls"]),
                      f"{w['customers_wrong_category']} of {w['customers_checked']:,}")
        console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--payments", type=int, default=80_000)
    parser.add_argument("--big-invoices", type=int, default=250_000,
                        help="invoices of the big account (customers and payments in "
                             "proportion)")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--part", choices=["full", "big"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = {"customers": args.customers, "invoices": args.invoices, "payments": args.payments}
    big = big_sizes(args.big_invoices)

    if args.part:  # a child run: one part, JSON on stdout
        print(json.dumps(run_part(args.part, sizes if args.part == "full" else big)))
        return

    results = {}
    for part in ["full"] + ([] if args.skip_big else ["big"]):
        # each part in a fresh process: clean RSS, pacer and settings
        cmd = [sys.executable, __file__, "--part", part, "--customers", str(args.customers),
               "--invoices", str(args.invoices), "--payments", str(args.payments),
               "--big-invoices", str(args.big_invoices)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.stderr.write(out.stdout + out.stderr)
            raise SystemExit(f"bench part {part} failed")
        results[part] = json.loads(out.stdout.strip().splitlines()[-1])

    _report(results)
    full, bigr = results["full"], results.get("big", {})
    wb = full["writeback"]
    print(json.dumps({
        "records": full["records"],
        "records_per_s": full["records_per_s"],
        "api_calls": full["api_calls"],
        "api_calls_min": full["api_calls_min"],
        "write_calls": wb["write_calls"],
        "write_calls_min": wb["write_calls_min"],
        "peak_rss_mb": full["peak_rss_mb"],
        "changed_customers": wb["changed_customers"],
        "second_run_write_calls": wb["second_run_write_calls"],
        "wrong_categories": wb["customers_wrong_category"],
        "big_invoices": bigr.get("account_rows", {}).get("invoices"),
        "big_records": bigr.get("records"),
        "big_past_row_cap": bigr.get("past_row_cap"),
        "big_seconds": bigr.get("seconds"),
        "big_records_per_s": bigr.get("records_per_s"),
        "big_api_calls": bigr.get("api_calls"),
        "big_api_calls_min": bigr.get("api_calls_min"),
        "big_generate_s": bigr.get("generate_s"),
        "big_peak_rss_mb": bigr.get("peak_rss_mb"),
    }))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
