"""Service functions: what the CLI, the demo, the scheduler and the web app call.

Thin edges stay thin: each command is one call here, so every front end behaves the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text

from arconnect.adapters.base import TenantInfo
from arconnect.auth.service import get_tenant, list_tenants
from arconnect.auth.tokens import STATUS_DISCONNECTED, TokenManager, as_utc, credential_table
from arconnect.errors import ArconnectError, ConfigError, ReconnectRequired
from arconnect.http import ApiClient, bearer
from arconnect.mapping import Mapping, load_mapping
from arconnect.pacing import describe_wait, get_pacer
from arconnect.platforms import get_platform
from arconnect.settings import Settings, get_settings
from arconnect.store.models import Tenant
from arconnect.sync import Progress, SyncEngine, SyncResult


def mapping_for(platform: str, settings: Settings | None = None) -> Mapping:
    """The inbound mapping of ``platform``: ``$ARCONNECT_MAPPINGS_DIR/<platform>.yaml`` when
    that file exists, else the one shipped with arconnect.

    Raises:
        ConfigError: ``ARCONNECT_MAPPINGS_DIR`` names no folder (a mistyped path would
            otherwise run the shipped mapping without a word).
        MappingError: the mapping is invalid (``file:line``).
    """
    return load_mapping(mapping_source(platform, settings))


def mapping_source(platform: str, settings: Settings | None = None) -> str | Path:
    """Where the inbound mapping of ``platform`` comes from: the file
    ``$ARCONNECT_MAPPINGS_DIR/<platform>.yaml`` when it exists, else the shipped name.

    Raises:
        ConfigError: as :func:`mapping_for`.
    """
    settings = settings or get_settings()
    if settings.mappings_dir:
        folder = Path(settings.mappings_dir).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"ARCONNECT_MAPPINGS_DIR: {settings.mappings_dir} is not a "
                              "folder; fix the path, or unset it to use the shipped mappings")
        custom = folder / f"{platform}.yaml"
        if custom.exists():
            return custom
    return platform


def client_for(db: Engine, tenant: Tenant, settings: Settings | None = None) -> ApiClient:
    """The authenticated, paced, retried HTTP client for one tenant, built from its platform
    (:func:`arconnect.platforms.get_platform`): base URL, headers, limits, error reading.

    Raises:
        ConfigError: the tenant's platform is not supported, or it has no stored grant.
    """
    settings = settings or get_settings()
    platform = get_platform(tenant.platform)
    if tenant.credential_id is None:
        raise ConfigError(f"tenant {tenant.name} has no stored grant; add it again")
    tokens = TokenManager.for_credential(db, tenant.credential_id)
    info = TenantInfo(tenant.external_id, tenant.name)
    credential_id = tenant.credential_id

    def granted_scopes() -> str | None:  # read only when the platform refuses for a scope
        cred = credential_table()
        with db.connect() as conn:
            scope: str | None = conn.execute(
                select(cred.c.scope).where(cred.c.id == credential_id)).scalar_one_or_none()
        return scope

    limits = platform.limits(settings)
    return ApiClient(
        platform.base_url(settings, info),
        token_provider=tokens,
        default_headers=platform.headers(info),
        pacer=get_pacer(f"{platform.name}:{tenant.external_id}", limits),
        timeout=settings.http_timeout,
        max_attempts=settings.http_max_attempts,
        explain_401=platform.explain_401(settings, tenant.name, granted_scopes),
        parse_error=platform.parse_error,
        rate_info=platform.rate_info,
        sign=platform.signer(settings) or bearer,
        max_calls=(None if limits.per_month is None
                   else max(limits.per_month - calls_this_month(db, tenant), 0)),
    )


def calls_this_month(db: Engine, tenant: Tenant, now: datetime | None = None) -> int:
    """API calls the tenant's syncs made since the 1st of this month (UTC), for platforms
    that budget calls by the month (Intuit's Builder tier: 500,000 read calls)."""
    now = now or datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with db.connect() as conn:
        used = conn.execute(text(
            "SELECT coalesce(sum(api_calls), 0) FROM sync_run"
            " WHERE tenant_id = :t AND started_at >= :start"), {"t": tenant.id, "start": start}
        ).scalar_one()
    return int(used)


def find_tenants(db: Engine, keys: Sequence[str] | None = None) -> list[Tenant]:
    """Tenants by id, name or ERP id (all of them when ``keys`` is empty)."""
    if not keys:
        return list_tenants(db)
    found: list[Tenant] = []
    for key in keys:
        tenant = get_tenant(db, key)
        if all(t.id != tenant.id for t in found):
            found.append(tenant)
    return found


def sync_tenants(
    db: Engine,
    keys: Sequence[str] | None = None,
    *,
    full: bool = False,
    reconcile: bool = False,
    progress: Progress | None = None,
    settings: Settings | None = None,
    workers: int = 1,
) -> list[SyncResult]:
    """Sync the given tenants (all when none is named); results in the tenants' order.

    Each organisation has its own rate limits, so ``workers`` tenants may sync at once
    (threads; each tenant is paced on its own, the app-wide limit is shared). ``reconcile``
    also re-reads every open invoice (see :meth:`SyncEngine.run`).
    """
    settings = settings or get_settings()
    tenants = find_tenants(db, keys)
    if keys:
        for t in tenants:
            if t.status == STATUS_DISCONNECTED:
                raise ArconnectError(f"tenant {t.name} is disconnected ({t.status_detail})")
    else:
        tenants = [t for t in tenants if t.status != STATUS_DISCONNECTED]
    # Loaded once, before any tenant runs: a bad mapping (or mappings folder, or an unknown
    # platform) stops nothing half-way.
    platforms = dict.fromkeys(t.platform for t in tenants)
    adapters = {p: get_platform(p).adapter(settings) for p in platforms}
    mappings = {p: mapping_for(p, settings) for p in platforms}

    def run(tenant: Tenant) -> SyncResult:
        engine = SyncEngine(db, adapters[tenant.platform], mappings[tenant.platform],
                            lambda t: client_for(db, t, settings), progress)
        return engine.run(tenant, full=full, reconcile=reconcile)

    if workers <= 1 or len(tenants) <= 1:
        return [run(t) for t in tenants]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
        return list(pool.map(run, tenants))


def store_summary(db: Engine, tenant: Tenant) -> dict[str, Any]:
    """What the store holds for ``tenant``: customers, documents, open and overdue balance.

    Customers are counted as the segmenter counts them (:func:`arconnect.segmenter.metrics.
    compute_metrics`), so that every step of a run speaks of the same customers: every
    customer row (the mapping keeps contacts that are customers or may become one) except
    merged ones, whose history belongs to the survivor, and sub-customers rolled up into their
    parent. Of them, ``archived`` are archived in the ERP (segmented, never written back) and
    ``not_invoiced`` are neither flagged as customers nor have a sales document yet. Balances
    are in the base currency.
    """
    customers = (
        "FROM customer c WHERE c.tenant_id = :t AND c.merged_into_external_id IS NULL"
        " AND NOT (c.parent_external_id IS NOT NULL AND c.parent_external_id <> c.external_id"
        "   AND EXISTS (SELECT 1 FROM customer p WHERE p.tenant_id = c.tenant_id"
        "   AND p.external_id = c.parent_external_id))"
    )
    sql = text(
        "SELECT"
        f" (SELECT count(*) {customers}) AS customers,"
        f" (SELECT count(*) {customers} AND c.is_archived) AS archived,"
        f" (SELECT count(*) {customers} AND NOT coalesce(c.is_customer, false)"
        "   AND NOT EXISTS (SELECT 1 FROM document d WHERE d.tenant_id = :t"
        "   AND d.customer_external_id = c.external_id)) AS not_invoiced,"
        " (SELECT count(*) FROM document WHERE tenant_id = :t AND kind = 'invoice')"
        "   AS invoices,"
        " (SELECT count(*) FROM document WHERE tenant_id = :t AND kind = 'invoice'"
        "   AND status = 'open') AS open_invoices,"
        " (SELECT coalesce(sum(amount_due_base), 0) FROM document WHERE tenant_id = :t"
        "   AND kind = 'invoice' AND status = 'open') AS open_balance,"
        " (SELECT coalesce(sum(amount_due_base), 0) FROM document WHERE tenant_id = :t"
        "   AND kind = 'invoice' AND status = 'open' AND due_date < :today)"
        "   AS overdue_balance,"
        " (SELECT count(*) FROM document WHERE tenant_id = :t AND kind = 'credit_note')"
        "   AS credit_notes,"
        " (SELECT count(*) FROM document WHERE tenant_id = :t"
        "   AND kind IN ('overpayment', 'prepayment')) AS cash_credits,"
        " (SELECT coalesce(sum(amount_due_base), 0) FROM document WHERE tenant_id = :t"
        "   AND kind IN ('credit_note', 'overpayment', 'prepayment') AND status = 'open')"
        "   AS unapplied_credit,"
        " (SELECT count(*) FROM payment WHERE tenant_id = :t AND NOT is_deleted) AS payments,"
        " (SELECT count(*) FROM allocation WHERE tenant_id = :t AND NOT is_deleted)"
        "   AS allocations"
    )
    with db.connect() as conn:
        row = conn.execute(sql, {"t": tenant.id, "today": date.today()}).mappings().one()
    return dict(row)


def writeback_context(db: Engine, tenant: Tenant, *, rules: Any = None,
                      settings: Settings | None = None) -> Any:
    """Everything a write-back of ``tenant`` needs (:class:`arconnect.writeback.service.Context`):
    its client, the platform's outbound mapping checked against the rules, and a refresh of
    its contacts (terms) before each plan."""
    from arconnect.segmenter.rules import load_rules
    from arconnect.writeback.service import Context

    if tenant.status == STATUS_DISCONNECTED:
        raise ArconnectError(f"tenant {tenant.name} is disconnected ({tenant.status_detail}); "
                             f"nothing can be written to it")
    settings = settings or get_settings()
    rules = rules or load_rules(settings.rules_file or "default")
    outbound = mapping_for(tenant.platform, settings).outbound(rules)
    platform = get_platform(tenant.platform)
    adapter = platform.adapter(settings)

    def refresh() -> None:
        engine = SyncEngine(db, adapter, mapping_for(tenant.platform, settings),
                            lambda t: client_for(db, t, settings))
        result = engine.run(tenant, entities=(platform.customer_entity,))
        if result.status != "ok":
            raise ArconnectError(f"tenant {tenant.name}: reading its contacts before the "
                                 f"write-back failed: {result.error}")

    return Context(db, tenant, client_for(db, tenant, settings), outbound, rules,
                   platform.writer(settings, outbound), settings, refresh)


# -- keeping idle grants alive ----------------------------------------------------------------


@dataclass
class KeepAliveResult:
    """What :func:`keep_alive` did, per grant (``credential <id> (<platform>)``)."""

    refreshed: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    cannot: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)


