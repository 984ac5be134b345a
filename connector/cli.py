"""The ``arconnect`` command. Each command is a thin call into ``arconnect.services``.

Errors a user can fix (bad settings, unknown tenant, invalid mapping, a refused grant) print one
red line and exit with status 2; a traceback means a bug.
"""

from __future__ import annotations

import errno
import getpass
import logging
import os
import sys
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.style import Style
from rich.text import Text
from sqlalchemy import Engine

from arconnect import __version__
from arconnect.adapters.base import Platform
from arconnect.callback import CallbackServer
from arconnect.console import (
    DataTable,
    DropControls,
    clean,
    console,
    err_console,
    plain,
    safe,
    sync_progress,
    sync_table,
)
from arconnect.errors import ArconnectError, MappingError, NotFoundError
from arconnect.jsonout import FORMAT_HELP, check_format, print_json, sync_doc, tenant_ref
from arconnect.segmenter.rules import Rules
from arconnect.settings import Settings
from arconnect.store.models import Tenant

if TYPE_CHECKING:
    from arconnect.auth.vault import TokenVault

app = typer.Typer(
    name="arconnect",
    help="Accounts-receivable segmentation connector for Xero, QuickBooks Online and NetSuite.\n\n"
    "Start with `arconnect demo` (everything runs locally against the bundled sandbox).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
tenants_app = typer.Typer(help="Connect organisations and list them.", no_args_is_help=True)
db_app = typer.Typer(help="The store: schema upgrades.", no_args_is_help=True)
mappings_app = typer.Typer(help="Field mappings (YAML a consultant edits).",
                           no_args_is_help=True)
secrets_app = typer.Typer(help="Encryption keys for stored tokens.", no_args_is_help=True)
rules_app = typer.Typer(help="Segment rules (config/segments.yaml and presets).",
                        no_args_is_help=True)
import_app = typer.Typer(help="Load AR history from files.", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(db_app, name="db")
app.add_typer(mappings_app, name="mappings")
app.add_typer(secrets_app, name="secrets")
app.add_typer(rules_app, name="rules")
app.add_typer(import_app, name="import")


def _sandbox_app() -> typer.Typer:
    from arconnect.sandbox.cli import app as sandbox_app

    return sandbox_app


app.add_typer(_sandbox_app(), name="sandbox",
              help="Local ERP emulators for demos and tests (`sandbox serve xero`).")


def _db() -> Engine:
    from arconnect.store.db import get_engine

    return get_engine()


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log retries and requests (no tokens).")
    ] = False,
) -> None:
    if version:
        console.print(f"arconnect {__version__}")
        raise typer.Exit()
    from arconnect.redact import RedactSecrets
    from arconnect.settings import get_settings

    level = "DEBUG" if verbose else get_settings().log_level.upper()
    handler = RichHandler(console=err_console, show_path=False)
    handler.addFilter(RedactSecrets())  # request lines carry OAuth codes: never log them
    handler.addFilter(DropControls())  # an error text from Xero is data: no escape sequences
    logging.basicConfig(level=level, format="%(message)s", datefmt="[%X]", handlers=[handler])


@app.command()
def demo(
    customers: Annotated[int, typer.Option(metavar="N", help="Customers in the demo company.")
                         ] = 300,
    invoices: Annotated[int, typer.Option(metavar="N", help="Sales invoices in the demo company.")
                        ] = 6000,
    database: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Store URL (default: ARCONNECT_DATABASE_URL, else "
                                         "./arconnect-demo.db): empty, or an earlier demo's."),
    ] = None,
) -> None:
    """Run the product end to end on the local Xero and QuickBooks Online sandboxes and SQLite.

    Starts both sandboxes on free ports, connects their demo organisation and company through
    each platform's real OAuth flow (consent auto-approved), runs a full sync, changes both
    companies a little, runs an incremental sync, and prints what was read and what it cost,
    side by side; then segments, previews each write-back and applies it within a small call
    budget, and shows what each ERP holds afterwards.

    Every demo starts from an empty store: what an earlier demo left there is removed first
    (it says so), and a store holding any organisation the demo did not connect is refused.
    """
    from arconnect.demo import run_demo

    run_demo(customers=customers, invoices=invoices, database_url=database)


@app.command()
def sync(
    tenants: Annotated[
        list[str] | None,
        typer.Argument(metavar="TENANT", help="Tenant ids or names (default: all)."),
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Ignore cursors; read everything.")] = False,
    reconcile: Annotated[
        bool,
        typer.Option("--reconcile", help="Also re-read every open invoice (catches edits Xero "
                     "does not timestamp, such as a due date on a partly paid invoice) and, "
                     "for QuickBooks, sweep for deletes older than its 30-day change feed."),
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, max=16, metavar="N",
                          help="Tenants synced at once (each has its own limits).")
    ] = 2,
) -> None:
    """Sync customers, invoices, credit notes, payments, overpayments and prepayments into the
    store (incremental).

    Each page is committed with its cursor, so an interrupted sync resumes where it stopped.
    A tenant whose daily API budget runs out stops with status rate_limited_daily and
    continues on the next run.
    """
    from arconnect.services import sync_tenants

    with sync_progress() as progress:
        results = sync_tenants(_db(), tenants, full=full, reconcile=reconcile,
                               progress=progress, workers=workers)
    console.print(sync_table(results))
    _grant_warnings([r.tenant_id for r in results])
    for r in results:
        if r.status == "busy":  # another process is on it: nothing wrong
            err_console.print(f"[yellow]{safe(r.tenant_name)}: {safe(r.error)}[/]")
    failed = [r for r in results if not r.ok and r.status != "busy"]
    for r in failed:
        err_console.print(f"[red]{safe(r.tenant_name)}: {r.status}: {safe(r.error)}[/]")
    if failed:
        raise typer.Exit(1)


