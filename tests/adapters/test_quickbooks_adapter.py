"""The QuickBooks Online adapter against a small model of QBO's query and CDC endpoints.

The model answers the statements the adapter sends the way QBO does: records ordered by
``MetaData.LastUpdatedTime`` (ties in id order), ``STARTPOSITION`` 1-based, ``{"QueryResponse":
{}}`` past the end, CDC capped at 1,000 objects with deletes as tombstones, a ``time`` in every
reply in the company's offset. Tests drive ``fetch`` as the sync engine does (commit each page
with its cursor, stop at any page, run again from the committed cursor) while the model edits
records between pages.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from arconnect.adapters.base import Cursor, Page, TenantInfo
from arconnect.adapters.quickbooks import QuickBooksAdapter
from arconnect.adapters.quickbooks._common import parse_qbo_datetime, utc_offset_zone
from arconnect.errors import UpstreamError

REALM = "9341452563412345"
TENANT = TenantInfo(REALM, "Sandbox Company US 1")
PACIFIC = timezone(timedelta(hours=-7))
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_COND = re.compile(r"(\S+) (>=|>|=|IN) ('[^']*'|\([^)]*\))")


def _stamp(ts: datetime) -> str:
    return ts.astimezone(PACIFIC).replace(microsecond=0).isoformat()


@dataclass
class Qbo:
    """One company's records of one entity at a time, as QBO's query and CDC endpoints see
    them (timestamps to the second, like QBO's)."""

    entity: str = "Invoice"
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, datetime] = field(default_factory=dict)
    now: datetime = NOW
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    between_pages: Any = None  # called after each query reply (edits while paging)

    def add(self, n: int, start: datetime, step: timedelta = timedelta(seconds=1),
            **fields: Any) -> None:
        for i in range(n):
            rid = str(len(self.records) + len(self.deleted) + 1)
            self.records[rid] = {"Id": rid, "TotalAmt": 100.0, "Balance": 100.0,
                                 "CustomerRef": {"value": "1"}, "_ts": start + i * step,
                                 **fields}

    def edit(self, rid: str) -> None:
        self.now += timedelta(seconds=1)
        self.records[rid]["_ts"] = self.now

    def delete(self, rid: str) -> None:
        self.now += timedelta(seconds=1)
        del self.records[rid]
        self.deleted[rid] = self.now

    def _wire(self, rec: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in rec.items() if k != "_ts"}
        out["MetaData"] = {"CreateTime": _stamp(rec["_ts"]), "LastUpdatedTime": _stamp(rec["_ts"])}
        return out

    def _ordered(self) -> list[dict[str, Any]]:
        return sorted(self.records.values(), key=lambda r: (r["_ts"], int(r["Id"])))

    def request(self, method: str, path: str, *, params: Any = None, headers: Any = None,
                json: Any = None) -> requests.Response:
        params = dict(params or {})
        self.calls.append((path, params))
        assert params.pop("minorversion") == 75
        assert headers == {"Accept": "application/json"}
        if path == "/query":
            body = self._query(params["query"])
        elif path == "/cdc":
            body = self._cdc(params)
            if "Fault" in body:
                return _response(400, body)
        elif path == f"/companyinfo/{REALM}":
            body = {"CompanyInfo": {"CompanyName": "Sandbox Company US 1", "Country": "US"},
                    "time": _stamp(self.now)}
        elif path == "/preferences":
            body = {"Preferences": {"CurrencyPrefs": {"HomeCurrency": {"value": "USD"},
                                                      "MultiCurrencyEnabled": True}},
                    "time": _stamp(self.now)}
        else:
            raise AssertionError(f"unexpected request {path}")
        return _response(200, body)

    def _query(self, statement: str) -> dict[str, Any]:
        counted = re.fullmatch(r"SELECT COUNT\(\*\) FROM (\w+)(?: WHERE (.+))?", statement)
        if counted:
            rows = self._where(counted.group(2))
            return {"QueryResponse": {"totalCount": len(rows)}, "time": _stamp(self.now)}
        m = re.fullmatch(r"SELECT \* FROM (\w+)(?: WHERE (.+?))?(?: ORDERBY (\S+))? "
                         r"STARTPOSITION (\d+) MAXRESULTS (\d+)", statement)
        assert m, statement
        name, where, order, start, size = m.groups()
        assert name == self.entity
        assert int(size) <= 1000
        rows = self._where(where)
        page = rows[int(start) - 1:int(start) - 1 + int(size)]
        reply: dict[str, Any] = {"QueryResponse": {}, "time": _stamp(self.now)}
        if page:
            reply["QueryResponse"] = {name: [self._wire(r) for r in page],
                                      "startPosition": int(start), "maxResults": len(page)}
        if self.between_pages is not None:
            self.between_pages(self)
        return reply

    def _where(self, where: str | None) -> list[dict[str, Any]]:
        rows = self._ordered()
        for col, op, value in _COND.findall(where or ""):
            rows = [r for r in rows if _matches(r, col, op, value)]
        return rows

    def _cdc(self, params: dict[str, Any]) -> dict[str, Any]:
        assert params["entities"] == self.entity
        since = parse_qbo_datetime(params["changedSince"])
        assert since is not None
        if self.now - since > timedelta(days=30):
            return {"Fault": {"Error": [{"Message": "Invalid changedSince", "code": "2260"}]}}
        changed = [self._wire(r) for r in self._ordered() if r["_ts"] >= since]
        changed += [{"Id": rid, "status": "Deleted",
                     "MetaData": {"LastUpdatedTime": _stamp(ts)}}
                    for rid, ts in self.deleted.items() if ts >= since]
        return {"CDCResponse": [{"QueryResponse": [
            {self.entity: changed[:1000], "startPosition": 1, "maxResults": len(changed)}]}],
            "time": _stamp(self.now)}


