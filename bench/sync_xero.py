"""Benchmark: full Xero sync into SQLite, relaxed and under Xero's strict limits.

    python bench/sync_xero.py [--customers 5000 --invoices 100000 --payments 80000]
                              [--strict-scale 3] [--skip-strict]

Relaxed: the sandbox (in its own process, beside the client) serves a company of the given
size with no limits; we measure records per second into SQLite, the client's peak RSS and API
calls against the minimum (ceil(N / 1000) per entity, plus the one /Organisation read).

Strict: the same company behind Xero's real limits (60 calls a minute per organisation) on a
clock scaled by --strict-scale in both the sandbox and the client; we count 429s (our pacing
should cause none) and compare the wall time with the floor the limits impose: N calls need
ceil(N / 60) minute windows, so the last window opens (ceil(N / 60) − 1) minutes after the first
call. The scale compresses the limit windows but not our own processing (about 0.1 s a page
here), so too high a scale overstates our share of a window: at 3, a Xero minute lasts 20 s and
processing a window's 60 pages takes about 6 s of it, still three times what a real minute gives.

Prints a table, and as its last line one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"


def _serve(conn: Any, sizes: dict[str, int], strict: bool, scale: float) -> None:
    """Child process: generate the company, serve it, hand back URL and a grant."""
    from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox

    org = OrgSpec(name="Bench Wholesale Ltd", customers=sizes["customers"],
                  invoices=sizes["invoices"], payments=sizes["payments"],
                  suppliers=max(10, sizes["customers"] // 20), bills=sizes["invoices"] // 20)
    started = time.monotonic()
    sandbox = XeroSandbox(SandboxConfig(seed=2026, orgs=[org], client_id=CLIENT_ID,
                                        client_secret=CLIENT_SECRET, auto_approve=True,
                                        strict_limits=strict, time_scale=scale))
    sandbox.start(host="127.0.0.1", port=0)
    sandbox.wait_rendered()  # the sandbox's one-time JSON rendering is not ours to measure
    o = sandbox.orgs[0]
    counts = {
        "contacts": len(o.contacts),
        "invoices": len(o.invoices),
        "credit_notes": len(o.credit_notes),
        "payments": len(o.payments),
    }
    conn.send({"url": sandbox.url, "grant": sandbox.create_grant(), "counts": counts,
               "generate_s": time.monotonic() - started})
    conn.recv()  # until the client is done
    sandbox.stop()


def run_part(part: str, sizes: dict[str, int], scale: float,
             database_url: str | None = None) -> dict[str, Any]:
    """One measured sync (in this process), against a sandbox in a child process."""
    strict = part == "strict"
    parent, child = mp.Pipe()
    proc = mp.get_context("fork").Process(target=_serve, args=(child, sizes, strict, scale),
                                          daemon=True)
    proc.start()
    info = parent.recv()
    tmp = tempfile.mkdtemp(prefix=f"arconnect-bench-{part}-")
    atexit.register(shutil.rmtree, tmp, True)  # the store goes with the process
    os.environ.update({
        "ARCONNECT_DATABASE_URL": database_url or f"sqlite:///{tmp}/bench.db",
        "ARCONNECT_SECRET_KEY": "bench-secret-key",
        "ARCONNECT_XERO_API_URL": info["url"],
        "ARCONNECT_XERO_IDENTITY_URL": info["url"],
        "ARCONNECT_XERO_LOGIN_URL": info["url"],
        "ARCONNECT_TIME_SCALE": str(scale if strict else 1.0),
    })
    if not strict:  # the sandbox is relaxed: so is our pacing, to measure throughput alone
        os.environ.update({"ARCONNECT_XERO_MINUTE_LIMIT": "1000000",
                           "ARCONNECT_XERO_DAY_LIMIT": "1000000",
                           "ARCONNECT_XERO_APP_MINUTE_LIMIT": "1000000"})
    from arconnect.auth.service import add_grant
    from arconnect.auth.vault import get_vault
    from arconnect.services import sync_tenants
    from arconnect.store.db import get_engine

    db = get_engine()
    add_grant(db, "xero", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                   refresh_token=info["grant"]["refresh_token"], vault=get_vault())
    started = time.monotonic()
    [result] = sync_tenants(db, None, full=True)
    wall = time.monotonic() - started
    parent.send("stop")
    proc.join(timeout=30)
    if not result.ok:
        raise SystemExit(f"{part} sync failed: {result.status}: {result.error}")
    records = sum(result.records.values())
    minimum = 1 + sum(max(1, math.ceil(n / 1000)) for n in result.records.values())
    out = {
        "part": part,
        "records": records,
        "by_entity": result.records,
        "seconds": round(wall, 2),
        "records_per_s": round(records / wall, 1),
        "api_calls": result.api_calls,
        "api_calls_min": minimum,
        "http_429s": result.http_429s,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "generate_s": round(info["generate_s"], 1),
    }
    if strict:
        windows = math.ceil(result.api_calls / 60)
        out["floor_s"] = round((windows - 1) * 60 / scale, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--payments", type=int, default=80_000)
    parser.add_argument("--strict-scale", type=float, default=3.0,
                        help="clock seconds per real second in the strict run")
    parser.add_argument("--skip-strict", action="store_true")
    parser.add_argument("--postgres", metavar="URL",
                        help="also run the relaxed sync into this (empty) PostgreSQL database")
    parser.add_argument("--part", choices=["relaxed", "strict", "relaxed-pg"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = {"customers": args.customers, "invoices": args.invoices, "payments": args.payments}

    if args.part:  # a child run: one part, JSON on stdout
        url = args.postgres if args.part == "relaxed-pg" else None
        print(json.dumps(run_part(args.part.removesuffix("-pg"), sizes, args.strict_scale, url)))
        return

    parts = ["relaxed"] + ([] if args.skip_strict else ["strict"])
    parts += ["relaxed-pg"] if args.postgres else []
    results = {}
    for part in parts:  # each part in a fresh process: clean RSS, pacers and clock
        cmd = [sys.executable, __file__, "--part", part, "--customers", str(args.customers),
               "--invoices", str(args.invoices), "--payments", str(args.payments),
               "--strict-scale", str(args.strict_scale)]
        cmd += ["--postgres", args.postgres] if args.postgres else []
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.stderr.write(out.stdout + out.stderr)
            raise SystemExit(f"bench part {part} failed")
        results[part] = json.loads(out.stdout.strip().splitlines()[-1])

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Xero full sync: {args.customers:,} customers, {args.invoices:,} "
                  f"invoices, {args.payments:,} payments (SQLite; -pg: PostgreSQL)",
                  title_justify="left")
    for col in ("run", "records", "seconds", "records/s", "API calls", "minimum", "429s",
                "peak RSS MB", "floor s", "wall / floor"):
        table.add_column(col, justify="right")
    for part, r in results.items():
        floor = r.get("floor_s")
        table.add_row(part, f"{r['records']:,}", f"{r['seconds']:.1f}",
                      f"{r['records_per_s']:,.0f}", str(r["api_calls"]), str(r["api_calls_min"]),
                      str(r["http_429s"]), f"{r['peak_rss_mb']:.0f}",
                      f"{floor:.1f}" if floor is not None else "—",
                      f"{r['seconds'] / floor:.3f}" if floor else "—")
    Console(width=140).print(table)
    relaxed, strict = results["relaxed"], results.get("strict", {})
    print(json.dumps({
        "records": relaxed["records"],
        "records_per_s": relaxed["records_per_s"],
        "api_calls": relaxed["api_calls"],
        "api_calls_min": relaxed["api_calls_min"],
        "peak_rss_mb": relaxed["peak_rss_mb"],
        "strict_wall_s": strict.get("seconds"),
        "strict_floor_s": strict.get("floor_s"),
        "strict_429s": strict.get("http_429s"),
        "strict_scale": args.strict_scale if strict else None,
        "pg_records_per_s": results.get("relaxed-pg", {}).get("records_per_s"),
    }))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