@app.command()
def run(
    tenants: Annotated[
        list[str] | None,
        typer.Argument(metavar="TENANT", help="Tenant ids or names (default: all connected)."),
    ] = None,
    writeback: Annotated[bool, typer.Option(
        "--writeback/--no-writeback", help="Also write the segments back into the ERP.")
    ] = True,
    rules: Annotated[
        str | None, typer.Option(metavar="FILE|PRESET",
                                 help="Rules file or preset name (default: the configured "
                                      "ARCONNECT_RULES_FILE, else the shipped default).")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=16, metavar="N",
                          help="Tenants synced at once (each has its own limits).")
    ] = 2,
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json",
                                        help=FORMAT_HELP)] = "table",
) -> None:
    """Sync, segment and write back every tenant: what a scheduled job runs (cron, a timer).

    Each step runs only when the one before it succeeded, and one tenant's failure does not
    stop the others. A write-back plan that needs an approval stops at "plan ready" (approval
    on, or a move of more than ARCONNECT_WRITEBACK_APPROVAL_SHARE of the customers); approve it
    with `arconnect writeback TENANT --approve PLAN` and the next run applies it. A plan the
    day's call budget cut short resumes on the next run.

    Exit code: 0 when everything is done, 3 when a plan waits for an approval, 1 on a failure.
    With --format json the exit code is the same; stdout holds a list with one object per
    tenant (sync, customers, changed, write-back, plan, calls, errors).
    """
    from arconnect.services import run_tenants

    as_json = check_format(format)
    with sync_progress() as progress:
        results = run_tenants(_db(), tenants, writeback=writeback, rules=_rules(rules),
                              progress=progress, workers=workers,
                              writeback_progress=lambda t: progress.writes(t.name))
    if as_json:
        print_json([{"tenant": tenant_ref(r.tenant), "ok": r.ok,
                     "sync": sync_doc(r.sync) if r.sync else None, "customers": r.customers,
                     "changed": r.changes, "writeback": r.writeback, "plan_id": r.plan_id,
                     "approval_reason": r.approval_reason, "write_calls": r.write_calls,
                     "errors": r.errors, "notes": r.notes} for r in results])
    else:
        table = DataTable(title="Run", box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("tenant", "sync", "read", "customers", "changed", "write-back", "calls"):
            table.add_column(col, no_wrap=col != "tenant", justify="right" if col in (
                "read", "customers", "changed", "calls") else "left")
        for r in results:
            style = {"plan ready": "yellow", "failed": "red", "skipped": "red",
                     "partial": "yellow"}.get(r.writeback, "green")
            table.add_row(
                r.tenant.name, r.sync.status if r.sync else "—",
                f"{sum(r.sync.records.values()):,}" if r.sync else "—",
                f"{r.customers:,}", f"{r.changes:,}", plain(r.writeback, style),
                f"{r.write_calls:,}")
        console.print(table)
    hints = err_console if as_json else console  # with json, stdout holds the document only
    for r in results:
        if r.writeback == "plan ready":
            hints.print(f"{safe(r.tenant.name)}: plan [bold]{r.plan_id}[/] waits for an "
                        f"approval ({safe(r.approval_reason)}): review it with `arconnect "
                        f"writeback {safe(r.tenant.arg)} --plan {r.plan_id}`, approve it with "
                        f"`arconnect writeback {safe(r.tenant.arg)} --approve {r.plan_id}`")
        elif r.plan_id:
            hints.print(f"{safe(r.tenant.name)}: plan {r.plan_id} {r.writeback} "
                        f"(`arconnect audit {safe(r.tenant.arg)} --plan {r.plan_id}`)")
        for line in r.notes:
            err_console.print(f"[yellow]{safe(r.tenant.name)}: {safe(line)}[/]",
                              soft_wrap=True)
        for line in r.errors:
            err_console.print(f"[red]{safe(r.tenant.name)}: {safe(line)}[/]", soft_wrap=True)
    if any(not r.ok for r in results):
        raise typer.Exit(1)
    if any(r.writeback == "plan ready" for r in results):
        raise typer.Exit(3)


@tenants_app.command("list")
def tenants_list(
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json",
                                        help=FORMAT_HELP)] = "table",
) -> None:
    """The connected organisations, their status and last sync."""
    from arconnect.services import find_tenants, grant_expiry, grant_warning

    as_json = check_format(format)
    db = _db()
    if as_json:
        print_json([{**tenant_ref(t), "base_currency": t.base_currency, "status": t.status,
                     "status_detail": t.status_detail, "last_sync_at": t.last_sync_at,
                     "grant_expires_at": grant_expiry(db, t),
                     "writeback_plan": last_plan(db, t)} for t in find_tenants(db)])
        return
    table = DataTable(title="Tenants", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("id", "platform", "name", "ERP id", "currency", "status", "last sync",
                "grant lapses", "write-back plan"):
        # ids are to be copied: never cut them; a platform's name stays whole
        table.add_column(col, overflow="fold", min_width=10 if col == "platform" else None)
    warnings = []
    for t in find_tenants(db):
        status = t.status if not t.status_detail else f"{t.status}: {t.status_detail}"
        style = "green" if t.status == "active" else "red"
        expires = grant_expiry(db, t)
        warning = grant_warning(db, t) if t.status == "active" else None
        if warning:
            warnings.append(f"{t.name}: {warning}")
        table.add_row(
            str(t.id), t.platform, t.name, t.external_id, t.base_currency or "",
            plain(status, style),
            t.last_sync_at.strftime("%Y-%m-%d %H:%M UTC") if t.last_sync_at else "never",
            plain(expires.strftime("%Y-%m-%d"), "yellow" if warning else "")
            if expires else "—",
            last_plan_text(db, t),
        )
    console.print(table)
    for line in warnings:
        err_console.print(f"[yellow]{safe(line)}[/]", soft_wrap=True)


def _grant_warnings(tenant_ids: Iterable[int | None]) -> None:
    """A yellow line per tenant whose grant lapses soon (``ARCONNECT_GRANT_WARN_DAYS``)."""
    from arconnect.services import find_tenants, grant_warning

    db = _db()
    wanted = set(tenant_ids)
    for t in find_tenants(db):
        warning = grant_warning(db, t) if t.id in wanted and t.status == "active" else None
        if warning:
            err_console.print(f"[yellow]{safe(t.name)}: {safe(warning)}[/]", soft_wrap=True)


def last_plan(db: Engine, tenant: Tenant) -> dict[str, object] | None:
    """The tenant's newest write-back plan: id, status and whether it waits for an approval."""
    from arconnect.writeback import service as wb

    last = next(iter(wb.plans(db, tenant, limit=1)), None)
    if last is None:
        return None
    waiting = last["status"] == "ready" and last["needs_approval"] and not last["approved_by"]
    return {"id": last["id"], "status": last["status"], "needs_approval": bool(waiting)}


def last_plan_text(db: Engine, tenant: Tenant) -> str:
    """The tenant's newest write-back plan in a few words (``tenants list``)."""
    last = last_plan(db, tenant)
    if last is None:
        return "—"
    return f"{last['id']} {last['status']}" + (" (needs approval)" if last["needs_approval"]
                                               else "")


_SECRET_HELP = ("`-` reads it from stdin (a prompt that does not echo on a terminal); a "
                "value given here is visible to other users in `ps` and kept in shell history")


def _platform_arg(platform: str) -> Platform:
    """The platform named on the command line; a one-line error listing the supported ones."""
    from arconnect.platforms import get_platform

    return get_platform(platform)


_OAUTH2_SECRETS = ("client_secret", "refresh_token")
_OTHER_SECRETS = ("consumer_secret", "token_secret")


@tenants_app.command("add")
def tenants_add(
    ctx: typer.Context,
    platform: Annotated[str, typer.Argument(
        metavar="PLATFORM", help="Platform: xero, quickbooks or netsuite.")],
    client_id: Annotated[str | None, typer.Option(
        metavar="ID",
        help="The app's OAuth client id (default: ARCONNECT_XERO_CLIENT_ID, "
             "ARCONNECT_QBO_CLIENT_ID or ARCONNECT_NETSUITE_CLIENT_ID).")] = None,
    client_secret: Annotated[str | None, typer.Option(
        metavar="SECRET",
        help="The app's OAuth client secret (default: ARCONNECT_XERO_CLIENT_SECRET, "
             "ARCONNECT_QBO_CLIENT_SECRET or ARCONNECT_NETSUITE_CLIENT_SECRET); "
             + _SECRET_HELP + ".")] = None,
    refresh_token: Annotated[str | None, typer.Option(
        metavar="TOKEN",
        help="A refresh token of the grant (default: ARCONNECT_XERO_REFRESH_TOKEN, "
             "ARCONNECT_QBO_REFRESH_TOKEN or ARCONNECT_NETSUITE_REFRESH_TOKEN); "
             + _SECRET_HELP + ".")] = None,
    tenant_id: Annotated[str | None, typer.Option(
        "--tenant-id", "--realm-id", "--account", metavar="ID",
        help="Only this tenant: a Xero organisation's tenant id (default: every one the "
             "grant reaches), the QuickBooks company's realm id, or the NetSuite account id "
             "(1234567, or 1234567_SB1 for a sandbox) — required for QuickBooks and "
             "NetSuite.")] = None,
    certificate_id: Annotated[str | None, typer.Option(
        metavar="ID", help="NetSuite client credentials (M2M): the certificate id of the "
                           "integration's certificate mapping, with --client-id and "
                           "--private-key.")] = None,
    private_key: Annotated[Path | None, typer.Option(
        metavar="FILE", help="NetSuite client credentials: the PEM file of the certificate's "
                             "private key (RSA for PS256, EC for ES256); `-` reads it from "
                             "stdin.", allow_dash=True)] = None,
    consumer_key: Annotated[str | None, typer.Option(
        metavar="KEY", help="NetSuite token-based authentication: the integration's consumer "
                            "key, with --consumer-secret, --token-id and --token-secret.")
    ] = None,
    consumer_secret: Annotated[str | None, typer.Option(
        metavar="SECRET", help="NetSuite TBA consumer secret (default: "
                               "ARCONNECT_NETSUITE_CONSUMER_SECRET); " + _SECRET_HELP + ".")
    ] = None,
    token_id: Annotated[str | None, typer.Option(
        metavar="ID", help="NetSuite TBA token id (the access token's id).")] = None,
    token_secret: Annotated[str | None, typer.Option(
        metavar="SECRET", help="NetSuite TBA token secret (default: "
                               "ARCONNECT_NETSUITE_TOKEN_SECRET); " + _SECRET_HELP + ".")
    ] = None,
) -> None:
    """Add a grant headlessly (it is checked with the platform at once and stored encrypted).

    Xero and QuickBooks: a refresh token of the grant (it is rotated at once). One Xero grant
    can reach several organisations; each becomes a tenant. A QuickBooks grant is for one
    company: give its realm id (`--realm-id`, shown in the redirect after consent and in
    QuickBooks under Settings ─▶ Account and settings ─▶ Billing & subscription).

    NetSuite (`--account`, required) takes one of three schemes: an authorization-code grant
    (`--client-id --client-secret --refresh-token`; it lasts 7 days and cannot be kept alive),
    client credentials (`--client-id --certificate-id --private-key FILE`; recommended for
    unattended use), or token-based authentication (`--consumer-key --consumer-secret
    --token-id --token-secret`; NetSuite 2027.1 no longer lets new TBA integrations be
    created).

    Give secrets through the environment (ARCONNECT_XERO_CLIENT_SECRET, ..._REFRESH_TOKEN; the
    same names under ARCONNECT_QBO and ARCONNECT_NETSUITE, which adds ..._CONSUMER_SECRET and
    ..._TOKEN_SECRET) or stdin (`--refresh-token -`), not on the command line. The tenants are
    checked before anything is stored: a wrong id stores nothing.
    """
    from arconnect.auth.service import add_grant, check_vault
    from arconnect.auth.vault import get_vault
    from arconnect.settings import get_settings

    port = _platform_arg(platform)
    settings = get_settings()
    env = port.env_prefix
    given = {"client_secret": client_secret, "refresh_token": refresh_token,
             "consumer_secret": consumer_secret, "token_secret": token_secret}
    if sum(v == "-" for v in given.values()) + (str(private_key) == "-") > 1:
        raise ArconnectError("more than one option reads stdin (`-`), but only one of them can "
                             "read stdin; give the others through the environment "
                             f"({env}_CLIENT_SECRET, ...). Nothing was changed")
    configured_id, configured_secret = port.configured_app(settings)
    scheme_m2m, scheme_tba = certificate_id or private_key, consumer_key or token_id
    options: dict[str, str | None] = {
        "account": tenant_id, "certificate_id": certificate_id,
        "consumer_key": consumer_key, "token_id": token_id,
        "client_id": (None if scheme_tba else
                      client_id or os.environ.get(f"{env}_CLIENT_ID") or configured_id),
    }
    # Each secret: the option, else its variable; read (and checked) only when the scheme
    # given needs it, so a TBA grant does not ask for a refresh token.
    needed = (("consumer_secret", "token_secret") if scheme_tba
              else () if scheme_m2m else _OAUTH2_SECRETS)
    fallback = {"client_secret": configured_secret}
    for name in (*_OAUTH2_SECRETS, *_OTHER_SECRETS):
        value = given[name] or os.environ.get(f"{env}_{name.upper()}") or fallback.get(name)
        if name in needed:
            value = _secret_arg(ctx, name, value, f"{env}_{name.upper()}")
        elif value == "-":
            raise ArconnectError(f"--{name.replace('_', '-')} is not part of this grant's "
                                 "scheme. Nothing was changed")
        options[name] = value if name in needed or given[name] else None
    if private_key is not None:
        options["private_key"] = _key_file(private_key)
    if scheme_m2m and not options["client_id"]:
        raise ArconnectError(f"--client-id is missing: pass your {port.label} integration's "
                             f"client id or set {env}_CLIENT_ID. Nothing was changed")
    if not scheme_m2m and not scheme_tba and not options["client_id"]:
        raise ArconnectError(f"--client-id is missing: pass your {port.label} app's client id "
                             f"or set {env}_CLIENT_ID. Nothing was changed")
    if port.callback_params and not tenant_id:
        raise ArconnectError(f"--{port.tenant_id_option} is missing: a {port.label} grant is "
                             f"for one {port.tenant_word}; give its id. Nothing was changed")
    stored_id, stored_secret, token = port.headless_grant(settings, options)
    vault = get_vault()
    db = _db()
    check_vault(db, vault)  # a wrong key fails here, before the refresh token is used up
    added = add_grant(
        db, port.name, client_id=stored_id, client_secret=stored_secret, refresh_token=token,
        tenant_id=tenant_id, vault=vault,
    )
    console.print(f"tokens stored encrypted under key {vault.fingerprint}")
    for t in added:
        console.print(f"[green]connected[/] {safe(t.name)} ({safe(t.external_id)}) as tenant "
                      f"{t.id}")


def _key_file(path: Path) -> str:
    """The text of a private key file (``-``: stdin); a one-line error when it cannot be
    read. The key itself never appears in a message."""
    if str(path) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ArconnectError(f"--private-key {path}: cannot read it "
                                 f"({getattr(err, 'strerror', None) or type(err).__name__}). "
                                 "Nothing was changed") from None
    if "PRIVATE KEY" not in text:
        raise ArconnectError(f"--private-key {path}: not a PEM private key (no \"-----BEGIN "
                             "... PRIVATE KEY-----\" line). Nothing was changed")
    return text


@tenants_app.command("connect")
def tenants_connect(
    platform: Annotated[str, typer.Argument(
        metavar="PLATFORM", help="Platform: xero or quickbooks.")],
    port: Annotated[int | None, typer.Option(
        metavar="PORT", help="Local port of the redirect listener (default: the port of the "
             "platform's redirect URI setting, 8765). The redirect URI with this port must be "
             "registered with your app.")] = None,
    paste: Annotated[bool, typer.Option(
        "--paste", help="Do not listen: after consent, paste the address the browser was "
             "sent to. For an https or custom-scheme redirect URI (Intuit's production keys "
             "and NetSuite require one; then it is the default), or a browser on another "
             "machine.")] = False,
    account: Annotated[str | None, typer.Option(
        "--account", "--tenant-id", metavar="ID",
        help="The NetSuite account id (1234567, or 1234567_SB1 for a sandbox): its consent "
             "page and token endpoint live on the account's own host.")] = None,
) -> None:
    """Connect tenants through the browser (OAuth; PKCE where the platform takes it).

    Checks the secret key and the store first, prints the consent URL, then either listens on
    the redirect URI's port on this machine (http://localhost:PORT/callback/PLATFORM:
    register exactly that redirect URI with your app), or, with --paste, asks for the address
    the browser was redirected to. Stores one tenant per organisation (Xero), the company
    chosen (QuickBooks) or the account (NetSuite, `--account`; NetSuite accepts only https or
    custom-scheme redirect URIs, so the address is pasted). Set ARCONNECT_SECRET_KEY and the
    app's client id and secret first: ARCONNECT_XERO_CLIENT_ID and ARCONNECT_XERO_CLIENT_SECRET,
    ARCONNECT_QBO_CLIENT_ID and ARCONNECT_QBO_CLIENT_SECRET, or ARCONNECT_NETSUITE_CLIENT_ID and
    ARCONNECT_NETSUITE_CLIENT_SECRET.
    """
    from arconnect.auth.service import check_vault
    from arconnect.auth.vault import get_vault
    from arconnect.settings import get_settings

    platform_ = _platform_arg(platform)
    settings = get_settings()
    platform_.app_credentials(settings)  # named settings missing: fail before anything else
    # Everything that can fail locally fails now, before the user consents in the browser.
    vault = get_vault()
    db = _db()
    check_vault(db, vault)
    if not paste and not _listenable(platform_.redirect_uri(settings)):
        paste = True  # an https or custom-scheme redirect: nothing here can receive it
    if paste:
        added = _connect_by_paste(platform_, settings, db, vault, account)
    else:
        host, port, path = _local_redirect(platform_, settings, port)
        with _listen(platform_, host, port, path) as listener:
            redirect_uri = f"http://{host}:{listener.port}{path}"
            added = _connect_by_listener(platform_, settings, redirect_uri, listener, db, vault,
                                         account)
    console.print(f"tokens stored encrypted under key {vault.fingerprint}")
    for t in added:
        console.print(f"[green]connected[/] {safe(t.name)} ({safe(t.external_id)}) as tenant "
                      f"{t.id}")


@tenants_app.command("disconnect")
def tenants_disconnect(
    tenant: Annotated[str, typer.Argument(metavar="TENANT", help="Tenant id or name.")],
    remove_writeback: Annotated[bool | None, typer.Option(
        "--remove-writeback/--keep-writeback",
        help="Remove what write-back put in the ERP first (our groups and memberships or "
             "customer types, the terms we set; History notes stay), or leave it there. Asked "
             "when not given.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
                   ] = False,
    by: Annotated[str | None, typer.Option("--by", metavar="NAME", help="Who disconnects "
                                           "(default: your user name); recorded.")] = None,
) -> None:
    """Disconnect an organisation or company.

    First offers to remove what write-back put in the ERP (it runs `arconnect writeback
    TENANT --remove-all`; if the day's call budget runs out it stops there, and running this
    again resumes). Then Xero drops the connection (with the grant's last organisation the
    grant is revoked), or QuickBooks' grant (one company's) is revoked; the tokens are erased.
    Synced data, segments and the audit trail stay in the store; `arconnect tenants connect
    PLATFORM` reconnects.
    """
    from arconnect.auth.service import disconnect_tenant
    from arconnect.auth.tokens import STATUS_DISCONNECTED
    from arconnect.auth.vault import get_vault
    from arconnect.writeback import service as wb

    db = _db()
    t = _tenant(tenant)
    who = by or getpass.getuser()
    if t.status == STATUS_DISCONNECTED:
        console.print(f"{safe(t.name)} is already disconnected ({safe(t.status_detail)})")
        return
    interactive = sys.stdin.isatty()
    if wb.has_written(db, t):
        if remove_writeback is None:
            if not interactive:
                raise ArconnectError(
                    f"arconnect wrote segments or terms into {t.name}: pass "
                    f"--remove-writeback to remove them before disconnecting, or "
                    f"--keep-writeback to leave them in the ERP. Nothing was changed.")
            remove_writeback = typer.confirm(
                f"arconnect wrote segments or terms into {clean(t.name)}. Remove them "
                f"before disconnecting? (History notes stay)", default=True)
        if remove_writeback:
            _remove_all_before_disconnect(db, t, who)
    if not yes:
        if not interactive:
            raise ArconnectError(f"disconnecting {t.name} needs a confirmation: pass --yes. "
                                 f"Nothing was changed.")
        typer.confirm(f"Disconnect {clean(t.name)} ({clean(t.external_id)})?", abort=True)
    done = disconnect_tenant(db, t, get_vault(), by=who)
    console.print(f"[green]disconnected[/] {safe(t.name)}: {safe(done)}. Its synced data, "
                  f"segments and audit trail stay in the store.")


def _remove_all_before_disconnect(db: Engine, t: Tenant, who: str) -> None:
    """Apply (or resume) a remove-all plan; stop the disconnect unless it completed."""
    from arconnect.console import write_progress, writeback_tables
    from arconnect.services import writeback_context
    from arconnect.writeback import service as wb

    ctx = writeback_context(db, t, rules=_rules(None))
    choice = wb.plan_or_resume(ctx, kind="remove_all")
    plan, fresh = choice.plan, choice.fresh
    if choice.resumed:
        console.print(f"resuming plan {plan.id} (remove all)")
    for table in writeback_tables(plan, show=10):
        console.print(table)
    with write_progress("remove-all") as report:
        result = wb.apply_plan(ctx, plan, approved_by=who, fresh=fresh, progress=report)
    for line in result.errors[:10]:
        err_console.print(f"  {safe(line)}")
    if result.status == "partial":
        raise ArconnectError(
            f"{t.name}: the day's write budget ran out with {result.remaining} calls of plan "
            f"{plan.id} left; {t.name} stays connected. Run `arconnect tenants disconnect "
            f"{t.arg}` again tomorrow: it resumes.")
    if result.failed:
        raise ArconnectError(
            f"{t.name}: {result.failed} removals failed (listed above); {t.name} stays "
            f"connected. Fix them and run `arconnect tenants disconnect {t.arg}` again.")
    console.print(f"removed what write-back put in {safe(t.name)} ({result.write_calls} "
                  f"calls)")


def _connect_by_listener(platform: Platform, settings: Settings, redirect_uri: str,
                         listener: CallbackServer, db: Engine,
                         vault: TokenVault, tenant: str | None = None) -> list[Tenant]:
    """Print the consent URL, wait for the platform's redirect, store the grant."""
    from arconnect.auth.service import begin_connect, complete_connect

    request = begin_connect(platform.name, settings, redirect_uri, tenant=tenant)
    listener.expect_state(request.state)  # the browser hears "Connected" only for this state
    console.print(f"Open this address to connect {platform.label} (sign in, choose the "
                  f"{platform.tenant_word}, allow access):")
    show_link(console, request.url)
    console.print(f"waiting for {platform.label}'s redirect to {redirect_uri} (Ctrl-C to stop)")
    code, state = listener.wait()
    callback = {k: v for k, v in listener.params.items() if k in platform.callback_params}
    return complete_connect(db, platform.name, request, code, state, redirect_uri, vault,
                            callback=callback, tenant=tenant)


def _connect_by_paste(platform: Platform, settings: Settings, db: Engine,
                      vault: TokenVault, tenant: str | None = None) -> list[Tenant]:
    """Print the consent URL; the user pastes the address the browser was redirected to."""
    from arconnect.auth.service import begin_connect, complete_connect

    redirect_uri = platform.redirect_uri(settings)
    request = begin_connect(platform.name, settings, redirect_uri, tenant=tenant)
    console.print(f"Open this address to connect {platform.label} (sign in, choose the "
                  f"{platform.tenant_word}, allow access):")
    show_link(console, request.url)
    console.print(f"The browser is then sent to {redirect_uri}?code=…; copy that whole "
                  "address from the address bar (the page itself may not load).")
    pasted = (typer.prompt("Paste it here", hide_input=True) if sys.stdin.isatty()
              else sys.stdin.readline()).strip()
    params = _redirect_params(pasted, redirect_uri)
    callback = {k: v for k, v in params.items() if k in platform.callback_params}
    return complete_connect(db, platform.name, request, params["code"],
                            params.get("state", ""), redirect_uri, vault, callback=callback,
                            tenant=tenant)


def _redirect_params(pasted: str, redirect_uri: str) -> dict[str, str]:
    """The query of a pasted redirect address; a one-line error when it is not one."""
    from urllib.parse import parse_qs

    parts = urlsplit(pasted)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    expected = urlsplit(redirect_uri)
    if (parts.scheme, parts.netloc, parts.path) != (expected.scheme, expected.netloc,
                                                    expected.path):
        raise ArconnectError(f"the pasted address is not the redirect URI {redirect_uri} "
                             "with a code; copy the whole address the browser shows after "
                             "consent. Nothing was stored")
    if "error" in params:
        raise ArconnectError(f"the platform refused the connection: {params['error']}. "
                             "Nothing was stored")
    if "code" not in params:
        raise ArconnectError("the pasted address carries no authorization code; copy the "
                             "whole address the browser shows after consent. Nothing was "
                             "stored")
    return params


def show_link(out: Console, url: str) -> None:
    """Print ``url`` on one line, never wrapped (it must survive copy and paste whole), and
    clickable (an OSC 8 terminal hyperlink) when ``out`` is a terminal."""
    out.print(Text(url, style=Style(link=url)), soft_wrap=True, highlight=False)


def _listenable(uri: str) -> bool:
    """A redirect URI this machine can receive: http on localhost."""
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1")


def _local_redirect(platform: Platform, settings: Settings,
                    port: int | None) -> tuple[str, int, str]:
    """Host, port and path of the local redirect listener: the platform's redirect URI
    setting's, the port replaced by ``--port`` when given."""
    uri = platform.redirect_uri(settings)
    parts = urlsplit(uri)
    if parts.scheme != "http" or parts.hostname not in ("localhost", "127.0.0.1"):
        raise ArconnectError(
            f"{platform.env_prefix}_REDIRECT_URI is {uri}: `arconnect tenants connect` listens "
            f"on this machine, so it needs http://localhost:PORT/PATH (registered with your "
            f"{platform.label} app); use `arconnect tenants connect {platform.name} --paste` "
            "for an https redirect URI, or unset it for "
            f"http://localhost:8765/callback/{platform.name}")
    return parts.hostname, (parts.port or 80) if port is None else port, parts.path or "/"


def _listen(platform: Platform, host: str, port: int, path: str) -> CallbackServer:
    """The redirect listener on ``port``; a port in use is a one-line error offering one."""
    from arconnect.callback import CallbackServer, free_port

    try:
        return CallbackServer("127.0.0.1", port, path)
    except OSError as err:
        spare = free_port()
        why = ("is in use (the sandbox's default port is 8765 too)"
               if err.errno == errno.EADDRINUSE else f"cannot be used ({err.strerror})")
        raise ArconnectError(
            f"port {port} {why}: run `arconnect tenants connect {platform.name} --port "
            f"{spare}` (free now) and register http://{host}:{spare}{path} as a redirect URI "
            f"of your {platform.label} app (an exact match is required), or free port {port}. "
            "Nothing was changed") from None


def _secret_arg(ctx: typer.Context, name: str, value: str | None, envvar: str) -> str:
    """A secret option's value: given, from its environment variable, or read from stdin
    (``-``). A value typed on the command line works, with a warning (``ps`` shows it)."""
    option = "--" + name.replace("_", "-")
    if value == "-":
        value = (getpass.getpass(f"{option}: ") if sys.stdin.isatty()
                 else sys.stdin.readline()).strip()
        if not value:
            raise ArconnectError(f"{option} -: stdin gave no value; pipe it in or set "
                                 f"{envvar}. Nothing was changed")
        return value
    if not value:
        raise ArconnectError(f"{option} is missing: set {envvar} or pass `{option} -` to read "
                             f"it from stdin. Nothing was changed")
    source = ctx.get_parameter_source(name)  # click's ParameterSource (typer vendors click)
    if getattr(source, "name", None) == "COMMANDLINE":
        err_console.print(f"[yellow]warning:[/] {option} on the command line is visible to "
                          f"other users (ps, shell history): set {envvar} or pass `{option} -`",
                          soft_wrap=True)
    return value


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the store's schema to this version (alembic migrations)."""
    from arconnect.store.db import current_revision, get_engine

    engine = get_engine()
    console.print(f"store at revision [bold]{current_revision(engine)}[/] ({engine.url!r})")


@mappings_app.command("check")
def mappings_check(
    files: Annotated[
        list[Path] | None,
        typer.Argument(metavar="FILE",
                       help="Mapping files (default: every platform's mapping, shipped or "
                            "from ARCONNECT_MAPPINGS_DIR)."),
    ] = None,
) -> None:
    """Validate mapping files (inbound fields, and the outbound section against the platform's
    write-back); errors and warnings name file:line and the fix."""
    from arconnect.mapping import check_mapping
    from arconnect.platforms import platform_names
    from arconnect.services import mapping_source
    from arconnect.writeback.outbound import check_outbound

    sources: list[Path | str] = (list(files) if files
                                 else [mapping_source(p) for p in platform_names()])
    for source in sources:
        rows = check_mapping(source)
        table = DataTable(title=f"{source}: valid")
        columns = list(rows[0].keys()) if rows else ["entity"]
        for col in columns:
            table.add_column(str(col))
        for row in rows:
            table.add_row(*(str(row[c]) for c in columns))
        console.print(table)
        for warning in check_outbound(source):
            err_console.print(f"warning: {warning}")


@secrets_app.command("generate")
def secrets_generate() -> None:
    """Print a new key for ARCONNECT_SECRET_KEY."""
    from arconnect.auth.vault import generate_key, key_fingerprint

    key = generate_key()
    console.print(key, soft_wrap=True)
    err_console.print(f"fingerprint {key_fingerprint(key)} (how arconnect names this key)")


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored token under the newest key.

    Set ARCONNECT_SECRET_KEYS=new,old (and unset ARCONNECT_SECRET_KEY: both set is refused), run
    this, then keep only the new key. Prints the fingerprint of the key now in use.
    """
    from arconnect.auth.service import rotate_secrets
    from arconnect.auth.vault import get_vault

    vault = get_vault()
    done = rotate_secrets(_db(), vault)
    older = vault.fingerprints[1:]
    console.print(f"re-encrypted the secrets of {done} grant(s) under key {vault.fingerprint}"
                  + (f"; the older key(s) {', '.join(older)} can now be dropped" if older
                     else " (the only key configured)"))


def _tenant(key: str) -> Tenant:
    from arconnect.services import find_tenants

    return find_tenants(_db(), [key])[0]


def _rules(source: str | None) -> Rules:
    """The rules to use: ``source`` (a file or a preset name), else ARCONNECT_RULES_FILE, else
    the shipped default."""
    from arconnect.segmenter.rules import load_rules
    from arconnect.settings import get_settings

    return load_rules(source or get_settings().rules_file or "default")


AsOfOption = Annotated[
    datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="Measure as of this day: nothing dated after it is read (default: today; for an "
             "imported CSV history, its last activity).")
]
WindowOption = Annotated[
    int | None, typer.Option(
        "--window-days", min=1, max=3650, metavar="N",
        help="Metrics window: the N days up to the as-of date (default: the rules' "
             "window_days, 365).")
]


def _as_of(value: datetime | None, tenant: Tenant) -> date | None:
    """``--as-of`` as a date; a day after the organisation's today is refused."""
    from arconnect.segmenter.service import run_date_for

    if value is None:
        return None
    today = run_date_for(tenant)
    if value.date() > today:
        raise ArconnectError(f"--as-of {value.date()}: after today ({today}) for "
                             f"{tenant.name}; give a date up to today")
    return value.date()


def _notes(notes: Iterable[str]) -> None:
    for note in notes:
        err_console.print(f"[yellow]{safe(note)}[/]")


@app.command()
def segment(
    tenants: Annotated[
        list[str] | None,
        typer.Argument(metavar="TENANT", help="Tenant ids or names (default: all)."),
    ] = None,
    rules: Annotated[
        str | None, typer.Option(metavar="FILE|PRESET",
                                 help="Rules file or preset name (default: the configured "
                                      "ARCONNECT_RULES_FILE, else the shipped default).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute and show; write nothing.")
                       ] = False,
    ignore_hysteresis: Annotated[bool, typer.Option(
        "--ignore-hysteresis", help="With --dry-run: where the rules alone would put each "
                                    "customer (margins and min_days_in_segment off; locks "
                                    "hold).")] = False,
    show: Annotated[int, typer.Option(metavar="N", help="Customers to list per tenant (0: "
                                                       "summary only).")] = 15,
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json",
                                        help=FORMAT_HELP)] = "table",
    as_of: AsOfOption = None,
    window_days: WindowOption = None,
) -> None:
    """Compute payment metrics, segment tags, credit limits and terms for every customer.

    Writes one assignment per customer (with its metrics and reasons) and a history row for
    every change; prints the customers whose segment changed and a per-segment summary with
    KPIs (overdue share, DSO and CEI over the last 90 days, late share, average days late,
    credit limits) and a whole-ledger row. With --format json: a list with one object per
    tenant (every KPI per segment and of the ledger, and every customer whose segment
    changed). --dry-run also previews the run against the stored results: who
    would move, who min_days_in_segment, a margin or a lock holds, and why.
    """
    from arconnect.console import preview_tables, segment_tables
    from arconnect.jsonout import preview_doc, segment_doc
    from arconnect.segmenter.kpis import segment_kpis
    from arconnect.segmenter.preview import preview_run
    from arconnect.segmenter.service import segment_tenant
    from arconnect.services import find_tenants

    as_json = check_format(format)
    if ignore_hysteresis and not dry_run:
        raise ArconnectError("--ignore-hysteresis previews where the rules alone would put each "
                             "customer; add --dry-run (a run always applies the hysteresis)")
    ruleset = _rules(rules)
    docs = []
    for tenant in find_tenants(_db(), tenants):
        run = segment_tenant(_db(), tenant, rules=ruleset, dry_run=dry_run,
                             run_date=_as_of(as_of, tenant), window_days=window_days)
        _notes(run.notes)
        kpis = segment_kpis(_db(), tenant, run=run)
        preview = (preview_run(_db(), run, ruleset, hysteresis=not ignore_hysteresis)
                   if dry_run else None)
        if as_json:
            doc = segment_doc(run, dry_run=dry_run, kpis=kpis)
            if preview is not None:
                doc["preview"] = preview_doc(preview)
            docs.append(doc)
            continue
        for table in segment_tables(run, show=show, kpis=kpis):
            console.print(table)
        for table in preview_tables(preview, show=show) if preview is not None else []:
            console.print(table)
    if as_json:
        print_json(docs)


