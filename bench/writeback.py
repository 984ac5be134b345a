"""Benchmark: Xero write-back of segment changes — write calls against the minimum, and time.

    python bench/writeback.py [--customers 10000 --changed 2000 --seed 7]
                              [--invoices 60000 --payments 45000] [--profile 25]

One process, a temporary SQLite store and a relaxed sandbox organisation (no limits on the
sandbox's side) of ``--customers`` customers, served from a thread of this process:

1. connect, full sync, segment run (``segment_tenant``);
2. initial placement: plan, store, apply — every customer goes into its ``AR: {segment}`` group,
   gets its segment's terms and one History note for its credit limit;
3. ``--changed`` customers (not archived, not merged; picked with ``random.Random(--seed)``)
   change segment: each moves to another segment of the rules (picked with the same generator),
   written straight into ``segment_assignment`` as a segment run would: ``terms_days`` 15 for
   "Chronic late" and NULL otherwise, ``credit_hold`` for "At risk" only, and ``credit_limit``
   0 for "At risk", 1,000 (the starter limit) for "New", and for the other segments the current
   limit where it is above 0, else 1,000 — so the customers who move into or out of "At risk"
   or into "New" get a new limit note, the others none;
4. plan the changes (with the contacts' refresh and the live read of the groups), store the
   plan, apply it; ``write_calls`` is what the apply made, ``write_calls_min`` what
   :func:`arconnect.writeback.service.min_write_calls` says the plan needs at the fewest: per
   group min(removals + ⌈adds / B⌉, 1 + ⌈members after / B⌉), plus ⌈terms changes / B⌉, plus
   one call per changed limit note, B the batch size (50), plus one call when groups are created;
5. plan and apply again: nothing is left to write (``second_run_write_calls``, 0 expected);
6. check the sandbox's own state: every non-archived, non-merged assigned customer is in exactly
   one of the segment groups, its segment's, and no other customer is in any of them.

Every apply runs with ``budget=10**6`` (the day's write-back share would stop it part-way).
The sandbox is relaxed, and so is the client's day budget (``ARCONNECT_XERO_DAY_LIMIT``); the
client keeps its pacing of 60 calls a minute, on a clock scaled 600 times
(``set_clock(Clock(600.0))``), so that pacing (about 600 calls a real second) does not dominate:
the seconds measure our planning, the store's writes and the HTTP round trips to the sandbox.
The sandbox answers from a thread of this process, so the time "in write calls" (the apply's
client requests, pacing included) holds the sandbox's own handling too; the rest of the apply
is compiling the calls and recording each call's audit rows and states in the store.

``seconds`` in the JSON is the changes' plan (refresh, ERP read, planning, storing the plan)
plus their apply, wall time. ``--profile N`` also prints the N costliest functions (cumulative)
of that plan and apply to stderr.

Prints a table to stderr, and as its last line on stdout one JSON object.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
GROUP_PREFIX = "AR: "


class Timer:
    """Wall seconds per named step."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.steps[name] = self.steps.get(name, 0.0) + time.perf_counter() - started


class CallMeter:
    """Counts and times the write-back client's requests, reads and writes apart."""

    def __init__(self, client: Any) -> None:
        self.calls = {"read": 0, "write": 0}
        self.seconds = {"read": 0.0, "write": 0.0}
        inner = client.request

        def request(method: str, path: str, **kwargs: Any) -> Any:
            kind = "read" if method.upper() == "GET" else "write"
            started = time.perf_counter()
            try:
                return inner(method, path, **kwargs)
            finally:
                self.calls[kind] += 1
                self.seconds[kind] += time.perf_counter() - started

        client.request = request

    def reset(self) -> None:
        self.calls = {"read": 0, "write": 0}
        self.seconds = {"read": 0.0, "write": 0.0}


def _timed_refresh(refresh: Callable[[], None] | None, timer: Timer,
                   name: str) -> Callable[[], None] | None:
    if refresh is None:
        return None

    def run() -> None:
        with timer.step(name):
            refresh()

    return run


