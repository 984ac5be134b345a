"""The NetSuite adapter: reads customers, invoices, credit memos and customer payments of one
account with SuiteQL over REST Web Services.

It knows NetSuite's paths, the SuiteQL statements it sends and the wire format; it never touches
the store, never retries and never sleeps (the client it is handed does that), and ``fetch``
never persists state.

**Keyset pages.** Every entity is read ``… WHERE [lastmodifieddate >= TO_TIMESTAMP(since)] AND
id > <last id read> ORDER BY id`` with ``limit=1000&offset=0``: a page never depends on a
position (a record edited or deleted meanwhile cannot shift the next page) and never comes near
the row cap on ``offset`` that SuiteQL paging has
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156414087576.html).

Cursor (stored by the engine with each committed page)::

    {"since": "2026-11-30 09:00:00" | None,   # this pass reads rows modified at or after this
     "after_id": 4711,                        # the last id read by this pass (0: none yet)
     "high": "2026-11-30 10:13:07" | None,    # the newest lastmodified read so far
     "mark": "2026-11-30 10:02:00" | None,    # when the server answered the pass's first page
     "deleted_since": "2026-11-30 09:10:00" | None}   # deletedrecord rows read from here

Timestamps are kept as SuiteQL renders them (``TO_CHAR(…, 'YYYY-MM-DD HH24:MI:SS')``, the
account's time zone, full to the second, never a date alone) and sent back as
``TO_TIMESTAMP`` literals, which NetSuite reads in that same zone.

A pass reads by id, so a row changed while the pass runs, behind ``after_id``, is not read again
by it. The pass's ``mark`` is when the server answered its first page (its ``Date`` header, in
the account's zone): no change the pass can have missed is older. A finished pass leaves
``since`` at the earlier of ``high`` and ``mark``, less ``overlap_seconds`` (commit lag, and the
hour a local clock repeats when daylight saving time ends), and ``after_id`` at 0; a stopped
pass resumes at ``after_id`` and keeps its ``mark``. A resumed pass spans runs, so rows it read
before the stop may have changed meanwhile: it is followed, in the same run, by one more pass
from its ``mark`` less the overlap, so the run that finishes leaves nothing changed unread.

**Deletes.** After an entity's last page, one ``deletedrecord`` query (offset-paged) for its
record type since ``deleted_since`` yields tombstones ``{"id", "$deleted": true}``.

**Applications.** ``nexttransactionlinelink`` says which invoices each credit memo or payment
applied to, and how much (``$applied``). A full read (no ``since``) reads the links of all its
documents as a keyset stream beside their pages (:class:`LinkStream`: as many calls as the link
rows fill); a read of changes asks, per page, for the links of that page's ids (an ``IN``
query). Either way a page's ``$applied`` is complete when the page is yielded.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from arconnect.adapters.base import (
    Cursor,
    HttpClient,
    OrgInfo,
    Page,
    RateInfo,
    Record,
    TenantInfo,
)
from arconnect.adapters.netsuite._common import (
    CATEGORIES_QUERY,
    GOVERNANCE,
    IDS_PER_QUERY,
    MAX_LIMIT,
    OFFSET_RESTART,
    PROCEDURES_QUERY,
    TERMS_QUERY,
    ids_in,
    items_of,
    served_at,
    sql_string,
    suiteql,
    suiteql_all,
    timestamp_literal,
)
from arconnect.adapters.netsuite.settings import NsSettings
from arconnect.errors import AuthError, ConfigError, PageError, UpstreamError

LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"
_LOCAL = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\Z")

LASTMODIFIED = "TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified"
CUSTOMER_COLUMNS = ("id, entityid, companyname, email, isinactive, isperson, parent, currency, "
                    "terms, category, creditlimit, creditholdoverride, subsidiary")
# The Dunning Letters SuiteApp's customer fields (absent from accounts without it).
DUNNING_COLUMNS = ("custentity_3805_dunning_procedure, custentity_3805_dunning_manager, "
                   "custentity_3805_dunning_level")
TRANSACTION_COLUMNS = (
    "id, tranid, type, entity, TO_CHAR(trandate, 'YYYY-MM-DD') AS trandate, "
    "TO_CHAR(duedate, 'YYYY-MM-DD') AS duedate, currency, exchangerate, foreigntotal, "
    "foreignamountunpaid, foreignamountpaid, foreignpaymentamountunused, voided, otherrefnum")
LINK_COLUMNS = ("previousdoc, previoustype, nextdoc, nexttype, linktype, foreignamount, "
                "TO_CHAR(linkdate, 'YYYY-MM-DD') AS linkdate")


@dataclass(frozen=True)
class Source:
    """One entity as SuiteQL reads it.

    Attributes:
        entity: the name the engine and the mapping use.
        table: the SuiteQL table (``customer``, ``transaction``).
        type: the transaction type (``transaction.type``), None for customers.
        deleted_type: its ``deletedrecord.recordtype``.
        open_column: the column holding what is still open (invoices: unpaid; credit memos and
            payments: not yet applied).
        source_kind: the allocation source its applications are (None: it applies nothing).
    """

    entity: str
    table: str
    type: str | None
    deleted_type: str
    open_column: str | None = None
    source_kind: str | None = None


# Records Catalog: Customer (SuiteQL table customer).
CUSTOMERS = Source("customers", "customer", None, "customer")
# Records Catalog: Transaction (SuiteQL table transaction), types CustInvc, CustCred, CustPymt.
INVOICES = Source("invoices", "transaction", "CustInvc", "invoice", "foreignamountunpaid")
CREDIT_MEMOS = Source("credit_memos", "transaction", "CustCred", "creditmemo",
                      "foreignpaymentamountunused", "credit_note")
PAYMENTS = Source("payments", "transaction", "CustPymt", "customerpayment",
                  "foreignpaymentamountunused", "payment")
SOURCES: dict[str, Source] = {s.entity: s for s in (CUSTOMERS, INVOICES, CREDIT_MEMOS, PAYMENTS)}


@dataclass
class AccountFacts:
    """What the set-up calls of a run read about an account (one per tenant)."""

    currencies: dict[str, str] = field(default_factory=dict)  # currency id -> ISO code
    base_currency: str = ""
    oneworld: bool = False
    subsidiaries: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> name, currency
    concurrency: int = 0
    name: str = ""
    # Read when customers are: term id -> (name, days), category id -> name, procedure id ->
    # name; None until read.
    terms: dict[str, tuple[str, str]] | None = None
    categories: dict[str, str] | None = None
    procedures: dict[str, str] | None = None
    dunning: bool = True  # the Dunning Letters SuiteApp's fields exist
    subsidiaries_known: bool = True  # the role may read the subsidiary table
    # customer id -> subsidiary id, for transactions whose subsidiary's currency matters
    customer_subsidiary: dict[str, str] = field(default_factory=dict)

    @property
    def mixed_currencies(self) -> bool:
        """Some subsidiary keeps its books in another currency than the account's base."""
        return not self.subsidiaries_known or any(
            s.get("currency") and s.get("currency") != self.base_currency
            for s in self.subsidiaries.values())


