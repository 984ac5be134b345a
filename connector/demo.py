"""``arconnect demo``: the product end to end on the bundled Xero, QuickBooks Online and NetSuite
sandboxes and SQLite — connect, sync, segment, write back — the three companies side by side.

Nothing here is faked: each sandbox is a real HTTP server on a free loopback port, each tenant
is connected through its platform's real OAuth code flow (the sandboxes' consent pages are
auto-approved; NetSuite redirects only to https or custom-scheme addresses, so its redirect
address is read and handed back as `arconnect tenants connect netsuite` asks a user to paste
it), and the syncs and write-backs go through the same engine, client, pacing and store as
production. Only the base URLs differ.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from rich import box
from rich.panel import Panel
from rich.table import Table
from sqlalchemy import Engine, delete, func, select
from sqlmodel import col

from arconnect.callback import CallbackServer
from arconnect.console import (
    DataTable,
    clean,
    console,
    safe,
    sync_progress,
    sync_table,
    write_progress,
)
from arconnect.errors import ArconnectError
from arconnect.redact import mask_url
from arconnect.settings import get_settings
from arconnect.store.models import Tenant
from arconnect.sync import SyncResult

DEMO_DB = "arconnect-demo.db"
DEMO_CLIENT_ID = "arconnect-demo"
DEMO_CLIENT_SECRET = "arconnect-demo-secret"  # the sandbox's own app credentials, not a secret
DEMO_NS_ACCOUNT = "1234567_SB1"  # the NetSuite sandbox account's id (a sandbox account's form)


def run_demo(*, customers: int = 300, invoices: int = 6000,
             database_url: str | None = None) -> list[SyncResult]:
    """Start the Xero, QuickBooks Online and NetSuite sandboxes, connect each through OAuth,
    full sync, change every company, incremental sync, segment, write back; print one summary
    of the three side by side."""
    from arconnect.console import segment_tables
    from arconnect.sandbox.netsuite import AccountSpec, NsConfig, NsSandbox
    from arconnect.sandbox.quickbooks import CompanySpec, QboConfig, QboSandbox
    from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox
    from arconnect.segmenter.kpis import segment_kpis
    from arconnect.segmenter.service import segment_tenant
    from arconnect.services import find_tenants, sync_tenants
    from arconnect.store.db import dispose_engines, get_engine

    database_url = (database_url or os.environ.get("ARCONNECT_DATABASE_URL")
                    or f"sqlite:///./{DEMO_DB}")
    console.rule("[bold]arconnect demo")
    start_fresh(get_engine(database_url))
    now = datetime.now(UTC).replace(microsecond=0)
    xero_config = SandboxConfig(
        seed=42,
        orgs=[OrgSpec(name="Demo Company (NZ)", base_currency="NZD",
                      timezone="NEWZEALANDSTANDARDTIME", customers=customers,
                      invoices=invoices, payments=invoices * 2,
                      suppliers=max(5, customers // 10), bills=invoices // 10)],
        client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
        auto_approve=True, strict_limits=True, start=now,
    )
    listener = CallbackServer("127.0.0.1", 0, "/callback/quickbooks")
    # Intuit's development keys take https or http://localhost redirect URIs only.
    qbo_redirect = f"http://localhost:{listener.port}/callback/quickbooks"
    qbo_config = QboConfig(
        seed=42,
        companies=[CompanySpec(name="Demo Company (US)", home_currency="USD",
                               customers=customers, invoices=invoices, payments=invoices * 2,
                               customer_types=qbo_customer_types())],
        client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
        redirect_uris=[qbo_redirect], auto_approve=True, strict_limits=True,
        start=now,
    )
    ns_config = NsConfig(
        seed=42,
        accounts=[AccountSpec(account_id=DEMO_NS_ACCOUNT, name="Demo Company (NetSuite)",
                              subsidiaries=("Demo Company (US HQ)", "Demo Company (West)"),
                              customers=customers, invoices=invoices, payments=invoices * 2)],
        client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET, auto_approve=True,
        strict_limits=True, start=now,
    )
    with console.status("generating the demo companies and starting the Xero, QuickBooks "
                        "Online and NetSuite sandboxes…"):
        xero = XeroSandbox(xero_config)
        xero.start(host="127.0.0.1", port=0)
        qbo = QboSandbox(qbo_config)
        qbo.start(host="127.0.0.1", port=0)
        ns = NsSandbox(ns_config)
        ns.start(host="127.0.0.1", port=0)
    try:
        env = {
            "ARCONNECT_DATABASE_URL": database_url,
            "ARCONNECT_XERO_API_URL": xero.url,
            "ARCONNECT_XERO_IDENTITY_URL": xero.url,
            "ARCONNECT_XERO_LOGIN_URL": xero.url,
            "ARCONNECT_XERO_CLIENT_ID": DEMO_CLIENT_ID,
            "ARCONNECT_XERO_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            "ARCONNECT_QBO_API_URL": qbo.url,
            "ARCONNECT_QBO_AUTH_URL": qbo.url + "/connect/oauth2",
            "ARCONNECT_QBO_TOKEN_URL": qbo.url + "/oauth2/v1/tokens/bearer",
            "ARCONNECT_QBO_REVOKE_URL": qbo.url + "/v2/oauth2/tokens/revoke",
            "ARCONNECT_QBO_CLIENT_ID": DEMO_CLIENT_ID,
            "ARCONNECT_QBO_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            "ARCONNECT_QBO_REDIRECT_URI": qbo_redirect,
            "ARCONNECT_NETSUITE_REST_URL": ns.url + "/{account}",
            "ARCONNECT_NETSUITE_APP_URL": ns.url + "/{account}",
            "ARCONNECT_NETSUITE_CLIENT_ID": DEMO_CLIENT_ID,
            "ARCONNECT_NETSUITE_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            "ARCONNECT_NETSUITE_TIMEZONE": ns.account().spec.timezone,
        }
        os.environ.update(env)
        get_settings.cache_clear()
        settings = get_settings()
        console.print(f"Xero sandbox on [bold]{xero.url}[/], QuickBooks Online sandbox on "
                      f"[bold]{qbo.url}[/], NetSuite sandbox on [bold]{ns.url}[/] (each with "
                      "its platform's real limits)")
        db = get_engine(settings.database_url)
        console.print(f"store: [bold]{db.url!r}[/]")

        # The real OAuth code flows: authorize (consent auto-approved) ─▶ redirect to our
        # listener ─▶ code exchange ─▶ the tenants the grant reaches (Xero: /connections;
        # QuickBooks: the realmId of the redirect).
        xero_listener = CallbackServer("127.0.0.1", 0)
        tenants = _connect(db, "xero", xero_listener, xero_listener.redirect_uri)
        tenants += _connect(db, "quickbooks", listener, qbo_redirect)
        tenants += _connect_by_paste(db, "netsuite", DEMO_NS_ACCOUNT)

        console.rule("full sync")
        full = _sync(db, sync_tenants, full=True)
        xero_tenant = next(t for t in tenants if t.platform == "xero")
        qbo_tenant = next(t for t in tenants if t.platform == "quickbooks")
        changes = xero.mutate(xero_tenant.external_id, n=max(20, invoices // 100), seed=7)
        qbo_changes = qbo.mutate(qbo_tenant.external_id, seed=7).random(max(20, invoices // 100))
        ns_changes = ns.mutate(DEMO_NS_ACCOUNT, seed=7).random(max(20, invoices // 100))
        console.rule("incremental sync")
        console.print(f"meanwhile in Xero: {safe(changes)}")
        console.print("meanwhile in QuickBooks Online: " + safe(", ".join(
            f"{n} {kind}" for kind, n in sorted(qbo_changes.items()))))
        console.print("meanwhile in NetSuite: " + safe(", ".join(
            f"{n} {kind}" for kind, n in sorted(ns_changes.items()))))
        incremental = _sync(db, sync_tenants, full=False)
        console.print(sync_table(
            full + incremental, title="Summary",
            labels=["full"] * len(full) + ["incremental"] * len(incremental),
        ))
        stored = find_tenants(db, [str(t.id) for t in tenants])
        console.print(_store_table(db, stored))
        console.rule("segments")
        for tenant in stored:
            run = segment_tenant(db, tenant)
            for table in segment_tables(run, show=8, kpis=segment_kpis(db, tenant, run=run)):
                console.print(table)
        console.rule("write-back")
        for tenant in stored:
            _writeback(db, tenant)
        console.print(Panel.fit(
            f"The store is kept: ARCONNECT_DATABASE_URL={safe(mask_url(database_url))} "
            "arconnect tenants list\n"
            "Run a sandbox yourself and connect to it: arconnect sandbox serve xero --help "
            "(or quickbooks, netsuite)\n"
            "Connect a real organisation, company or account: arconnect tenants connect xero "
            "--help (or quickbooks, netsuite)\n"
            "Write-back: arconnect writeback --help · arconnect drift --help · "
            "arconnect audit --help\n"
            "Sync, segment and write back on a schedule (cron, a timer): arconnect run --help",
            title="done",
        ))
        return full + incremental
    finally:
        xero.stop()
        qbo.stop()
        ns.stop()
        dispose_engines()


def qbo_customer_types(rules: object = None) -> tuple[str, ...]:
    """The QuickBooks customer types the shipped mapping writes segments to (an admin creates
    them once under Sales ─▶ Customers ─▶ Customer types; the API cannot), plus a few of the
    company's own."""
    from arconnect.mapping import load_mapping
    from arconnect.segmenter.rules import load_rules

    outbound = load_mapping("quickbooks").outbound(rules or load_rules("default"))
    ours = sorted({name for slot in outbound.references for name in slot.names.values()})
    return ("Commercial", "Residential", *ours)