def keep_alive(db: Engine, *, margin_days: int = 7, now: datetime | None = None
               ) -> KeepAliveResult:
    """Refresh every active grant whose refresh token would lapse unused within
    ``margin_days`` (its platform's ``idle_expiry_days`` after the last refresh: Xero 60,
    QuickBooks 100), so a tenant nobody synced for weeks stays connected. Grants of platforms
    whose tokens cannot be kept alive are listed in ``cannot``; a grant the platform refuses is
    marked ``reconnect_required`` by the token manager and listed in ``dead``.
    """
    now = now or datetime.now(UTC)
    out = KeepAliveResult()
    cred = credential_table()
    with db.connect() as conn:
        rows = conn.execute(select(cred.c.id, cred.c.platform, cred.c.updated_at)
                            .where(cred.c.status == "active").order_by(cred.c.id)).all()
    for credential_id, platform_name, updated_at in rows:
        label = f"credential {credential_id} ({platform_name})"
        platform = get_platform(platform_name)
        if platform.idle_expiry_days is None:
            out.cannot.append(label)
            continue
        last = updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=UTC)
        if now - last < timedelta(days=platform.idle_expiry_days - margin_days):
            out.fresh.append(label)
            continue
        try:
            TokenManager.for_credential(db, credential_id).refresh(force=True)
        except ReconnectRequired:
            out.dead.append(label)
        else:
            out.refreshed.append(label)
    return out