@app.command()
def export(
    tenant: Annotated[str, typer.Argument(metavar="TENANT",
                                          help="Tenant id or name (`arconnect tenants list`).")],
    format: Annotated[str, typer.Option("--format", "-f", metavar="json|csv", help="json or csv.")
                      ] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                help="File (default: stdout).")] = None,
    as_of: AsOfOption = None,
    window_days: WindowOption = None,
    rules: Annotated[
        str | None, typer.Option(metavar="FILE|PRESET",
                                 help="With --as-of or --window-days: the rules to apply "
                                      "(default: as for `segment`).")
    ] = None,
) -> None:
    """Export every customer's segment, tags, credit limit, terms, hold, reasons and metrics.

    JSON: a list of objects with customer_id (the ERP's id), name, segment, tags, credit_limit,
    terms_days, credit_hold, reasons and metrics (amounts in base currency). CSV: one row per
    customer, metrics as columns. By default the last `segment` run's assignments; with
    --as-of or --window-days they are computed for that date and window (nothing is stored).
    """
    from arconnect.segmenter.service import export_rows, export_text

    if format not in ("json", "csv"):
        raise ArconnectError(f"--format {format!r}: use json or csv")
    if output is not None:
        _check_output_folder(output)
    if rules is not None and as_of is None and window_days is None:
        raise ArconnectError("--rules applies with --as-of or --window-days; without them the "
                             "export is the last `segment` run's (run `segment --rules` first)")
    found = _tenant(tenant)
    notes: list[str] = []
    rows = export_rows(_db(), found, run_date=_as_of(as_of, found), window_days=window_days,
                       rules=_rules(rules) if as_of or window_days else None, notes=notes)
    _notes(notes)
    text = export_text(rows, format)
    if output is None:
        sys.stdout.write(text)
    else:
        _write_whole(output, text)
        err_console.print(f"wrote {safe(output)}")


