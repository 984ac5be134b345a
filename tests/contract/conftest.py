"""The contract every platform adapter passes, and one harness per platform that drives it.

A :class:`Harness` owns one platform's sandbox (a small company on a scaled clock, one per test
module) and answers the questions the contract asks of that platform: the settings that point
arconnect at the sandbox, how the product stores a tenant and its encrypted grant, what the
store must hold after a full sync (computed from the sandbox's own model, never from the
store), and the faults to inject. The tests in this folder call the engine only through
:mod:`arconnect.services`, the write-back service and the ``arconnect`` command, so the same
test passes or fails for every platform in the same words.

The ``harness`` fixture is parametrized over :data:`PLATFORMS`; a platform whose pieces are not
in the tree yet runs as a strict ``xfail`` naming exactly what is missing (:func:`missing`), so
nothing is skipped silently and the mark fails the suite the day the pieces land and pass.

Adding a platform: write ``harness_<name>.py`` with a class implementing
:class:`Harness` over the platform's sandbox, add the name to :data:`PLATFORMS` and
:data:`HARNESSES`, and list in :data:`NEEDS` the modules and settings it needs, so that until
they exist its tests are strict xfails naming them.

Cost: each module starts one sandbox per platform with a small company (``tiny`` in
``test_resume_contract.py``), and the sandboxes and arconnect share a clock running
:data:`SCALE` times real time, so rate-limit windows, backoffs and token lifetimes pass without
sleeping.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

import pytest
from sqlalchemy import Engine, text

from arconnect.clock import Clock, set_clock
from arconnect.settings import get_settings
from arconnect.store.db import dispose_engines, get_engine
from arconnect.store.models import Tenant

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SCALE = 600.0
"""Clock seconds per real second, for the sandboxes and for arconnect alike: a platform's
minute passes in half a real second, so rate-limit windows and backoffs cost no real time."""
SECRET_KEY = "test-key-for-the-contract-suite"

Truth = dict[str, dict[str, dict[str, Any]]]
"""table -> row key -> column -> value: what the store must hold. Allocations are keyed
``source_kind:external_id``, every other table by ``external_id``; ``applied`` holds what the
live allocations add up to, ``to:<document>`` (applied to it) and ``from:<credit document>``
(applied out of it), for platforms whose allocation ids are the adapter's own. A row holding
``OPTIONAL: True`` may be absent (a record deleted at the platform before the store saw it);
when present, its columns must match."""
OPTIONAL = "__optional__"


def refresh_refused(platform: str, client_id: str, client_secret: str,
                    refresh_token: str) -> bool:
    """Does ``platform``'s token endpoint (the sandbox, by the settings) refuse
    ``refresh_token`` now (``invalid_grant``)?"""
    from arconnect.errors import ReconnectRequired
    from arconnect.platforms import get_platform

    oauth = get_platform(platform).oauth(get_settings(), client_id, client_secret)
    try:
        oauth.refresh(refresh_token)
    except ReconnectRequired:
        return True
    return False


class Harness(Protocol):
    """One platform's sandbox and the answers the contract needs of it.

    Attributes:
        platform: the registry name (``tenant.platform``).
        entities: the entities a sync reads, as the engine names them in its results.
        malformed_entity: the entity whose first page of a full read :meth:`malformed_page`
            breaks, as the engine names it.
        missing_id: what a sync's error names when a record lacks its id (the id field).
        retires_used_refresh_tokens: a refresh token once traded stops working after the
            platform's grace (:meth:`refresh_grace`).
        pages_to_kill_in: a sync with :meth:`small_pages` makes more calls than this: the
            SIGKILL test kills it after a random number of calls up to this one.
    """

    platform: str
    entities: tuple[str, ...]
    malformed_entity: str
    missing_id: str
    retires_used_refresh_tokens: bool
    pages_to_kill_in: int

    def start(self) -> None:
        """Start the sandbox (a free port, the scaled clock)."""

    def stop(self) -> None:
        """Stop the sandbox."""

    def settings(self, db_url: str) -> dict[str, str]:
        """The ``ARCONNECT_*`` environment pointing arconnect at the sandbox and ``db_url``."""
        ...

    def small_pages(self) -> dict[str, str]:
        """Settings that make a sync read this small company in many pages."""
        ...

    def connect(self, db: Engine) -> Tenant:
        """Store a tenant and its encrypted grant the way the product does; the tenant."""
        ...

    def organisation(self, tenant: Tenant) -> dict[str, Any]:
        """Tenant columns a sync must set from the platform (``base_currency``...)."""
        ...

    def ground_truth(self, tenant: Tenant) -> Truth:
        """What the store must hold for ``tenant`` after a sync, from the sandbox's model."""
        ...

    def full_sync_calls(self, records: Mapping[str, int]) -> int:
        """The most API calls a full sync of this company may make (``records`` read per
        entity): the platform's minimum for the company's size."""
        ...

    def reads_bound(self, tenant: Tenant, entity: str, cursor: Any) -> int:
        """The most records an incremental read of ``entity`` from the stored ``cursor`` may
        return: those the platform changed since the cursor, less the overlap setting."""
        ...

    def late_invoice(self, tenant: Tenant, cursor: Any) -> str:
        """A new invoice stamped 30 s before the newest change the stored invoices ``cursor``
        has read, as when the platform commits a transaction after a later one was already
        visible; its external id."""
        ...

    def mutate(self, tenant: Tenant, seed: int) -> set[str]:
        """Change the company as its users would between two syncs: edit, pay, delete and void
        a few records (and more). Returns the kinds of change made (``edit``, ``pay``,
        ``delete``, ``void``...)."""
        ...

    def move_earliest(self, tenant: Tenant, count: int, entity: str | None = None) -> None:
        """Edit the ``count`` records of ``entity`` (default: of each entity) that a full read
        lists first: they move to the end of the order, shifting the others towards the
        front."""

    def tiny_pages(self) -> dict[str, str]:
        """Settings that make a sync read pages of 3 records."""
        ...

    def grow(self, tenant: Tenant, at_least: int) -> None:
        """Copy records (new ids) until every entity holds ``at_least`` of them."""

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock ahead."""

    def slow(self, seconds: float) -> None:
        """Every API call waits ``seconds`` real seconds (until :meth:`clear_faults`)."""

    def storm(self, tenant: Tenant, n: int) -> None:
        """A 429 storm of ``n`` rounds (Xero with ``Retry-After``, QBO without)."""

    def calls(self, tenant: Tenant) -> int:
        """How many API calls the sandbox has answered for ``tenant`` (token calls aside)."""
        ...

    def rate_limited(self, tenant: Tenant) -> int:
        """How many 429s the sandbox answered for ``tenant``."""
        ...

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired from now on."""

    def revoke(self, tenant: Tenant) -> None:
        """The platform revokes the tenant's grant (as a user would in its app settings)."""

    def refresh_refused(self, refresh_token: str) -> bool:
        """Does the platform refuse ``refresh_token`` now (``invalid_grant``)?"""
        ...

    def refresh_grace(self) -> float:
        """Seconds a used refresh token keeps working at the platform."""
        ...

    def malformed_page(self, kind: str) -> None:
        """The next page of :attr:`malformed_entity` a full read asks for is corrupted:
        ``json`` (a truncated body) or ``missing_id`` (the first record without its id)."""

    def clear_faults(self) -> None:
        """Disarm every injected fault."""

    def writeback_setup(self, tenant: Tenant, names: Mapping[str, str]) -> dict[str, str]:
        """Prepare what the ERP side needs for a write-back of the segments to the objects
        ``names`` (segment -> group or type name; QBO: the customer types exist); returns
        settings the write-back needs."""
        ...

    def written(self, tenant: Tenant, names: Mapping[str, str]) -> dict[str, str]:
        """The segment slot as the ERP holds it now: customer external id -> the object (of
        ``names``' values) it is in or refers to (Xero: its ``AR:`` group; QBO: its type)."""
        ...

    def write_requests(self, tenant: Tenant) -> int:
        """How many write requests (POST/PUT/DELETE) the sandbox has served for ``tenant``."""
        ...