# -- grants that will lapse ------------------------------------------------------------------


def grant_expiry(db: Engine, tenant: Tenant) -> datetime | None:
    """When the tenant's grant lapses, where the platform said (the refresh token's expiry:
    NetSuite's authorization-code grants after 7 days, QuickBooks' five-year limit); None when
    unknown or when the grant does not expire."""
    if tenant.credential_id is None:
        return None
    cred = credential_table()
    with db.connect() as conn:
        value = conn.execute(select(cred.c.refresh_expires_at).where(
            cred.c.id == tenant.credential_id)).scalar_one_or_none()
    return as_utc(value)


def grant_warning(db: Engine, tenant: Tenant, *, settings: Settings | None = None,
                  now: datetime | None = None) -> str | None:
    """A sentence when the tenant's grant lapses within ``grant_warn_days`` (or has lapsed):
    when, and how to reconnect; None otherwise."""
    settings = settings or get_settings()
    expires = grant_expiry(db, tenant)
    if expires is None:
        return None
    now = now or datetime.now(UTC)
    left = expires - now
    if left > timedelta(days=settings.grant_warn_days):
        return None
    platform = get_platform(tenant.platform)
    option = f" --{platform.tenant_id_option} {tenant.external_id}"
    when = expires.strftime("%Y-%m-%d %H:%M UTC")
    said = (f"its {platform.label} grant lapsed at {when}" if left <= timedelta(0) else
            f"its {platform.label} grant lapses at {when} "
            f"(in {describe_wait(left.total_seconds())})")
    keep = ("" if platform.idle_expiry_days is not None else
            "; grants of this kind cannot be kept alive by refreshing them")
    return (f"{said}{keep}: reconnect before then with `arconnect tenants connect "
            f"{platform.name}{option}`")