@app.command()
def report(
    tenant: Annotated[str, typer.Argument(metavar="TENANT",
                                          help="Tenant id or name (`arconnect tenants list`).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE|FOLDER",
        help="The HTML file to write, or a folder to write it in (default: "
             "report-TENANT-DATE.html in the current folder); - writes to stdout.")] = None,
    as_of: AsOfOption = None,
    window_days: WindowOption = None,
    rules: Annotated[
        str | None, typer.Option(metavar="FILE|PRESET",
                                 help="Compute with these rules instead of reading the last "
                                      "`segment` run (default: as for `segment`).")
    ] = None,
) -> None:
    """One self-contained HTML page about a tenant's segments, to mail or archive.

    Segments (customers, open amount), aging by segment, moves between segments from the
    segment history, KPIs per segment (DSO, CEI, overdue and late share, days late, credit
    limits) and the top of the worklist; charts are inline SVG, and the page loads nothing
    from anywhere. By default the last `segment` run; with --as-of, --window-days or --rules
    computed for that date (nothing is stored).
    """
    from arconnect.report import build_report

    to_stdout = output is not None and str(output) == "-"
    if output is not None and not to_stdout and not output.is_dir():
        _check_output_folder(output)
    found = _tenant(tenant)
    day = _as_of(as_of, found)
    computed = day is not None or window_days is not None or rules is not None
    if err_console.is_terminal:  # minutes on a large ledger; a log or a pipe gets the result
        err_console.print(f"{safe(found.name)}: building the report ("
                          + ("computed" if computed else "the last segment run") + ") …",
                          highlight=False)
    notes: list[str] = []
    page = build_report(_db(), found, rules=_rules(rules) if computed else None, run_date=day,
                        window_days=window_days, notes=notes)
    _notes(notes)
    if to_stdout:
        sys.stdout.write(page.html)
        return
    target = _report_path(output, found, page.run_date)
    _write_whole(target, page.html)
    err_console.print(f"wrote {safe(target.resolve())}")


