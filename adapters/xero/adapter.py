"""The Xero adapter: reads contacts, sales invoices, credit notes and payments page by page.

It knows Xero's paths, paging and wire format; it never touches the store, never retries and
never sleeps (the client it is handed does that), and ``fetch`` never persists state.

Cursor (stored by the engine with each committed page)::

    {"last_ts": "2026-11-23T09:00:01.123000+00:00", "last_id": "…",   # newest record committed
     "changed_from": "…",   # a closed pass that began before last_ts: the next one starts here
     # while a pass is open (a stop left it unfinished):
     "pass_from": "2026-11-23T08:59:01+00:00" | None,   # If-Modified-Since the pass began with
     "pass_started": "2026-11-23T09:00:05+00:00" | None, # Xero's clock at the pass's first page
     "pass_since": "…" | None, "page": 7,               # the query being paged, last page read
     "pass_pos": "…",                                   # UpdatedDateUTC of its last record read
     "edited": false}                                   # met records edited since the pass began

A pass asks ``If-Modified-Since: last_ts − overlap`` ordered by ``UpdatedDateUTC ASC`` and walks
``page=1,2,…`` with that same header until a short page. Keeping the header fixed for the whole
pass (rather than moving it after each page) is what lets more than a page of records updated
in the same second come through: re-asking from the same second would return the same first
page for ever.

Page numbers are offsets into a list that moves: a record edited while we page goes to the end,
and every record after it shifts one place towards the front, so the one at a page boundary
lands on a page already read. Within one uninterrupted pass this is caught by counting: fewer
distinct records than the reply's ``pagination.itemCount`` means the pass is read again. A pass
stopped part-way (a kill, a spent daily limit) cannot count what it read before the stop, and
its page offsets are stale by then, so it never continues by page number. It resumes from the
last committed record's timestamp (``pass_pos``) as a new query, page 1, which no shift of
earlier records can skip; and because an edit made before the stop may already have pushed a
record onto a page read before it, a resumed pass that meets any record edited since the pass
began (``UpdatedDateUTC`` at or after ``pass_started`` less the overlap) is read again from
``pass_from``. Xero's clock is the ``Date`` header of the pass's first reply; without it the
resumed pass is read again from ``pass_from`` straight away.

The price: a stopped pass in a busy organisation is read twice. A pass that needs more calls than
one day allows, stopped by the daily limit in an organisation edited every day, would be read
again from its start every day and never finish: at 1,000 records a call, that takes over 5
million records of one entity (over a million on Xero's Starter tier of 1,000 calls a day).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
import requests

from arconnect.adapters.base import Cursor, HttpClient, OrgInfo, Page, Record, TenantInfo
from arconnect.adapters.xero._common import (
    API_PREFIX,
    ENDPOINTS,
    IDS_PER_REQUEST,
    MAX_PAGE_SIZE,
    MAX_PASS_RESTARTS,
    OPEN_STATUSES,
    Endpoint,
    cursor_since,
    if_modified_since,
)
from arconnect.adapters.xero.dates import parse_xero_datetime
from arconnect.errors import PageError, UpstreamError


class XeroAdapter:
    """Reads a Xero organisation through the Accounting API (``api.xro/2.0``).

    Args:
        overlap_seconds: how far before the last committed timestamp a new pass starts.
        page_size: records per page (Xero's maximum, 1,000, unless a test wants small pages).
    """

    platform = "xero"
    customer_entity = "contacts"
    # Payments and credit allocations change an invoice's AmountDue without bumping its
    # UpdatedDateUTC in some cases; a reconcile re-reads the open ones.
    open_entities: Sequence[str] = ("invoices",)
    entities: Sequence[str] = tuple(ENDPOINTS)

    def __init__(self, overlap_seconds: int = 60, page_size: int = MAX_PAGE_SIZE) -> None:
        self.overlap_seconds = overlap_seconds
        self.page_size = page_size

    @staticmethod
    def headers(tenant: TenantInfo) -> dict[str, str]:
        """Headers every Accounting API call carries (JSON; the org it is for)."""
        # JSON must be asked for: Xero answers XML by default (section "JSON responses and date
        # formats" of https://developer.xero.com/documentation/api/accounting/requests-and-responses).
        return {"Accept": "application/json", "xero-tenant-id": tenant.external_id}

    # https://developer.xero.com/documentation/api/accounting/organisation
    def organisation(self, client: HttpClient, tenant: TenantInfo) -> OrgInfo:
        """The organisation's name, base currency and time zone."""
        body = self._get_json(client, tenant, "organisation", 1, f"{API_PREFIX}/Organisation")
        orgs = body.get("Organisations") or []
        if not orgs or "BaseCurrency" not in orgs[0]:
            raise PageError(tenant.label, "organisation", 1, "no Organisations in reply")
        org = orgs[0]
        return OrgInfo(
            name=org.get("Name", ""),
            base_currency=org["BaseCurrency"],
            timezone=org.get("Timezone", "UTC"),
            extra={k: org.get(k) for k in ("ShortCode", "CountryCode", "OrganisationID")},
        )

    def fetch(
        self, client: HttpClient, tenant: TenantInfo, entity: str, cursor: Cursor | None
    ) -> Iterator[Page]:
        """Yield the pages of ``entity`` changed since ``cursor`` (None or {}: everything).

        A pass left open by a stop is never continued by page number: see the module
        docstring for why and for what is read instead.
        """
        endpoint = ENDPOINTS[entity]
        cursor = dict(cursor or {})
        state = _Pass.resume(cursor, self.overlap_seconds)
        restarts = 0
        while True:
            records, item_count, page_count, server_now = self._page(
                client, tenant, endpoint, state.since, state.page)
            state.read(records, endpoint, server_now, self.overlap_seconds)
            done = len(records) < self.page_size or (
                page_count is not None and state.page >= page_count
            )
            # Fewer distinct records than the query counts: some slipped onto a page read
            # before. Or a resumed pass met records edited since the pass began: they may have
            # pushed an unchanged record onto a page read before the stop. Either way the pass
            # is read again from where it began (the cursor keeps it open, so a stop meanwhile
            # does the same).
            again = done and state.needs_rereading(item_count)
            if again and restarts >= MAX_PASS_RESTARTS:
                # Too busy an organisation for this run: leave the pass open so that the next
                # run reads it again, rather than closing it over records that may be missing.
                yield Page(records, state.restart_cursor(), state.page, done=True,
                           item_count=item_count)
                return
            if again:
                yield Page(records, state.restart_cursor(), state.page, item_count=item_count)
                restarts += 1
                state = state.restarted()
                continue
            next_cursor = state.closed_cursor() if done else state.open_cursor()
            yield Page(records, next_cursor, state.page, done=done, item_count=item_count)
            if done:
                return
            state.page += 1

    def fetch_ids(
        self, client: HttpClient, tenant: TenantInfo, entity: str, ids: Sequence[str]
    ) -> Iterator[Page]:
        """Yield ``entity`` records by id, a batch of ids per request (no cursor involved).

        Used to fill in customers whose documents arrived without them: Xero derives
        ``IsCustomer`` from transactions without bumping the contact's ``UpdatedDateUTC``
        (section "Retrieving modified resources" of
        https://developer.xero.com/documentation/api/accounting/requests-and-responses),
        so an incremental read can miss such a contact.
        """
        endpoint = ENDPOINTS[entity]
        for n, start in enumerate(range(0, len(ids), IDS_PER_REQUEST), 1):
            batch = ids[start : start + IDS_PER_REQUEST]
            params = {**endpoint.params, "IDs": ",".join(batch)}
            body = self._get_json(client, tenant, entity, n, f"{API_PREFIX}/{endpoint.path}",
                                  params=params)
            yield Page(list(body.get(endpoint.records) or []), {}, f"ids-{n}",
                       done=start + IDS_PER_REQUEST >= len(ids))

    def fetch_open(self, client: HttpClient, tenant: TenantInfo, entity: str) -> Iterator[Page]:
        """Yield every open document of ``entity`` (the reconcile sweep; no cursor involved).

        Some changes never bump ``UpdatedDateUTC`` — a DueDate edited on a partly paid invoice,
        SentToContact — so a periodic full read of what is still open catches them
        (section "Retrieving modified resources" of
        https://developer.xero.com/documentation/api/accounting/requests-and-responses).
        """
        endpoint = ENDPOINTS[entity]
        params = {**endpoint.params, "Statuses": OPEN_STATUSES}
        page = 1
        while True:
            body = self._get_json(
                client, tenant, entity, page, f"{API_PREFIX}/{endpoint.path}",
                params={**params, "page": page, "pageSize": self.page_size},
            )
            records = list(body.get(endpoint.records) or [])
            done = len(records) < self.page_size
            yield Page(records, {}, f"open-{page}", done=done)
            if done:
                return
            page += 1

    def _page(
        self, client: HttpClient, tenant: TenantInfo, endpoint: Endpoint, since: str | None,
        page: int,
    ) -> tuple[list[Record], int | None, int | None, str | None]:
        """One page of the query; also the server's time of the reply (its ``Date`` header)."""
        params: dict[str, Any] = dict(endpoint.params)
        params.update(page=page, pageSize=self.page_size, order=f"{endpoint.cursor} ASC")
        headers = {}
        if since:
            headers["If-Modified-Since"] = if_modified_since(datetime.fromisoformat(since))
        body, resp = self._request_json(
            client, tenant, endpoint.entity, page, f"{API_PREFIX}/{endpoint.path}",
            params=params, headers=headers,
        )
        records = body.get(endpoint.records)
        if not isinstance(records, list):
            raise PageError(
                tenant.label, endpoint.entity, page,
                f"the reply has no {endpoint.records!r} list",
            )
        pagination = body.get("pagination") or {}
        return (records, pagination.get("itemCount"), pagination.get("pageCount"),
                _server_time(resp))

    def _get_json(
        self, client: HttpClient, tenant: TenantInfo, entity: str, page: int, path: str,
        params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return self._request_json(client, tenant, entity, page, path, params, headers)[0]

    def _request_json(
        self, client: HttpClient, tenant: TenantInfo, entity: str, page: int, path: str,
        params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
    ) -> tuple[dict[str, Any], requests.Response]:
        all_headers = self.headers(tenant)
        all_headers.update(headers or {})
        resp = client.request("GET", path, params=params, headers=all_headers)
        if resp.status_code >= 400:
            detail = _error_detail(resp.text)
            raise UpstreamError(
                f"tenant {tenant.label}, entity {entity}, page {page}: Xero answered "
                f"{resp.status_code}: {detail}",
                status=resp.status_code,
            )
        try:
            # orjson reads numbers as floats; the mapping's `decimal` transform takes their
            # shortest repr, which gives back exactly the digits Xero sent for any number of up
            # to 15 significant digits (Xero's money has 2 decimals, its rates 6).
            body = orjson.loads(resp.content)
        except ValueError as err:
            raise PageError(tenant.label, entity, page, f"invalid JSON ({err})") from None
        if not isinstance(body, dict):
            raise PageError(tenant.label, entity, page, "the reply is not a JSON object")
        return body, resp


@dataclass
class _Pass:
    """Where a pass stands: the query being paged (``since``, ``page``) and what it has seen.

    ``fetch`` owns one at a time; it is rebuilt from the cursor on every run.
    """

    last_ts: str | None
    last_id: str | None
    pass_from: str | None  # If-Modified-Since the pass began with (None: read everything)
    since: str | None  # If-Modified-Since of the query being paged
    page: int = 1  # the page about to be read
    pos: str | None = None  # UpdatedDateUTC of the last record read in this query
    started: str | None = None  # Xero's clock when the pass's first page was read
    resumed: bool = False  # continues a pass that a stop interrupted
    edited: bool = False  # a record edited since ``started`` was read in this pass
    seen: set[Any] = field(default_factory=set)  # ids read in this query

    @classmethod
    def resume(cls, cursor: Cursor, overlap_seconds: int) -> _Pass:
        """The pass to read next from a stored cursor (see the module docstring)."""
        last_ts, last_id = cursor.get("last_ts"), cursor.get("last_id")
        if "page" not in cursor:
            # No pass open: a new one from the newest committed record, or from when the last
            # pass began if that is earlier (see closed_cursor).
            start = min((datetime.fromisoformat(v) for v in (last_ts, cursor.get("changed_from"))
                         if v), default=None)
            since = cursor_since(start, overlap_seconds).isoformat() if start else None
            return cls(last_ts, last_id, since, since)
        # Cursors written before pass_from existed name the pass's start in pass_since.
        pass_from = cursor["pass_from"] if "pass_from" in cursor else cursor.get("pass_since")
        started, pos = cursor.get("pass_started"), cursor.get("pass_pos")
        if started is None or pos is None or cursor.get("edited"):
            # When the pass began is unknown, or it already met edits that may have moved
            # records between its pages: read it again from where it began.
            return cls(last_ts, last_id, pass_from, pass_from)
        since = cursor_since(datetime.fromisoformat(pos), overlap_seconds).isoformat()
        return cls(last_ts, last_id, pass_from, since, started=started, resumed=True)

    def read(self, records: list[Record], endpoint: Endpoint, server_now: str | None,
             overlap_seconds: int) -> None:
        """Take in a page just read (records in ``UpdatedDateUTC`` order)."""
        if self.page == 1 and self.started is None:
            self.started = server_now
        self.seen.update(r.get(endpoint.id) for r in records)
        if not records:
            return
        newest = records[-1]
        ts = parse_xero_datetime(newest.get(endpoint.cursor))
        if not isinstance(ts, datetime):
            return
        ts = ts.astimezone(UTC)
        self.pos = ts.isoformat()
        if self.last_ts is None or ts >= datetime.fromisoformat(self.last_ts):
            self.last_ts, self.last_id = ts.isoformat(), newest.get(endpoint.id)
        if self.started and not self.edited:
            began = datetime.fromisoformat(self.started) - timedelta(seconds=overlap_seconds)
            self.edited = ts >= began

    def needs_rereading(self, item_count: int | None) -> bool:
        """At the end of the query: must the pass be read again from its start?"""
        slipped = item_count is not None and len(self.seen) < item_count
        return slipped or (self.resumed and self.edited)

    def restarted(self) -> _Pass:
        """The same pass read again from where it began."""
        return _Pass(self.last_ts, self.last_id, self.pass_from, self.pass_from)

    def open_cursor(self) -> Cursor:
        """The cursor after a page with more to read in this query."""
        return {"last_ts": self.last_ts, "last_id": self.last_id, "pass_from": self.pass_from,
                "pass_started": self.started, "pass_since": self.since, "page": self.page,
                "pass_pos": self.pos, "edited": self.edited}

    def restart_cursor(self) -> Cursor:
        """The cursor that makes the next read start the pass over (a stop included)."""
        return {"last_ts": self.last_ts, "last_id": self.last_id, "pass_from": self.pass_from,
                "pass_started": None, "pass_since": self.pass_from, "page": 0,
                "pass_pos": None, "edited": False}

    def closed_cursor(self) -> Cursor:
        """The cursor after the pass's last page.

        The next pass starts from ``last_ts``, or from when this pass began if that is earlier
        (``changed_from``): a record edited while the pass paged moves to the end, and a later
        move of a record read before it can shift its new version back onto a page already
        read. Its id was counted, in its old version, so the count cannot tell; its new
        ``UpdatedDateUTC`` is after the pass began, so the next pass reads it.
        """
        cursor: Cursor = {"last_ts": self.last_ts, "last_id": self.last_id}
        if self.started and self.last_ts and (
                datetime.fromisoformat(self.started) < datetime.fromisoformat(self.last_ts)):
            cursor["changed_from"] = self.started
        return cursor


def _server_time(resp: requests.Response) -> str | None:
    """Xero's clock at the reply (the HTTP ``Date`` header), ISO, or None without one."""
    value = resp.headers.get("Date") if resp.headers is not None else None
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat()


def _error_detail(text: str) -> str:
    """The useful part of a Xero error body (validation messages or the Detail)."""
    try:
        body = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(body, dict):
        for key in ("Detail", "Message", "error", "Title"):
            if body.get(key):
                return str(body[key])
    return text[:200]
