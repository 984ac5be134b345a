"""The Xero adapter: reads contacts, sales invoices, credit notes and payments page by page.

It knows Xero's paths, paging and wire format; it never touches the store, never retries and
never sleeps (the client it is handed does that), and ``fetch`` never persists state.

Cursor (stored by the engine with each committed page)::

    {"last_ts": "2026-11-23T09:00:01.123000+00:00", "last_id": "…",   # newest record committed
     "pass_since": "2026-11-23T08:59:01+00:00" | None,                # the pass in progress
     "page": 7}                                                       # last page committed in it

A pass asks ``If-Modified-Since: last_ts − overlap`` ordered by ``UpdatedDateUTC ASC`` and walks
``page=1,2,…`` with that same header until a short page. Keeping the header fixed for the whole
pass (rather than moving it after each page) is what lets more than a page of records updated
in the same second come through: re-asking from the same second would return the same first
page for ever. A pass interrupted by a crash resumes at the page after the last committed one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

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
    entities: Sequence[str] = tuple(ENDPOINTS)

    def __init__(self, overlap_seconds: int = 60, page_size: int = MAX_PAGE_SIZE) -> None:
        self.overlap_seconds = overlap_seconds
        self.page_size = page_size

    @staticmethod
    def headers(tenant: TenantInfo) -> dict[str, str]:
        """Headers every Accounting API call carries (JSON; the org it is for)."""
        # JSON must be asked for: Xero answers XML by default (erp-apis.md §1, [X-RR]).
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
        """Yield the pages of ``entity`` changed since ``cursor`` (None or {}: everything)."""
        endpoint = ENDPOINTS[entity]
        cursor = dict(cursor or {})
        last_ts: str | None = cursor.get("last_ts")
        last_id: str | None = cursor.get("last_id")
        if "page" in cursor:  # resume the interrupted pass after its last committed page
            since: str | None = cursor.get("pass_since")
            page = int(cursor["page"]) + 1
        else:
            since = (
                cursor_since(datetime.fromisoformat(last_ts), self.overlap_seconds).isoformat()
                if last_ts
                else None
            )
            page = 1
        # Ids seen in this pass, to notice records that slipped between pages: a record edited
        # while we page moves to the end, and the one after a page boundary shifts onto a page
        # already read. Only a pass read from its first page can be counted this way.
        seen: set[Any] | None = set() if page == 1 else None
        restarts = 0
        while True:
            records, item_count, page_count = self._page(client, tenant, endpoint, since, page)
            if records:
                newest = records[-1]
                ts = parse_xero_datetime(newest.get(endpoint.cursor))
                if isinstance(ts, datetime) and (
                    last_ts is None or ts >= datetime.fromisoformat(last_ts)
                ):
                    last_ts, last_id = ts.astimezone(UTC).isoformat(), newest.get(endpoint.id)
            if seen is not None:
                seen.update(r.get(endpoint.id) for r in records)
            done = len(records) < self.page_size or (
                page_count is not None and page >= page_count
            )
            # Fewer distinct records than the pass counted: read the pass again (the cursor
            # keeps the pass open, so a crash meanwhile restarts it too).
            again = (done and seen is not None and item_count is not None
                     and len(seen) < item_count and restarts < MAX_PASS_RESTARTS)
            next_cursor: Cursor = {"last_ts": last_ts, "last_id": last_id}
            if again:
                next_cursor.update(pass_since=since, page=0)
            elif not done:
                next_cursor.update(pass_since=since, page=page)
            yield Page(records, next_cursor, page, done=done and not again,
                       item_count=item_count)
            if again:
                restarts += 1
                page, seen = 1, set()
                continue
            if done:
                return
            page += 1

    def fetch_ids(
        self, client: HttpClient, tenant: TenantInfo, entity: str, ids: Sequence[str]
    ) -> Iterator[Page]:
        """Yield ``entity`` records by id, a batch of ids per request (no cursor involved).

        Used to fill in customers whose documents arrived without them: Xero derives
        ``IsCustomer`` from transactions without bumping the contact's ``UpdatedDateUTC``
        (erp-apis.md §1.2, [X-RR]), so an incremental read can miss such a contact.
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
        (erp-apis.md §1.2, [X-RR]).
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
    ) -> tuple[list[Record], int | None, int | None]:
        params: dict[str, Any] = dict(endpoint.params)
        params.update(page=page, pageSize=self.page_size, order=f"{endpoint.cursor} ASC")
        headers = {}
        if since:
            headers["If-Modified-Since"] = if_modified_since(datetime.fromisoformat(since))
        body = self._get_json(
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
        return records, pagination.get("itemCount"), pagination.get("pageCount")

    def _get_json(
        self, client: HttpClient, tenant: TenantInfo, entity: str, page: int, path: str,
        params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
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
        return body


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
