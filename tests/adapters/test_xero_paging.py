"""The Xero adapter's passes against a model of Xero's list that moves while it is paged.

A record edited in Xero goes to the end of the ``UpdatedDateUTC`` order, so every record after it
shifts one place towards the front; page numbers taken before an edit point at other records
after it. These tests drive ``XeroAdapter.fetch`` the way the sync engine does — commit each page
with its cursor, stop at any page (a kill), run again from the committed cursor — while the
model edits and creates records between pages and between runs, and compare what was committed
with the model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arconnect.adapters.base import Cursor, TenantInfo
from arconnect.adapters.xero import XeroAdapter

TENANT = TenantInfo("org-1", "Org")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # the records' history
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Xero's clock when the first sync starts


def _ms(ts: datetime) -> str:
    return f"/Date({int(ts.timestamp() * 1000)}+0000)/"


@dataclass
class XeroList:
    """Invoices as Xero lists them: ``If-Modified-Since`` (to the second), ordered by
    ``UpdatedDateUTC`` then id, ``page``/``pageSize`` offsets, ``pagination.itemCount`` and
    a ``Date`` header from Xero's clock."""

    records: dict[str, datetime] = field(default_factory=dict)
    now: datetime = NOW
    calls: int = 0
    requests: list[tuple[dict[str, Any], dict[str, str]]] = field(default_factory=list)

    def edit(self, record_id: str, seconds: int = 1) -> None:
        self.records[record_id] = self._stamp(seconds)

    def create(self, seconds: int = 1) -> None:
        self.records[f"new-{len(self.records):05d}"] = self._stamp(seconds)

    def _stamp(self, seconds: int) -> datetime:
        # UpdatedDateUTC has millisecond precision: a change made after another is stamped
        # after it, often within the same second (If-Modified-Since sees only the second)
        self.now += timedelta(seconds=seconds, milliseconds=1)
        return self.now

    def request(self, method: str, path: str, *, params: Any = None, headers: Any = None,
                json: Any = None) -> requests.Response:
        self.calls += 1
        self.requests.append((dict(params or {}), dict(headers or {})))
        rows = sorted(self.records.items(), key=lambda kv: (kv[1], kv[0]))
        since = (headers or {}).get("If-Modified-Since")
        if since:
            floor = datetime.fromisoformat(since).replace(tzinfo=UTC)
            rows = [(k, ts) for k, ts in rows if ts.replace(microsecond=0) >= floor]
        page, size = int(params["page"]), int(params["pageSize"])
        chunk = rows[(page - 1) * size: page * size]
        resp = requests.Response()
        resp.status_code = 200
        resp.headers["Date"] = format_datetime(self.now, usegmt=True)
        resp._content = requests.compat.json.dumps({
            "Status": "OK",
            "pagination": {"page": page, "pageSize": size, "itemCount": len(rows),
                           "pageCount": max(1, -(-len(rows) // size))},
            "Invoices": [{"InvoiceID": k, "UpdatedDateUTC": _ms(ts)} for k, ts in chunk],
        }).encode()
        return resp


def history(n: int, same_second: int = 1) -> dict[str, datetime]:
    """``n`` invoices last updated over the year, ``same_second`` of them per second."""
    return {f"inv-{i:05d}": EPOCH + timedelta(hours=i // same_second) for i in range(n)}


class Store:
    """What the engine commits: each page's records with its cursor, together."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.cursor: Cursor | None = None

    def run(self, adapter: XeroAdapter, xero: XeroList, stop_after: int | None = None,
            between_pages: Any = None) -> bool:
        """One sync of invoices; False when stopped after ``stop_after`` committed pages."""
        pages = adapter.fetch(xero, TENANT, "invoices", self.cursor)
        for committed, page in enumerate(pages, 1):
            for record in page.records:
                self.rows[record["InvoiceID"]] = _ms_of(record)
            self.cursor = page.next_cursor
            assert committed < 10_000, "the pass does not end"
            if stop_after is not None and committed >= stop_after and not page.done:
                return False
            if between_pages is not None:
                between_pages(committed)
        return True

    def assert_equals(self, xero: XeroList) -> None:
        want = {k: int(ts.timestamp() * 1000) for k, ts in xero.records.items()}
        missing = sorted(set(want) - set(self.rows))
        assert not missing, f"{len(missing)} of {len(want)} never committed: {missing[:5]}"
        stale = sorted(k for k in want if self.rows[k] != want[k])
        assert not stale, f"{len(stale)} committed at an older version: {stale[:5]}"


def _ms_of(record: dict[str, Any]) -> int:
    return int(record["UpdatedDateUTC"][len("/Date("):].split("+")[0])


def _pay_early_invoices(xero: XeroList, count: int) -> None:
    """Edit ``count`` of the oldest invoices (paid in Xero): they move to the end."""
    for record_id in sorted(xero.records, key=lambda k: (xero.records[k], k))[:count]:
        xero.edit(record_id, seconds=0)
    xero.now += timedelta(seconds=1)


def test_resumed_pass_does_not_lose_records_pushed_onto_pages_read_before_the_stop() -> None:
    # The review's reproduction at small scale: page size 10, a full sync stopped after 20
    # pages, 20 early invoices then paid; page offsets taken before the stop would skip 20.
    xero, store, adapter = XeroList(history(304)), Store(), XeroAdapter(page_size=10)
    assert not store.run(adapter, xero, stop_after=20)
    _pay_early_invoices(xero, 20)
    assert store.run(adapter, xero)
    assert store.run(adapter, xero)
    store.assert_equals(xero)


def test_quiet_organisation_resumes_from_the_last_committed_record() -> None:
    xero, store, adapter = XeroList(history(300)), Store(), XeroAdapter(page_size=10)
    assert not store.run(adapter, xero, stop_after=12)
    pos = store.cursor["pass_pos"]
    assert store.cursor["pass_started"] == NOW.isoformat()
    calls = xero.calls
    assert store.run(adapter, xero)
    store.assert_equals(xero)
    # resumed as a new query from the last committed record, not by page number, and not from
    # the start: nothing was edited since the pass began
    params, headers = xero.requests[calls]
    assert params["page"] == 1
    assert headers["If-Modified-Since"] == (
        datetime.fromisoformat(pos) - timedelta(seconds=60)).replace(tzinfo=None).isoformat()
    assert xero.calls - calls == 300 // 10 - 12 + 1


def test_edit_before_the_stop_makes_the_resumed_pass_read_again_from_its_start() -> None:
    # Page 3 read, then an invoice on page 1 is edited (inv-00030 slips onto page 3), then two
    # more pages and the stop: only a re-read from the pass's start can still find inv-00030.
    xero, store, adapter = XeroList(history(100)), Store(), XeroAdapter(page_size=10)

    def edit_once(committed: int) -> None:
        if committed == 3:
            xero.edit("inv-00002")

    assert not store.run(adapter, xero, stop_after=5, between_pages=edit_once)
    assert store.run(adapter, xero)
    store.assert_equals(xero)
    assert store.cursor is not None and "page" not in store.cursor


def test_stop_before_anything_is_known_of_xeros_clock_reads_the_pass_again() -> None:
    # A cursor written before pass_started existed (or a reply without a Date header).
    xero, store, adapter = XeroList(history(50)), Store(), XeroAdapter(page_size=10)
    store.cursor = {"last_ts": None, "last_id": None, "pass_since": None, "page": 3}
    _pay_early_invoices(xero, 5)
    assert store.run(adapter, xero)
    store.assert_equals(xero)
    assert xero.requests[0][0]["page"] == 1 and "If-Modified-Since" not in xero.requests[0][1]


def test_a_new_version_shifted_back_onto_a_read_page_reaches_the_next_pass() -> None:
    # After page 2 of 12 invoices: inv-00000 (page 1) is edited and goes to the end; then two
    # records that its move shifted onto page 2 are edited in turn, and each of their moves
    # shifts inv-00000's new version one place back, onto page 2. Every id was counted (its
    # old version), so the pass ends; the next one must start from when this one began.
    xero, store = XeroList(history(12)), Store()
    adapter = XeroAdapter(overlap_seconds=0, page_size=6)

    def edits(committed: int) -> None:
        if committed == 1:
            xero.create(0)
            xero.create(0)
        if committed == 2:
            xero.edit("inv-00000", 0)
            xero.edit("new-00012", 0)
            xero.create(0)
            xero.edit("new-00013", 1)

    assert store.run(adapter, xero, between_pages=edits)
    assert store.run(adapter, xero)
    store.assert_equals(xero)


def test_a_busy_organisation_leaves_the_pass_open_for_the_next_run() -> None:
    # Every page read edits an early invoice: the pass slips each time it is read. After its
    # re-reads the run ends with the pass still open, and a quiet run then completes it.
    xero, store, adapter = XeroList(history(60)), Store(), XeroAdapter(page_size=10)
    rng = random.Random(4)

    def churn(committed: int) -> None:
        xero.edit(rng.choice(sorted(xero.records)[:30]))

    assert store.run(adapter, xero, between_pages=churn)
    assert store.cursor is not None and store.cursor.get("page") == 0
    assert store.run(adapter, xero)
    store.assert_equals(xero)


# One step of a schedule: between two committed pages, or between a stop and the next run,
# edit some records (early ones, which shift the most) and create some.
_changes = st.lists(st.tuples(st.sampled_from(["edit", "create"]), st.integers(0, 10_000),
                              st.integers(0, 2)), max_size=4)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 70),
    same_second=st.sampled_from([1, 3, 12]),
    page_size=st.integers(1, 12),
    overlap=st.sampled_from([0, 60]),
    runs=st.lists(st.tuples(st.one_of(st.none(), st.integers(1, 15)),  # stop after k pages
                            st.lists(_changes, max_size=15),  # changes after page i
                            _changes),  # changes after the run
                  min_size=1, max_size=4),
)
def test_any_schedule_of_changes_and_stops_commits_every_record(
    n: int, same_second: int, page_size: int, overlap: int,
    runs: list[tuple[int | None, list[list[tuple[str, int, int]]], list[tuple[str, int, int]]]],
) -> None:
    xero, store = XeroList(history(n, same_second)), Store()
    adapter = XeroAdapter(overlap_seconds=overlap, page_size=page_size)

    def apply(changes: list[tuple[str, int, int]]) -> None:
        for kind, pick, seconds in changes:
            ids = sorted(xero.records, key=lambda k: (xero.records[k], k))
            if kind == "edit" and ids:
                xero.edit(ids[pick % len(ids)], seconds)
            else:
                xero.create(seconds)

    for stop_after, during, after in runs:
        def between(committed: int, during: Any = during) -> None:
            if committed - 1 < len(during):
                apply(during[committed - 1])

        store.run(adapter, xero, stop_after=stop_after, between_pages=between)
        apply(after)
    # then quiet runs: the first may only finish a pass left open by a busy run
    for _ in range(3):
        if store.run(adapter, xero) and store.cursor is not None and "page" not in store.cursor:
            break
    store.run(adapter, xero)
    store.assert_equals(xero)
