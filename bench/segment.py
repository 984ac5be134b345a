"""Benchmark: segmenting a large tenant in SQLite — metrics, rules, assignments and history.

    python bench/segment.py [--customers 100000 --invoices 2000000 --seed 7] [--db PATH]
                            [--skip-duckdb] [--postgres URL]

``load`` writes a synthetic AR history straight into a migrated SQLite store with sqlite3
``executemany`` (no ORM): customers with payment profiles (prompt, average, slow, very slow),
2 % sub-customers and 0.5 % merged ones; invoices over three years with terms, delays around the
customer's profile, partial payments, 6 % never paid (disputes, bad debt), credit notes and their
allocations, by default half of the paid invoices without ``fully_paid_on`` (``--paid-date-share``;
Xero sets it on every paid invoice, QuickBooks has no such field: the paid date is then derived
from allocations), some voided, deleted and draft invoices. All amounts are in base currency.

``time_metrics`` times :func:`arconnect.segmenter.metrics.compute_metrics` in a fresh process (so
its peak RSS is its own). The same per-customer aggregates (the very statement, PostgreSQL
flavour) also run in DuckDB over the same rows, loaded from CSV exports (the load is not timed).

``time_pipeline`` times the whole segment run (:func:`arconnect.segmenter.service.segment_tenant`:
metrics, rules and writing every assignment and history row) in a fresh process, twice: from no
assignments (as a new tenant; a reused ``--db`` is cleared first), then again with nothing changed
(the rerun writes only the new ``computed_at``).

``time_as_of`` times the same two runs back-dated: RUN_DATE a month before the tenant's today
(``segment --as-of``): open items are rebuilt from issue, paid and allocation dates.

With ``--postgres URL`` the same rows are copied (COPY) into a fresh schema of that database and
the metrics and the two runs are timed there too (the production store).

Prints a table, and as its last line one JSON object: ``seconds`` is the first full segment run,
``peak_rss_mb`` the larger of the two measuring processes.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import multiprocessing as mp
import random
import resource
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

RUN_DATE = date(2026, 6, 30)
HISTORY_DAYS = 3 * 365
TENANT_ID = 1
SYNCED_AT = "2026-06-30 00:00:00.000000"
# (share of customers, mean delay past due, spread) — prompt, average, slow, very slow payers
PROFILES = [(0.45, -2, 4), (0.30, 8, 8), (0.18, 35, 15), (0.07, 75, 30)]
TERMS = [7, 14, 30, 30, 30, 30, 45, 60]
METHODS = ["bank_transfer", "card", "direct_debit", "cheque"]


def _sqlite_path(db_url: str) -> str:
    if not db_url.startswith("sqlite:///"):
        raise SystemExit(f"the loader writes SQLite only, not {db_url!r}")
    return db_url.removeprefix("sqlite:///")


def load(db_url: str, customers: int, invoices: int, seed: int, *,
         paid_date_share: float = 0.5) -> None:
    """Fill a fresh SQLite store at ``db_url`` (migrated first) with a synthetic AR history.

    ``paid_date_share`` of the paid invoices carry ``fully_paid_on`` (Xero: all of them); the
    others need their paid date derived from allocations.
    """
    from arconnect.store import db

    db.get_engine(db_url)  # migrates to head
    db.dispose_engines()
    rng = random.Random(seed)
    con = sqlite3.connect(_sqlite_path(db_url))
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-500000")
    con.execute(
        "INSERT INTO tenant (id, platform, external_id, name, status, base_currency, created_at,"
        " updated_at) VALUES (?, 'xero', 'bench-org', 'Bench Wholesale Ltd', 'active', 'GBP',"
        " ?, ?)",
        (TENANT_ID, SYNCED_AT, SYNCED_AT),
    )
    cust_rows, profile, terms, live = [], [], [], []
    cum = 0.0
    bounds = [(cum := cum + share) for share, _, _ in PROFILES]
    for i in range(customers):
        ext = f"C{i:07d}"
        r = rng.random()
        merged = parent = None
        if i > 100 and r < 0.005:
            merged = f"C{rng.randrange(0, i):07d}"
        elif i > 100 and r < 0.025:
            parent = f"C{rng.randrange(0, 100):07d}"
        p = next(k for k, b in enumerate(bounds) if rng.random() * 0.9999 < b)
        t = rng.choice(TERMS)
        profile.append(p)
        terms.append(t)
        if merged is None:
            live.append(i)
        cust_rows.append((TENANT_ID, ext, f"Customer {i}", merged, parent, t,
                          rng.choice(["email", "email", "paper", None]), SYNCED_AT))
    con.executemany(
        "INSERT INTO customer (tenant_id, external_id, name, merged_into_external_id,"
        " parent_external_id, terms_days, delivery_mode, synced_at, is_archived)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
        cust_rows,
    )
    # Activity is skewed: a few customers carry many invoices (Pareto weights).
    weights = [rng.paretovariate(1.3) for _ in live]
    owners = rng.choices(live, weights=weights, k=invoices)
    docs: list[tuple[Any, ...]] = []
    allocs: list[tuple[Any, ...]] = []
    pays: list[tuple[Any, ...]] = []
    run_ord = RUN_DATE.toordinal()
    for n, c in enumerate(owners):
        ext, cust = f"I{n:08d}", f"C{c:07d}"
        issue = run_ord - rng.randrange(0, HISTORY_DAYS)
        due = issue + terms[c]
        total = round(rng.lognormvariate(7.0, 1.1), 2)
        _, mean, spread = PROFILES[profile[c]]
        paid = max(issue, due + int(rng.gauss(mean, spread)))
        r = rng.random()
        status, deleted, fully, due_amt = "paid", 0, None, 0.0
        if r < 0.004:
            status, deleted = "voided", 1
        elif r < 0.006:
            status, deleted = "deleted", 1
        elif r < 0.008:
            status = "draft"
        elif r < 0.07:  # disputed or bad debt: never paid
            paid = run_ord + 1
        if status != "paid" or paid > run_ord:
            if status == "paid":
                status, due_amt = "open", total
                if rng.random() < 0.2 and issue + 5 <= run_ord:  # partly paid
                    part = round(total * 0.4, 2)
                    due_amt = round(total - part, 2)
                    on = date.fromordinal(rng.randrange(issue, run_ord + 1)).isoformat()
                    allocs.append((TENANT_ID, f"P{n:08d}a", "payment", f"P{n:08d}a", ext, cust,
                                   on, part, part, 0, SYNCED_AT))
                    pays.append((TENANT_ID, f"P{n:08d}a", "receipt", ext, cust, "posted",
                                 0, on, part, part, METHODS[c % 4], SYNCED_AT))
            docs.append((TENANT_ID, ext, "invoice", cust, status, deleted,
                         date.fromordinal(issue).isoformat(), date.fromordinal(due).isoformat(),
                         None, total, total, due_amt, due_amt, SYNCED_AT))
            continue
        paid_on = date.fromordinal(paid).isoformat()
        if rng.random() < paid_date_share:
            fully = paid_on
        if r > 0.99:  # a credit note settles a fifth, the payment the rest
            cn = round(total * 0.2, 2)
            docs.append((TENANT_ID, f"K{n:08d}", "credit_note", cust, "paid", 0,
                         paid_on, paid_on, paid_on, cn, cn, 0.0, 0.0, SYNCED_AT))
            allocs.append((TENANT_ID, f"K{n:08d}", "credit_note", f"K{n:08d}", ext, cust,
                           paid_on, cn, cn, 0, SYNCED_AT))
            rest = round(total - cn, 2)
        else:
            rest = total
        allocs.append((TENANT_ID, f"P{n:08d}", "payment", f"P{n:08d}", ext, cust, paid_on,
                       rest, rest, 0, SYNCED_AT))
        pays.append((TENANT_ID, f"P{n:08d}", "receipt", ext, cust, "posted", 0,
                     paid_on, rest, rest, METHODS[(c + n % 3) % 4], SYNCED_AT))
        docs.append((TENANT_ID, ext, "invoice", cust, "paid", 0,
                     date.fromordinal(issue).isoformat(), date.fromordinal(due).isoformat(),
                     fully, total, total, 0.0, 0.0, SYNCED_AT))
        if len(docs) >= 200_000:
            _flush(con, docs, allocs, pays)
    _flush(con, docs, allocs, pays)
    con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()


def _flush(con: sqlite3.Connection, docs: list[Any], allocs: list[Any], pays: list[Any]) -> None:
    con.executemany(
        "INSERT INTO document (tenant_id, external_id, kind, customer_external_id, status,"
        " is_deleted, issue_date, due_date, fully_paid_on, total, total_base, amount_due,"
        " amount_due_base, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        docs,
    )
    con.executemany(
        "INSERT INTO allocation (tenant_id, external_id, source_kind, source_external_id,"
        " document_external_id, customer_external_id, allocated_on, amount, amount_base,"
        " is_deleted, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        allocs,
    )
    con.executemany(
        "INSERT INTO payment (tenant_id, external_id, payment_type, document_external_id,"
        " customer_external_id, status, is_deleted, paid_on, amount, amount_base, method,"
        " synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        pays,
    )
    docs.clear()
    allocs.clear()
    pays.clear()


PG_SCHEMA = "arconnect_segbench"


def load_postgres(db_url: str, pg_url: str) -> str:
    """Copy the loaded SQLite store into a fresh schema of the PostgreSQL database at
    ``pg_url`` (migrated by arconnect first, then filled with COPY); returns the URL of that
    schema. A schema left by an earlier run with the same row counts is reused."""
    import psycopg
    from sqlalchemy import create_engine, make_url

    from arconnect.store import db

    url = pg_url + ("&" if "?" in pg_url else "?") + f"options=-csearch_path%3D{PG_SCHEMA}"
    want = counts(db_url)
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        have = {}
        if conn.exec_driver_sql("SELECT 1 FROM information_schema.tables WHERE table_schema ="
                                f" '{PG_SCHEMA}' AND table_name = 'allocation'").first():
            have = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {PG_SCHEMA}.{t}").scalar()
                    for t in ("customer", "document", "allocation", "payment")}
        if have and all(have[t] == want[t] for t in have):
            engine.dispose()  # the same rows are there from an earlier run: reuse them
            db.get_engine(url)  # migrates to head
            db.dispose_engines()
            return url
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {PG_SCHEMA}")
    engine.dispose()
    db.get_engine(url)  # migrates to head
    db.dispose_engines()
    src = sqlite3.connect(_sqlite_path(db_url))
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as pg:
        for table in ("tenant", "customer", "document", "payment", "allocation"):
            cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")
                    if r[1] != "id" or table == "tenant"]
            names = ", ".join(cols)
            with pg.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in src.execute(f"SELECT {names} FROM {table}"):  # noqa: S608
                    copy.write_row(row)
        pg.execute("SELECT setval(pg_get_serial_sequence('tenant', 'id'),"
                   " (SELECT max(id) FROM tenant))")
        pg.commit()
        pg.autocommit = True
        pg.execute("ANALYZE")
    src.close()
    return url


def counts(db_url: str) -> dict[str, int]:
    """Rows per table of the loaded store."""
    con = sqlite3.connect(_sqlite_path(db_url))
    try:
        rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
                for t in ("customer", "document", "allocation", "payment")}
        rows["invoice"] = con.execute(
            "SELECT count(*) FROM document WHERE kind = 'invoice'").fetchone()[0]
        return rows
    finally:
        con.close()


def _metrics_child(db_url: str, out: Any) -> None:
    from arconnect.segmenter.metrics import compute_metrics
    from arconnect.store import db

    engine = db.get_engine(db_url)
    started = time.perf_counter()
    with engine.connect() as conn:
        result = compute_metrics(conn, TENANT_ID, RUN_DATE)
    seconds = time.perf_counter() - started
    out.send({"seconds": seconds, "customers_out": len(result),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})


def _pipeline_child(db_url: str, out: Any) -> None:
    _pipeline(db_url, out, as_of=False)


def _as_of_child(db_url: str, out: Any) -> None:
    _pipeline(db_url, out, as_of=True)


def _pipeline(db_url: str, out: Any, *, as_of: bool) -> None:
    """Two segment runs as of RUN_DATE. ``as_of=False``: RUN_DATE is the tenant's today (a
    scheduled run: open items from their current status); ``as_of=True``: today is later, so
    the run is back-dated (``--as-of``: open items rebuilt from dates, nothing later read)."""
    from arconnect.segmenter import service
    from arconnect.segmenter.rules import load_rules
    from arconnect.segmenter.service import segment_tenant
    from arconnect.services import find_tenants
    from arconnect.store import db

    today = RUN_DATE + timedelta(days=30) if as_of else RUN_DATE
    service.run_date_for = lambda _tenant: today  # type: ignore[assignment]
    engine = db.get_engine(db_url)
    tenant = find_tenants(engine, [str(TENANT_ID)])[0]
    rules = load_rules()
    with engine.begin() as conn:  # a reused --db starts from no assignments, like a new tenant
        for table in ("segment_history", "segment_assignment"):
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE tenant_id = {TENANT_ID}")
    runs = []
    segments: dict[str, int] = {}
    for _ in range(2):  # the first run writes every assignment and history row; the second few
        started = time.perf_counter()
        run = segment_tenant(engine, tenant, rules=rules, run_date=RUN_DATE)
        runs.append({"seconds": time.perf_counter() - started, "changes": run.changes,
                     "customers": len(run.results)})
        segments = {k: v["customers"] for k, v in run.by_segment().items()}
        del run  # a scheduled rerun starts without the previous run's results in memory
        gc.collect()
    out.send({"runs": runs, "segments": segments,
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})


def _in_fresh_process(target: Any, db_url: str) -> dict[str, Any]:
    """Run ``target(db_url, pipe)`` in a spawned process (its peak RSS is its own)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(db_url, child))
    proc.start()
    result: dict[str, Any] = parent.recv()
    proc.join()
    return result