# -- time ----------------------------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    """The account's time zone.

    Raises:
        ConfigError: not an IANA zone name.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"ARCONNECT_NETSUITE_TIMEZONE: unknown time zone {name!r}; use the "
                          "account's (Setup > Company > General Preferences), e.g. "
                          "America/Los_Angeles") from None


def local_to_utc(text: str, tz: ZoneInfo) -> datetime:
    """A SuiteQL timestamp (``2026-11-01 01:30:00``, account-local) as aware UTC.

    A wall time the end of daylight saving time repeats is read as its first occurrence
    (``fold=0``), the earlier instant; the overlap of the next read covers the hour.

    Raises:
        ValueError: not ``YYYY-MM-DD HH:MM:SS``.
    """
    text = text.strip()
    if not _LOCAL.match(text):
        raise ValueError(f"not a SuiteQL timestamp (YYYY-MM-DD HH:MM:SS): {text[:40]!r}")
    naive = datetime.fromisoformat(text)
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def shift_local(text: str, seconds: int, tz: ZoneInfo) -> str:
    """The account-local timestamp ``seconds`` before ``text`` (through UTC, so a daylight
    saving change in between counts right)."""
    earlier = local_to_utc(text, tz) - timedelta(seconds=seconds)
    return earlier.astimezone(tz).strftime(LOCAL_FORMAT)


def _earlier(a: str | None, b: str | None) -> str | None:
    """The earlier of two SuiteQL timestamps (either may be missing)."""
    if not a:
        return b
    if not b:
        return a
    return min(a, b)


def _later(a: str | None, b: str | None) -> str | None:
    """The later of two SuiteQL timestamps (same format: text order is time order, except
    inside a repeated hour, where either is inside the overlap)."""
    if not a:
        return b
    if not b:
        return a
    return max(a, b)


def _money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