def _connect(db: Engine, platform: str, listener: CallbackServer,
             redirect_uri: str) -> list[Tenant]:
    """The OAuth code flow against a sandbox (consent auto-approved), as a browser would."""
    from arconnect.auth.service import begin_connect, complete_connect
    from arconnect.auth.vault import get_vault
    from arconnect.platforms import get_platform

    port = get_platform(platform)
    with listener:
        request = begin_connect(platform, get_settings(), redirect_uri)
        listener.expect_state(request.state)
        requests.get(request.url, timeout=30)  # follows the consent redirect to us
        code, state = listener.wait(timeout=30)
        callback = {k: v for k, v in listener.params.items() if k in port.callback_params}
        tenants = complete_connect(db, platform, request, code, state, redirect_uri,
                                   get_vault(allow_demo=True), callback=callback)
    for t in tenants:
        console.print(f"connected {port.label} {port.tenant_word} [bold]{safe(t.name)}[/] "
                      f"({safe(t.external_id)}) through OAuth")
    return tenants


def _connect_by_paste(db: Engine, platform: str, tenant: str) -> list[Tenant]:
    """The OAuth code flow of a platform that redirects only to https or custom-scheme
    addresses (NetSuite): the consent page's redirect is read, not followed, and its address
    handed back, as a user pastes it into `arconnect tenants connect netsuite`."""
    from arconnect.auth.service import begin_connect, complete_connect
    from arconnect.auth.vault import get_vault
    from arconnect.platforms import get_platform

    port = get_platform(platform)
    settings = get_settings()
    redirect_uri = port.redirect_uri(settings)
    request = begin_connect(platform, settings, redirect_uri, tenant=tenant)
    answer = requests.get(request.url, allow_redirects=False, timeout=30)
    pasted = answer.headers.get("Location") or ""
    params = {k: v[0] for k, v in parse_qs(urlsplit(pasted).query).items()}
    if "code" not in params:
        raise ArconnectError(f"{port.label} sandbox: the consent page did not redirect with a "
                             f"code ({answer.status_code} {clean(pasted)[:200]})")
    callback = {k: v for k, v in params.items() if k in port.callback_params}
    tenants = complete_connect(db, platform, request, params["code"], params.get("state", ""),
                               redirect_uri, get_vault(allow_demo=True), callback=callback,
                               tenant=tenant)
    for t in tenants:
        console.print(f"connected {port.label} {port.tenant_word} [bold]{safe(t.name)}[/] "
                      f"({safe(t.external_id)}) through OAuth (the redirect address pasted "
                      "back)")
    return tenants


