"""``arconnect sandbox serve xero|quickbooks|netsuite``: run an emulator in the foreground until
Ctrl-C."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer

from arconnect.sandbox.common.loopback import is_loopback
from arconnect.sandbox.common.server import Emulator
from arconnect.sandbox.netsuite.config import AccountSpec, NsConfig
from arconnect.sandbox.netsuite.model import Account
from arconnect.sandbox.quickbooks.model import Company, CompanySpec, QboConfig
from arconnect.sandbox.xero.model import OrgSpec, SandboxConfig

S = TypeVar("S", bound=Emulator)
P = TypeVar("P")

app = typer.Typer(help="Local ERP emulators for demos and tests.", no_args_is_help=True)
serve_app = typer.Typer(help="Serve an emulator on a loopback port.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")

# Organisation k of a multi-org sandbox: name, base currency, Xero timezone key, country.
ORG_PRESETS = (
    ("Demo Company (NZ)", "NZD", "NEWZEALANDSTANDARDTIME", "NZ"),
    ("Demo Company (AU)", "AUD", "AUSEASTERNSTANDARDTIME", "AU"),
    ("Demo Company (US)", "USD", "EASTERNSTANDARDTIME", "US"),
    ("Demo Company (UK)", "GBP", "GMTSTANDARDTIME", "GB"),
)


def _cycle(presets: Sequence[P], count: int) -> Iterator[tuple[P, int]]:
    """``count`` presets (at least one), cycling, each with its lap (1 the first time)."""
    for k in range(max(count, 1)):
        yield presets[k % len(presets)], k // len(presets) + 1


def _payments(invoices: int, payments: int | None) -> int:
    """The payments asked for, or 80 % of the invoices."""
    return int(invoices * 0.8) if payments is None else payments


def org_specs(count: int, customers: int, invoices: int, payments: int | None) -> list[OrgSpec]:
    """``count`` organisations of the given size, cycling through the presets."""
    return [OrgSpec(name=name if lap == 1 else f"{name[:-1]} {lap})", base_currency=currency,
                    timezone=tz, country_code=country, customers=customers, invoices=invoices,
                    payments=_payments(invoices, payments), suppliers=max(5, customers // 10),
                    bills=max(invoices // 10, 10))
            for (name, currency, tz, country), lap in _cycle(ORG_PRESETS, count)]


# Company k of a multi-company QBO sandbox: name, home currency, UTC offset, country.
COMPANY_PRESETS = (
    ("Sandbox Company US 1", "USD", "-08:00", "US"),
    ("Sandbox Company UK 1", "GBP", "+00:00", "GB"),
    ("Sandbox Company AU 1", "AUD", "+10:00", "AU"),
)


def company_specs(count: int, customers: int, invoices: int,
                  payments: int | None) -> list[CompanySpec]:
    """``count`` QBO companies of the given size, cycling through the presets."""
    return [CompanySpec(name=name if lap == 1 else f"{name[:-1]}{lap}", home_currency=currency,
                        offset=offset, country=country, customers=customers,
                        invoices=invoices, payments=_payments(invoices, payments))
            for (name, currency, offset, country), lap in _cycle(COMPANY_PRESETS, count)]


# Account k of a multi-account NetSuite sandbox: id, name, time zone, base currency.
ACCOUNT_PRESETS = (
    ("1234567_SB1", "Honeycomb Mfg (sandbox)", "America/Los_Angeles", "USD"),
    ("7654321", "Honeycomb UK", "Europe/London", "GBP"),
    ("2345678_SB2", "Honeycomb AU (sandbox)", "Australia/Sydney", "AUD"),
)


def account_specs(count: int, customers: int, invoices: int, payments: int | None,
                  concurrency: int) -> list[AccountSpec]:
    """``count`` NetSuite accounts of the given size, cycling through the presets (a later
    lap gets ids ending in its lap number)."""
    return [AccountSpec(account_id=account_id if lap == 1 else f"{account_id}{lap}",
                        name=name if lap == 1 else f"{name} {lap}", timezone=tz,
                        base_currency=currency, customers=customers, invoices=invoices,
                        payments=_payments(invoices, payments), concurrency_limit=concurrency)
            for (account_id, name, tz, currency), lap in _cycle(ACCOUNT_PRESETS, count)]


# The options every emulator takes (each command gives its own defaults).
Port = Annotated[int, typer.Option(metavar="PORT", help="Port (0 = any free port).")]
Host = Annotated[str, typer.Option(
    metavar="HOST", help="Address to listen on (loopback only, unless --allow-remote).")]
AllowRemote = Annotated[bool, typer.Option(
    "--allow-remote", help="Allow a non-loopback --host: anyone who reaches it can read "
                           "the client secret and mint tokens.")]
AllowedHosts = Annotated[list[str] | None, typer.Option(
    "--allowed-host", metavar="HOST", help="Another name clients may use in the Host header "
                                           "(repeatable; loopback names always work).")]
Seed = Annotated[int, typer.Option(metavar="N", help="Seed of the synthetic companies.")]
Relaxed = Annotated[bool, typer.Option("--relaxed", help="Count calls but never answer 429.")]
TimeScale = Annotated[float, typer.Option(
    metavar="X", help="Sandbox seconds per real second (60: a platform minute per second).")]
AutoApprove = Annotated[bool, typer.Option(
    "--auto-approve/--consent", help="Skip or show the consent page.")]
ClientId = Annotated[str, typer.Option(metavar="ID", help="The app's client id.")]
ClientSecret = Annotated[str, typer.Option(metavar="SECRET", help="The app's client secret.")]


@dataclass
class Listen:
    """Where an emulator listens (the common options ``--host``, ``--port``,
    ``--allow-remote`` and ``--allowed-host``)."""

    host: str
    port: int
    allow_remote: bool
    allowed_hosts: list[str] | None

    def check(self) -> None:
        """Exit 2 for a non-loopback host without --allow-remote; warn with it."""
        if is_loopback(self.host):
            return
        if not self.allow_remote:
            typer.echo(f"error: --host {self.host} is not a loopback address and the sandbox's "
                       "control API is unauthenticated (it shows the client secret and mints "
                       "tokens); use --host 127.0.0.1, or add --allow-remote to expose it on "
                       "purpose", err=True)
            raise typer.Exit(2)
        typer.echo(f"WARNING: serving on {self.host} with --allow-remote: anyone who can reach "
                   "this port can read the client secret, mint tokens and change the data "
                   "through /_sandbox/; use it on a trusted network only", err=True)


def _serve(listen: Listen, what: str, build: Callable[[], S], title: str,
           describe: Callable[[S, str], list[str]]) -> None:
    """Check ``listen``, generate the ``what`` (``build``), start the sandbox, print ``title``,
    the lines ``describe(sandbox, url)`` gives and where the control API is, and serve until
    Ctrl-C."""
    listen.check()
    typer.echo(f"generating {what}…", err=True)
    sandbox = build()
    url = sandbox.start(host=listen.host, port=listen.port, allow_remote=listen.allow_remote,
                        allowed_hosts=listen.allowed_hosts or ())
    typer.echo(f"{title} listening on {url}")
    for line in describe(sandbox, url):
        typer.echo(f"  {line}")
    typer.echo(f"  control API:   {url}/_sandbox/state   (Ctrl-C to stop)")
    try:
        _wait_forever()
    except KeyboardInterrupt:
        typer.echo("stopping", err=True)
    finally:
        sandbox.stop()


def _wait_forever() -> None:
    """Block the foreground until Ctrl-C (KeyboardInterrupt)."""
    threading.Event().wait()


@serve_app.command("xero")
def serve_xero(
    port: Port = 8765,
    host: Host = "127.0.0.1",
    allow_remote: AllowRemote = False,
    allowed_host: AllowedHosts = None,
    seed: Seed = 7,
    customers: Annotated[int, typer.Option(metavar="N", help="Customers per organisation.")
                         ] = 200,
    invoices: Annotated[int, typer.Option(metavar="N", help="Sales invoices per organisation.")
                        ] = 4000,
    payments: Annotated[int | None, typer.Option(
        metavar="N", help="Most payments per organisation (default 80 % of invoices).")] = None,
    orgs: Annotated[int, typer.Option(metavar="N", help="Organisations reachable by one grant.")
                    ] = 1,
    relaxed: Relaxed = False,
    starter: Annotated[bool, typer.Option(
        "--starter", help="Xero's Starter tier: 1,000 calls per org per day.")] = False,
    time_scale: TimeScale = 1.0,
    auto_approve: AutoApprove = True,
    client_id: ClientId = "arconnect-demo",
    client_secret: ClientSecret = "demo-secret",
) -> None:
    """Serve the Xero emulator (login, identity and API on one port) until Ctrl-C."""
    from arconnect.sandbox.xero.server import XeroSandbox

    config = SandboxConfig(
        seed=seed, orgs=org_specs(orgs, customers, invoices, payments), client_id=client_id,
        client_secret=client_secret, auto_approve=auto_approve, strict_limits=not relaxed,
        time_scale=time_scale, day_limit=1000 if starter else 5000,
        start=datetime.now(UTC).replace(microsecond=0))
    limits = ("relaxed (no 429s)" if relaxed else
              f"strict: 60/min, {config.day_limit}/day, 5 concurrent per org")

    def describe(sandbox: XeroSandbox, url: str) -> list[str]:
        return [f"ARCONNECT_XERO_API_URL={url}", f"ARCONNECT_XERO_IDENTITY_URL={url}",
                f"ARCONNECT_XERO_LOGIN_URL={url}", *_app_lines(client_id, client_secret),
                f"limits:        {limits}; time scale {time_scale:g}",
                *(f"tenant {org.tenant_id}  {org.name} ({org.base_currency}): "
                  f"{len(org.contacts)} contacts, {len(org.invoices)} invoices, "
                  f"{len(org.payments)} payments" for org in sandbox.orgs)]

    _serve(Listen(host, port, allow_remote, allowed_host), "organisations",
           lambda: XeroSandbox(config), "Xero sandbox", describe)


@serve_app.command("quickbooks")
def serve_quickbooks(
    port: Port = 8766,
    host: Host = "127.0.0.1",
    allow_remote: AllowRemote = False,
    allowed_host: AllowedHosts = None,
    seed: Seed = 7,
    customers: Annotated[int, typer.Option(metavar="N", help="Customers per company.")] = 200,
    invoices: Annotated[int, typer.Option(metavar="N", help="Invoices per company.")] = 4000,
    payments: Annotated[int | None, typer.Option(
        metavar="N", help="Most payments per company (default 80 % of invoices).")] = None,
    companies: Annotated[int, typer.Option(metavar="N", help="Companies (realms) to serve.")
                         ] = 1,
    relaxed: Relaxed = False,
    time_scale: TimeScale = 1.0,
    auto_approve: AutoApprove = True,
    production_keys: Annotated[bool, typer.Option(
        "--production-keys", help="Production keys: https redirect URIs only.")] = False,
    redirect_uri: Annotated[list[str] | None, typer.Option(
        "--redirect-uri", metavar="URI", help="A registered redirect URI (repeatable; default "
                                              "http://localhost:8765/callback/quickbooks and "
                                              "…:8000…).")] = None,
    client_id: ClientId = "arconnect-qbo-demo",
    client_secret: ClientSecret = "qbo-demo-secret",
) -> None:
    """Serve the QuickBooks Online emulator (OAuth and API on one port) until Ctrl-C."""
    from arconnect.sandbox.quickbooks.server import QboSandbox

    config = QboConfig(
        seed=seed, companies=company_specs(companies, customers, invoices, payments),
        client_id=client_id, client_secret=client_secret, auto_approve=auto_approve,
        strict_limits=not relaxed, clock_scale=time_scale, production_keys=production_keys,
        start=datetime.now(UTC).replace(microsecond=0))
    if redirect_uri:
        config.redirect_uris = list(redirect_uri)
    limits = ("relaxed (no 429s)" if relaxed else
              f"strict: {config.minute_limit}/min, {config.concurrent_limit} concurrent, "
              f"{config.batch_minute_limit} batches/min per realm")

    def describe(sandbox: QboSandbox, url: str) -> list[str]:
        # What arconnect's settings want: the API root, and each OAuth endpoint in full.
        return [f"ARCONNECT_QBO_API_URL={url}", f"ARCONNECT_QBO_AUTH_URL={url}/connect/oauth2",
                f"ARCONNECT_QBO_TOKEN_URL={url}/oauth2/v1/tokens/bearer",
                f"ARCONNECT_QBO_REVOKE_URL={url}/v2/oauth2/tokens/revoke",
                *_app_lines(client_id, client_secret),
                f"redirect URIs: {', '.join(config.redirect_uris)}",
                f"limits:        {limits}; time scale {time_scale:g}",
                *(_company_line(company) for company in sandbox.companies)]

    _serve(Listen(host, port, allow_remote, allowed_host), "companies",
           lambda: QboSandbox(config), "QuickBooks Online sandbox", describe)


NETSUITE_HELP = (
    "Serve the NetSuite emulator (OAuth 2.0, token-based authentication, SuiteQL and records "
    "on one port) until Ctrl-C.\n\n"
    "Each account is reached in path form, http://127.0.0.1:PORT/{account}/services/rest/..., "
    "where {account} is the account id in host form (1234567_SB1 -> 1234567-sb1), or by the "
    "first label of the Host header, http://1234567-sb1.localhost:PORT/services/rest/....\n\n"
    "Point arconnect at it with the ARCONNECT_NETSUITE_REST_URL and ARCONNECT_NETSUITE_APP_URL "
    "lines it prints; it also prints the OAuth 2.0 client and the TBA consumer pair of the "
    "integration record, and each account's id, name and sizes.")


@serve_app.command("netsuite", help=NETSUITE_HELP)
def serve_netsuite(
    port: Port = 8767,
    host: Host = "127.0.0.1",
    allow_remote: AllowRemote = False,
    allowed_host: AllowedHosts = None,
    seed: Seed = 7,
    customers: Annotated[int, typer.Option(metavar="N", help="Customers per account.")] = 200,
    invoices: Annotated[int, typer.Option(metavar="N", help="Invoices per account.")] = 4000,
    payments: Annotated[int | None, typer.Option(
        metavar="N", help="Most payments per account (default 80 % of invoices).")] = None,
    accounts: Annotated[int, typer.Option(metavar="N", help="Accounts to serve.")] = 1,
    concurrency: Annotated[int, typer.Option(
        metavar="N", help="Concurrent requests each account allows (over it: 429).")] = 15,
    row_cap: Annotated[int, typer.Option(
        metavar="N", help="Most rows one SuiteQL result reaches by offset paging.")] = 100_000,
    relaxed: Relaxed = False,
    time_scale: TimeScale = 1.0,
    auto_approve: AutoApprove = True,
    client_id: ClientId = "arconnect-netsuite-demo",
    client_secret: ClientSecret = "netsuite-demo-secret",
    consumer_key: Annotated[str, typer.Option(
        metavar="KEY", help="The integration record's TBA consumer key.")] = "arconnect-demo-ck",
    consumer_secret: Annotated[str, typer.Option(
        metavar="SECRET", help="The integration record's TBA consumer secret.")
    ] = "arconnect-demo-cs",
) -> None:
    """Serve the NetSuite emulator until Ctrl-C (see :data:`NETSUITE_HELP`)."""
    from arconnect.sandbox.netsuite.server import NsSandbox

    config = NsConfig(
        seed=seed, accounts=account_specs(accounts, customers, invoices, payments, concurrency),
        client_id=client_id, client_secret=client_secret, auto_approve=auto_approve,
        strict_limits=not relaxed, clock_scale=time_scale, row_cap=row_cap,
        tba_consumer_key=consumer_key, tba_consumer_secret=consumer_secret,
        start=datetime.now(UTC).replace(microsecond=0))
    limits = ("relaxed (no 429s)" if relaxed else
              f"strict: {concurrency} concurrent requests per account")

    def describe(sandbox: NsSandbox, url: str) -> list[str]:
        return [f"ARCONNECT_NETSUITE_REST_URL={url}/{{account}}",
                f"ARCONNECT_NETSUITE_APP_URL={url}/{{account}}",
                *_app_lines(client_id, client_secret),
                f"TBA consumer key:    {consumer_key}",
                f"TBA consumer secret: {consumer_secret}",
                f"redirect URIs: {', '.join(config.redirect_uris)}",
                f"limits:        {limits}; SuiteQL row cap {row_cap}; time scale "
                f"{time_scale:g}",
                *(_account_line(account) for account in sandbox.accounts)]

    _serve(Listen(host, port, allow_remote, allowed_host), "accounts",
           lambda: NsSandbox(config), "NetSuite sandbox", describe)


def _account_line(account: Account) -> str:
    """A served NetSuite account: its id (and host form), name and sizes."""
    counts = account.counts()
    return (f"account {account.account_id} ({account.host})  {account.name} "
            f"({account.base_currency}): {counts['customer']} customers, "
            f"{counts['invoices']} invoices, {counts['creditmemos']} credit memos, "
            f"{counts['payments']} payments")


def _app_lines(client_id: str, client_secret: str) -> list[str]:
    """The registered app, as a client configures it."""
    return [f"client id:     {client_id}", f"client secret: {client_secret}"]


def _company_line(company: Company) -> str:
    """A served company: its realm id, name and sizes."""
    counts = {e: len(t) for e, t in company.tables.items()}
    return (f"realm {company.realm_id}  {company.name} ({company.home_currency}): "
            f"{counts['Customer']} customers, {counts['Invoice']} invoices, "
            f"{counts['Payment']} payments")


if __name__ == "__main__":  # pragma: no cover
    app()