def _matches(rec: dict[str, Any], col: str, op: str, value: str) -> bool:
    if col == "MetaData.LastUpdatedTime":
        when = parse_qbo_datetime(value.strip("'"))
        assert when is not None
        ts = rec["_ts"].replace(microsecond=0)
        return bool(ts >= when if op == ">=" else ts > when if op == ">" else ts == when)
    if col == "Id" and op == "IN":
        return rec["Id"] in {v.strip().strip("'") for v in value.strip("()").split(",")}
    if col == "Balance":
        return bool(rec["Balance"] > float(value.strip("'")))
    if col == "Active":
        return True
    raise AssertionError(f"unexpected condition {col} {op} {value}")


def _response(status: int, body: Any) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps(body).encode()
    return resp


def run(adapter: QuickBooksAdapter, qbo: Qbo, entity: str, cursor: Cursor | None,
        stop_after: int | None = None) -> tuple[list[Page], Cursor | None]:
    """Read as the engine does: commit each page's cursor; stop after ``stop_after`` pages."""
    pages: list[Page] = []
    for page in adapter.fetch(qbo, TENANT, entity, cursor):  # type: ignore[arg-type]
        pages.append(page)
        cursor = page.next_cursor
        if stop_after is not None and len(pages) >= stop_after:
            break
    return pages, cursor


def ids(pages: list[Page]) -> set[str]:
    return {r["Id"] for p in pages for r in p.records}


def adapter(page_size: int = 10, **kw: Any) -> QuickBooksAdapter:
    return QuickBooksAdapter(page_size=page_size, now=lambda: NOW, **kw)


# -- full reads ----------------------------------------------------------------------------------


def test_full_read_pages_by_key_and_closes_at_qbo_clock() -> None:
    qbo = Qbo()
    qbo.add(25, NOW - timedelta(days=90), step=timedelta(minutes=1))
    pages, cursor = run(adapter(), qbo, "invoices", None)
    assert [len(p.records) for p in pages] == [10, 9, 6]  # the record at a page's end is re-read
    assert ids(pages) == set(qbo.records)
    assert [p.done for p in pages] == [False, False, True]
    # The pages' statements: key paging, one ORDERBY field, never a position but 1.
    statements = [c[1]["query"] for c in qbo.calls]
    assert statements[0] == ("SELECT * FROM Invoice ORDERBY MetaData.LastUpdatedTime "
                             "STARTPOSITION 1 MAXRESULTS 10")
    assert all("STARTPOSITION 1 " in s for s in statements)
    assert "MetaData.LastUpdatedTime >= " in statements[1]
    assert pages[0].next_cursor["pos"] and pages[0].next_cursor["tie"] == 1
    # Closed: the next read starts from QBO's clock at the pass's first page.
    assert cursor == {"since": NOW.isoformat()}
    # The records re-read at the last timestamp of a page are not passed on twice.
    assert sum(len(p.records) for p in pages) == 25


