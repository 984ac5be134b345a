"""Configuration and the in-memory organisations: the sandbox's ground truth.

An :class:`Org` holds its records in :class:`Table` objects — plain ``dict[id, record]`` whose
records are shaped exactly like Xero's JSON (money as Decimal). A table remembers each record's
rendered JSON bytes and ``UpdatedDateUTC`` milliseconds, so a page of 1,000 invoices is a join
of cached bytes. Change records through :meth:`Table.put` / :meth:`Table.touch` (or assign
``table[id] = record``) so the caches follow; :meth:`XeroSandbox.mutate` does this for you.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arconnect.sandbox.common.config import CompanySize, EmulatorConfig
from arconnect.sandbox.xero.wire import dotnet_ms, render

Record = dict[str, Any]


@dataclass
class OrgSpec(CompanySize):
    """One synthetic organisation (sizes are targets; see ``generator`` for how each is met).

    Attributes:
        name: the organisation's name (``tenantName`` in /connections).
        base_currency: ISO code of the base currency.
        timezone: Xero's timezone key (``NEWZEALANDSTANDARDTIME``).
        customers: customer contacts.
        invoices: sales invoices (ACCREC), every status.
        payments: the most payments (receipts and bill payments) the history may hold.
        suppliers: supplier contacts.
        bills: supplier bills (ACCPAY).
        country_code: the organisation's country.
    """

    name: str = "Demo Company (NZ)"
    base_currency: str = "NZD"
    timezone: str = "NEWZEALANDSTANDARDTIME"
    suppliers: int = 20
    bills: int = 300
    country_code: str = "NZ"


@dataclass
class SandboxConfig(EmulatorConfig):
    """Everything that shapes a sandbox run: :class:`~arconnect.sandbox.common.config.
    EmulatorConfig`'s settings (``seed``, ``start``, ``strict_limits`` for Xero's rate limits,
    ``auto_approve``, ``client_id``, ``client_secret``, ``refresh_grace_seconds``) and these.

    Attributes:
        orgs: the organisations; one grant may reach all of them.
        time_scale: sandbox seconds per real second.
        day_limit: calls per org per day (5,000; 1,000 on Xero's Starter tier).
        minute_limit: calls per org per minute.
        concurrent_limit: calls in flight per org.
        app_minute_limit: calls per minute across every org.
        redirect_uris: allowed redirect URIs; None allows any loopback ``http://`` address or
            any ``https://`` one (Xero: https only, except localhost).
        deleted_invoices_in_list: DELETED invoices come back from a plain ``GET /Invoices``
            (no ``Statuses``), as the recorded response shows; False hides them unless asked.
        provider_name: the envelope's ``ProviderName`` (the app's name in real Xero).
        prerender: render every record's JSON in a background thread once serving starts
            (otherwise each record renders on first request; either way only once).
    """

    orgs: list[OrgSpec] = field(default_factory=lambda: [OrgSpec()])
    time_scale: float = 1.0
    day_limit: int = 5000
    minute_limit: int = 60
    concurrent_limit: int = 5
    app_minute_limit: int = 10000
    redirect_uris: list[str] | None = None
    deleted_invoices_in_list: bool = True
    provider_name: str = "arconnect sandbox"
    prerender: bool = True


class Table(dict[str, Record]):
    """Records of one entity by id, with their rendered JSON and modification stamps cached.

    Args:
        id_field: the record's id key (``InvoiceID``...).
    """

    def __init__(self, id_field: str) -> None:
        super().__init__()
        self.id_field = id_field
        self.version = 0
        self.updated: dict[str, int] = {}
        self._json: dict[str, bytes] = {}
        self._variants: dict[str, dict[str, bytes]] = {}
        self._sorted: tuple[int, list[str]] | None = None

    def __setitem__(self, key: str, record: Record) -> None:
        super().__setitem__(key, record)
        self.touch(key)

    def put(self, record: Record) -> Record:
        """Insert or replace ``record`` (keyed by its id field); returns it."""
        self[record[self.id_field]] = record
        return record

    def touch(self, key: str) -> None:
        """Forget ``key``'s cached JSON after its record changed in place."""
        record = dict.__getitem__(self, key)
        stamp = record.get("UpdatedDateUTC")
        self.updated[key] = dotnet_ms(stamp) if stamp else 0
        self._json.pop(key, None)
        for cache in self._variants.values():
            cache.pop(key, None)
        self.version += 1

    def json_variant(self, key: str, name: str, shape: Callable[[Record], Record]) -> bytes:
        """JSON of ``shape(record)`` (a summary form), cached under ``name`` like :meth:`json`."""
        cache = self._variants.setdefault(name, {})
        cached = cache.get(key)
        if cached is None:
            cached = render(shape(dict.__getitem__(self, key))).encode()
            cache[key] = cached
        return cached

    def json(self, key: str) -> bytes:
        """The record's compact JSON (cached until it changes)."""
        cached = self._json.get(key)
        if cached is None:
            cached = render(dict.__getitem__(self, key)).encode()
            self._json[key] = cached
        return cached

    def by_updated(self) -> list[str]:
        """Ids ordered by ``UpdatedDateUTC`` then id (cached per version)."""
        if self._sorted is None or self._sorted[0] != self.version:
            upd = self.updated
            self._sorted = (self.version, sorted(self.keys(), key=lambda k: (upd[k], k)))
        return self._sorted[1]

    def load(self, records: Iterable[Record]) -> None:
        """Bulk insert (generation): one version bump."""
        for record in records:
            key = record[self.id_field]
            dict.__setitem__(self, key, record)
            stamp = record.get("UpdatedDateUTC")
            self.updated[key] = dotnet_ms(stamp) if stamp else 0
        self.version += 1