PLATFORMS = ("xero", "quickbooks", "netsuite")
HARNESSES = {"xero": "tests.contract.harness_xero:XeroHarness",
             "quickbooks": "tests.contract.harness_quickbooks:QboHarness",
             "netsuite": "tests.contract.harness_netsuite:NsHarness"}

# What each platform's harness needs beyond the engine, by what the test uses: ``module:name``
# (a module attribute), ``module:Class.field`` (a settings field), ``module:file.yaml`` (a
# shipped file).
NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "quickbooks": {
        "sync": ("arconnect.sandbox.quickbooks.server:QboSandbox",
                 "arconnect.adapters.quickbooks.platform:QuickBooksPlatform",
                 "arconnect.mappings:quickbooks.yaml"),
        "pages": ("arconnect.adapters.quickbooks.settings:QboSettings.page_size",),
        "writeback": ("arconnect.adapters.quickbooks.writer:QuickBooksWriter",),
    },
    "netsuite": {
        "sync": ("arconnect.sandbox.netsuite.server:NsSandbox",
                 "arconnect.adapters.netsuite.platform:NetSuitePlatform",
                 "arconnect.mappings:netsuite.yaml"),
        "pages": ("arconnect.adapters.netsuite.settings:NsSettings.page_size",),
        "writeback": ("arconnect.adapters.netsuite.writer:NetSuiteWriter",),
    },
}