def _report_path(output: Path | None, tenant: Tenant, run_date: date) -> Path:
    """``output``, or the default name (``report-<tenant>-<as-of date>.html``) in ``output``
    when it is a folder, else in the current folder."""
    if output is not None and not output.is_dir():
        return output
    import re

    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", tenant.name).strip("-.") or f"tenant-{tenant.id}"
    name = f"report-{slug[:60]}-{run_date.isoformat()}.html"
    return (output or Path.cwd()) / name


def _check_output_folder(output: Path) -> None:
    """Refuse an --output whose folder does not exist, before anything is read."""
    if not output.parent.is_dir():
        raise ArconnectError(f"--output {output}: the folder {output.parent} does not exist; "
                             "create it or give another path")


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a temporary file beside it, renamed
    over it, so a failed write (a full disk, no permission) never leaves half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        raise ArconnectError(f"--output {path}: cannot write it ({err.strerror}); check the "
                             "path and its permissions") from None


@app.command()
def worklist(
    tenant: Annotated[str, typer.Argument(metavar="TENANT",
                                          help="Tenant id or name (`arconnect tenants list`).")],
    as_of: AsOfOption = None,
    window_days: WindowOption = None,
    rules: Annotated[
        str | None, typer.Option(metavar="FILE|PRESET",
                                 help="Compute with these rules instead of reading the last "
                                      "`segment` run (with --as-of or --window-days alone: "
                                      "the rules `segment` uses).")
    ] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, metavar="N", help="List the first N customers (default: all).")
    ] = None,
    format: Annotated[str, typer.Option(
        "--format", "-f", metavar="table|json|csv",
        help="table; json: one JSON document on stdout, messages on stderr; csv: one row per "
             "customer.")] = "table",
    items: Annotated[bool, typer.Option(
        "--items/--no-items", help="Show each customer's open overdue invoices (table: a "
                                   "second table; JSON: an items list).")] = True,
) -> None:
    """Who to call first: every customer with an open overdue amount, highest priority first.

    Priority = likelihood of paying late × overdue amount × (1 + days past due of the oldest
    item / 30). The likelihood is the customer's own share of invoices paid late, shrunk
    towards its segment's (docs/segments.md §8). Each customer comes with the reason in
    words, its open overdue invoices and the next step of its segment's dunning policy. By
    default the last `segment` run's results; with --as-of, --window-days or --rules it is
    computed for that date and window (nothing is stored).
    """
    from arconnect.console import worklist_tables
    from arconnect.jsonout import worklist_doc
    from arconnect.segmenter.worklist import build_worklist, worklist_csv

    if format not in ("table", "json", "csv"):
        raise ArconnectError(f"--format {format!r}: use table, json or csv. Nothing was done")
    found = _tenant(tenant)
    notes: list[str] = []
    computed = as_of is not None or window_days is not None or rules is not None
    result = build_worklist(_db(), found, rules=_rules(rules) if computed else None,
                            run_date=_as_of(as_of, found), window_days=window_days,
                            limit=limit, notes=notes)
    _notes(notes)
    if format == "json":
        print_json(worklist_doc(result, items=items))
    elif format == "csv":
        sys.stdout.write(worklist_csv(result))
    else:
        for table in worklist_tables(result, items=items):
            console.print(table)


