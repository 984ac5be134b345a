"""The Xero adapter's paging and cursor rules, against a scripted client (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from arconnect.adapters.base import TenantInfo
from arconnect.adapters.xero import XeroAdapter
from arconnect.errors import PageError, UpstreamError

TENANT = TenantInfo("org-1", "Org")  # messages name it "Org (org-1)"


def _ms(ts: datetime) -> str:
    return f"/Date({int(ts.timestamp() * 1000)}+0000)/"


class ScriptedClient:
    """Answers GET /Invoices from a list of records, honouring page, pageSize and
    If-Modified-Since the way Xero does; records every request."""

    def __init__(self, records: list[dict[str, Any]], body: str | None = None,
                 status: int = 200) -> None:
        self.records = records
        self.body = body
        self.status = status
        self.requests: list[tuple[dict[str, Any], dict[str, str]]] = []

    def request(self, method: str, path: str, *, params: Any = None, headers: Any = None,
                json: Any = None) -> requests.Response:
        self.requests.append((dict(params or {}), dict(headers or {})))
        resp = requests.Response()
        resp.status_code = self.status
        if self.body is not None:
            resp._content = self.body.encode()
            return resp
        since = headers.get("If-Modified-Since")
        rows = self.records
        if since:
            floor = datetime.fromisoformat(since).replace(tzinfo=UTC)
            rows = [r for r in rows if r["_ts"].replace(microsecond=0) >= floor]
        page, size = int(params["page"]), int(params["pageSize"])
        chunk = rows[(page - 1) * size: page * size]
        out = [{k: v for k, v in r.items() if k != "_ts"} for r in chunk]
        resp._content = _dumps({
            "Status": "OK",
            "pagination": {"page": page, "pageSize": size, "itemCount": len(rows),
                           "pageCount": max(1, -(-len(rows) // size))},
            "Invoices": out,
        })
        return resp


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _records(n: int, ts: datetime) -> list[dict[str, Any]]:
    return [{"InvoiceID": f"inv-{i:05d}", "UpdatedDateUTC": _ms(ts), "_ts": ts}
            for i in range(n)]


def test_same_second_burst_larger_than_a_page_pages_through() -> None:
    ts = datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC)
    client = ScriptedClient(_records(2500, ts))
    pages = list(XeroAdapter().fetch(client, TENANT, "invoices", {"last_ts": ts.isoformat()}))
    ids = [r["InvoiceID"] for p in pages for r in p.records]
    assert len(ids) == len(set(ids)) == 2500
    assert [p.done for p in pages] == [False, False, True]
    # the header stays fixed through the pass, so the burst cannot loop
    assert {h["If-Modified-Since"] for _, h in client.requests} == {"2026-11-23T08:59:01"}


def test_stopped_pass_is_not_continued_by_page_number() -> None:
    # Page offsets taken before a stop are stale (see tests/adapters/test_xero_paging.py);
    # without Xero's clock (no Date header here) the pass is read again from its start.
    ts = datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC)
    client = ScriptedClient(_records(2500, ts))
    first = next(iter(XeroAdapter().fetch(client, TENANT, "invoices", None)))
    assert first.next_cursor["page"] == 1 and first.next_cursor["pass_since"] is None
    assert first.next_cursor["pass_from"] is None and first.next_cursor["pass_pos"]
    rest = list(XeroAdapter().fetch(client, TENANT, "invoices", first.next_cursor))
    assert [int(p.number) for p in rest] == [1, 2, 3]
    assert rest[-1].next_cursor == {"last_ts": ts.isoformat(), "last_id": "inv-02499"}


def test_cursor_overlap_and_request_shape() -> None:
    ts = datetime(2026, 11, 23, 9, 0, 1, 500000, tzinfo=UTC)
    client = ScriptedClient(_records(3, ts))
    list(XeroAdapter(overlap_seconds=60).fetch(client, TENANT, "invoices",
                                               {"last_ts": ts.isoformat()}))
    params, headers = client.requests[0]
    assert headers["If-Modified-Since"] == "2026-11-23T08:59:01"
    assert headers["xero-tenant-id"] == "org-1"
    assert headers["Accept"] == "application/json"
    assert params["pageSize"] == 1000 and params["order"] == "UpdatedDateUTC ASC"
    assert params["where"] == 'Type=="ACCREC"'
    assert "DELETED" in params["Statuses"] and "VOIDED" in params["Statuses"]


def test_full_sync_sends_no_if_modified_since() -> None:
    client = ScriptedClient(_records(1, datetime(2020, 1, 1, tzinfo=UTC)))
    list(XeroAdapter().fetch(client, TENANT, "invoices", None))
    assert "If-Modified-Since" not in client.requests[0][1]


def test_invalid_json_names_tenant_entity_and_page() -> None:
    client = ScriptedClient([], body='{"Invoices": [')
    expected = r"tenant Org \(org-1\), entity invoices, page 1: invalid JSON"
    with pytest.raises(PageError, match=expected):
        list(XeroAdapter().fetch(client, TENANT, "invoices", None))


def test_missing_records_key_is_a_page_error() -> None:
    client = ScriptedClient([], body='{"Status": "OK"}')
    with pytest.raises(PageError, match="no 'Invoices' list"):
        list(XeroAdapter().fetch(client, TENANT, "invoices", None))


def test_error_status_carries_xero_detail() -> None:
    client = ScriptedClient([], body='{"Detail": "bad where clause"}', status=400)
    with pytest.raises(UpstreamError, match="400: bad where clause"):
        list(XeroAdapter().fetch(client, TENANT, "invoices", None))


class ShiftingClient(ScriptedClient):
    """After page 1 is served, its first record is edited: it moves to the end of the
    ordering, and every later record shifts one place towards the front."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        super().__init__(records)
        self.edited = False

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        resp = super().request(method, path, **kw)
        if not self.edited and kw["params"]["page"] == 1:
            self.edited = True
            moved = self.records.pop(0)
            later = self.records[-1]["_ts"].replace(microsecond=0) + timedelta(seconds=5)
            self.records.append({**moved, "_ts": later, "UpdatedDateUTC": _ms(later)})
        return resp


def test_records_that_slip_between_pages_are_read_again() -> None:
    base = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    records = [{"InvoiceID": f"inv-{i:03d}", "UpdatedDateUTC": _ms(base + timedelta(seconds=i)),
                "_ts": base + timedelta(seconds=i)} for i in range(45)]
    client = ShiftingClient(records)
    pages = list(XeroAdapter(page_size=10).fetch(client, TENANT, "invoices", None))
    ids = {r["InvoiceID"] for p in pages for r in p.records}
    assert ids == {f"inv-{i:03d}" for i in range(45)}  # inv-010 slipped onto page 1: reread
    restart = next(p for p in pages if p.next_cursor.get("page") == 0)
    assert restart.next_cursor["pass_since"] is None  # a crash now restarts the pass
    assert pages[-1].done and "page" not in pages[-1].next_cursor