# -- a whole run: what a scheduled job does ---------------------------------------------------


@dataclass
class RunResult:
    """One tenant's run: sync, segments, then write-back (each step only when the one before
    it succeeded).

    ``writeback`` is one of: ``off`` (not asked), ``skipped`` (an earlier step failed),
    ``nothing to write``, ``plan ready`` (waits for an approval: ``plan_id``), ``applied``,
    ``partial`` (the day's budget ran out; the next run resumes), ``failed``.
    """

    tenant: Tenant
    sync: SyncResult | None = None
    customers: int = 0
    changes: int = 0
    writeback: str = "off"
    plan_id: str | None = None
    approval_reason: str | None = None
    write_calls: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # nothing wrong, worth saying

    @property
    def ok(self) -> bool:
        return not self.errors


# A tenant's write-back progress: the context it runs in, which yields the ``(calls made,
# calls planned)`` callback :func:`arconnect.writeback.service.apply_plan` reports to.
WritebackProgress = Callable[[Tenant], AbstractContextManager[Callable[[int, int], None] | None]]


def run_tenants(
    db: Engine,
    keys: Sequence[str] | None = None,
    *,
    writeback: bool = True,
    rules: Any = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    workers: int = 1,
    writeback_progress: WritebackProgress | None = None,
) -> list[RunResult]:
    """Sync, segment and write back each tenant (all connected ones when ``keys`` is empty):
    the unit a scheduled job runs.

    A write-back plan that needs an approval (``ARCONNECT_WRITEBACK_APPROVAL``, or a move of
    more than ``ARCONNECT_WRITEBACK_APPROVAL_SHARE`` of the customers) stops at "plan ready";
    while it waits, later runs report the same plan as long as it still says the same thing.
    An approved or partly applied plan is applied (re-checked against the ERP) before a new
    one is made. One tenant's failure does not stop the others. ``workers`` tenants sync at
    once (each has its own limits); segments and write-backs then run one tenant after another.
    ``writeback_progress`` shows how each tenant's write-back advances.
    """
    from arconnect.segmenter.rules import load_rules
    from arconnect.segmenter.service import segment_tenant

    settings = settings or get_settings()
    rules = rules or load_rules(settings.rules_file or "default")
    syncs = {r.tenant_id: r for r in sync_tenants(db, keys, progress=progress,
                                                  settings=settings, workers=workers)}
    out = []
    for tenant in find_tenants(db, keys):
        if tenant.id is None or tenant.id not in syncs:
            continue  # not synced: disconnected
        result = RunResult(tenant, syncs[tenant.id])
        out.append(result)
        warning = grant_warning(db, tenant, settings=settings)
        if warning:
            result.notes.append(warning)
        if result.sync is not None and result.sync.status == "busy":
            # another process is syncing it (an overlapping run): it will carry on from there
            result.notes.append(f"skipped: {result.sync.error}")
            result.writeback = "skipped" if writeback else "off"
            continue
        if not result.sync or not result.sync.ok:
            result.errors.append(f"sync {result.sync.status if result.sync else 'missing'}: "
                                 f"{result.sync.error if result.sync else ''}".rstrip(": "))
            result.writeback = "skipped" if writeback else "off"
            continue
        try:
            run = segment_tenant(db, tenant, rules=rules)
        except ArconnectError as err:
            result.errors.append(f"segment: {err}")
            result.writeback = "skipped" if writeback else "off"
            continue
        result.customers, result.changes = len(run.results), run.changes
        if writeback:
            _run_writeback(db, tenant, rules, settings, result, writeback_progress)
    return out


def _run_writeback(db: Engine, tenant: Tenant, rules: Any, settings: Settings,
                   result: RunResult, report: WritebackProgress | None = None) -> None:
    from arconnect.writeback import service as wb

    try:
        ctx = writeback_context(db, tenant, rules=rules, settings=settings)
        choice = wb.plan_or_resume(ctx, save_empty=False)
        plan, fresh = choice.plan, choice.fresh
        if not plan.ops:
            result.writeback = "nothing to write"
            return
        result.plan_id = plan.id
        if plan.needs_approval and plan.approved_by is None:
            result.writeback, result.approval_reason = "plan ready", plan.approval_reason
            return
        with report(tenant) if report else nullcontext(None) as progress:
            applied = wb.apply_plan(ctx, plan, fresh=fresh, progress=progress)
    except ArconnectError as err:
        result.writeback = "failed"
        result.errors.append(f"write-back: {err}")
        return
    result.write_calls = applied.write_calls
    result.writeback = {"applied_with_errors": "applied"}.get(applied.status, applied.status)
    result.errors.extend(f"write-back: {e}" for e in applied.errors
                         if applied.status != "partial")