# -- the adapter ---------------------------------------------------------------------------------


class NetSuiteAdapter:
    """Reads an account's customers, invoices, credit memos and payments.

    Args:
        settings: the NetSuite settings (page size, time zone, overlap, concurrency).
    """

    platform = "netsuite"
    entities: Sequence[str] = ("customers", "invoices", "credit_memos", "payments")
    customer_entity = "customers"
    open_entities: Sequence[str] = ("invoices", "credit_memos")

    def __init__(self, settings: NsSettings) -> None:
        self.settings = settings
        self.page_size = min(max(settings.page_size, 1), MAX_LIMIT)
        self.tz = zone(settings.timezone)
        self._facts: dict[str, AccountFacts] = {}
        self._lock = threading.Lock()

    @staticmethod
    def headers(tenant: TenantInfo) -> dict[str, str]:
        return {"Accept": "application/json"}

    # -- set-up -----------------------------------------------------------------------------

    def organisation(self, client: HttpClient, tenant: TenantInfo) -> OrgInfo:
        """The account's base currency, name and concurrency, from the set-up calls: the
        currency table, the subsidiary table (OneWorld accounts only: any other account
        refuses it) and ``governanceLimits`` (administrator roles only: otherwise the
        concurrency setting stands).

        The account's base currency is the root subsidiary's (OneWorld), else the currency
        marked ``isbasecurrency``. Time zone: the ``ARCONNECT_NETSUITE_TIMEZONE`` setting (the
        REST API does not state the account's).
        """
        facts = self._setup(client, tenant)
        return OrgInfo(
            name=facts.name or tenant.name or f"NetSuite account {tenant.external_id}",
            base_currency=facts.base_currency, timezone=self.settings.timezone,
            extra={"oneworld": facts.oneworld,
                   "subsidiaries": {k: dict(v) for k, v in facts.subsidiaries.items()},
                   "concurrency": facts.concurrency})

    def _setup(self, client: HttpClient, tenant: TenantInfo) -> AccountFacts:
        facts = AccountFacts()
        rows = _with_ids(suiteql_all(client, "SELECT id, symbol, isbasecurrency FROM currency "
                                           "ORDER BY id"), "currency")
        facts.currencies = {str(r["id"]): str(r.get("symbol") or "") for r in rows}
        base = next((str(r.get("symbol") or "") for r in rows
                     if r.get("isbasecurrency") == "T"), "")
        try:
            subs = _with_ids(suiteql_all(client, "SELECT id, name, currency, parent FROM "
                                               "subsidiary ORDER BY id"), "subsidiary")
        except UpstreamError as err:
            if err.status != 400:
                raise
            subs = None  # not a OneWorld account: it has no subsidiary table
        except ConfigError:
            # the role may not read subsidiaries (403): OneWorld, but which subsidiary keeps
            # its books in which currency is unknown, so no rate is taken as the base's
            subs = None
            facts.oneworld, facts.subsidiaries_known = True, False
        if subs is not None:
            facts.oneworld = True
            for r in subs:
                facts.subsidiaries[str(r["id"])] = {
                    "name": str(r.get("name") or ""),
                    "currency": facts.currencies.get(str(r.get("currency") or ""), ""),
                }
            root = next((r for r in subs if not r.get("parent")), subs[0] if subs else None)
            if root is not None:
                facts.name = str(root.get("name") or "")
                base = facts.subsidiaries[str(root["id"])]["currency"] or base
        facts.base_currency = base or tenant.base_currency or ""
        facts.concurrency = self._governance(client)
        with self._lock:
            self._facts[tenant.external_id] = facts
        return facts

    def _governance(self, client: HttpClient) -> int:
        """The calls in flight the account allows this integration (``governanceLimits``:
        the integration's own limit when one is allocated, else the account's); the setting
        when the role may not read it. The client's pacer is told (``observe``)."""
        limit = self.settings.concurrency
        try:
            resp = client.request("GET", GOVERNANCE)
        except (ConfigError, UpstreamError, AuthError):
            # 403 (or 401: the SuiteQL calls before it went through) for a role that is not
            # an administrator; a failure here must not stop the sync
            return limit
        if resp.status_code != 200:
            return limit
        try:
            body = resp.json()
        except ValueError:
            return limit
        if not isinstance(body, dict):
            return limit
        for key in ("integrationConcurrencyLimit", "accountConcurrencyLimit"):
            value = body.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                limit = value
                break
        observe = getattr(client, "observe", None)
        if callable(observe):
            observe(RateInfo(concurrency=limit))
        return limit

    def _account(self, client: HttpClient, tenant: TenantInfo) -> AccountFacts:
        with self._lock:
            found = self._facts.get(tenant.external_id)
        return found if found is not None else self._setup(client, tenant)

    def _lookups(self, client: HttpClient, facts: AccountFacts) -> None:
        """Terms, customer categories and dunning procedures, read once per run (when
        customers are read)."""
        if facts.terms is None:
            rows = suiteql_all(client, TERMS_QUERY)
            facts.terms = {str(r["id"]): (str(r.get("name") or ""),
                                          str(r.get("daysuntilnetdue") or ""))
                           for r in rows if "id" in r}
        if facts.categories is None:
            rows = suiteql_all(client, CATEGORIES_QUERY)
            facts.categories = {str(r["id"]): str(r.get("name") or "") for r in rows if "id" in r}
        if facts.procedures is None:
            procedures: dict[str, str] = {}
            if facts.dunning:
                try:
                    rows = suiteql_all(client, PROCEDURES_QUERY)
                    procedures = {str(r["id"]): str(r.get("name") or "")
                                  for r in rows if "id" in r}
                except UpstreamError as err:
                    if err.status != 400:
                        raise
                    facts.dunning = False  # the Dunning Letters SuiteApp is not installed
            facts.procedures = procedures

    # -- incremental reads ------------------------------------------------------------------

    def fetch(self, client: HttpClient, tenant: TenantInfo, entity: str,
              cursor: Cursor | None) -> Iterator[Page]:
        """Yield keyset pages of ``entity`` modified since the cursor, then its deletes."""
        source = SOURCES[entity]
        facts = self._account(client, tenant)
        if source is CUSTOMERS:
            self._lookups(client, facts)
        state = dict(cursor or {})
        since = _local_or_none(state.get("since"))
        high = _local_or_none(state.get("high"))
        mark = _local_or_none(state.get("mark"))
        deleted_since = _local_or_none(state.get("deleted_since"))
        after = int(state.get("after_id") or 0)
        resumed = after > 0
        overlap = self.settings.overlap_seconds
        # a full read takes the links of its credit memos or payments as a stream of their
        # own; a read of changes asks for the links of each page's documents
        links = self._link_stream(client, source, since, after)
        number = 0
        while True:
            conditions = []
            if since:
                conditions.append(f"lastmodifieddate >= {timestamp_literal(since)}")
            conditions.append(f"id > {after}")
            fresh = after == 0
            number += 1
            rows, reply = self._page(client, facts, source, conditions, tenant, number)
            if rows:
                after = max(int(r["id"]) for r in rows)
                for stamp in {r.get("lastmodified") for r in rows
                              if r.get("lastmodified").__class__ is str}:
                    high = _later(high, _local_or_none(stamp))
            if fresh:
                # a change this pass can miss (behind after_id) is later than this instant
                answered = served_at(reply)
                mark = (answered.astimezone(self.tz).strftime(LOCAL_FORMAT) if answered
                        else high)
            more = bool(reply.get("hasMore")) and len(rows) > 0
            records = self._annotate(client, facts, source, rows, tenant, links)
            if more:
                yield Page(records, {"since": since, "after_id": after, "high": high,
                                     "mark": mark, "deleted_since": deleted_since}, number)
                continue
            if resumed:
                # A stopped pass was finished: rows it had read before the stop may have
                # changed since. One more pass from its start mark reads them again.
                since = shift_local(mark, overlap, self.tz) if mark else None
                after, resumed, mark = 0, False, None
                links = self._link_stream(client, source, since, after)
                yield Page(records, {"since": since, "after_id": 0, "high": high,
                                     "mark": None, "deleted_since": deleted_since}, number)
                continue
            # the pass is complete: the next one starts an overlap before the newest change,
            # or before the pass began where it read changes made while it ran
            until = _earlier(high, mark)
            closed = {"since": shift_local(until, overlap, self.tz) if until else since,
                      "after_id": 0, "high": high, "mark": None,
                      "deleted_since": deleted_since}
            yield Page(records, closed, number)
            break
        yield from self._deletes(client, source, closed, number)

    def _link_stream(self, client: HttpClient, source: Source, since: str | None,
                     after: int) -> LinkStream | None:
        """The stream of ``source``'s links for a full read (``since`` None) of a source of
        applications; None otherwise."""
        if since is not None or source.source_kind is None or source.type is None:
            return None
        return LinkStream(client, source.type, after)

    def _deletes(self, client: HttpClient, source: Source, cursor: Cursor,
                 number: int) -> Iterator[Page]:
        """Tombstones of ``source``'s record type deleted since ``cursor["deleted_since"]``
        (everything deleted, on a first read); the last page carries the next
        ``deleted_since``: the newest deletion read, less the overlap."""
        since = cursor.get("deleted_since")
        newest: str | None = since
        offset = 0
        while True:
            conditions = [f"recordtype = {sql_string(source.deleted_type)}"]
            if since:
                conditions.append(f"deleteddate >= {timestamp_literal(since)}")
            statement = ("SELECT recordid, recordtype, TO_CHAR(deleteddate, "
                         "'YYYY-MM-DD HH24:MI:SS') AS deleted FROM deletedrecord WHERE "
                         + " AND ".join(conditions) + " ORDER BY deleteddate, recordid")
            reply = suiteql(client, statement, limit=MAX_LIMIT, offset=offset)
            rows = items_of(reply)
            number += 1
            stones: list[Record] = []
            for r in rows:
                newest = _later(newest, _local_or_none(r.get("deleted")))
                if r.get("recordid") not in (None, ""):
                    stones.append({"id": str(r["recordid"]), "$deleted": True,
                                   "deleted": r.get("deleted")})
            more = bool(reply.get("hasMore")) and len(rows) > 0
            if more:
                offset += len(rows)
                if offset >= OFFSET_RESTART and newest:
                    since, offset = newest, 0  # ties at `newest` are read again: harmless
                yield Page(stones, dict(cursor), f"deleted {number}", item_count=len(stones))
                continue
            done = dict(cursor)
            done["deleted_since"] = (shift_local(newest, self.settings.overlap_seconds, self.tz)
                                     if newest else None)
            yield Page(stones, done, f"deleted {number}", done=True, item_count=len(stones))
            return

    # -- reconcile --------------------------------------------------------------------------

    def fetch_ids(self, client: HttpClient, tenant: TenantInfo, entity: str,
                  ids: Sequence[str]) -> Iterator[Page]:
        """Yield the records of ``entity`` with these ids, 1,000 per ``IN`` query (cursors
        untouched). Ids that are not whole numbers name no NetSuite record and are skipped."""
        source = SOURCES[entity]
        facts = self._account(client, tenant)
        if source is CUSTOMERS:
            self._lookups(client, facts)
        wanted = sorted({str(i).strip() for i in ids if str(i).strip().isdigit()}, key=int)
        for start in range(0, len(wanted), IDS_PER_QUERY):
            chunk = wanted[start:start + IDS_PER_QUERY]
            rows = self._rows_all(client, facts, source, [f"id IN {ids_in(chunk)}"])
            yield Page(self._annotate(client, facts, source, rows, tenant), {},
                       f"ids {start // IDS_PER_QUERY + 1}")

    def fetch_open(self, client: HttpClient, tenant: TenantInfo, entity: str) -> Iterator[Page]:
        """Yield every still-open document of ``entity`` (invoices with an unpaid amount,
        credit memos with unapplied credit), keyset-paged (cursors untouched)."""
        source = SOURCES[entity]
        if source.open_column is None:
            return
        facts = self._account(client, tenant)
        after, number = 0, 0
        while True:
            number += 1
            rows, reply = self._page(client, facts, source,
                                     [f"{source.open_column} > 0", f"id > {after}"], tenant,
                                     f"open {number}")
            if rows:
                after = max(int(r["id"]) for r in rows)
            yield Page(self._annotate(client, facts, source, rows, tenant), {},
                       f"open {number}")
            if not (reply.get("hasMore") and rows):
                return

    # -- statements -------------------------------------------------------------------------

    def _statement(self, facts: AccountFacts, source: Source, conditions: Sequence[str]) -> str:
        if source is CUSTOMERS:
            columns = CUSTOMER_COLUMNS + (", " + DUNNING_COLUMNS if facts.dunning else "")
            where = list(conditions)
        else:
            columns = TRANSACTION_COLUMNS
            where = [f"type = {sql_string(source.type or '')}", *conditions]
        text = f"SELECT {columns}, {LASTMODIFIED} FROM {source.table}"
        if where:
            text += " WHERE " + " AND ".join(where)
        return text + " ORDER BY id"

    def _select(self, client: HttpClient, facts: AccountFacts, source: Source,
                conditions: Sequence[str]) -> dict[str, Any]:
        """One keyset page (``offset`` 0). An account without the Dunning Letters SuiteApp
        refuses its customer fields: the customers are read again without them."""
        try:
            return suiteql(client, self._statement(facts, source, conditions),
                           limit=self.page_size, offset=0)
        except UpstreamError as err:
            if not (source is CUSTOMERS and facts.dunning and err.status == 400
                    and "custentity_3805" in str(err)):
                raise
            facts.dunning = False
            return suiteql(client, self._statement(facts, source, conditions),
                           limit=self.page_size, offset=0)

    def _page(self, client: HttpClient, facts: AccountFacts, source: Source,
              conditions: Sequence[str], tenant: TenantInfo, number: int | str
              ) -> tuple[list[Record], dict[str, Any]]:
        """One keyset page and its rows, each with an integer ``id``.

        Raises:
            PageError: the reply is not JSON, or a row has no integer id (naming the tenant,
                the entity and the page).
        """
        try:
            reply = self._select(client, facts, source, conditions)
        except UpstreamError as err:
            if err.status is not None and err.status < 300:
                raise PageError(tenant.label, source.entity, number, str(err)) from None
            raise
        rows = items_of(reply)
        for index, row in enumerate(rows):
            if not str(row.get("id") or "").isdigit():
                raise PageError(tenant.label, source.entity, number,
                                f"row {index + 1} of the reply has no integer id (column id: "
                                f"{str(row.get('id'))[:20]!r})")
        return rows, reply

    def _rows_all(self, client: HttpClient, facts: AccountFacts, source: Source,
                  conditions: Sequence[str]) -> list[Record]:
        """Every row of a bounded query (an ``IN`` list), keyset-paged by id."""
        out: list[Record] = []
        after = 0
        while True:
            reply = self._select(client, facts, source, [*conditions, f"id > {after}"])
            rows = items_of(reply)
            out.extend(rows)
            if not (reply.get("hasMore") and rows):
                return out
            after = max(int(r["id"]) for r in rows)

    # -- derived keys -----------------------------------------------------------------------

    def _annotate(self, client: HttpClient, facts: AccountFacts, source: Source,
                  rows: list[Record], tenant: TenantInfo,
                  links: LinkStream | None = None) -> list[Record]:
        """Add the ``$`` keys the mapping reads (mappings/netsuite.yaml) to a page, in place."""
        # rows of a page share few modification times: each is converted once
        utc: dict[Any, str | None] = {}
        for r in rows:
            stamp = r.get("lastmodified")
            try:
                updated = utc[stamp]
            except (KeyError, TypeError):
                local = _local_or_none(stamp)
                updated = local_to_utc(local, self.tz).isoformat() if local else None
                if stamp.__class__ is str:
                    utc[stamp] = updated
            if updated:
                r["$updated"] = updated
            currency = facts.currencies.get(str(r.get("currency") or ""))
            if currency:
                r["$currency"] = currency
        if source is CUSTOMERS:
            self._annotate_customers(facts, rows)
            return rows
        self._annotate_transactions(client, facts, source, rows)
        if source.source_kind is not None and rows:
            self._applications(client, source, rows, links)
        return rows

    def _annotate_customers(self, facts: AccountFacts, rows: list[Record]) -> None:
        terms, categories = facts.terms or {}, facts.categories or {}
        procedures = facts.procedures or {}
        for r in rows:
            # an individual (isperson T) is named by its entity id, as NetSuite lists it
            person = r.get("isperson") == "T" or not r.get("companyname")
            r["$name"] = (r.get("entityid") if person else r.get("companyname")) or None
            subsidiary = str(r.get("subsidiary") or "")
            if subsidiary:
                facts.customer_subsidiary[str(r["id"])] = subsidiary
                currency = facts.subsidiaries.get(subsidiary, {}).get("currency")
                if currency:
                    r["$subsidiary_currency"] = currency
            term = terms.get(str(r.get("terms") or ""))
            if term is not None:
                r["$terms_name"] = term[0]
                if term[1]:
                    r["$terms_days"] = term[1]
            category = categories.get(str(r.get("category") or ""))
            if category:
                r["$category_name"] = category
            procedure = procedures.get(str(r.get("custentity_3805_dunning_procedure") or ""))
            if procedure:
                r["$dunning_procedure_name"] = procedure

    def _subsidiary_currencies(self, client: HttpClient, facts: AccountFacts,
                               rows: list[Record]) -> dict[str, str]:
        """Customer id -> its subsidiary's currency for the page's customers, read by an
        ``IN`` query for those not seen yet this run (only asked when some subsidiary keeps its
        books in another currency than the account's base)."""
        entities = {str(r.get("entity")) for r in rows if str(r.get("entity") or "").isdigit()}
        unknown = sorted((e for e in entities if e not in facts.customer_subsidiary), key=int)
        for start in range(0, len(unknown), IDS_PER_QUERY):
            chunk = unknown[start:start + IDS_PER_QUERY]
            found = suiteql_all(client, f"SELECT id, subsidiary FROM customer WHERE id IN "
                                      f"{ids_in(chunk)} ORDER BY id")
            for f in found:
                facts.customer_subsidiary[str(f["id"])] = str(f.get("subsidiary") or "")
        return {e: facts.subsidiaries.get(facts.customer_subsidiary.get(e, ""), {})
                .get("currency", "") for e in entities}

    def _annotate_transactions(self, client: HttpClient, facts: AccountFacts, source: Source,
                               rows: list[Record]) -> None:
        sub_currency: dict[str, str] = {}
        if facts.oneworld and facts.subsidiaries_known and facts.mixed_currencies and rows:
            sub_currency = self._subsidiary_currencies(client, facts, rows)
        single = "" if facts.mixed_currencies else facts.base_currency
        for r in rows:
            total = _money(r.get("foreigntotal"))
            still_open = _money(r.get(source.open_column or "")) or Decimal(0)
            total = abs(total) if total is not None else None
            still_open = abs(still_open)
            r["$total"] = _text(total)
            r["$open"] = _text(still_open)
            if r.get("voided") == "T":
                r["$state"] = "voided"
            else:
                r["$state"] = "open" if still_open > 0 else "paid"
            books = sub_currency.get(str(r.get("entity") or ""), "") or single
            if books:
                r["$subsidiary_currency"] = books
            factor = self._factor(facts, r.get("$currency"), books, r.get("exchangerate"))
            if factor is not None:
                r["$rate"] = _text(factor)
                if total is not None:
                    r["$total_base"] = _text(total * factor)
                r["$open_base"] = _text(still_open * factor)

    @staticmethod
    def _factor(facts: AccountFacts, currency: Any, books: str, rate: Any) -> Decimal | None:
        """Account-base units per one transaction-currency unit, when the row says it: 1 for a
        transaction in the base currency; ``exchangerate`` when the transaction's subsidiary
        keeps its books in the base currency (the rate converts into the subsidiary's
        currency); None otherwise (not guessed)."""
        base = facts.base_currency
        if not base:
            return None
        if currency and currency == base:
            return Decimal(1)
        if books and books == base:
            factor = _money(rate)
            return factor if factor is not None and factor > 0 else None
        return None

    def _applications(self, client: HttpClient, source: Source, rows: list[Record],
                      links: LinkStream | None = None) -> None:
        """``$applied`` of a page of credit memos or payments: the invoices each was applied
        to, from ``nexttransactionlinelink`` (nextdoc = the memo or payment, previousdoc = the
        invoice), amounts summed per invoice.

        The links come from ``links`` (a full read's stream, advanced past the page's last id)
        or, without one, from one ``IN`` query per 1,000 of the page's ids, offset-paged when
        it has more than 1,000 links.
        """
        ids = [str(r["id"]) for r in rows if str(r.get("id") or "").isdigit()]
        if links is not None:
            found = links.through(max(int(i) for i in ids)) if ids else []
        else:
            found = []
            for start in range(0, len(ids), IDS_PER_QUERY):
                found.extend(suiteql_all(client, links_statement(
                    [f"nextdoc IN {ids_in(ids[start:start + IDS_PER_QUERY])}"])))
        by_doc: dict[str, dict[str, dict[str, Any]]] = {i: {} for i in ids}
        for link in found:
            if link.get("previoustype") not in (None, "CustInvc"):
                continue  # applied to something other than an invoice
            doc, invoice = str(link.get("nextdoc") or ""), str(link.get("previousdoc") or "")
            amount = _money(link.get("foreignamount"))
            if doc not in by_doc or not invoice or amount is None:
                continue
            item = by_doc[doc].setdefault(invoice, {"amount": Decimal(0), "date": None})
            item["amount"] += abs(amount)
            item["date"] = max(filter(None, (item["date"], link.get("linkdate"))),
                               default=None)
        for r in rows:
            rate = _money(r.get("$rate"))
            applied = []
            for invoice, item in by_doc.get(str(r.get("id")), {}).items():
                summed: Decimal = item["amount"]
                applied.append({
                    "id": f"{r['id']}:{invoice}", "source_kind": source.source_kind,
                    "source": str(r["id"]), "invoice": invoice, "amount": _text(summed),
                    "amount_base": _text(summed * rate) if rate is not None else None,
                    "date": item["date"] or r.get("trandate"),
                })
            r["$applied"] = applied


