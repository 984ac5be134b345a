"""Configuration and the in-memory companies: the QuickBooks sandbox's ground truth.

A :class:`Company` holds its records in :class:`Table` objects — ``dict[Id, record]`` whose
records are shaped exactly like QBO's JSON (money as Decimal) — plus the tombstones of deleted
objects that CDC still reports. Change records through :class:`~arconnect.sandbox.quickbooks.
mutate.Mutator` (``sb.mutate(realm_id)``) or :meth:`Table.put`, so the modification index and
the JSON cache follow.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from arconnect.sandbox.common.config import CompanySize, EmulatorConfig
from arconnect.sandbox.quickbooks.wire import parse_offset, render

Record = dict[str, Any]

# The entities served, by the name used in queries, CDC and envelopes, with the lowercase
# resource name of ``GET /{resource}/{id}``.
ENTITIES = ("Customer", "Invoice", "CreditMemo", "Payment", "RefundReceipt", "CustomerType",
            "Term", "CompanyInfo", "Preferences")
TRANSACTIONS = ("Invoice", "CreditMemo", "Payment", "RefundReceipt")
RESOURCES = {e.lower(): e for e in ENTITIES}

DEFAULT_REDIRECT_URIS = ("http://localhost:8765/callback/quickbooks",
                         "http://localhost:8000/callback/quickbooks")


@dataclass
class CompanySpec(CompanySize):
    """One synthetic QBO company (sizes are targets, met as the Xero generator meets them).

    Attributes:
        name: ``CompanyInfo.CompanyName``.
        home_currency: the home currency (ISO code).
        offset: the company's UTC offset, used in every timestamp (``-08:00``).
        customers: top-level customers generated (sub-customers and a merged duplicate come
            on top, as in the Xero sandbox).
        invoices: invoices, voided ones included.
        payments: the most customer payments the history may hold.
        customer_types: the company's own CustomerType names (≤ 15 characters each).
        custom_fields: custom field definitions on Customer, ``{name: DefinitionId}``; none by
            default (a company without custom fields refuses ``CustomField`` on a customer).
        country: ``CompanyInfo.Country``.
    """

    name: str = "Sandbox Company US 1"
    home_currency: str = "USD"
    offset: str = "-08:00"
    customer_types: tuple[str, ...] = ("Commercial", "Residential", "Wholesale")
    custom_fields: dict[str, str] = field(default_factory=dict)
    country: str = "US"


@dataclass
class QboConfig(EmulatorConfig):
    """Everything that shapes a QuickBooks sandbox run: :class:`~arconnect.sandbox.common.
    config.EmulatorConfig`'s settings (``seed``: the same seed and sizes give the same
    customers, invoices and payments as the Xero sandbox; ``start``; ``strict_limits`` for
    QBO's throttles; ``auto_approve``; ``client_id`` and ``client_secret``;
    ``refresh_grace_seconds``, how long a superseded refresh token keeps working) and these.

    Attributes:
        companies: the companies; one consent connects one of them (its ``realmId``).
        clock_scale: sandbox seconds per real second.
        redirect_uris: the app's registered redirect URIs (matched exactly).
        production_keys: the app uses production keys: redirect URIs must be https
            (development keys also allow ``http://localhost``).
        minute_limit / concurrent_limit / batch_minute_limit: throttles per realm.
    """

    companies: list[CompanySpec] = field(default_factory=lambda: [CompanySpec()])
    clock_scale: float = 1.0
    client_id: str = "arconnect-qbo-demo"
    client_secret: str = "qbo-demo-secret"
    redirect_uris: list[str] = field(default_factory=lambda: list(DEFAULT_REDIRECT_URIS))
    production_keys: bool = False
    refresh_grace_seconds: int = 86400
    minute_limit: int = 500
    concurrent_limit: int = 10
    batch_minute_limit: int = 40


class Table(dict[str, Record]):
    """Records of one entity by ``Id`` with their creation and modification instants (aware
    UTC) and their rendered JSON cached."""

    def __init__(self) -> None:
        super().__init__()
        self.updated: dict[str, datetime] = {}
        self.created: dict[str, datetime] = {}
        self.version = 0  # bumped by every change: query results are cached per version
        self._json: dict[str, str] = {}

    def put(self, record: Record, created: datetime, updated: datetime) -> Record:
        """Insert or replace ``record`` (keyed by its ``Id``); returns it."""
        key = record["Id"]
        dict.__setitem__(self, key, record)
        self.created[key] = created
        self.updated[key] = updated
        self._json.pop(key, None)
        self.version += 1
        return record

    def touch(self, key: str, updated: datetime) -> None:
        """``key``'s record changed in place at ``updated``."""
        self.updated[key] = updated
        self._json.pop(key, None)
        self.version += 1

    def remove(self, key: str) -> Record:
        """Drop ``key`` (a delete); returns the record."""
        record = dict.pop(self, key)
        self.updated.pop(key, None)
        self.created.pop(key, None)
        self._json.pop(key, None)
        self.version += 1
        return record

    def json(self, key: str) -> str:
        """The record's compact JSON (cached until it changes)."""
        cached = self._json.get(key)
        if cached is None:
            cached = render(dict.__getitem__(self, key))
            self._json[key] = cached
        return cached


@dataclass
class Tombstone:
    """A deleted object as CDC reports it for 30 days."""

    entity: str
    id: str
    deleted: datetime


@dataclass
class Company:
    """One QBO company (realm) and its records.

    Attributes:
        realm_id: the company id (``realmId``), digits.
        spec: what it was generated from.
        tz: its fixed UTC offset.
        tables: records by entity name (``Customer``, ``Invoice``…).
        tombstones: deleted objects by (entity, Id).
        archetypes: the generator's payment archetype per customer Id (not served: the key
            segment quality is measured against).
        multicurrency: ``Preferences.CurrencyPrefs.MultiCurrencyEnabled``.
        currencies: currency code -> name, for ``CurrencyRef``.
        rates: ``ExchangeRate`` (home units per foreign unit) per foreign currency, mid rates.
        links: Payment Ids linking each invoice or credit memo Id (in the order made).
        cust_docs: (entity, Id) of each customer's transactions.
        query_cache: matching, ordered Ids per (query, table version) — paging through one
            query filters and sorts once.
        lock: held while records change or a response is assembled.
    """

    realm_id: str
    spec: CompanySpec
    tz: timezone
    tables: dict[str, Table] = field(default_factory=lambda: {e: Table() for e in ENTITIES})
    tombstones: dict[tuple[str, str], Tombstone] = field(default_factory=dict)
    archetypes: dict[str, str] = field(default_factory=dict)
    multicurrency: bool = False
    currencies: dict[str, str] = field(default_factory=dict)
    rates: dict[str, Decimal] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)
    cust_docs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    query_cache: dict[Any, list[str]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def empty(cls, realm_id: str, spec: CompanySpec) -> Company:
        """A company with no records yet."""
        return cls(realm_id=realm_id, spec=spec, tz=parse_offset(spec.offset))

    @property
    def name(self) -> str:
        """``CompanyInfo.CompanyName``."""
        return self.spec.name

    @property
    def home_currency(self) -> str:
        """The home currency code."""
        return self.spec.home_currency

    def next_id(self, kind: str) -> str:
        """The next Id of a sequence: ``txn`` (every transaction type shares one, as the
        recorded sandbox shows: Invoice 71, Payment 72, CreditMemo 73, Payment 74) or a list
        entity's own (``Customer``, ``Term``, ``CustomerType``)."""
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return str(self.counters[kind])

    def next_doc_number(self) -> str:
        """The next invoice / credit memo number (``1001``, ``1002``…, QBO's default)."""
        self.counters["DocNumber"] = self.counters.get("DocNumber", 1000) + 1
        return str(self.counters["DocNumber"])

    def table(self, entity: str) -> Table:
        """The table of ``entity`` (KeyError if not served)."""
        return self.tables[entity]

    def customers(self) -> Iterator[Record]:
        """Every customer record."""
        return iter(self.tables["Customer"].values())