def start_fresh(db: Engine) -> None:
    """Empty the demo's store of what an earlier demo left, so that no number mixes two demo
    companies (each run generates its company anew, of the size asked for).

    Owns the rule that the demo only ever writes into a store of its own: one that is empty or
    holds nothing but organisations connected through the demo's sandbox app. Their rows go,
    in one transaction; the schema stays.

    Raises:
        ArconnectError: the store holds an organisation the demo did not connect (a real one,
            or an import): nothing is changed.
    """
    from arconnect.store.models import Credential, Customer, SQLModel

    shown = db.url.render_as_string(hide_password=True)
    with db.connect() as conn:
        rows = conn.execute(select(col(Tenant.id), col(Tenant.name), col(Credential.client_id))
                            .outerjoin(Credential, col(Tenant.credential_id) == Credential.id)
                            ).all()
    others = [name for _, name, client in rows if client != DEMO_CLIENT_ID]
    if others:
        listed = ", ".join(repr(clean(n)) for n in others[:3]) + (", …" if others[3:] else "")
        raise ArconnectError(
            f"the store {shown} holds organisations the demo did not connect ({listed}); the "
            f"demo runs only on a store of its own: leave out --database and "
            f"ARCONNECT_DATABASE_URL (it then uses ./{DEMO_DB}) or name an empty database. "
            f"Nothing was changed.")
    ids = [tenant_id for tenant_id, _, _ in rows]
    with db.begin() as conn:
        earlier = conn.execute(select(func.count()).select_from(Customer).where(
            col(Customer.tenant_id).in_(ids))).scalar_one()
        for table in reversed(SQLModel.metadata.sorted_tables):
            if "tenant_id" in table.c:
                conn.execute(delete(table).where(table.c.tenant_id.in_(ids)))
        conn.execute(delete(Tenant).where(col(Tenant.id).in_(ids)))
        conn.execute(delete(Credential).where(col(Credential.client_id) == DEMO_CLIENT_ID))
    if ids:
        console.print(f"removed an earlier demo ({earlier:,} contacts) from {safe(shown)}: "
                      "every demo starts from an empty store", soft_wrap=True)