def time_pipeline(db_url: str) -> dict[str, Any]:
    """Time the whole segment run — metrics, rules, writing assignments and history — twice,
    in a fresh process; seconds per run and peak RSS."""
    return _in_fresh_process(_pipeline_child, db_url)


def time_as_of(db_url: str) -> dict[str, Any]:
    """The same two runs back-dated (``--as-of RUN_DATE`` a month later), in a fresh process."""
    return _in_fresh_process(_as_of_child, db_url)


def time_metrics(db_url: str) -> dict[str, Any]:
    """Time ``compute_metrics`` on the bench tenant in a fresh process; seconds and peak RSS."""
    return _in_fresh_process(_metrics_child, db_url)


def _export(con: sqlite3.Connection, table: str, cols: str, folder: Path) -> Path:
    path = folder / f"{table}.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols.replace(" ", "").split(","))
        rows: Iterator[Any] = con.execute(f"SELECT {cols} FROM {table}")  # noqa: S608
        writer.writerows(rows)
    return path


def time_duckdb(db_url: str) -> dict[str, Any]:
    """The same per-customer aggregates in DuckDB over the same rows (load excluded)."""
    import duckdb

    from arconnect.segmenter import metrics

    tables = {
        "customer": "tenant_id, external_id, merged_into_external_id, parent_external_id,"
                    " terms_days, delivery_mode",
        "document": "tenant_id, external_id, kind, customer_external_id, status, is_deleted,"
                    " issue_date, due_date, fully_paid_on, total, total_base, amount_due_base",
        "allocation": "tenant_id, external_id, source_kind, document_external_id,"
                      " customer_external_id, allocated_on, amount, is_deleted",
    }
    types = {"is_deleted": "BOOLEAN", "issue_date": "DATE", "due_date": "DATE",
             "fully_paid_on": "DATE", "allocated_on": "DATE", "total": "DECIMAL(18,2)",
             "total_base": "DECIMAL(18,2)", "amount_due_base": "DECIMAL(18,2)",
             "amount": "DECIMAL(18,2)", "terms_days": "INTEGER", "tenant_id": "INTEGER"}
    con = sqlite3.connect(_sqlite_path(db_url))
    duck = duckdb.connect()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for table, cols in tables.items():
            path = _export(con, table, cols, Path(tmp))
            col_types = {c: types.get(c, "VARCHAR") for c in cols.replace(" ", "").split(",")}
            duck.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv(?, header=true,"
                         f" columns={col_types!r}, nullstr='')", [str(path)])
    load_s = time.perf_counter() - started
    con.close()
    sql = metrics._documents_sql(metrics._Dialect(sqlite=False), rollup_parents=True)
    params = metrics._params(TENANT_ID, RUN_DATE, 365)
    for name in sorted(params, key=len, reverse=True):  # :due_30 before :due_3...
        value = params[name]
        sql = sql.replace(f":{name}", f"'{value}'" if isinstance(value, str) else str(value))
    started = time.perf_counter()
    rows = duck.execute(sql).fetchall()
    seconds = time.perf_counter() - started
    duck.close()
    return {"seconds": seconds, "groups": len(rows), "load_s": load_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--paid-date-share", type=float, default=0.5,
                        help="share of paid invoices with fully_paid_on (Xero: 1.0)")
    parser.add_argument("--db", help="reuse (or create) this SQLite file instead of a temp one")
    parser.add_argument("--skip-duckdb", action="store_true")
    parser.add_argument("--postgres", metavar="URL",
                        help="also time the run on PostgreSQL: the rows are copied into a fresh "
                             f"schema {PG_SCHEMA} of this database (dropped first)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "bench.db"
        db_url = f"sqlite:///{path}"
        load_s = 0.0
        if not path.exists():
            started = time.perf_counter()
            load(db_url, args.customers, args.invoices, args.seed,
                 paid_date_share=args.paid_date_share)
            load_s = time.perf_counter() - started
        rows = counts(db_url)
        m = time_metrics(db_url)
        pipe = time_pipeline(db_url)
        first, second = pipe["runs"]
        back = time_as_of(db_url)
        back_first = back["runs"][0]
        duck = None if args.skip_duckdb else time_duckdb(db_url)
        pg: dict[str, Any] | None = None
        if args.postgres:
            started = time.perf_counter()
            pg_url = load_postgres(db_url, args.postgres)
            pg = {"load_s": time.perf_counter() - started, "metrics": time_metrics(pg_url),
                  "pipeline": time_pipeline(pg_url), "as_of": time_as_of(pg_url)}

        from rich.console import Console
        from rich.table import Table

        table = Table(title="segment bench (SQLite)")
        table.add_column("step")
        table.add_column("figure", justify="right")
        table.add_row("rows", ", ".join(f"{k} {v:,}" for k, v in rows.items()))
        table.add_row("load (not part of the budget)", f"{load_s:.1f} s")
        table.add_row("compute_metrics", f"{m['seconds']:.2f} s")
        table.add_row("customers measured", f"{m['customers_out']:,}")
        table.add_row("peak RSS (metrics process)", f"{m['peak_rss_mb']:.0f} MB")
        table.add_row("segment run: metrics + rules + writes (first run)",
                      f"{first['seconds']:.2f} s ({first['changes']:,} assignments written)")
        table.add_row("segment run again (nothing changed)",
                      f"{second['seconds']:.2f} s ({second['changes']:,} changes)")
        table.add_row("peak RSS (segment process)", f"{pipe['peak_rss_mb']:.0f} MB")
        table.add_row("segment run --as-of (back-dated, first run)",
                      f"{back_first['seconds']:.2f} s ({back_first['changes']:,} written)")
        table.add_row("peak RSS (--as-of process)", f"{back['peak_rss_mb']:.0f} MB")
        table.add_row("segments", ", ".join(f"{k} {v:,}" for k, v in pipe["segments"].items()))
        if duck:
            table.add_row("DuckDB same aggregates", f"{duck['seconds']:.2f} s")
            table.add_row("SQLite / DuckDB", f"{m['seconds'] / duck['seconds']:.1f}x")
        if pg:
            pg_first, pg_second = pg["pipeline"]["runs"]
            table.add_row("PostgreSQL: copy of the rows (not part of the budget)",
                          f"{pg['load_s']:.1f} s")
            table.add_row("PostgreSQL: compute_metrics", f"{pg['metrics']['seconds']:.2f} s")
            table.add_row("PostgreSQL: segment run (first run)",
                          f"{pg_first['seconds']:.2f} s ({pg_first['changes']:,} written)")
            table.add_row("PostgreSQL: segment run again",
                          f"{pg_second['seconds']:.2f} s ({pg_second['changes']:,} changes)")
            table.add_row("PostgreSQL: peak RSS (segment process)",
                          f"{pg['pipeline']['peak_rss_mb']:.0f} MB")
            table.add_row("PostgreSQL: segment run --as-of (first run)",
                          f"{pg['as_of']['runs'][0]['seconds']:.2f} s")
        Console(stderr=True).print(table)
        print(json.dumps({
            "customers": rows["customer"],
            "invoices": rows["invoice"],
            "allocations": rows["allocation"],
            "seconds": round(first["seconds"], 3),
            "second_run_seconds": round(second["seconds"], 3),
            "metrics_seconds": round(m["seconds"], 3),
            "as_of_seconds": round(back_first["seconds"], 3),
            "peak_rss_mb": max(m["peak_rss_mb"], pipe["peak_rss_mb"], back["peak_rss_mb"]),
            "duckdb_seconds": round(duck["seconds"], 3) if duck else None,
            "pg_seconds": round(pg["pipeline"]["runs"][0]["seconds"], 3) if pg else None,
            "pg_second_run_seconds": round(pg["pipeline"]["runs"][1]["seconds"], 3)
            if pg else None,
            "pg_metrics_seconds": round(pg["metrics"]["seconds"], 3) if pg else None,
            "pg_as_of_seconds": round(pg["as_of"]["runs"][0]["seconds"], 3) if pg else None,
        }))


if __name__ == "__main__":
    main()