def start_sandbox(customers: int, invoices: int, payments: int) -> Any:
    from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox

    org = OrgSpec(name="Bench Wholesale Ltd", customers=customers, invoices=invoices,
                  payments=payments, suppliers=max(10, customers // 200),
                  bills=max(50, invoices // 100))
    sandbox = XeroSandbox(SandboxConfig(seed=2026, orgs=[org], client_id=CLIENT_ID,
                                        client_secret=CLIENT_SECRET, auto_approve=True,
                                        strict_limits=False))
    sandbox.start(host="127.0.0.1", port=0)
    sandbox.wait_rendered()
    return sandbox


def point_settings_at(url: str, db_url: str) -> None:
    os.environ.update({
        "ARCONNECT_DATABASE_URL": db_url,
        "ARCONNECT_SECRET_KEY": "bench-secret-key",
        "ARCONNECT_XERO_API_URL": url,
        "ARCONNECT_XERO_IDENTITY_URL": url,
        "ARCONNECT_XERO_LOGIN_URL": url,
        "ARCONNECT_XERO_CLIENT_ID": CLIENT_ID,
        "ARCONNECT_XERO_CLIENT_SECRET": CLIENT_SECRET,
        # the sandbox is relaxed: a day's budget must not stop 10,000 History notes
        "ARCONNECT_XERO_DAY_LIMIT": "1000000",
    })
    from arconnect.settings import get_settings

    get_settings.cache_clear()


def live_customers(db: Any, tenant_id: int) -> list[tuple[str, str, Any]]:
    """(id, segment, credit limit) of the assigned customers write-back writes (not archived,
    not merged), in id order."""
    from sqlalchemy import text

    with db.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.customer_external_id, a.segment, a.credit_limit FROM segment_assignment a"
            " JOIN customer c ON c.tenant_id = a.tenant_id"
            "  AND c.external_id = a.customer_external_id"
            " WHERE a.tenant_id = :t AND NOT c.is_archived"
            "  AND (c.merged_into_external_id IS NULL OR c.merged_into_external_id = '')"
            " ORDER BY a.customer_external_id"), {"t": tenant_id}).all()
    return [(str(c), str(s), lim) for c, s, lim in rows]


def change_segments(db: Any, tenant_id: int, segments: list[str], changed: int,
                    seed: int) -> dict[str, Any]:
    """Move ``changed`` customers to another segment, as a segment run would record it."""
    from decimal import Decimal

    from sqlalchemy import text

    rng = random.Random(seed)
    pool = live_customers(db, tenant_id)
    if changed > len(pool):
        raise SystemExit(f"--changed {changed} exceeds the {len(pool)} customers write-back "
                         "writes")
    picked = rng.sample(pool, changed)
    rows = []
    moves: dict[str, int] = {}
    for cid, old, limit in picked:
        new = rng.choice([s for s in segments if s != old])
        current = Decimal(str(limit)) if limit is not None else None
        if new == "At risk":
            new_limit: Decimal = Decimal(0)
        elif new == "New":
            new_limit = Decimal(1000)
        else:
            new_limit = current if current is not None and current > 0 else Decimal(1000)
        rows.append({"t": tenant_id, "c": cid, "segment": new,
                     "terms": 15 if new == "Chronic late" else None,
                     "hold": new == "At risk", "limit": str(new_limit)})
        moves[f"{old} ─▶ {new}"] = moves.get(f"{old} ─▶ {new}", 0) + 1
    with db.begin() as conn:
        conn.execute(text(
            "UPDATE segment_assignment SET segment = :segment, terms_days = :terms,"
            " credit_hold = :hold, credit_limit = :limit"
            " WHERE tenant_id = :t AND customer_external_id = :c"), rows)
    return {"customers": len(rows), "moves": moves}


def sandbox_groups(org: Any) -> dict[str, set[str]]:
    """The sandbox's ACTIVE groups and their members (ContactIDs, lower case)."""
    out = {}
    for gid, group in org.contact_groups.items():
        if group["Status"] == "ACTIVE":
            out[group["Name"]] = {str(c).lower() for c in org.group_members.get(gid, [])}
    return out


def check_groups(db: Any, tenant_id: int, org: Any, names: dict[str, str]) -> dict[str, int]:
    """Compare the sandbox's segment groups with the store's assignments."""
    want = {c.lower(): names[s] for c, s, _ in live_customers(db, tenant_id)}
    ours = set(names.values())
    groups = {n: m for n, m in sandbox_groups(org).items() if n in ours}
    held: dict[str, list[str]] = {}
    for name, members in groups.items():
        for cid in members:
            held.setdefault(cid, []).append(name)
    wrong = sum(1 for cid, g in want.items() if held.get(cid) != [g])
    extra = sum(1 for cid in held if cid not in want)
    return {"customers": len(want), "wrong": wrong, "extra": extra}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from arconnect.clock import Clock, set_clock

    set_clock(Clock(600.0))  # before any client or pacer is made: they keep the clock they get
    timer = Timer()
    tmp = tempfile.mkdtemp(prefix="arconnect-bench-writeback-")
    atexit.register(shutil.rmtree, tmp, True)  # the store goes with the process
    with timer.step("sandbox"):
        sandbox = start_sandbox(args.customers, args.invoices, args.payments)
    try:
        point_settings_at(sandbox.url, f"sqlite:///{tmp}/bench.db")
        return _measure(args, sandbox, timer)
    finally:
        sandbox.stop()
        from arconnect.store.db import dispose_engines

        dispose_engines()
        set_clock(None)


def _measure(args: argparse.Namespace, sandbox: Any, timer: Timer) -> dict[str, Any]:
    from arconnect.auth.service import add_grant
    from arconnect.auth.vault import get_vault
    from arconnect.segmenter.service import segment_tenant
    from arconnect.services import sync_tenants, writeback_context
    from arconnect.store.db import get_engine
    from arconnect.writeback import service as wb

    db = get_engine()
    grant = sandbox.create_grant()
    [tenant] = add_grant(db, "xero", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                              refresh_token=grant["refresh_token"], vault=get_vault())
    assert tenant.id is not None
    org = next(o for o in sandbox.orgs if o.tenant_id == tenant.external_id)
    with timer.step("sync"):
        [synced] = sync_tenants(db, None, full=True)
    if not synced.ok:
        raise SystemExit(f"sync failed: {synced.status}: {synced.error}")
    with timer.step("segment"):
        segment_tenant(db, tenant)

    ctx = writeback_context(db, tenant)
    ctx.refresh = _timed_refresh(ctx.refresh, timer, "refresh")
    meter = CallMeter(ctx.client)
    [slot] = [s for s in ctx.outbound.groups if s.source == "segment"]
    names = dict(slot.names)
    b = ctx.writer.batch_size

    # -- initial placement ---------------------------------------------------------------------
    with timer.step("initial plan"):
        first = wb.build_plan(ctx)
        wb.save_plan(db, first)
    assert first.erp is not None
    first_min = wb.min_write_calls(ctx, first, first.erp)
    with timer.step("initial apply"):
        placed = wb.apply_plan(ctx, first, approved_by="bench", fresh=True, budget=10**6)
    if placed.status != "applied":
        raise SystemExit(f"initial placement {placed.status}: {placed.errors[:3]}")
    initial_check = check_groups(db, tenant.id, org, names)

    # -- the segment changes ---------------------------------------------------------------------
    moved = change_segments(db, tenant.id, [s.name for s in ctx.rules.segments],
                            args.changed, args.seed)
    timer.steps.pop("refresh", None)
    meter.reset()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    with timer.step("plan"):
        with timer.step("build_plan"):
            plan = wb.build_plan(ctx)
        wb.save_plan(db, plan)
    plan_reads = dict(meter.calls), meter.seconds["read"]
    assert plan.erp is not None
    minimum = wb.min_write_calls(ctx, plan, plan.erp)
    meter.reset()
    with timer.step("apply"):
        result = wb.apply_plan(ctx, plan, approved_by="bench", fresh=True, budget=10**6)
    if profiler:
        profiler.disable()
    apply_http = meter.seconds["write"]
    if result.status != "applied":
        raise SystemExit(f"apply {result.status}: {result.errors[:3]}")

    # -- again: nothing to write -----------------------------------------------------------------
    with timer.step("second plan + apply"):
        again = wb.build_plan(ctx)
        wb.save_plan(db, again)
        second = wb.apply_plan(ctx, again, approved_by="bench", fresh=True, budget=10**6)

    with timer.step("check"):
        check = check_groups(db, tenant.id, org, names)
    assert check["wrong"] == 0 and check["extra"] == 0, check

    ops = plan.summary.get("operations", {})
    steps = timer.steps
    out = {
        "customers": args.customers,
        "customers_synced": synced.records.get("contacts"),
        "changed": moved["customers"],
        "moves": moved["moves"],
        "operations": ops,
        "plan_read_calls": plan.summary.get("read_calls"),
        "plan_s": steps["plan"],
        "build_plan_s": steps["build_plan"],
        "refresh_s": steps.get("refresh", 0.0),
        "plan_read_s": plan_reads[1],
        "apply_s": steps["apply"],
        "apply_http_s": apply_http,
        "write_calls": result.write_calls,
        "write_calls_min": minimum,
        "second_run_write_calls": second.write_calls,
        "second_run_ops": len(again.ops),
        "second_run_summary": again.summary.get("operations", {}),
        "initial_write_calls": placed.write_calls,
        "initial_write_calls_min": first_min,
        "initial_operations": first.summary.get("operations", {}),
        "initial_check": initial_check,
        "check": check,
        "batch_size": b,
        "steps": steps,
    }
    if profiler:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(args.profile)
        out["profile"] = buf.getvalue()
    return out


def report(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True, width=140)
    table = Table(title=f"Xero write-back: {r['customers']:,} customers, {r['changed']:,} "
                  f"change segment (SQLite, relaxed sandbox, B = {r['batch_size']})",
                  title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    ratio = r["write_calls"] / r["write_calls_min"] if r["write_calls_min"] else float("nan")
    first_ratio = (r["initial_write_calls"] / r["initial_write_calls_min"]
                   if r["initial_write_calls_min"] else float("nan"))
    ops = ", ".join(f"{k} {v:,}" for k, v in sorted(r["operations"].items()))
    rows = [
        ("customers (contacts synced)", f"{r['customers']:,} ({r['customers_synced']:,})"),
        ("changed segment", f"{r['changed']:,}"),
        ("plan: operations", ops),
        ("plan seconds (build + store)",
         f"{r['plan_s']:.2f} (build {r['build_plan_s']:.2f}: contacts refresh "
         f"{r['refresh_s']:.2f}, {r['plan_read_calls']} ERP reads {r['plan_read_s']:.2f})"),
        ("apply seconds", f"{r['apply_s']:.2f} (in write calls {r['apply_http_s']:.2f})"),
        ("write calls", f"{r['write_calls']:,}"),
        ("minimum", f"{r['write_calls_min']:,}"),
        ("calls / minimum", f"{ratio:.3f}"),
        ("second run: write calls (operations)",
         f"{r['second_run_write_calls']} ({r['second_run_ops']})"),
        ("initial placement: write calls / minimum",
         f"{r['initial_write_calls']:,} / {r['initial_write_calls_min']:,} "
         f"({first_ratio:.3f})"),
        ("initial placement: sandbox groups",
         f"{r['initial_check']['wrong']} wrong, {r['initial_check']['extra']} extra"),
        ("sandbox groups = desired state",
         f"yes: {r['check']['customers']:,} customers, {r['check']['wrong']} wrong, "
         f"{r['check']['extra']} extra"),
        ("step seconds", ", ".join(f"{k} {v:.1f}" for k, v in r["steps"].items())),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if r.get("profile"):
        sys.stderr.write(r["profile"])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--invoices", type=int,
                        help="sales invoices in the sandbox (default 6 per customer)")
    parser.add_argument("--payments", type=int,
                        help="payments in the sandbox (default 4.5 per customer)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N costliest functions of the changes' plan and apply")
    args = parser.parse_args()
    args.invoices = args.invoices or args.customers * 6
    args.payments = args.payments or args.customers * 9 // 2

    r = run(args)
    report(r)
    print(json.dumps({
        "customers": r["customers"],
        "changed": r["changed"],
        "write_calls": r["write_calls"],
        "write_calls_min": r["write_calls_min"],
        "second_run_write_calls": r["second_run_write_calls"],
        "seconds": round(r["plan_s"] + r["apply_s"], 3),
        "plan_seconds": round(r["plan_s"], 3),
        "apply_seconds": round(r["apply_s"], 3),
        "initial_write_calls": r["initial_write_calls"],
        "initial_write_calls_min": r["initial_write_calls_min"],
    }))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