def _lacks(target: str) -> str | None:
    """Why ``target`` (see :data:`NEEDS`) is not there, or None when it is."""
    module, _, name = target.partition(":")
    try:
        if name.endswith(".yaml"):
            from importlib.resources import files

            found = files(module).joinpath(name).is_file()
            return None if found else f"{module.replace('.', '/')}/{name}"
        owner, _, field = name.partition(".")
        value = getattr(importlib.import_module(module), owner, None)
        if value is None:
            return target
        if field and field not in getattr(value, "model_fields", {}):
            return f"{target} (no such setting)"
        return None
    except Exception as err:  # an import error names the missing module
        return f"{target} ({type(err).__name__}: {err})"


def missing(platform: str, use: str = "sync") -> list[str]:
    """The pieces ``platform`` lacks for a test of kind ``use`` (``sync``, ``pages`` or
    ``writeback``)."""
    needs = NEEDS.get(platform, {})
    wanted = list(needs.get("sync", ())) + (list(needs.get(use, ())) if use != "sync" else [])
    return [why for why in map(_lacks, wanted) if why]


def platform_params(use: str = "sync") -> list[Any]:
    """The ``platform`` parameters: each a strict xfail naming what it lacks, when it does."""
    params = []
    for name in PLATFORMS:
        lacking = missing(name, use)
        marks = [pytest.mark.xfail(strict=True, reason=f"{name} lacks: {'; '.join(lacking)}")] \
            if lacking else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def load_harness(platform: str, company: str = "small") -> Harness:
    """The harness of ``platform`` with a ``small`` company (a few hundred invoices) or a
    ``tiny`` one (a few dozen)."""
    module, _, name = HARNESSES[platform].partition(":")
    harness: Harness = getattr(importlib.import_module(module), name)(company)
    return harness


@pytest.fixture(scope="module")
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The platform's started sandbox: one per test module (tests share its company; each
    test connects a fresh tenant in a fresh store and compares it with the company as it is
    then). A module sets ``COMPANY = "tiny"`` for a smaller company."""
    lacking = missing(request.param, "sync")
    if lacking:
        pytest.fail(f"{request.param} lacks: {'; '.join(lacking)}")
    found = load_harness(request.param, getattr(request.module, "COMPANY", "small"))
    found.start()
    try:
        yield found
    finally:
        found.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test using ``harness`` runs once per platform (``@pytest.mark.use("writeback")``
    names the pieces it needs beyond a sync)."""
    if "harness" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("use")
        use = marker.args[0] if marker else "sync"
        metafunc.parametrize("harness", platform_params(use), indirect=True, scope="module")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "use(kind): what a contract test needs of a platform "
                                       "beyond a sync (pages, writeback)")


@dataclass
class Env:
    """One test's world: the platform's sandbox, a fresh store, and a connected tenant."""

    harness: Harness
    db: Engine
    tenant: Tenant
    db_url: str

    @property
    def key(self) -> str:
        return str(self.tenant.id)

    def truth(self) -> Truth:
        return self.harness.ground_truth(self.tenant)


def _connected(harness: Harness, db_url: str, monkeypatch: pytest.MonkeyPatch,
               extra: Mapping[str, str] | None = None) -> Iterator[Env]:
    for key, value in {**harness.settings(db_url), "ARCONNECT_SECRET_KEY": SECRET_KEY,
                       "ARCONNECT_TIME_SCALE": str(SCALE), **(extra or {})}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    set_clock(Clock(SCALE))
    try:
        db = get_engine(db_url)
        yield Env(harness, db, harness.connect(db), db_url)
    finally:
        harness.clear_faults()
        set_clock(None)
        dispose_engines()