@dataclass
class Org:
    """One organisation (tenant) and its records.

    Attributes:
        tenant_id: the ``xero-tenant-id``.
        name: organisation name.
        base_currency: ISO code.
        timezone: Xero timezone key.
        country_code: ISO country.
        short_code: Xero's short code.
        created: when the organisation was created (sandbox time).
        contacts / invoices / credit_notes / payments / overpayments / prepayments /
            contact_groups: tables by id.
        history: HistoryRecords per ContactID (oldest first).
        group_members: ContactIDs per ContactGroupID, in the order they were added (a dict
            with ``None`` values, so membership checks, adds and removals are O(1)).
        inv_payments: PaymentIDs per InvoiceID (deleted payments included).
        inv_credits: CreditNoteIDs allocated to each InvoiceID.
        inv_cash: (envelope key, id) of the overpayments and prepayments allocated to each
            InvoiceID.
        contact_docs: InvoiceIDs per ContactID.
        currencies: the org's currencies (base first).
        rates: foreign units per one base unit, per currency (mid rates the generator used).
        archetypes: the generator's payment archetype per customer ContactID (not served by
            the API: the key against which segment quality is measured, bench/segment_sandbox.py).
        lock: held while records change or a page is assembled.
    """

    tenant_id: str
    name: str
    base_currency: str
    timezone: str
    country_code: str
    short_code: str
    created: datetime
    contacts: Table = field(default_factory=lambda: Table("ContactID"))
    invoices: Table = field(default_factory=lambda: Table("InvoiceID"))
    credit_notes: Table = field(default_factory=lambda: Table("CreditNoteID"))
    payments: Table = field(default_factory=lambda: Table("PaymentID"))
    overpayments: Table = field(default_factory=lambda: Table("OverpaymentID"))
    prepayments: Table = field(default_factory=lambda: Table("PrepaymentID"))
    contact_groups: Table = field(default_factory=lambda: Table("ContactGroupID"))
    history: dict[str, list[Record]] = field(default_factory=dict)
    group_members: dict[str, dict[str, None]] = field(default_factory=dict)
    inv_payments: dict[str, list[str]] = field(default_factory=dict)
    inv_credits: dict[str, list[str]] = field(default_factory=dict)
    inv_cash: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    contact_docs: dict[str, list[str]] = field(default_factory=dict)
    currencies: list[str] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)
    archetypes: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    query_cache: dict[Any, list[str]] = field(default_factory=dict)

    def next_number(self, prefix: str) -> str:
        """The next document number for ``prefix`` (``INV-``, ``CN-``, ``BILL-``...)."""
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}{self.counters[prefix]:05d}"

    def table(self, entity: str) -> Table:
        """The table for an envelope key (``Invoices``, ``Contacts``...)."""
        return {
            "Contacts": self.contacts, "Invoices": self.invoices,
            "CreditNotes": self.credit_notes, "Payments": self.payments,
            "Overpayments": self.overpayments, "Prepayments": self.prepayments,
            "ContactGroups": self.contact_groups,
        }[entity]

    def cached_query(self, key: Any, compute: Callable[[], list[str]]) -> list[str]:
        """Memoise a filtered, ordered id list for the current table versions."""
        versions = (self.contacts.version, self.invoices.version, self.credit_notes.version,
                    self.payments.version, self.overpayments.version,
                    self.prepayments.version, self.contact_groups.version)
        full = (versions, key)
        hit = self.query_cache.get(full)
        if hit is None:
            if len(self.query_cache) > 64:
                self.query_cache.clear()
            hit = compute()
            self.query_cache[full] = hit
        return hit