def test_customers_include_inactive_ones() -> None:
    qbo = Qbo(entity="Customer")
    qbo.add(3, NOW - timedelta(days=1))
    run(adapter(), qbo, "customers", None)
    assert qbo.calls[0][1]["query"].startswith(
        "SELECT * FROM Customer WHERE Active IN (true,false) ORDERBY")


def test_edits_while_paging_never_skip_a_record() -> None:
    qbo = Qbo()
    qbo.add(40, NOW - timedelta(days=60), step=timedelta(minutes=1))
    edited: list[str] = []

    def edit_read_records(model: Qbo) -> None:
        # an already read record moves to the end; by position, the one after the page
        # boundary would slide onto the page just read
        rid = str(len(edited) * 10 + 1)
        if rid in model.records:
            edited.append(rid)
            model.edit(rid)

    qbo.between_pages = edit_read_records
    pages, cursor = run(adapter(), qbo, "invoices", None)
    assert ids(pages) == set(qbo.records)
    assert len(edited) >= 3
    assert cursor is not None and "since" in cursor


def test_a_stopped_pass_resumes_from_its_cursor_without_loss() -> None:
    qbo = Qbo()
    qbo.add(35, NOW - timedelta(days=60), step=timedelta(minutes=1))
    first, cursor = run(adapter(), qbo, "invoices", None, stop_after=2)
    assert cursor is not None and cursor["page"] == 2 and "since" not in cursor
    qbo.edit("3")  # read before the stop; edited while nothing runs
    qbo.delete("30")
    second, closed = run(adapter(), qbo, "invoices", cursor)
    assert ids(first) | ids(second) == set(qbo.records)
    assert "3" in ids(second)
    # The resumed pass keeps the clock of its first page.
    assert closed == {"since": NOW.isoformat()}


def test_more_records_in_one_second_than_a_page_are_read_by_position() -> None:
    qbo = Qbo()
    qbo.add(3, NOW - timedelta(days=2))
    qbo.add(23, NOW - timedelta(days=1), step=timedelta(0))  # a bulk import: one second
    qbo.add(2, NOW - timedelta(hours=1))
    pages, cursor = run(adapter(), qbo, "invoices", None)
    assert ids(pages) == set(qbo.records)
    assert any("STARTPOSITION 1 " not in c[1]["query"] for c in qbo.calls)
    assert len(qbo.calls) <= 6


def test_a_bulk_second_edited_while_paged_by_position_is_read_again() -> None:
    qbo = Qbo()
    qbo.add(2, NOW - timedelta(days=2))
    qbo.add(23, NOW - timedelta(days=1), step=timedelta(0))  # ids 3..25 in one second
    qbo.add(4, NOW - timedelta(hours=1), step=timedelta(minutes=1))
    edits = iter(["3", "4", "5"])

    def edit_in_the_second(model: Qbo) -> None:
        rid = next(edits, None)
        if rid is not None:
            model.edit(rid)  # leaves the second: the records after it shift forward

    qbo.between_pages = edit_in_the_second
    pages, cursor = run(adapter(), qbo, "invoices", None)
    assert ids(pages) == set(qbo.records)
    assert any(c[1]["query"].startswith("SELECT COUNT(*)") for c in qbo.calls)
    assert cursor is not None and "since" in cursor


def test_a_stop_inside_a_bulk_second_then_edits_in_it_lose_nothing() -> None:
    qbo = Qbo()
    qbo.add(30, NOW - timedelta(days=1), step=timedelta(0))
    first, cursor = run(adapter(page_size=4), qbo, "invoices", None, stop_after=2)
    for rid in ("1", "2", "3", "6"):
        qbo.edit(rid)  # read before the stop; they leave the second
    qbo.delete("9")
    second, _ = run(adapter(page_size=4), qbo, "invoices", cursor)
    assert ids(first) | ids(second) >= set(qbo.records)
    # The resumed pass starts that second again from its first record.
    resumed = [c[1]["query"] for c in qbo.calls if c[1].get("query", "").startswith("SELECT *")]
    assert "STARTPOSITION 1 " in resumed[2]