@pytest.fixture
def env(harness: Harness, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """A tenant of the platform's sandbox connected in a fresh SQLite store."""
    yield from _connected(harness, sqlite_url, monkeypatch)


@pytest.fixture
def env_any_db(harness: Harness, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """A tenant connected in a fresh store, once on SQLite and once on PostgreSQL."""
    yield from _connected(harness, db_url, monkeypatch)


# -- the store against the truth -------------------------------------------------------------

def stored(db: Engine, tenant_id: int | None) -> Truth:
    """The store's rows for ``tenant_id``, keyed as :data:`Truth` is."""
    out: Truth = {}
    with db.connect() as conn:
        for table in ("customer", "document", "payment", "allocation"):
            rows = conn.execute(text(f"SELECT * FROM {table} WHERE tenant_id = :t"),
                                {"t": tenant_id}).mappings().all()
            out[table] = {}
            for r in rows:
                key = (f"{r['source_kind']}:{r['external_id']}" if table == "allocation"
                       else str(r["external_id"]))
                assert key not in out[table], f"duplicate {table} row {key}"
                out[table][key] = dict(r)
    applied: dict[str, dict[str, Any]] = {}
    for row in out["allocation"].values():
        if row["is_deleted"] or row["amount"] is None:
            continue
        keys = [f"to:{row['document_external_id']}"]
        if row["source_kind"] != "payment":
            keys.append(f"from:{row['source_external_id']}")
        for key in keys:
            applied.setdefault(key, {"amount": Decimal(0)})["amount"] += Decimal(
                str(row["amount"]))
    out["applied"] = applied
    return out


def _same(want: Any, have: Any) -> bool:
    if isinstance(want, Decimal) and have is not None:
        return Decimal(str(have)) == want
    if isinstance(want, date) and isinstance(have, str):
        return date.fromisoformat(have[:10]) == want
    if isinstance(want, date) and isinstance(have, datetime):
        return have.date() == want
    if isinstance(want, bool) and isinstance(have, int):
        return bool(have) == want
    return bool(want == have)


def summary(rows: Truth) -> dict[str, tuple[int, Decimal]]:
    """Counts and money sums per table (and document kind): what a failure shows first."""
    out: dict[str, tuple[int, Decimal]] = {}
    for table, by_key in rows.items():
        for row in by_key.values():
            if row.get(OPTIONAL):
                continue
            name = f"{table}:{row['kind']}" if table == "document" and "kind" in row else table
            money = row.get("total", row.get("amount"))
            count, total = out.get(name, (0, Decimal(0)))
            out[name] = (count + 1, total + (Decimal(str(money)) if money is not None else 0))
    return out


def assert_store_equals(env: Env, truth: Truth | None = None) -> None:
    """The store holds exactly the truth's rows, with the truth's values in its columns."""
    expected = truth if truth is not None else env.truth()
    got = stored(env.db, env.tenant.id)
    problems = []
    for table, rows in expected.items():
        missing_rows = sorted(k for k in set(rows) - set(got[table])
                              if not rows[k].get(OPTIONAL))
        extra = sorted(set(got[table]) - set(rows))
        if missing_rows or extra:
            problems.append(f"{table}: {len(missing_rows)} missing {missing_rows[:3]}, "
                            f"{len(extra)} extra {extra[:3]}")
        for key in sorted(set(rows) & set(got[table])):
            for col, want in rows[key].items():
                if col == OPTIONAL:
                    continue
                have = got[table][key][col]
                if not _same(want, have):
                    problems.append(f"{table} {key}.{col}: stored {have!r}, "
                                    f"{env.harness.platform} {want!r}")
    if problems:
        want_sum = {k: v for k, v in summary(expected).items()}
        got_sum = {k: v for k, v in summary({t: {k: got[t][k] for k in got[t]}
                                             for t in expected}).items()}
        counts = [f"{k}: {got_sum.get(k)} stored, {v} expected" for k, v in want_sum.items()
                  if got_sum.get(k) != v]
        raise AssertionError("the store differs from the platform's company:\n  "
                             + "\n  ".join(counts + problems[:15]))


def segment_names(platform: str) -> dict[str, str]:
    """Segment -> the group or type name the shipped outbound mapping writes it to."""
    from arconnect.segmenter.rules import load_rules
    from arconnect.services import mapping_for

    outbound = mapping_for(platform).outbound(load_rules(get_settings().rules_file or "default"))
    # the first slot the segment picks (NetSuite's mapping also picks a dunning procedure)
    slot = next(s for s in outbound.named_slots() if s.source == "segment")
    return dict(slot.names)


def cursor_of(env: Env, entity: str) -> Any:
    """The cursor the store holds for ``entity`` of the tenant (None: none)."""
    with env.db.connect() as conn:
        value = conn.execute(text("SELECT value FROM sync_cursor WHERE tenant_id = :t "
                                  "AND entity = :e"), {"t": env.tenant.id, "e": entity}).scalar()
    return json.loads(value) if isinstance(value, str) else value


def tenant_status(env: Env) -> str:
    with env.db.connect() as conn:
        return str(conn.execute(text("SELECT status FROM tenant WHERE id = :t"),
                                {"t": env.tenant.id}).scalar())