@app.command()
def lock(
    tenant: Annotated[str, typer.Argument(metavar="TENANT", help="Tenant id or name.")],
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER",
                                            help="Customer id, name or number.")],
    segment_name: Annotated[
        str | None, typer.Option("--segment", metavar="SEGMENT",
                                 help="Hold in this segment (default: current).")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
                                      help="Last day of the lock.")
    ] = None,
) -> None:
    """Hold a customer in a segment whatever the rules say (until a date, or until unlocked)."""
    from arconnect.segmenter.service import lock_customer

    held = lock_customer(_db(), _tenant(tenant), customer, segment=segment_name,
                         until=until.date() if until else None, rules=_rules(None))
    console.print(f"{safe(customer)} locked to [bold]{safe(held)}[/]"
                  + (f" until {until.date()}" if until else " until unlocked"))


@app.command()
def writeback(
    tenant: Annotated[str, typer.Argument(metavar="TENANT", help="Tenant id or name.")],
    apply: Annotated[bool, typer.Option("--apply", help="Write to the ERP (default: preview).")
                     ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; write nothing "
                                                            "(the default).")] = False,
    plan_id: Annotated[str | None, typer.Option("--plan", metavar="PLAN", help="Show a stored "
                                                "plan; with --apply, apply (and so approve) "
                                                "it.")] = None,
    approve: Annotated[str | None, typer.Option("--approve", metavar="PLAN", help="Approve a "
                                                "stored plan for the next run.")] = None,
    by: Annotated[str | None, typer.Option("--by", metavar="NAME", help="Who approves "
                                           "(default: your user name).")] = None,
    rollback: Annotated[str | None, typer.Option("--rollback", metavar="PLAN", help="Plan the "
                                                 "way back to before this plan ran.")] = None,
    remove_all: Annotated[bool, typer.Option("--remove-all", help="Plan removing our groups "
                                                                  "and terms from the ERP.")
                          ] = False,
    show: Annotated[int, typer.Option(metavar="N", help="Operations to list (0: summary only).")
                    ] = 25,
) -> None:
    """Put segments, credit limits and terms into the ERP: preview, approve, apply.

    Without --apply it prints the plan (customer, from ─▶ to, reason) and stores it with an
    id (a plan identical to the one already waiting keeps its id); `--plan PLAN` alone shows
    a stored plan. `--apply` makes a fresh plan and applies it, unless it needs an approval
    (approval on, or it moves more than ARCONNECT_WRITEBACK_APPROVAL_SHARE of the customers):
    then it stops at "plan ready" — apply that plan with `--apply --plan PLAN` (which approves
    it). A stored plan is checked against the ERP before it runs; if the ERP changed, it is
    refused as stale.
    """
    from arconnect.console import writeback_tables
    from arconnect.services import writeback_context
    from arconnect.writeback import service as wb

    db = _db()
    t = _tenant(tenant)
    if approve:
        plan = wb.approve_plan(db, t, approve, by)
        console.print(f"plan {plan.id} approved by {safe(plan.approved_by)}; the next "
                      f"`arconnect writeback {safe(t.arg)} --apply` applies it")
        return
    ctx = writeback_context(db, t, rules=_rules(None))
    if plan_id:
        plan = wb.load_plan(db, t, plan_id)
        fresh = False
    else:
        kind = "rollback" if rollback else "remove_all" if remove_all else "segments"
        choice = wb.plan_or_resume(ctx, kind=kind, rollback_of=rollback,
                                   resume=apply and kind == "segments")
        plan, fresh = choice.plan, choice.fresh
        if choice.resumed:
            console.print(f"resuming plan {plan.id} ({plan.status})")
    for table in writeback_tables(plan, show=show):
        console.print(table)
    if not apply or dry_run:
        hint = (f"apply it with `arconnect writeback {safe(t.arg)} --apply --plan {plan.id}`"
                if plan.ops else "nothing to write")
        console.print(f"plan [bold]{plan.id}[/] ({len(plan.ops)} operations): {hint}")
        return
    if plan.needs_approval and plan.approved_by is None and not plan_id:
        console.print(f"plan [bold]{plan.id}[/] is ready and needs an approval "
                      f"({safe(plan.approval_reason)}); apply it with `arconnect writeback "
                      f"{safe(t.arg)} --apply --plan {plan.id}`")
        raise typer.Exit(3)
    from arconnect.console import write_progress

    with write_progress() as report:
        result = wb.apply_plan(ctx, plan, approved_by=(by or getpass.getuser()) if plan_id
                               else None, fresh=fresh, progress=report)
    console.print(f"plan {plan.id}: {result.status}: {result.done} operations written in "
                  f"{result.write_calls} calls" + (f", {result.failed} failed" if result.failed
                                                   else "")
                  + (f"; {result.remaining} calls left for the next run (day budget)"
                     if result.remaining else ""))
    for line in result.errors[:10]:
        err_console.print(f"  {safe(line)}")
    if result.status == "failed":
        raise typer.Exit(1)