def links_statement(conditions: Sequence[str]) -> str:
    """A ``nexttransactionlinelink`` read of the links whose ``nextdoc`` (the credit memo or
    payment) meets ``conditions``, in ``nextdoc`` order."""
    return (f"SELECT {LINK_COLUMNS} FROM nexttransactionlinelink WHERE "
            + " AND ".join(conditions) + " ORDER BY nextdoc, previousdoc")


class LinkStream:
    """The links of every credit memo (or every payment) of an account, read as a keyset
    stream beside a full read of their documents: ``nexttype = '<type>' AND nextdoc >= X ORDER
    BY nextdoc, previousdoc``, 1,000 rows a call, so the links take as many calls as their
    rows fill, however they fall across the documents' pages.

    A reply that stops inside a document's links (``hasMore``) is kept up to the document
    before its last one; the next call starts at that last document again (``nextdoc >= X``),
    reading all its links: no link is read into the result twice, and a call always moves past
    at least one document. A document with more than 1,000 links alone fills a reply: its links
    are read by an offset-paged ``nextdoc IN (X)`` query, and the stream goes on after it.

    Args:
        client: the tenant's HTTP client.
        type: the documents' ``nexttype`` (``CustPymt``, ``CustCred``).
        after: the stream starts at the documents after this id (a resumed pass's ``after_id``).
    """

    def __init__(self, client: HttpClient, type: str, after: int) -> None:
        self.client = client
        self.type = type
        self.start = f"nextdoc > {after}"  # where the next call starts
        self.done = False  # every link has been read
        self.complete_below = after + 1  # the links of every document below this are read
        self.buffer: list[Record] = []  # read, for documents not yet asked for

    def through(self, last: int) -> list[Record]:
        """The links of the documents up to id ``last`` not handed out yet (reading as far
        as they reach); those of later documents stay buffered for the next page."""
        while not self.done and self.complete_below <= last:
            self._read()
        taken: list[Record] = []
        kept: list[Record] = []
        for link in self.buffer:
            (taken if _doc_of(link) <= last else kept).append(link)
        self.buffer = kept
        return taken

    def _read(self) -> None:
        reply = suiteql(self.client, links_statement(
            [f"nexttype = {sql_string(self.type)}", self.start]), limit=MAX_LIMIT, offset=0)
        rows = items_of(reply)
        if not (reply.get("hasMore") and rows):
            self.buffer.extend(rows)
            self.done = True
            return
        cut = _doc_of(rows[-1])
        if cut < 0:
            raise UpstreamError(f"NetSuite SuiteQL on nexttransactionlinelink: row {len(rows)} "
                                "of the reply has no nextdoc")
        kept = [r for r in rows if _doc_of(r) < cut]
        if kept:
            # the last document's links may go on in the next reply: it is read again whole
            self.buffer.extend(kept)
            self.start, self.complete_below = f"nextdoc >= {cut}", cut
            return
        # one document fills the reply: its links alone, offset-paged, then on after it
        self.buffer.extend(suiteql_all(self.client, links_statement([f"nextdoc IN ({cut})"])))
        self.start, self.complete_below = f"nextdoc > {cut}", cut + 1


def _doc_of(link: Record) -> int:
    """A link's ``nextdoc`` as a number (-1 when it has none: such a link names no
    document)."""
    text = str(link.get("nextdoc") or "")
    return int(text) if text.isdigit() else -1


def _with_ids(rows: list[Record], table: str) -> list[Record]:
    """``rows`` of a set-up table, each with an ``id``.

    Raises:
        UpstreamError: a row has none (the reply is not what SuiteQL answers).
    """
    for index, row in enumerate(rows):
        if row.get("id") in (None, ""):
            raise UpstreamError(f"NetSuite SuiteQL on {table}: row {index + 1} of the reply has "
                                "no id")
    return rows


def _local_or_none(value: Any) -> str | None:
    """A full SuiteQL timestamp (``YYYY-MM-DD HH:MM:SS``, a real date and time), or None for
    anything else."""
    if value.__class__ is not str:
        return None
    text = value.strip()
    if not _LOCAL.match(text):
        return None
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return None  # the shape, not a date (2026-02-30)
    return text

