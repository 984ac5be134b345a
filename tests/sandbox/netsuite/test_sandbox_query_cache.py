"""The NetSuite sandbox's SuiteQL answers from kept, ordered matches and from the link table's
``nextdoc`` index: every answer equals what a scan of the same rows gives, and a change made
between two pages of a keyset walk shows in the next page and in ``totalResults``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.netsuite.config import AccountSpec, NsConfig
from arconnect.sandbox.netsuite.generator import generate_account
from arconnect.sandbox.netsuite.model import INVOICE, PAYMENT, Account, Table
from arconnect.sandbox.netsuite.mutate import Mutator
from arconnect.sandbox.netsuite.suiteql import Result, Source, _cache, execute, parse

START = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
CAP = 100_000
INVOICES = ("SELECT id, tranid, status, foreignamountunpaid, duedate FROM transaction "
            "WHERE type = 'CustInvc' AND status = 'A' AND id > {after} ORDER BY id")
LINKS = ("SELECT previousdoc, nextdoc, nexttype, foreignamount FROM nexttransactionlinelink "
         "WHERE {where} ORDER BY nextdoc, previousdoc")


class Scan:
    """A table read as a plain ``Source``: no version, no index, so every answer scans."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.columns = table.columns

    def rows(self, after_id: int | None = None) -> Iterable[Mapping[str, Any]]:
        return self.table.rows(after_id)


class Counted(Scan):
    """A versioned source that counts its full reads."""

    def __init__(self, table: Table) -> None:
        super().__init__(table)
        self.reads = 0

    @property
    def version(self) -> int:
        return self.table.version

    def rows(self, after_id: int | None = None) -> Iterable[Mapping[str, Any]]:
        self.reads += 1
        return self.table.rows(after_id)


def _account() -> Account:
    spec = AccountSpec(customers=12, invoices=120, payments=90)
    return generate_account(spec, 0, NsConfig(seed=3), START)


def _run(a: Account, statement: str, tables: Mapping[str, Source] | None = None, *,
         limit: int = 1000, offset: int = 0) -> Result:
    chosen: Mapping[str, Source] = tables if tables is not None else a.tables
    return execute(parse(statement), chosen, tz=a.tz, limit=limit, offset=offset, row_cap=CAP)


def _both(a: Account, statement: str, *, limit: int = 1000, offset: int = 0) -> Result:
    """The answer from the account's tables, checked against a scan of the same rows."""
    fast = _run(a, statement, limit=limit, offset=offset)
    scans = {name: Scan(t) for name, t in a.tables.items()}
    slow = _run(a, statement, scans, limit=limit, offset=offset)
    assert (fast.items, fast.total, fast.has_more) == (slow.items, slow.total, slow.has_more)
    return fast


def _open_ids(a: Account) -> list[int]:
    return [r["id"] for r in a.transactions if r["type"] == INVOICE and r["status"] == "A"]


def test_a_change_between_two_pages_shows_in_the_next_page_and_the_total() -> None:
    a = _account()
    m = Mutator(a, SandboxClock(START), seed=5)
    first = _both(a, INVOICES.format(after=0), limit=5)
    after = int(first.items[-1]["id"])
    ahead = [i for i in _open_ids(a) if i > after]
    assert first.total == len(ahead) + 5

    m.pay_invoice(ahead[0])  # paid in full: no longer open (an in-place change and a touch)
    page = _both(a, INVOICES.format(after=after), limit=5)
    assert page.total == len(ahead) - 1
    assert str(ahead[0]) not in [item["id"] for item in page.items]

    new = m.new_invoice()  # a new row at the end
    page = _both(a, INVOICES.format(after=after), limit=5)
    assert page.total == len(ahead)
    assert _run(a, INVOICES.format(after=new["id"] - 1)).items[0]["id"] == str(new["id"])

    row = a.transactions[ahead[1]]  # edited in place, then saved (as the contract harness does)
    row["duedate"] += timedelta(days=3)
    a.touch(row, START)
    page = _both(a, INVOICES.format(after=after), limit=5)
    assert page.items[0]["duedate"] == f"{row['duedate']:%-m/%-d/%Y}"

    row["status"] = "B"  # a change that is no save: only Table.changed tells the cache
    a.transactions.changed()
    assert _both(a, INVOICES.format(after=after), limit=5).total == len(ahead) - 1

    a.transactions.drop(ahead[2])
    assert _both(a, INVOICES.format(after=after), limit=5).total == len(ahead) - 2


def test_a_balance_recomputed_without_a_save_shows() -> None:
    a = _account()
    statement = "SELECT id, balance FROM customer WHERE balance > 0 AND id > {} ORDER BY id"
    before = _both(a, statement.format(0), limit=3)
    owing = [r for r in a.customers if r["balance"] > 0]
    cust = owing[-1]
    for doc_id in a.customer_docs[cust["id"]]:
        doc = a.transactions.get(doc_id)
        if doc is not None and doc["type"] == INVOICE:
            doc["foreignamountunpaid"] = Decimal("0.00")
        elif doc is not None:
            doc["foreignpaymentamountunused"] = Decimal("0.00")
    a.transactions.changed()  # the customer table stays as it was until the balance moves
    a.settle_customer(cust["id"])
    assert cust["balance"] == 0
    after = _both(a, statement.format(0), limit=3)
    assert after.total == before.total - 1


