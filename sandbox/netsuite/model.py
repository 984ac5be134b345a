"""The in-memory NetSuite accounts: the sandbox's ground truth, as the SuiteQL tables see it.

An :class:`Account` holds one :class:`Table` per SuiteQL table it serves. Rows are plain dicts
keyed by the lower-case column names of the SuiteQL analytics data source (ids ``int``, money
``Decimal``, checkboxes ``bool``, dates ``date``, instants aware UTC ``datetime``, absent values
``None``). A table with an ``id`` column keeps its ids sorted, so a keyset page
(``WHERE id > N ORDER BY id``) starts with a bisection, not a scan: :meth:`Table.rows` is the
SuiteQL executor's ``Source``.

Change rows only under :attr:`Account.lock` and through :class:`Table` (``put``, ``drop``), and
stamp what changed with :meth:`Account.touch` (``lastmodifieddate``), as NetSuite does on
every save. Every table carries a :attr:`Table.version` that each of these bumps: the SuiteQL
executor keeps sorted results per statement and version, so a row changed in place without a
save (a recomputed balance) must be followed by :meth:`Table.changed` (or
:meth:`Account.changed`) before the lock is released.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from arconnect.sandbox.netsuite.config import AccountSpec, NsConfig, host_form

Row = dict[str, Any]

ZERO = Decimal("0.00")

# Columns per table (the SuiteQL field ids; spec of each in sandbox/README.md, "NetSuite").
CUSTOMER_COLUMNS = ("id", "entityid", "companyname", "email", "isinactive", "isperson",
                    "parent", "currency", "terms", "category", "creditlimit",
                    "creditholdoverride", "subsidiary", "balance", "datecreated",
                    "lastmodifieddate")
DUNNING_COLUMNS = ("custentity_3805_dunning_procedure", "custentity_3805_dunning_manager",
                   "custentity_3805_dunning_level")
TRANSACTION_COLUMNS = ("id", "tranid", "type", "entity", "trandate", "duedate", "status",
                       "currency", "exchangerate", "foreigntotal", "foreignamountpaid",
                       "foreignamountunpaid", "foreignpaymentamountused",
                       "foreignpaymentamountunused", "voided", "memo", "otherrefnum",
                       "createddate", "lastmodifieddate")
LINK_COLUMNS = ("previousdoc", "previousline", "previoustype", "nextdoc", "nextline",
                "nexttype", "linktype", "foreignamount", "amount", "linkdate")
CATEGORY_COLUMNS = ("id", "name", "isinactive")
CURRENCY_COLUMNS = ("id", "name", "symbol", "isbasecurrency")
SUBSIDIARY_COLUMNS = ("id", "name", "currency", "parent", "iselimination", "isinactive")
TERM_COLUMNS = ("id", "name", "daysuntilnetdue")
PROCEDURE_COLUMNS = ("id", "name", "custrecord_3805_default_dunning_manager")
PROCEDURE_TABLE = "customrecord_3805_dunning_procedure"

# Transaction types served and the deletedrecord record type of each.
INVOICE, CREDIT, PAYMENT = "CustInvc", "CustCred", "CustPymt"
DELETED_TYPES = {INVOICE: "invoice", CREDIT: "creditmemo", PAYMENT: "customerpayment",
                 "customer": "customer"}


class _Index:
    """Rows by the value of one integer column, each with its position (keyed tables: the
    id; unkeyed: the place in insertion order), built for one :attr:`Table.version`."""

    def __init__(self, column: str, version: int) -> None:
        self.column = column
        self.version = version
        self.usable = True  # every value an int or None (else lookups by value could miss)
        self.rows: dict[Any, list[tuple[int, Row]]] = {}  # int keys; Decimal finds them too

    def add(self, position: int, row: Row) -> None:
        value = row.get(self.column)
        if value is None:
            return
        if value.__class__ is not int:
            self.usable = False
            return
        self.rows.setdefault(value, []).append((position, row))


class Table:
    """One SuiteQL table (the executor's ``Source``).

    Args:
        name: the table's SuiteQL name.
        columns: its column names (lower case).
        keyed: rows have a unique ``id`` (sorted, bisected); otherwise rows keep insertion
            order.
        indexed: integer columns looked up by value (:meth:`rows_by`), such as the link
            table's ``nextdoc``.
    """

    def __init__(self, name: str, columns: Iterable[str], keyed: bool = True,
                 indexed: Iterable[str] = ()) -> None:
        self.name = name
        self.columns: frozenset[str] = frozenset(columns)
        self.keyed = keyed
        self.version = 0  # bumped by every change; the executor's cached results key on it
        self._indexed = frozenset(indexed)
        self._indexes: dict[str, _Index] = {}  # built on first use
        self._rows: dict[int, Row] = {}
        self._ids: list[int] = []
        self._list: list[Row] = []  # unkeyed tables' rows

    # ---- the Source protocol ---------------------------------------------------------------
    def rows(self, after_id: int | None = None) -> Iterable[Mapping[str, Any]]:
        """Rows in ascending ``id`` order, after ``after_id`` when given (unkeyed tables:
        insertion order, ``after_id`` ignored)."""
        if not self.keyed:
            return list(self._list)
        start = 0 if after_id is None else bisect_right(self._ids, after_id)
        return map(self._rows.__getitem__, self._ids[start:])

    def rows_by(self, column: str, values: Collection[int | Decimal]
                ) -> list[Mapping[str, Any]] | None:
        """The rows whose ``column`` equals one of ``values``, in :meth:`rows` order; None
        when ``column`` is not indexed or holds a value other than an integer (the caller
        then scans). Each row once, however many values name it."""
        if column not in self._indexed:
            return None
        index = self._index(column)
        if not index.usable:
            return None
        found: list[tuple[int, Row]] = []
        for value in set(values):
            found.extend(index.rows.get(value, ()))
        found.sort(key=lambda hit: hit[0])
        return [row for _, row in found]

    def _index(self, column: str) -> _Index:
        index = self._indexes.get(column)
        if index is None or index.version != self.version:
            index = self._indexes[column] = _Index(column, self.version)
            if self.keyed:
                for row_id in self._ids:
                    index.add(row_id, self._rows[row_id])
            else:
                for position, row in enumerate(self._list):
                    index.add(position, row)
        return index

    def changed(self) -> None:
        """Note that rows changed in place: cached results and indexes of this table are
        stale from now on."""
        self.version += 1

    # ---- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows) if self.keyed else len(self._list)

    def __contains__(self, row_id: object) -> bool:
        return row_id in self._rows

    def __iter__(self) -> Iterator[Row]:
        if not self.keyed:
            return iter(list(self._list))
        return map(self._rows.__getitem__, list(self._ids))

    def get(self, row_id: int) -> Row | None:
        """The row with ``row_id``, or None."""
        return self._rows.get(row_id)

    def __getitem__(self, row_id: int) -> Row:
        return self._rows[row_id]

    def last_id(self) -> int:
        """The highest id (0 when empty)."""
        return self._ids[-1] if self._ids else 0

    # ---- writing ---------------------------------------------------------------------------
    def put(self, row: Row) -> Row:
        """Insert or replace ``row`` (keyed by its ``id``; unkeyed: appended)."""
        if not self.keyed:
            fresh = [ix for ix in self._indexes.values() if ix.version == self.version]
            self._list.append(row)
            self.version += 1
            for index in fresh:  # an append keeps the other positions: no rebuild
                index.add(len(self._list) - 1, row)
                index.version = self.version
            return row
        self.version += 1
        row_id = row["id"]
        if row_id not in self._rows:
            if not self._ids or row_id > self._ids[-1]:
                self._ids.append(row_id)
            else:
                insort(self._ids, row_id)
        self._rows[row_id] = row
        return row

    def load(self, rows: Iterable[Row]) -> None:
        """Bulk insert (ids need not be in order)."""
        self.version += 1
        if not self.keyed:
            self._list.extend(rows)
            return
        for row in rows:
            self._rows[row["id"]] = row
        self._ids = sorted(self._rows)

    def drop(self, row_id: int) -> Row | None:
        """Remove the row with ``row_id`` (keyed tables); returns it."""
        row = self._rows.pop(row_id, None)
        if row is not None:
            del self._ids[bisect_left(self._ids, row_id)]
            self.version += 1
        return row

    def drop_where(self, test: Callable[[Row], bool]) -> list[Row]:
        """Remove the rows of an unkeyed table for which ``test`` holds; returns them."""
        gone = [r for r in self._list if test(r)]
        if gone:
            self._list = [r for r in self._list if not test(r)]
            self.version += 1
        return gone


@dataclass
class Account:
    """One NetSuite account and its records.

    Attributes:
        spec: what it was generated from.
        config: the sandbox's settings (switches the tables follow).
        account_id: the id in its original form (``1234567_SB1``).
        host: its host form (``1234567-sb1``).
        name: the company name.
        tz: the account's time zone (SuiteQL renders and reads datetimes in it).
        base_currency: the root subsidiary's currency (ISO code).
        tables: the SuiteQL tables it serves, by name.
        customer_docs: transaction ids per customer id (for balances).
        archetypes: the generator's payment archetype per customer id (not served; what
            segment quality is measured against).
        lock: held while rows change or a query reads them.
    """

    spec: AccountSpec
    config: NsConfig
    tables: dict[str, Table] = field(default_factory=dict)
    customer_docs: dict[int, list[int]] = field(default_factory=dict)
    archetypes: dict[int, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def empty(cls, spec: AccountSpec, config: NsConfig) -> Account:
        """An account with its tables and no rows."""
        account = cls(spec, config)
        customer = list(CUSTOMER_COLUMNS)
        if spec.dunning_suiteapp:
            customer += DUNNING_COLUMNS
        customer += [name.lower() for name in spec.custom_fields]
        t = account.tables
        t["customer"] = Table("customer", customer)
        t["transaction"] = Table("transaction", TRANSACTION_COLUMNS)
        t["nexttransactionlinelink"] = Table("nexttransactionlinelink", LINK_COLUMNS, False,
                                             indexed=("nextdoc",))
        t["deletedrecord"] = Table("deletedrecord", config.deleted_columns, False)
        t["customercategory"] = Table("customercategory", CATEGORY_COLUMNS)
        t["currency"] = Table("currency", CURRENCY_COLUMNS)
        if spec.oneworld:
            t["subsidiary"] = Table("subsidiary", SUBSIDIARY_COLUMNS)
        t["term"] = Table("term", TERM_COLUMNS)
        if spec.dunning_suiteapp:
            t[PROCEDURE_TABLE] = Table(PROCEDURE_TABLE, PROCEDURE_COLUMNS)
        return account

    # ---- identity --------------------------------------------------------------------------
    @property
    def account_id(self) -> str:
        """The account id, original form."""
        return self.spec.account_id

    @property
    def host(self) -> str:
        """The account id as host names carry it."""
        return host_form(self.spec.account_id)

    @property
    def name(self) -> str:
        """The company name."""
        return self.spec.name

    @property
    def tz(self) -> ZoneInfo:
        """The account's time zone."""
        return ZoneInfo(self.spec.timezone)

    @property
    def base_currency(self) -> str:
        """The root subsidiary's currency."""
        return self.spec.base_currency

    # ---- tables ----------------------------------------------------------------------------
    @property
    def customers(self) -> Table:
        """The ``customer`` table."""
        return self.tables["customer"]

    @property
    def transactions(self) -> Table:
        """The ``transaction`` table."""
        return self.tables["transaction"]

    @property
    def links(self) -> Table:
        """The ``nexttransactionlinelink`` table."""
        return self.tables["nexttransactionlinelink"]

    @property
    def deleted(self) -> Table:
        """The ``deletedrecord`` table."""
        return self.tables["deletedrecord"]

    def counts(self) -> dict[str, int]:
        """Rows per table, invoices / credit memos / payments apart."""
        out = {name: len(table) for name, table in self.tables.items()}
        kinds = {INVOICE: 0, CREDIT: 0, PAYMENT: 0}
        for row in self.transactions:
            kinds[row["type"]] += 1
        out.update({"invoices": kinds[INVOICE], "creditmemos": kinds[CREDIT],
                    "payments": kinds[PAYMENT]})
        return out

    def next_id(self, sequence: str) -> int:
        """The next internal id of ``sequence`` (``entity``, ``transaction``, ``category``)."""
        self.counters[sequence] = self.counters.get(sequence, 0) + 1
        return self.counters[sequence]

    def touch(self, row: Row, now: datetime) -> None:
        """Stamp ``row`` as saved at ``now`` (NetSuite keeps whole seconds)."""
        row["lastmodifieddate"] = now.replace(microsecond=0)
        self.changed(row)

    def changed(self, row: Mapping[str, Any] | None = None) -> None:
        """Note that ``row`` changed in place (None: any row of any table): the table holding
        it (every table, when none of the keyed ones holds it) bumps its version."""
        row_id = None if row is None else row.get("id")
        holders = [t for t in self.tables.values()
                   if row_id is not None and t.keyed and t.get(row_id) is row]
        for table in holders or self.tables.values():
            table.changed()

    def tombstone(self, record_type: str, record_id: int, name: str | None,
                  when: datetime) -> None:
        """A ``deletedrecord`` row for a record deleted at ``when`` (column names as the
        ``deleted_columns`` switch gives them)."""
        rid, rtype, rname, rdate = self.config.deleted_columns
        self.deleted.put({rid: record_id, rtype: record_type, rname: name,
                          rdate: when.replace(microsecond=0)})

    def settle_customer(self, customer_id: int) -> None:
        """Recompute a customer's ``balance``: what its open invoices still owe less its
        unapplied credits and payments (in the customer's currency). A balance is not a save:
        ``lastmodifieddate`` stays."""
        cust = self.customers.get(customer_id)
        if cust is None:
            return
        txns = self.transactions
        total = ZERO
        for doc_id in self.customer_docs.get(customer_id, ()):
            row = txns.get(doc_id)
            if row is None:
                continue
            if row["type"] == INVOICE:
                total += row["foreignamountunpaid"] or ZERO
            else:
                total -= row["foreignpaymentamountunused"] or ZERO
        cust["balance"] = total
        self.customers.changed()

    def links_of(self, doc_id: int) -> list[Row]:
        """The link rows naming ``doc_id`` on either side."""
        return [r for r in self.links
                if r["previousdoc"] == doc_id or r["nextdoc"] == doc_id]