def test_full_sync_call_count_is_near_the_minimum() -> None:
    qbo = Qbo()
    qbo.add(2500, NOW - timedelta(days=400), step=timedelta(minutes=3))
    reader = QuickBooksAdapter(now=lambda: NOW)
    org = reader.organisation(qbo, TENANT)  # type: ignore[arg-type]
    pages, _ = run(reader, qbo, "invoices", None)
    assert sum(len(p.records) for p in pages) == 2500
    minimum = math.ceil(2500 / 1000) + 2  # + CompanyInfo + Preferences
    assert len(qbo.calls) <= 1.05 * minimum
    assert org.base_currency == "USD" and org.name == "Sandbox Company US 1"
    assert org.extra["multicurrency"] is True
    assert org.timezone == "Etc/GMT+7"


# -- incremental reads ---------------------------------------------------------------------------


def test_cdc_inside_the_window_one_call_with_tombstones() -> None:
    qbo = Qbo()
    qbo.add(5, NOW - timedelta(days=10), step=timedelta(hours=1))
    since = NOW - timedelta(days=3)
    qbo.now = NOW
    qbo.edit("2")
    qbo.delete("4")
    pages, cursor = run(adapter(), qbo, "invoices", {"since": since.isoformat()})
    assert [c[0] for c in qbo.calls] == ["/cdc"]
    (page,) = pages
    assert page.done
    assert {r["Id"] for r in page.records} == {"2", "4"}
    stone = next(r for r in page.records if r["Id"] == "4")
    assert stone["status"] == "Deleted" and "$state" not in stone
    live = next(r for r in page.records if r["Id"] == "2")
    assert live["$state"] == "Open"
    # The overlap: CDC is asked from a minute before the stored cursor.
    assert parse_qbo_datetime(qbo.calls[0][1]["changedSince"]) == since - timedelta(minutes=1)
    assert cursor == {"since": qbo.now.replace(microsecond=0).isoformat()}


def test_a_full_cdc_reply_is_cut_short_and_read_by_query() -> None:
    qbo = Qbo()
    since = NOW - timedelta(days=2)
    qbo.add(1200, since + timedelta(minutes=1), step=timedelta(seconds=10))
    pages, cursor = run(QuickBooksAdapter(now=lambda: NOW), qbo, "invoices",
                        {"since": since.isoformat()})
    paths = [c[0] for c in qbo.calls]
    assert paths == ["/cdc", "/query", "/query"]
    assert ids(pages) == set(qbo.records)
    assert f">= '{(since - timedelta(minutes=1)).isoformat()}'" in qbo.calls[1][1]["query"]
    assert cursor is not None and "since" in cursor


def test_a_cursor_older_than_the_window_reads_by_query() -> None:
    qbo = Qbo()
    qbo.add(4, NOW - timedelta(days=50), step=timedelta(days=5))
    since = NOW - timedelta(days=40)
    pages, cursor = run(adapter(), qbo, "invoices", {"since": since.isoformat()})
    assert [c[0] for c in qbo.calls] == ["/query"]
    assert ids(pages) == {"3", "4"}
    assert cursor == {"since": NOW.isoformat()}
    # Just inside the window less its margin: still by query; well inside: CDC.
    qbo.calls.clear()
    run(adapter(), qbo, "invoices", {"since": (NOW - timedelta(days=29, hours=20)).isoformat()})
    assert [c[0] for c in qbo.calls] == ["/query"]
    qbo.calls.clear()
    run(adapter(), qbo, "invoices", {"since": (NOW - timedelta(days=29)).isoformat()})
    assert [c[0] for c in qbo.calls] == ["/cdc"]


def test_a_cdc_refused_by_qbo_clock_reads_by_query() -> None:
    qbo = Qbo()
    qbo.add(3, NOW - timedelta(days=31), step=timedelta(days=1))
    qbo.now = NOW + timedelta(days=3)  # QBO's clock runs ahead: the cursor is out of its window
    since = (NOW - timedelta(days=29)).isoformat()
    pages, cursor = run(adapter(), qbo, "invoices", {"since": since})
    assert [c[0] for c in qbo.calls] == ["/cdc", "/query"]
    assert ids(pages) == {"3"}
    assert cursor == {"since": qbo.now.isoformat()}