def test_random_changes_between_pages_never_leave_a_stale_answer() -> None:
    a = _account()
    m = Mutator(a, SandboxClock(START), seed=11)
    statements = [
        INVOICES,
        "SELECT id, entity, foreignpaymentamountunused FROM transaction WHERE type = "
        "'CustPymt' AND id > {after} ORDER BY id",
        "SELECT id, entityid, isinactive, balance FROM customer WHERE id > {after} ORDER BY id",
    ]
    for statement in statements:
        after, pages = 0, 0
        while True:
            page = _both(a, statement.format(after=after), limit=7)
            if not page.items:
                break
            after, pages = int(page.items[-1]["id"]), pages + 1
            m.random(2)
        assert pages >= 2
        walked = _both(a, LINKS.format(where="nexttype = 'CustPymt' AND nextdoc >= 0"), limit=9)
        while walked.has_more:
            low = int(walked.items[-1]["nextdoc"])
            m.random(1)
            walked = _both(a, LINKS.format(where=f"nexttype = 'CustPymt' AND nextdoc > {low}"),
                           limit=9)


def test_a_keyset_walk_reads_the_table_once() -> None:
    a = _account()
    counted = Counted(a.transactions)
    tables: dict[str, Source] = {"transaction": counted}
    after, pages = 0, 0
    while True:
        page = _run(a, INVOICES.format(after=after), tables, limit=4)
        if not page.items:
            break
        after, pages = int(page.items[-1]["id"]), pages + 1
    assert pages > 5 and counted.reads == 1
    a.touch(a.transactions[after], START)  # a save: the next page reads again
    _run(a, INVOICES.format(after=0), tables, limit=4)
    assert counted.reads == 2


def test_kept_answers_are_bounded_per_table() -> None:
    a = _account()
    for day in range(1, 20):
        _run(a, "SELECT id FROM transaction WHERE trandate >= TO_DATE('2026-01-"
             f"{day:02d}', 'YYYY-MM-DD') AND id > 0 ORDER BY id", limit=1)
    assert 1 <= len(_cache[a.transactions]) <= 6


@pytest.mark.parametrize("where", [
    "nextdoc IN ({some})",
    "nextdoc IN ({quoted})",
    "nextdoc IN ({some}, {some}, 1, 999999)",
    "nextdoc IN ({decimals})",
    "nexttype = 'CustPymt' AND nextdoc IN ({some})",
    "previousdoc > 0 AND nextdoc IN ({some})",
])
def test_indexed_link_reads_equal_a_scan(where: str) -> None:
    a = _account()
    m = Mutator(a, SandboxClock(START), seed=2)
    docs = sorted({r["nextdoc"] for r in a.links})
    some = docs[::3]
    fill = {"some": ", ".join(map(str, some)),
            "quoted": ", ".join(f"'{d}'" for d in some),
            "decimals": ", ".join(f"{d}.0" for d in some)}
    statement = LINKS.format(where=where.format(**fill))
    whole = _both(a, statement)
    assert whole.total > 10
    for offset in (0, 4, whole.total - 1):
        _both(a, statement, limit=4, offset=offset)
    # every link's linktype is Payment: the order is the table's own, the index must keep it
    by_type = f"SELECT previousdoc, nextdoc FROM nexttransactionlinelink WHERE nextdoc IN " \
              f"({', '.join(map(str, reversed(some)))}) ORDER BY linktype"
    assert _both(a, by_type).total > 10
    for kind in ("pay_invoice", "apply_credit", "delete", "void_invoice"):
        m._one(kind)  # links added and dropped: the index follows
        _both(a, statement)
        _both(a, LINKS.format(where=f"nextdoc IN ({', '.join(map(str, docs))})"))
    assert a.links.rows_by("nextdoc", [some[0]]) is not None


def test_a_link_table_with_a_non_integer_nextdoc_is_scanned() -> None:
    a = _account()
    doc = next(r["nextdoc"] for r in a.links)
    a.links.put({"previousdoc": 1, "previoustype": INVOICE, "nextdoc": str(doc),
                 "nexttype": PAYMENT, "foreignamount": Decimal("1.00")})
    assert a.links.rows_by("nextdoc", [doc]) is None
    page = _both(a, LINKS.format(where=f"nextdoc IN ({doc})"))
    assert "1" in [item["previousdoc"] for item in page.items]
    _both(a, LINKS.format(where=f"nexttype = 'CustPymt' AND nextdoc >= {doc}"), limit=3)


def test_link_range_pages_equal_a_scan() -> None:
    a = _account()
    docs = sorted({r["nextdoc"] for r in a.links if r["nexttype"] == PAYMENT})
    for low in (docs[0] - 1, docs[0], docs[len(docs) // 2], docs[-1], docs[-1] + 1):
        for op in (">", ">="):
            where = f"nexttype = 'CustPymt' AND nextdoc {op} {low}"
            for offset in (0, 5):
                _both(a, LINKS.format(where=where), limit=5, offset=offset)
            _both(a, LINKS.format(where=f"nexttype = 'CustPymt' AND nextdoc {op} '{low}'"),
                  limit=5)


def test_a_bound_on_a_column_with_nulls_leaves_them_out() -> None:
    a = _account()
    a.customers[min(r["id"] for r in a.customers)]["parent"] = None
    a.customers.changed()
    every = _both(a, "SELECT id, parent FROM customer WHERE isinactive = 'F' ORDER BY parent, id")
    assert None in [item.get("parent") for item in every.items]
    for where in ("parent >= 0", "parent > 0", "parent > '0'"):
        page = _both(a, f"SELECT id, parent FROM customer WHERE isinactive = 'F' AND {where} "
                        "ORDER BY parent, id", limit=2)
        assert page.total == sum(1 for item in every.items if item.get("parent"))