@app.command()
def drift(
    tenant: Annotated[str, typer.Argument(metavar="TENANT", help="Tenant id or name.")],
    adopt: Annotated[list[str] | None, typer.Option(
        "--adopt", metavar="CUSTOMER",
        help="Keep the ERP's value for this customer (id or `all`); locks it.")
    ] = None,
    overwrite: Annotated[list[str] | None, typer.Option(
        "--overwrite", metavar="CUSTOMER",
        help="Write the segments' value over the ERP's next run (id or `all`).")
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json",
                                        help=FORMAT_HELP)] = "table",
) -> None:
    """List values someone changed by hand in the ERP since arconnect wrote them.

    Drift is left alone by default (or overwritten when the mapping says `enforce: true`).
    Adopt a customer's ERP value (it is locked there) or have the next run overwrite it.
    """
    from arconnect.services import writeback_context
    from arconnect.writeback import service as wb

    as_json = check_format(format)
    t = _tenant(tenant)
    ctx = writeback_context(_db(), t, rules=_rules(None))
    found = wb.build_plan(ctx).drift
    # Every customer named must have drift before anything is adopted or overwritten.
    actions = []
    for keys, action, verb in ((adopt, wb.adopt_drift, "adopted"),
                               (overwrite, wb.overwrite_drift, "overwritten")):
        for key in keys or []:
            chosen = [d for d in found if key == "all" or key in (d.customer, d.name)]
            if not chosen:
                raise NotFoundError(f"tenant {t.name}: no drift for customer {key!r}; nothing "
                                    f"was adopted or overwritten")
            actions += [(action, verb, d) for d in chosen]
    if not as_json:
        table = DataTable(title=f"{t.name}: drift ({len(found)})")
        for col in ("customer", "slot", "we wrote", "ERP has now", "segments want", "locked"):
            table.add_column(col, overflow="fold")
        for d in found:
            table.add_row(d.name or d.customer, d.slot, _show_value(d.written),
                          _show_value(d.now), _show_value(d.desired), "yes" if d.locked else "")
        console.print(table)
    done: dict[str, list[dict[str, object]]] = {"adopted": [], "overwritten": []}
    for action, verb, d in actions:
        action(ctx, d)
        done[verb].append({"customer_id": d.customer, "name": d.name, "slot": d.slot})
        if not as_json:
            console.print(f"{safe(d.name or d.customer)} {d.slot}: "
                          + ("adopted" if verb == "adopted" else "marked for overwrite"))
    if as_json:
        print_json({"tenant": tenant_ref(t), "drift": [
            {"customer_id": d.customer, "name": d.name, "slot": d.slot, "we_wrote": d.written,
             "erp_has_now": d.now, "segments_want": d.desired, "locked": d.locked}
            for d in found], **done})


def _show_value(value: object) -> str:
    from arconnect.console import show_value

    return show_value(value, none="none")


@app.command()
def audit(
    tenant: Annotated[str, typer.Argument(metavar="TENANT", help="Tenant id or name.")],
    plan_id: Annotated[str | None, typer.Option("--plan", metavar="PLAN",
                                                help="One plan (run) only.")] = None,
    customer: Annotated[str | None, typer.Option(metavar="CUSTOMER",
                                                 help="One customer (its name or ERP id).")
                        ] = None,
    limit: Annotated[int, typer.Option(metavar="N", help="Rows to show, newest first.")] = 50,
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json",
                                        help="table or json.")] = "table",
) -> None:
    """The write-back audit trail: every operation with customer, before, after, reason, plan,
    approver, time and the ERP's answer; and the recent plans."""
    import json as _json

    from arconnect.writeback import service as wb

    t = _tenant(tenant)
    rows = wb.audit_rows(_db(), t, plan_id=plan_id, customer=customer, limit=limit)
    if format == "json":
        sys.stdout.write(_json.dumps(rows, default=str, indent=2) + "\n")
        return
    if format != "table":
        raise ArconnectError(f"--format {format!r}: use table or json")
    plans = DataTable(title=f"{t.name}: write-back plans", box=box.SIMPLE_HEAD)
    for col in ("plan", "kind", "status", "created", "approved by", "operations"):
        plans.add_column(col)
    for p in wb.plans(_db(), t):
        ops = (p["summary"] or {}).get("operations", {})
        plans.add_row(p["id"], p["kind"], p["status"], f"{p['created_at']:%Y-%m-%d %H:%M}",
                      p["approved_by"] or "", ", ".join(f"{k} {v}" for k, v in ops.items()))
    console.print(plans)
    # Seven columns (operation and target, before ─▶ after, status and the ERP's answer share
    # one each): ten did not fit an 80-column terminal.
    table = DataTable(title=f"audit (newest {len(rows)})", box=box.SIMPLE_HEAD)
    for col in ("time", "plan", "customer", "operation", "change", "status (ERP)", "reason"):
        table.add_column(col)
    for r in rows:
        resp = r["response"] or {}
        answer = (("no call" if resp and resp.get("call") is None and "op" in resp
                   else str(resp.get("status", "")))
                  + (f" {resp['error']}" if resp.get("error") else "")).strip()
        table.add_row(f"{r['created_at']:%Y-%m-%d %H:%M:%S}", r["plan_id"] or "",
                      r["customer_name"] or r["customer_external_id"] or "",
                      f"{r['operation']} {r['target'] or ''}".strip(),
                      f"{_show_value((r['before'] or {}).get('value'))} ─▶ "
                      f"{_show_value((r['after'] or {}).get('value'))}",
                      f"{r['status']} ({answer})" if answer else r["status"],
                      r["reason"] or "")
    console.print(table)