def test_without_cdc_every_incremental_read_is_a_query() -> None:
    qbo = Qbo()
    qbo.add(3, NOW - timedelta(days=1))
    run(adapter(use_cdc=False), qbo, "invoices", {"since": (NOW - timedelta(hours=30)).isoformat()})
    assert [c[0] for c in qbo.calls] == ["/query"]


# -- reconcile reads -----------------------------------------------------------------------------


def test_fetch_ids_in_batches_of_ids() -> None:
    qbo = Qbo()
    qbo.add(450, NOW - timedelta(days=3), step=timedelta(minutes=1))
    wanted = [str(i) for i in range(1, 451)]
    pages = list(QuickBooksAdapter().fetch_ids(qbo, TENANT, "invoices", wanted))  # type: ignore[arg-type]
    assert len(qbo.calls) == 3
    assert ids(pages) == set(wanted)
    assert pages[-1].done and not pages[0].done
    assert all(p.next_cursor == {} for p in pages)


def test_fetch_open_reads_what_is_still_owed() -> None:
    qbo = Qbo()
    qbo.add(3, NOW - timedelta(days=3))
    qbo.add(2, NOW - timedelta(days=2), Balance=0.0)
    pages = list(adapter().fetch_open(qbo, TENANT, "invoices"))  # type: ignore[arg-type]
    assert ids(pages) == {"1", "2", "3"}
    assert "Balance > '0'" in qbo.calls[0][1]["query"]


def test_delete_sweep_yields_tombstones_for_ids_qbo_no_longer_has() -> None:
    qbo = Qbo()
    qbo.add(25, NOW - timedelta(days=300), step=timedelta(days=1))
    qbo.delete("7")
    qbo.delete("19")
    known = [str(i) for i in range(1, 26)]
    pages = list(adapter().delete_sweep(qbo, TENANT, "invoices", known))  # type: ignore[arg-type]
    assert [r for p in pages for r in p.records] == [{"Id": "19", "status": "Deleted"},
                                                     {"Id": "7", "status": "Deleted"}]
    assert len(qbo.calls) == 3  # 23 records in pages of 10


def test_delete_sweep_yields_nothing_when_the_list_fails() -> None:
    qbo = Qbo()
    qbo.add(25, NOW - timedelta(days=300), step=timedelta(days=1))

    def fail(model: Qbo) -> None:
        model.request = lambda *a, **k: _response(  # type: ignore[method-assign]
            500, {"Fault": {"Error": [{"Message": "boom", "code": "10000"}]}})

    qbo.between_pages = fail
    sweep = adapter().delete_sweep(qbo, TENANT, "invoices", ["1", "999"])  # type: ignore[arg-type]
    with pytest.raises(UpstreamError, match="boom"):
        list(sweep)


def test_errors_name_tenant_entity_page_and_qbo_message() -> None:
    class Refusing:
        def request(self, *a: Any, **k: Any) -> requests.Response:
            return _response(400, {"Fault": {"Error": [{
                "Message": "Error parsing query", "Detail": "QueryParserError: bad",
                "code": "4000"}], "type": "ValidationFault"}, "time": "2026-11-23T01:00:00-08:00"})

    with pytest.raises(UpstreamError) as err:
        list(adapter().fetch(Refusing(), TENANT, "payments", None))  # type: ignore[arg-type]
    text = str(err.value)
    assert "Sandbox Company US 1" in text and "payments" in text and "page 1" in text
    assert "Error parsing query: QueryParserError: bad (code 4000)" in text


def test_utc_offset_zone() -> None:
    assert utc_offset_zone("2026-05-05T03:22:45.365-07:00") == "Etc/GMT+7"
    assert utc_offset_zone("2026-05-05T03:22:45+05:00") == "Etc/GMT-5"
    assert utc_offset_zone("2026-05-05T03:22:45Z") == "UTC"
    assert utc_offset_zone(None) == "UTC"