# The demo's write-back spends at most this many calls (the sandbox keeps Xero's 60 a
# minute); the rest of the plan — mostly one History note per credit limit — waits for the
# next run, as a plan over the day's budget does.
DEMO_WRITE_CALLS = 30


def _writeback(db: Engine, tenant: Tenant) -> None:
    """Preview the write-back plan, approve it, apply it, show what the ERP holds now."""
    from arconnect.console import writeback_tables
    from arconnect.services import store_summary, writeback_context
    from arconnect.writeback import service as wb

    ctx = writeback_context(db, tenant)
    plan = wb.build_plan(ctx)
    wb.save_plan(db, plan)
    for table in writeback_tables(plan, show=8):
        console.print(table)
    counts = store_summary(db, tenant)
    if counts["archived"]:
        console.print(f"{counts['archived']:,} of the {counts['customers']:,} customers are "
                      "archived in the ERP: segmented, but write-back leaves archived ones "
                      f"alone, so at most {counts['customers'] - counts['archived']:,} can move")
    if plan.needs_approval:
        console.print(f"plan {plan.id} needs an approval ({safe(plan.approval_reason)}); the "
                      "demo approves it as [bold]demo[/]")
    with write_progress(out=console) as report:
        result = wb.apply_plan(ctx, plan, approved_by="demo", fresh=True,
                               budget=DEMO_WRITE_CALLS, progress=report)
    console.print(f"applied: {result.done} operations in {result.write_calls} write calls"
                  + (f"; {result.remaining} calls wait for the next run (budget)"
                     if result.remaining else ""))
    console.print(_erp_now_table(ctx, tenant))


def _erp_now_table(ctx: Any, tenant: Tenant) -> Table:
    """Where the segments stand in the ERP now: per slot value, the customers in it (Xero:
    members of the contact group; QuickBooks: customers of that customer type)."""
    from arconnect.platforms import get_platform
    from arconnect.writeback import service as wb

    platform = get_platform(tenant.platform)
    if ctx.refresh is not None:  # customers as the ERP holds them now (an incremental sync)
        ctx.refresh()
    erp = wb.read_erp(ctx)
    table = DataTable(title=f"{tenant.name}: what {platform.label} shows now")
    table.add_column("slot")
    table.add_column("value")
    table.add_column("customers", justify="right")
    for slot in ctx.outbound.named_slots():
        counts: dict[str, int] = {}
        for values in erp.values.values():
            held = values.get(slot.key)
            if isinstance(held, str):
                counts[held] = counts.get(held, 0) + 1
        for name in sorted(set(slot.names.values())):
            members = erp.members.get(name)
            n = len(members) if members is not None else counts.get(name, 0)
            table.add_row(slot.key, name, f"{n:,}")
    return table


def _sync(db, sync_tenants, *, full: bool) -> list[SyncResult]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    with sync_progress(console) as progress:
        results: list[SyncResult] = sync_tenants(db, None, full=full, progress=progress)
    console.print(f"{'full' if full else 'incremental'} sync: "
                  f"{time.monotonic() - started:.1f} s")
    return results


def _store_table(db: Engine, tenants: list[Tenant]) -> Table:
    from arconnect.services import store_summary

    table = DataTable(title="In the store", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("")
    for tenant in tenants:
        table.add_column(tenant.name, justify="right")
    summaries = [store_summary(db, t) for t in tenants]
    # The customers every later step counts (segments, write-back), and the two kinds whose
    # treatment differs: archived ones are never written back, and contacts with nothing
    # invoiced yet are kept (and segmented) because they may become customers.
    rows = [("customers", "customers", False), ("  of them archived", "archived", False),
            ("  of them nothing invoiced yet", "not_invoiced", False),
            ("invoices", "invoices", False),
            ("open invoices", "open_invoices", False), ("open balance", "open_balance", True),
            ("overdue balance", "overdue_balance", True), ("credit notes", "credit_notes", False),
            ("overpayments, prepayments", "cash_credits", False),
            ("unapplied credit", "unapplied_credit", True),
            ("payments", "payments", False), ("allocations", "allocations", False)]
    for label, key, money in rows:
        cells = [
            f"{t.base_currency} {s[key]:,.2f}" if money else f"{s[key]:,}"
            for t, s in zip(tenants, summaries, strict=True)
        ]
        table.add_row(label, *cells)
    return table
