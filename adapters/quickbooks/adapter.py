"""The QuickBooks Online adapter: reads customers, invoices, credit memos, payments and refund
receipts of one company (realm) through the Accounting API v3.

It knows QBO's paths, query grammar and wire format; it never touches the store, never retries
and never sleeps (the client it is handed does that), and ``fetch`` never persists state. Every
call carries ``?minorversion=`` (https://developer.intuit.com/app/developer/qbo/docs/learn/
explore-the-quickbooks-online-api/minor-versions).

Cursor (stored by the engine with each committed page)::

    {"since": "2026-11-23T09:00:05+00:00"}          # closed: read changes from here next time
    # while a query pass is open (a stop left it unfinished):
    {"pass_from": "…" | None,     # the pass reads records updated at or after this (None: all)
     "pass_started": "…" | None,  # QBO's clock (the reply's `time`) at the pass's first page
     "pos": "…", "tie": 3,        # LastUpdatedTime of the last record read; records read at it
     "page": 7}

**Incremental reads.** While ``since`` is inside CDC's 30-day window (less a margin), one CDC
call per entity (``/cdc?entities=Invoice&changedSince=…``) returns every object changed since,
deletes included as tombstones (``{"Id", "status": "Deleted", "MetaData"}``, passed on as
records); the next cursor is the reply's ``time``. A CDC reply is capped at 1,000 objects and
cannot be paged, so one that full is taken as cut short and that entity is read by query from
the same ``since`` instead. Older cursors, and the first (full) read, are query passes.

**Query passes** page by key, not by position: ``SELECT * FROM Invoice WHERE
MetaData.LastUpdatedTime >= '<pos>' ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS
1000``, where ``pos`` is the last timestamp read. The grammar takes one ORDERBY field, and a
record edited while we page moves to the end of that order: paging by STARTPOSITION alone would
shift the records behind it one place forward and skip one at every page boundary, while a
query that starts again from ``pos`` cannot skip anything (a record edited meanwhile is read
again at its new place). The price is re-reading the few records that share ``pos`` (their ids
are dropped in-process); when over :data:`TIE_REREAD_MAX` share it (a bulk import), the next
page continues by position inside that second, ``STARTPOSITION tie + 1``, which an edit or a
delete inside that second would shift: so when the pass leaves such a second, QBO's ``SELECT
COUNT(*)`` of it must equal the ids read in it, else it is read again whole and the pass goes on
with ``> pos``. A stop resumes from the stored ``pos``, reading that second again from its first
record (positions taken before the stop mean nothing after it), so a kill at any instant loses
nothing. A closed pass's next ``since`` is QBO's clock at its first page: anything changed after
that has a later LastUpdatedTime; the engine's overlap covers records committed a little late.

**Deletes.** CDC reports deletes of the last 30 days. Older ones (a company not synced for a
month, or a CDC reply cut short) are found by :meth:`QuickBooksAdapter.delete_sweep`: every id
QBO still has is listed by a query pass (the grammar has no projections, so whole records) and
each id the store holds that QBO no longer has becomes a tombstone.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import orjson
import requests

from arconnect.adapters.base import Cursor, HttpClient, OrgInfo, Page, Record, TenantInfo
from arconnect.adapters.quickbooks._common import (
    CDC_CAP,
    CDC_MARGIN,
    CDC_WINDOW,
    COMPANY_INFO,
    ENDPOINTS,
    IDS_PER_QUERY,
    MAX_GROUP_READS,
    MAX_PAGE_SIZE,
    PREFERENCES,
    TIE_REREAD_MAX,
    Endpoint,
    annotate,
    fault_text,
    parse_qbo_datetime,
    query_time,
    quote,
    select,
    updated_at,
    utc_offset_zone,
)
from arconnect.errors import PageError, UpstreamError

Now = Callable[[], datetime]
ORDER = "MetaData.LastUpdatedTime"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class QuickBooksAdapter:
    """Reads a QuickBooks Online company through the Accounting API v3.

    Args:
        minor_version: the ``minorversion`` every call carries.
        overlap_seconds: how far before the stored ``since`` the next read starts.
        page_size: records per query page (QBO's maximum, 1,000, unless a test wants less).
        now: the clock that says whether a cursor is inside CDC's window (tests move it).
        use_cdc: read changes by CDC inside its window (False: always by query).
    """

    platform = "quickbooks"
    entities: Sequence[str] = tuple(ENDPOINTS)
    customer_entity = "customers"
    open_entities: Sequence[str] = ("invoices",)

    def __init__(self, minor_version: int = 75, overlap_seconds: int = 60,
                 page_size: int = MAX_PAGE_SIZE, now: Now = _utcnow,
                 use_cdc: bool = True) -> None:
        self.minor_version = minor_version
        self.overlap = timedelta(seconds=overlap_seconds)
        self.page_size = page_size
        self.now = now
        self.use_cdc = use_cdc
        # Re-reading the records of the last timestamp must leave room for new ones.
        self.tie_reread_max = min(TIE_REREAD_MAX, (page_size - 1) // 2)

    @staticmethod
    def headers(tenant: TenantInfo) -> dict[str, str]:
        """Headers every Accounting API call carries (JSON; QBO answers XML by default)."""
        return {"Accept": "application/json"}

    # https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/companyinfo
    # https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/preferences
    def organisation(self, client: HttpClient, tenant: TenantInfo) -> OrgInfo:
        """The company's name, home currency, multicurrency switch and UTC offset.

        Two calls: ``CompanyInfo`` (name, country) and ``Preferences`` (``CurrencyPrefs``).
        QBO names no time zone; the offset of the reply's ``time`` is the company's.

        Raises:
            PageError: a reply lacks what it must carry (the company, its home currency).
            UpstreamError: QBO refused a call.
        """
        realm = tenant.external_id
        body = self._get(client, tenant, "organisation", 1, f"/companyinfo/{realm}")
        info = body.get(COMPANY_INFO)
        if info.__class__ is not dict:
            raise PageError(tenant.label, "organisation", 1, f"no {COMPANY_INFO} in the reply")
        prefs_body = self._get(client, tenant, "organisation", 2, "/preferences")
        prefs = prefs_body.get(PREFERENCES)
        currency_prefs = prefs.get("CurrencyPrefs") if prefs.__class__ is dict else None
        home = (currency_prefs or {}).get("HomeCurrency") or {}
        currency = home.get("value") if home.__class__ is dict else None
        if not currency:
            raise PageError(tenant.label, "organisation", 2,
                            "no CurrencyPrefs.HomeCurrency in the Preferences reply")
        return OrgInfo(
            name=str(info.get("CompanyName") or ""),
            base_currency=str(currency),
            timezone=utc_offset_zone(body.get("time")),
            extra={
                "realm_id": realm,
                "country": info.get("Country"),
                "legal_name": info.get("LegalName"),
                "multicurrency": bool((currency_prefs or {}).get("MultiCurrencyEnabled")),
            },
        )

    # -- reads ----------------------------------------------------------------------------------

    def fetch(
        self, client: HttpClient, tenant: TenantInfo, entity: str, cursor: Cursor | None
    ) -> Iterator[Page]:
        """Yield the pages of ``entity`` changed since ``cursor`` (None or {}: everything).

        See the module docstring for the cursor, CDC and query passes.
        """
        endpoint = ENDPOINTS[entity]
        cursor = dict(cursor or {})
        if "pos" in cursor or "pass_started" in cursor:
            yield from self._pass(client, tenant, endpoint, _Pass.resume(cursor))
            return
        since = _parse(cursor.get("since"))
        if since is not None and self.use_cdc and self.now() - since < CDC_WINDOW - CDC_MARGIN:
            page = self._cdc(client, tenant, endpoint, since - self.overlap)
            if page is not None:
                yield page
                return
        start = since - self.overlap if since is not None else None
        yield from self._pass(client, tenant, endpoint, _Pass(start))

    def fetch_ids(
        self, client: HttpClient, tenant: TenantInfo, entity: str, ids: Sequence[str]
    ) -> Iterator[Page]:
        """Yield ``entity`` records by id, :data:`IDS_PER_QUERY` ids a query (no cursor)."""
        endpoint = ENDPOINTS[entity]
        for n, first in enumerate(range(0, len(ids), IDS_PER_QUERY), 1):
            batch = ids[first:first + IDS_PER_QUERY]
            condition = "Id IN (" + ",".join(quote(str(i)) for i in batch) + ")"
            records, _ = self._query(client, tenant, endpoint, n,
                                     select(endpoint, [condition], size=MAX_PAGE_SIZE))
            yield Page(annotate(endpoint, records), {}, f"ids-{n}",
                       done=first + IDS_PER_QUERY >= len(ids))

    def fetch_open(self, client: HttpClient, tenant: TenantInfo, entity: str) -> Iterator[Page]:
        """Yield every document of ``entity`` with something still open (``Balance > 0``): the
        reconcile sweep (no cursor involved)."""
        endpoint = ENDPOINTS[entity]
        for page in self._pass(client, tenant, endpoint, _Pass(None), ["Balance > '0'"]):
            yield Page(page.records, {}, f"open-{page.number}", done=page.done)

    def delete_sweep(
        self, client: HttpClient, tenant: TenantInfo, entity: str, known_ids: Iterable[str]
    ) -> Iterator[Page]:
        """Yield tombstones (``{"Id", "status": "Deleted"}``) for the ids in ``known_ids`` that
        QBO no longer has: deletes older than CDC's 30 days. Costs a full query pass.

        Nothing is yielded unless the whole pass was read: an id missing from a partial list
        is not a delete.
        """
        endpoint = ENDPOINTS[entity]
        present: set[str] = set()
        for page in self._pass(client, tenant, endpoint, _Pass(None), annotated=False):
            present.update(str(r.get("Id")) for r in page.records)
        gone = sorted(set(map(str, known_ids)) - present)
        for n, first in enumerate(range(0, len(gone), self.page_size), 1):
            stones = [{"Id": i, "status": "Deleted"} for i in gone[first:first + self.page_size]]
            yield Page(stones, {}, f"sweep-{n}", done=first + self.page_size >= len(gone))

    # -- CDC ------------------------------------------------------------------------------------

    # https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/changedatacapture
    def _cdc(self, client: HttpClient, tenant: TenantInfo, endpoint: Endpoint,
             since: datetime) -> Page | None:
        """One CDC read of one entity since ``since``; None when the reply is cut short, or
        when QBO refuses the request as such (400: ``changedSince`` beyond its 30 days by QBO's
        clock, which may run ahead of ours) — a query reads the same changes."""
        body = self._get(client, tenant, endpoint.entity, "cdc", "/cdc", params={
            "entities": endpoint.name, "changedSince": query_time(since)}, soft=(400,))
        if body is None:
            return None
        records: list[Record] = []
        for block in body.get("CDCResponse") or ():
            for response in (block.get("QueryResponse") or ()) if block.__class__ is dict else ():
                found = response.get(endpoint.name) if response.__class__ is dict else None
                if isinstance(found, list):
                    records.extend(r for r in found if r.__class__ is dict)
        if len(records) >= CDC_CAP:
            return None
        now = _parse(body.get("time"))
        if now is None:
            raise PageError(tenant.label, endpoint.entity, "cdc", "the CDC reply has no time")
        records.sort(key=lambda r: updated_at(r) or now)
        return Page(annotate(endpoint, records), {"since": now.isoformat()}, "cdc", done=True)

    # -- query passes ---------------------------------------------------------------------------

    def _pass(self, client: HttpClient, tenant: TenantInfo, endpoint: Endpoint, state: _Pass,
              conditions: Sequence[str] = (), annotated: bool = True) -> Iterator[Page]:
        """Page through the records updated at or after ``state.start``, by key (see the
        module docstring)."""
        past = False  # every record of ``state.pos`` is read: the next query starts after it
        while True:
            lower = state.pos or state.start
            where = list(conditions)
            if lower is not None:
                where.append(f"{ORDER} {'>' if past else '>='} {quote(query_time(lower))}")
            # By position inside the last timestamp only when this process read every record
            # of it so far (a resumed pass reads that timestamp again from its first record).
            offset = state.tie if not past and state.pos is not None and (
                state.tie > self.tie_reread_max and len(state.tie_ids) >= state.tie) else 0
            statement = select(endpoint, where, order=ORDER, start=offset + 1,
                               size=self.page_size)
            state.page += 1
            records, server_time = self._query(client, tenant, endpoint, state.page, statement)
            if state.started is None:
                state.started = server_time
            done = len(records) < self.page_size
            past = False
            if offset and state.pos is not None and (
                    done or updated_at(records[-1]) != state.pos):
                # Leaving a timestamp read by position: an edit or a delete inside it meanwhile
                # shifts its records (and this page's). QBO's count of it says whether that
                # happened; if so it is read again whole and this page is dropped.
                group = state.tie_ids | {r.get("Id") for r in records
                                         if updated_at(r) == state.pos}
                if not (yield from self._settle(client, tenant, endpoint, state, conditions,
                                                group, annotated)):
                    past = True
                    continue
            fresh = state.read(records, offset)
            if annotated:
                annotate(endpoint, fresh)
            yield Page(fresh, state.closed() if done else state.open(), state.page, done=done)
            if done:
                return

    def _settle(self, client: HttpClient, tenant: TenantInfo, endpoint: Endpoint,
                state: _Pass, conditions: Sequence[str], group: set[Any],
                annotated: bool) -> Generator[Page, None, bool]:
        """Check that ``group`` is every record of the timestamp ``state.pos``; when QBO counts
        otherwise, read that timestamp again whole (a few times at most) and return False.

        The pages read again carry a cursor at that timestamp's first record, so a stop
        meanwhile reads it again from there."""
        assert state.pos is not None
        at = [*conditions, f"{ORDER} = {quote(query_time(state.pos))}"]
        state.page += 1
        if self._count(client, tenant, endpoint, state.page, at) == len(group):
            return True
        for _ in range(MAX_GROUP_READS):
            seen: set[Any] = set()
            start = 1
            while True:
                state.page += 1
                records, _ = self._query(client, tenant, endpoint, state.page, select(
                    endpoint, at, order=ORDER, start=start, size=self.page_size))
                seen.update(r.get("Id") for r in records)
                if annotated:
                    annotate(endpoint, records)
                yield Page(records, state.regroup(), state.page)
                if len(records) < self.page_size:
                    break
                start += len(records)
            state.page += 1
            if self._count(client, tenant, endpoint, state.page, at) == len(seen):
                break
        state.tie_ids = seen
        state.tie = len(seen)
        return False

    def _count(self, client: HttpClient, tenant: TenantInfo, endpoint: Endpoint,
               page: int, conditions: Sequence[str]) -> int:
        """QBO's count of the records matching ``conditions`` (``SELECT COUNT(*)``)."""
        statement = select(endpoint, conditions, count=True)
        body = self._get(client, tenant, endpoint.entity, page, "/query",
                         params={"query": statement})
        response = body.get("QueryResponse")
        total = response.get("totalCount") if response.__class__ is dict else None
        if not isinstance(total, int):
            raise PageError(tenant.label, endpoint.entity, page,
                            "the COUNT(*) reply has no QueryResponse.totalCount")
        return total

    def _query(self, client: HttpClient, tenant: TenantInfo, endpoint: Endpoint,
               page: int | str, statement: str) -> tuple[list[Record], datetime | None]:
        """One query page: its records and QBO's clock at the reply."""
        # https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries
        body = self._get(client, tenant, endpoint.entity, page, "/query",
                         params={"query": statement})
        response = body.get("QueryResponse")
        if response.__class__ is not dict:
            raise PageError(tenant.label, endpoint.entity, page, "the reply has no QueryResponse")
        records = response.get(endpoint.name)
        if records is None:  # past the end: {"QueryResponse": {}}
            records = []
        elif not isinstance(records, list):
            raise PageError(tenant.label, endpoint.entity, page,
                            f"QueryResponse.{endpoint.name} is not a list")
        return records, _parse(body.get("time"))

    # -- HTTP -----------------------------------------------------------------------------------

    @overload
    def _get(self, client: HttpClient, tenant: TenantInfo, entity: str, page: int | str,
             path: str, params: dict[str, Any] | None = None) -> dict[str, Any]: ...

    @overload
    def _get(self, client: HttpClient, tenant: TenantInfo, entity: str, page: int | str,
             path: str, params: dict[str, Any] | None = None, *,
             soft: tuple[int, ...]) -> dict[str, Any] | None: ...

    def _get(self, client: HttpClient, tenant: TenantInfo, entity: str, page: int | str,
             path: str, params: dict[str, Any] | None = None, *,
             soft: tuple[int, ...] = ()) -> dict[str, Any] | None:
        """GET ``path`` with ``minorversion``; the parsed JSON object of a 2xx reply (None for
        a status in ``soft``).

        Raises:
            UpstreamError: QBO answered 4xx/5xx (its Fault's message in the error).
            PageError: the reply is not a JSON object.
        """
        all_params = {**(params or {}), "minorversion": self.minor_version}
        resp = client.request("GET", path, params=all_params, headers=self.headers(tenant))
        if resp.status_code in soft:
            return None
        if resp.status_code >= 400:
            raise UpstreamError(
                f"tenant {tenant.label}, entity {entity}, page {page}: QuickBooks answered "
                f"{resp.status_code}: {_detail(resp)}",
                status=resp.status_code,
            )
        try:
            # orjson reads numbers as floats; the mapping's `decimal` transform takes their
            # shortest repr, which gives back exactly the digits QBO sent (money has 2
            # decimals, exchange rates up to 7).
            body = orjson.loads(resp.content)
        except orjson.JSONDecodeError as err:
            raise PageError(tenant.label, entity, page, f"invalid JSON ({err})") from None
        if body.__class__ is not dict:
            raise PageError(tenant.label, entity, page, "the reply is not a JSON object")
        return body


@dataclass
class _Pass:
    """Where a query pass stands; ``fetch`` rebuilds it from the cursor on every run.

    Attributes:
        start: read records updated at or after this (None: every record).
        started: QBO's clock at the pass's first page (the next ``since`` once it closes).
        pos: LastUpdatedTime of the last record read.
        tie: how many records read so far carry exactly ``pos``.
        page: pages read in this pass.
        tie_ids: ids read at ``pos`` in this process (re-read ones are dropped).
    """

    start: datetime | None
    started: datetime | None = None
    pos: datetime | None = None
    tie: int = 0
    page: int = 0
    tie_ids: set[Any] = field(default_factory=set)

    @classmethod
    def resume(cls, cursor: Cursor) -> _Pass:
        """The open pass a cursor describes."""
        return cls(_parse(cursor.get("pass_from")), _parse(cursor.get("pass_started")),
                   _parse(cursor.get("pos")), int(cursor.get("tie") or 0),
                   int(cursor.get("page") or 0))

    def read(self, records: list[Record], offset: int) -> list[Record]:
        """Take in a page (records in LastUpdatedTime order) read from position ``offset`` + 1
        of the records at or after ``pos``; returns those not already read in this process."""
        if not records:
            return records
        fresh = records
        if self.tie_ids and offset == 0:
            fresh = [r for r in records if r.get("Id") not in self.tie_ids
                     or updated_at(r) != self.pos]
        last = updated_at(records[-1])
        if last is None:  # no timestamp to page by: go on by position
            self.tie += len(records)
            return fresh
        at_last = []
        for r in reversed(records):
            if updated_at(r) != last:
                break
            at_last.append(r.get("Id"))
        if last == self.pos and offset:
            self.tie = offset + len(at_last)
            self.tie_ids.update(at_last)
        else:
            self.tie = len(at_last)
            self.tie_ids = set(at_last)
        self.pos = last
        return fresh

    def regroup(self) -> Cursor:
        """The cursor while the records of ``pos`` are read again: from its first record."""
        return {**self.open(), "tie": 0}

    def open(self) -> Cursor:
        """The cursor after a page with more to read."""
        return {"pass_from": _iso(self.start), "pass_started": _iso(self.started),
                "pos": _iso(self.pos), "tie": self.tie, "page": self.page}

    def closed(self) -> Cursor:
        """The cursor after the pass's last page: changes from QBO's clock at its start."""
        since = self.started or self.pos or self.start
        return {"since": _iso(since)} if since is not None else {}


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return parse_qbo_datetime(value)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _detail(resp: requests.Response) -> str:
    """QBO's message in an error reply (its Fault), else the start of the body."""
    try:
        body = orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        return (resp.text or "")[:200]
    return fault_text(body, (resp.text or "")[:200])