@app.command()
def unlock(
    tenant: Annotated[str, typer.Argument(metavar="TENANT", help="Tenant id or name.")],
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER",
                                            help="Customer id, name or number.")],
) -> None:
    """Release a manual lock; the next `arconnect segment` applies the rules again."""
    from arconnect.segmenter.service import unlock_customer

    unlock_customer(_db(), _tenant(tenant), customer)
    console.print(f"{safe(customer)} unlocked")


@rules_app.command("check")
def rules_check(
    file: Annotated[str | None, typer.Argument(metavar="FILE|PRESET",
                                               help="Rules file or preset (default: the "
                                                    "configured or shipped rules).")] = None,
) -> None:
    """Validate a rules file; errors name file:line and the fix. Shows the decision list.

    The logic is checked too, every problem in one pass: a segment after a catch-all, buckets
    that overlap or leave values out, a bucket or condition that can never match (errors: exit
    2); a dimension no rule uses (a warning on stderr: exit 0). See docs/segments.md.

    Presets shipped: upflow (A–D by payment delay), tesorio (bands of days beyond terms),
    crf_aging (by the oldest overdue item).
    """
    from arconnect.segmenter.rules import check_rules
    from arconnect.settings import get_settings

    source = file or get_settings().rules_file or "default"
    warnings: list[str] = []
    try:
        rows = check_rules(source, warnings)
    except MappingError as err:  # every problem, one per line
        for line in str(err).splitlines():
            err_console.print(f"[yellow]{safe(line)}[/]" if ": warning: " in line else
                              f"[bold red]error:[/] {safe(line)}", soft_wrap=True)
        raise typer.Exit(2) from None
    for warning in warnings:
        err_console.print(f"[yellow]{safe(warning)}[/]")
    counted = f" with {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if (
        warnings) else ""
    table = DataTable(title=f"{source}: valid{counted} — segments in decision order")
    for col in ("segment", "when", "credit limit", "terms", "hold", "default", "line"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["segment"], r["when"], str(r["credit_limit"]),
                      "" if r["terms_days"] is None else f"net {r['terms_days']}",
                      "yes" if r["credit_hold"] else "", "yes" if r["default"] else "",
                      str(r["line"]))
    console.print(table)


@rules_app.command("diff")
def rules_diff_cmd(
    file: Annotated[str, typer.Argument(metavar="FILE|PRESET",
                                        help="The changed rules file (or a preset name).")],
    tenants: Annotated[
        list[str] | None,
        typer.Argument(metavar="TENANT", help="Tenant ids or names (default: all)."),
    ] = None,
    ignore_hysteresis: Annotated[bool, typer.Option(
        "--ignore-hysteresis", help="Where the rules alone would put each customer (margins "
                                    "and min_days_in_segment off; locks hold).")] = False,
    show: Annotated[int, typer.Option(metavar="N", help="Held customers to list per tenant.")
                    ] = 15,
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json",
                                        help=FORMAT_HELP)] = "table",
    as_of: AsOfOption = None,
    window_days: WindowOption = None,
) -> None:
    """What a changed rule set would do against the stored results (nothing is written).

    Per tenant: who would move now, who min_days_in_segment, a margin or a manual lock holds
    where it is (with the reason), and who stays; the header names the rules the stored
    results came from and the rules previewed. --ignore-hysteresis: where the rules alone would
    put everyone (locks still hold).
    """
    from arconnect.console import preview_tables
    from arconnect.jsonout import preview_doc
    from arconnect.segmenter.preview import preview_rules
    from arconnect.services import find_tenants

    as_json = check_format(format)
    new = _rules(file)
    docs = []
    for tenant in find_tenants(_db(), tenants):
        preview, dry = preview_rules(_db(), tenant, new, hysteresis=not ignore_hysteresis,
                                  run_date=_as_of(as_of, tenant), window_days=window_days)
        _notes(dry.notes)
        if as_json:
            moves = sorted(preview.moves().items(), key=lambda kv: -kv[1])
            docs.append({"tenant": tenant_ref(tenant), "new_rules": new.name,
                         "customers": len(preview.rows), "moving": preview.count("moving"),
                         "moves": [{"from": before, "to": after, "customers": n}
                                   for (before, after), n in moves], **preview_doc(preview)})
            continue
        for table in preview_tables(preview, show=show):
            console.print(table)
    if as_json:
        print_json(docs)


@import_app.command("csv")
def import_csv_cmd(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The CSV file.")],
    mapping: Annotated[str, typer.Option(metavar="FILE|NAME",
                                         help="Mapping YAML (or a shipped one: csv_ibm).")],
    tenant: Annotated[str, typer.Option(metavar="NAME",
                                        help="Tenant name to import into (created if new).")],
    strict: Annotated[bool, typer.Option("--strict", help="Any bad row: import nothing.")
                      ] = False,
    currency: Annotated[str, typer.Option(metavar="CODE", help="The file's (base) currency.")
                        ] = "USD",
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json",
                                        help=FORMAT_HELP)] = "table",
) -> None:
    """Load an AR history export (customers, invoices, settled dates) to tune rules before
    connecting a live ERP.

    The file's header is checked against the mapping first. Bad rows (a bad date or amount,
    an invoice listed twice...) are listed with their line numbers and the others imported;
    then the exit code is 1. With --strict any bad row means nothing is imported (exit 2).
    With --format json stdout holds one object: file, tenant, rows_read, imported, rejected,
    rejects (line, problem) and warnings.
    """
    from arconnect.csv_import import import_csv

    as_json = check_format(format)
    result = import_csv(_db(), file, mapping, tenant, strict=strict, base_currency=currency)
    if as_json:
        print_json({
            "file": str(file), "tenant": {"id": result.tenant_id, "name": tenant.strip()},
            "rows_read": result.rows_read, "imported": result.imported,
            "rejected": len(result.rejects),
            "rejects": [{"line": r.line, "problem": r.problem} for r in result.rejects],
            "warnings": result.warnings,
        })
        if result.rejects:
            raise typer.Exit(1)
        return
    table = DataTable(title=f"{file}: {result.rows_read:,} rows read")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in result.imported.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    for reject in result.rejects[:50]:
        err_console.print(f"[yellow]rejected[/] {safe(file)}:{safe(reject)}", soft_wrap=True)
    if len(result.rejects) > 50:
        err_console.print(f"… and {len(result.rejects) - 50} more rejected rows")
    for warning in result.warnings:
        err_console.print(f"[yellow]warning[/] {safe(warning)}", soft_wrap=True)
    if result.rejects:
        err_console.print(
            f"[bold red]{len(result.rejects):,} of {result.rows_read:,} rows rejected[/] (the "
            "others were imported): fix them and import the file again (importing again "
            "updates the same rows)", soft_wrap=True)
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point: user errors are one line, not a traceback."""
    try:
        app()
    except ArconnectError as err:
        err_console.print(f"[bold red]error:[/] {safe(err)}", soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
