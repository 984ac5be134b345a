"""The NetSuite adapter against a small model of SuiteQL: set-up calls, keyset pages, the
incremental cursor, applications, tombstones, time zones and the reconcile reads."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from arconnect.adapters.base import Page, TenantInfo
from arconnect.adapters.netsuite.adapter import NetSuiteAdapter, local_to_utc, shift_local
from arconnect.adapters.netsuite.settings import NsSettings

ACCOUNT = "1234567_SB1"
TENANT = TenantInfo(ACCOUNT, "Acme")
LA = ZoneInfo("America/Los_Angeles")


def adapter(**overrides: Any) -> NetSuiteAdapter:
    return NetSuiteAdapter(NsSettings(**overrides))


def invoices(n: int, *, start: int = 1, stamp: str = "2026-11-30 09:00:00",
             **fields: Any) -> list[dict[str, Any]]:
    return [{"id": str(i), "tranid": f"INV{i}", "type": "CustInvc", "entity": "107",
             "trandate": "2026-11-01", "duedate": "2026-12-01", "currency": "1",
             "exchangerate": "1", "foreigntotal": "100.00", "foreignamountunpaid": "100.00",
             "foreignamountpaid": "0.00", "voided": "F", "lastmodified": stamp, **fields}
            for i in range(start, start + n)]


def drain(pages: Any) -> list[Page]:
    return list(pages)


def test_setup_calls_read_currency_subsidiaries_and_concurrency(ns: Any, client: Any) -> None:
    org = adapter().organisation(client, TENANT)
    assert org.base_currency == "USD"
    assert org.name == "Acme Holdings Inc."
    assert org.timezone == "America/Los_Angeles"
    assert org.extra["oneworld"] is True
    assert org.extra["subsidiaries"]["2"] == {"name": "Acme UK Ltd", "currency": "GBP"}
    assert org.extra["concurrency"] == 15
    assert [getattr(i, "concurrency", None) for i in client.observed] == [15]
    assert [c.table for c in ns.calls] == ["currency", "subsidiary"]


def test_not_oneworld_and_not_admin(ns: Any, client: Any) -> None:
    ns.refuse["subsidiary"] = (400, "Invalid search query. Detailed unprocessed description "
                                    "follows. Search error occurred: Record 'subsidiary' was "
                                    "not found.")
    ns.governance = (403, {"title": "Forbidden", "status": 403, "o:errorDetails": [
        {"detail": "Permission denied", "o:errorCode": "INSUFFICIENT_PERMISSION"}]})
    org = adapter(concurrency=4).organisation(client, TENANT)
    assert org.base_currency == "USD"  # the isbasecurrency currency
    assert org.extra["oneworld"] is False
    assert org.extra["concurrency"] == 4
    assert client.observed == []


def test_keyset_pages_2500_rows_in_three_calls_at_offset_zero(ns: Any, client: Any) -> None:
    ns.tables["transaction"] = invoices(2500)
    pages = drain(adapter().fetch(client, TENANT, "invoices", None))
    calls = ns.suiteql_calls("transaction")
    assert len(calls) == 3
    assert {c.offset for c in calls} == {0}
    assert {c.limit for c in calls} == {1000}
    assert [next(x for x in c.conditions if x.startswith("id >")) for c in calls] == [
        "id > 0", "id > 1000", "id > 2000"]
    assert all("type = 'CustInvc'" in c.conditions for c in calls)
    rows = [r for p in pages for r in p.records if not r.get("$deleted")]
    assert len(rows) == 2500 and len({r["id"] for r in rows}) == 2500
    # each page commits where a stop resumes; the last closes the pass
    assert pages[0].next_cursor["after_id"] == 1000
    assert pages[1].next_cursor["after_id"] == 2000
    assert pages[-1].done and pages[-1].next_cursor["after_id"] == 0


def test_a_stopped_pass_resumes_after_the_last_id_then_reads_what_changed_behind_it(
        ns: Any, client: Any) -> None:
    ns.tables["transaction"] = invoices(2500, stamp="2026-11-30 09:00:00")
    first = next(iter(adapter().fetch(client, TENANT, "invoices", None)))
    assert first.next_cursor["mark"] == "2026-11-30 09:00:00"
    # while the run is stopped, a row it had read changes
    ns.tables["transaction"][4].update(foreignamountunpaid="0.00",
                                       lastmodified="2026-11-30 11:00:00")
    ns.tables["transaction"] = [r for r in ns.tables["transaction"]
                                if r["id"] == "5" or int(r["id"]) > 1000]
    ns.calls.clear()
    pages = drain(adapter().fetch(client, TENANT, "invoices", first.next_cursor))
    calls = ns.suiteql_calls("transaction")
    assert [c for c in calls[0].conditions if c.startswith("id >")] == ["id > 1000"]
    # the resumed pass (2 pages), then one pass from the mark less the overlap
    assert len(calls) == 4
    assert calls[2].conditions[1:] == [
        "lastmodifieddate >= TO_TIMESTAMP('2026-11-30 08:00:00', 'YYYY-MM-DD HH24:MI:SS')",
        "id > 0"]
    again = [r for p in pages[2:] for r in p.records if r.get("id") == "5"]
    assert again and again[0]["$state"] == "paid"
    closed = pages[-1].next_cursor
    assert (closed["since"], closed["after_id"]) == ("2026-11-30 10:00:00", 0)


def test_incremental_cursor_keeps_full_local_timestamps_with_the_overlap(ns: Any,
                                                                          client: Any) -> None:
    ns.tables["transaction"] = (invoices(2, stamp="2026-11-30 09:00:00")
                                + invoices(1, start=3, stamp="2026-11-30 10:13:07"))
    pages = drain(adapter().fetch(client, TENANT, "invoices", None))
    cursor = pages[-1].next_cursor
    assert cursor["high"] == "2026-11-30 10:13:07"
    assert cursor["since"] == "2026-11-30 09:13:07"  # an hour before, full timestamp
    assert cursor["after_id"] == 0
    ns.calls.clear()
    drain(adapter().fetch(client, TENANT, "invoices", cursor))
    [call] = ns.suiteql_calls("transaction")
    assert ("lastmodifieddate >= TO_TIMESTAMP('2026-11-30 09:13:07', 'YYYY-MM-DD HH24:MI:SS')"
            in call.conditions)
    # a run that reads nothing new keeps its place
    assert pages[-1].next_cursor == drain(adapter().fetch(client, TENANT, "invoices",
                                                          cursor))[-1].next_cursor


def test_a_long_pass_starts_the_next_one_before_it_began(ns: Any, client: Any) -> None:
    """Rows change while a pass reads by id: those behind its last id are not read again by
    it, so the next pass starts from when the server answered its first page (its Date
    header), less the overlap, not from the newest change it read."""
    ns.date = "Mon, 30 Nov 2026 17:30:00 GMT"  # 09:30 in Los Angeles
    ns.tables["transaction"] = (invoices(3, stamp="2026-11-30 09:00:00")
                                + invoices(3, start=4, stamp="2026-11-30 10:13:07"))
    pages = drain(adapter(page_size=2).fetch(client, TENANT, "invoices", None))
    assert len(ns.suiteql_calls("transaction")) == 3
    closed = pages[-1].next_cursor
    assert closed["high"] == "2026-11-30 10:13:07"
    assert closed["since"] == "2026-11-30 08:30:00"
    # a pass that reads in one page (nothing can change behind it) keeps the newest change
    ns.calls.clear()
    ns.date = "Mon, 30 Nov 2026 18:20:00 GMT"  # 10:20 in Los Angeles
    again = drain(adapter().fetch(client, TENANT, "invoices", closed))
    assert again[-1].next_cursor["since"] == "2026-11-30 09:13:07"


def test_transaction_keys_state_and_base_amounts(ns: Any, client: Any) -> None:
    ns.tables["customer"] = [{"id": "107", "subsidiary": "1"}, {"id": "108", "subsidiary": "2"}]
    ns.tables["transaction"] = [
        *invoices(1, foreignamountunpaid="40.00"),
        *invoices(1, start=2, foreignamountunpaid="0.00"),
        *invoices(1, start=3, voided="T", foreigntotal="0.00", foreignamountunpaid="0.00"),
        *invoices(1, start=4, currency="2", exchangerate="1.1", foreignamountunpaid="10.00"),
        # a UK subsidiary's customer: the rate converts into GBP, not the account's USD
        *invoices(1, start=5, entity="108", currency="2", exchangerate="0.85")]
    rows = {r["id"]: r for p in adapter().fetch(client, TENANT, "invoices", None)
            for r in p.records}
    assert [rows[i]["$state"] for i in "123"] == ["open", "paid", "voided"]
    assert rows["1"]["$open"] == "40.00" and rows["1"]["$currency"] == "USD"
    assert rows["1"]["$updated"] == "2026-11-30T17:00:00+00:00"
    assert Decimal(rows["4"]["$total_base"]) == Decimal("110.000")
    assert Decimal(rows["4"]["$open_base"]) == Decimal("11.000")
    assert rows["4"]["$subsidiary_currency"] == "USD"
    assert "$rate" not in rows["5"] and "$total_base" not in rows["5"]
    assert rows["5"]["$subsidiary_currency"] == "GBP"
    # the subsidiaries of the page's customers: one IN query
    [sub] = [c for c in ns.suiteql_calls("customer")]
    assert "id IN (107, 108)" in sub.conditions


CHANGED_SINCE = {"since": "2026-11-30 08:00:00", "after_id": 0}


def test_links_of_changes_are_read_per_page_and_become_applications(ns: Any,
                                                                     client: Any) -> None:
    ns.tables["transaction"] = [
        {**p, "type": "CustPymt", "foreignpaymentamountunused": "0.00"}
        for p in invoices(3, start=20)]
    ns.tables["nexttransactionlinelink"] = [
        {"previousdoc": "5", "previoustype": "CustInvc", "nextdoc": "20", "nexttype": "CustPymt",
         "linktype": "Payment", "foreignamount": "60.00", "linkdate": "2026-11-20"},
        {"previousdoc": "6", "previoustype": "CustInvc", "nextdoc": "20", "nexttype": "CustPymt",
         "linktype": "Payment", "foreignamount": "40.00", "linkdate": "2026-11-21"},
        {"previousdoc": "7", "previoustype": "CustInvc", "nextdoc": "22", "nexttype": "CustPymt",
         "linktype": "Payment", "foreignamount": "100.00", "linkdate": "2026-11-22"}]
    pages = drain(NetSuiteAdapter(NsSettings(page_size=2)).fetch(client, TENANT, "payments",
                                                                  CHANGED_SINCE))
    links = ns.suiteql_calls("nexttransactionlinelink")
    assert [c.conditions for c in links] == [["nextdoc IN (20, 21)"], ["nextdoc IN (22)"]]
    rows = {r["id"]: r for p in pages for r in p.records}
    assert rows["20"]["$applied"] == [
        {"id": "20:5", "source_kind": "payment", "source": "20", "invoice": "5",
         "amount": "60.00", "amount_base": "60.00", "date": "2026-11-20"},
        {"id": "20:6", "source_kind": "payment", "source": "20", "invoice": "6",
         "amount": "40.00", "amount_base": "40.00", "date": "2026-11-21"}]
    assert rows["21"]["$applied"] == []
    assert rows["22"]["$applied"][0]["invoice"] == "7"


def test_links_of_changes_beyond_one_reply_are_offset_paged(ns: Any, client: Any) -> None:
    ns.tables["transaction"] = [{**invoices(1, start=20)[0], "type": "CustCred",
                                 "foreignpaymentamountunused": "0.00"}]
    ns.tables["nexttransactionlinelink"] = [
        {"previousdoc": str(1000 + i), "previoustype": "CustInvc", "nextdoc": "20",
         "nexttype": "CustCred", "foreignamount": "1.00", "linkdate": "2026-11-20"}
        for i in range(1500)]
    pages = drain(adapter().fetch(client, TENANT, "credit_memos", CHANGED_SINCE))
    links = ns.suiteql_calls("nexttransactionlinelink")
    assert [c.offset for c in links] == [0, 1000]
    [memo] = [r for p in pages for r in p.records if r["id"] == "20"]
    assert len(memo["$applied"]) == 1500
    assert memo["$applied"][0]["source_kind"] == "credit_note"


def payments(ids: Any) -> list[dict[str, Any]]:
    return [{**invoices(1, start=i)[0], "type": "CustPymt", "foreignpaymentamountunused": "0.00"}
            for i in ids]


def link(doc: int, invoice: int, amount: str = "1.00", kind: str = "CustPymt"
         ) -> dict[str, Any]:
    return {"previousdoc": str(invoice), "previoustype": "CustInvc", "nextdoc": str(doc),
            "nexttype": kind, "linktype": "Payment", "foreignamount": amount,
            "linkdate": "2026-11-20"}


def applied_by_page(pages: list[Page]) -> list[dict[str, Any]]:
    return [{r["id"]: r["$applied"] for r in p.records if not r.get("$deleted")}
            for p in pages]


def test_a_full_read_streams_links_at_the_fewest_calls(ns: Any, client: Any) -> None:
    # 2,500 payments (ids apart: invoices sit between them), one in twenty applied twice
    ids = range(2, 5002, 2)
    ns.tables["transaction"] = payments(ids)
    ns.tables["nexttransactionlinelink"] = [
        link(doc, 10_000 + doc * 2 + k, f"{k + 1}.00")
        for n, doc in enumerate(ids) for k in range(2 if n % 20 == 0 else 1)]
    # a credit memo's link is not the payments' (the stream asks for CustPymt only)
    ns.tables["nexttransactionlinelink"].append(link(3, 99, kind="CustCred"))
    total = len(ns.tables["nexttransactionlinelink"]) - 1
    assert total == 2625
    pages = drain(adapter().fetch(client, TENANT, "payments", None))
    calls = ns.suiteql_calls("nexttransactionlinelink")
    entity_pages = len(ns.suiteql_calls("transaction"))
    assert entity_pages == 3
    # the links fill their replies: ceil(2625 / 1000) calls, a restart costing at most one
    # call per page of payments
    assert len(calls) <= math.ceil(total / 1000) + entity_pages
    assert len(calls) == 3
    assert {c.offset for c in calls} == {0}
    assert all(c.conditions[0] == "nexttype = 'CustPymt'" for c in calls)
    assert calls[0].conditions[1] == "nextdoc > 0"
    # a reply cut inside a payment's links starts the next one at that payment
    assert all(c.conditions[1].startswith("nextdoc >= ") for c in calls[1:])
    streamed = applied_by_page(pages)
    assert sum(len(a) for page in streamed for a in page.values()) == total
    # the same pages as a read of changes gives them, each page's links read by its ids
    ns.calls.clear()
    changed = drain(adapter().fetch(client, TENANT, "payments", CHANGED_SINCE))
    assert all("IN" in c.conditions[0] for c in ns.suiteql_calls("nexttransactionlinelink"))
    assert streamed == applied_by_page(changed)
    assert streamed[0]["2"] == [
        {"id": "2:10004", "source_kind": "payment", "source": "2", "invoice": "10004",
         "amount": "1.00", "amount_base": "1.00", "date": "2026-11-20"},
        {"id": "2:10005", "source_kind": "payment", "source": "2", "invoice": "10005",
         "amount": "2.00", "amount_base": "2.00", "date": "2026-11-20"}]


def test_a_payment_whose_links_straddle_a_reply_is_complete(ns: Any, client: Any) -> None:
    # 997 payments with one link, payment 998 with five (rows 998 to 1002: the first reply
    # ends after three of them), then 202 more with one
    ns.tables["transaction"] = payments(range(1, 1201))
    ns.tables["nexttransactionlinelink"] = [
        link(doc, 5000 + doc * 10 + k) for doc in range(1, 1201)
        for k in range(5 if doc == 998 else 1)]
    pages = drain(adapter(page_size=500).fetch(client, TENANT, "payments", None))
    calls = ns.suiteql_calls("nexttransactionlinelink")
    assert [c.conditions[1] for c in calls] == ["nextdoc > 0", "nextdoc >= 998"]
    rows = {r["id"]: r for p in pages for r in p.records}
    assert [a["invoice"] for a in rows["998"]["$applied"]] == [
        str(5000 + 9980 + k) for k in range(5)]
    assert all(len(rows[str(d)]["$applied"]) == 1 for d in range(1, 1201) if d != 998)
    # each page carries its own payments' links, complete when it is yielded
    assert [len(p.records) for p in pages[:3]] == [500, 500, 200]


def test_a_resumed_full_read_streams_links_after_the_last_id(ns: Any, client: Any) -> None:
    ns.tables["transaction"] = payments(range(1, 1501))
    ns.tables["nexttransactionlinelink"] = [link(doc, 9000 + doc) for doc in range(1, 1501)]
    first = next(iter(adapter().fetch(client, TENANT, "payments", None)))
    assert first.next_cursor["since"] is None and first.next_cursor["after_id"] == 1000
    ns.calls.clear()
    pages = drain(adapter().fetch(client, TENANT, "payments", first.next_cursor))
    calls = ns.suiteql_calls("nexttransactionlinelink")
    assert calls[0].conditions == ["nexttype = 'CustPymt'", "nextdoc > 1000"]
    resumed = pages[0].records
    assert [r["id"] for r in resumed][:1] == ["1001"] and len(resumed) == 500
    assert all(r["$applied"][0]["invoice"] == str(9000 + int(r["id"])) for r in resumed)
    # the pass from the mark that follows reads changes: its links by the pages' ids
    assert all(c.conditions[0].startswith("nextdoc IN (") for c in calls[1:])
    assert len(calls) > 1


def test_a_document_with_more_links_than_a_reply_is_read_alone(ns: Any, client: Any) -> None:
    ns.tables["transaction"] = [{**p, "type": "CustCred"} for p in payments([20, 21])]
    ns.tables["nexttransactionlinelink"] = [
        link(20, 1000 + i, kind="CustCred") for i in range(1500)] + [
        link(21, 7, kind="CustCred"), link(21, 8, kind="CustCred")]
    pages = drain(adapter().fetch(client, TENANT, "credit_memos", None))
    calls = ns.suiteql_calls("nexttransactionlinelink")
    assert [(c.conditions, c.offset) for c in calls] == [
        (["nexttype = 'CustCred'", "nextdoc > 0"], 0),
        (["nextdoc IN (20)"], 0), (["nextdoc IN (20)"], 1000),
        (["nexttype = 'CustCred'", "nextdoc > 20"], 0)]
    rows = {r["id"]: r for p in pages for r in p.records}
    assert len(rows["20"]["$applied"]) == 1500
    assert [a["invoice"] for a in rows["21"]["$applied"]] == ["7", "8"]


def test_deletes_become_tombstones_after_the_last_page(ns: Any, client: Any) -> None:
    ns.tables["transaction"] = invoices(2)
    ns.tables["deletedrecord"] = [
        {"recordid": "9", "recordtype": "invoice", "name": "INV9",
         "deleted": "2026-11-30 08:00:00"},
        {"recordid": "10", "recordtype": "customer", "name": "X", "deleted": "2026-11-30 08:30:00"}]
    pages = drain(adapter().fetch(client, TENANT, "invoices", None))
    assert [r["id"] for r in pages[-1].records] == ["9"]
    assert pages[-1].records[0]["$deleted"] is True
    assert pages[-1].done and not any(p.done for p in pages[:-1])
    assert pages[-1].next_cursor["deleted_since"] == "2026-11-30 07:00:00"
    [call] = ns.suiteql_calls("deletedrecord")
    assert call.conditions == ["recordtype = 'invoice'"]
    ns.calls.clear()
    drain(adapter().fetch(client, TENANT, "invoices", pages[-1].next_cursor))
    [call] = ns.suiteql_calls("deletedrecord")
    assert ("deleteddate >= TO_TIMESTAMP('2026-11-30 07:00:00', 'YYYY-MM-DD HH24:MI:SS')"
            in call.conditions)


def test_customers_carry_names_terms_category_and_dunning(ns: Any, client: Any) -> None:
    ns.tables["customer"] = [
        {"id": "107", "entityid": "C107", "companyname": "Blue Co", "isperson": "F",
         "isinactive": "F", "parent": None, "currency": "1", "terms": "2", "category": "3",
         "creditlimit": "5000.00", "creditholdoverride": "AUTO", "subsidiary": "2",
         "custentity_3805_dunning_procedure": "6", "lastmodified": "2026-11-30 09:00:00"},
        {"id": "108", "entityid": "Jane Doe", "companyname": None, "isperson": "T",
         "parent": "107", "lastmodified": "2026-11-30 09:00:00"}]
    pages = drain(adapter().fetch(client, TENANT, "customers", None))
    rows = {r["id"]: r for p in pages for r in p.records}
    assert rows["107"]["$name"] == "Blue Co" and rows["108"]["$name"] == "Jane Doe"
    assert (rows["107"]["$terms_name"], rows["107"]["$terms_days"]) == ("Net 30", "30")
    assert rows["107"]["$category_name"] == "Retail"
    assert rows["107"]["$dunning_procedure_name"] == "Standard"
    assert rows["107"]["$subsidiary_currency"] == "GBP"
    tables = [c.table for c in ns.calls]
    assert tables.count("term") == tables.count("customercategory") == 1
    assert "custentity_3805_dunning_procedure" in ns.suiteql_calls("customer")[0].statement


def test_customers_without_the_dunning_suiteapp(ns: Any, client: Any) -> None:
    ns.tables["customer"] = [{"id": "1", "entityid": "A", "lastmodified": "2026-11-30 09:00:00"}]
    ns.refuse["customrecord_3805_dunning_procedure"] = (
        400, "Invalid search query. Search error occurred: Record "
             "'customrecord_3805_dunning_procedure' was not found.")
    pages = drain(adapter().fetch(client, TENANT, "customers", None))
    assert [r["id"] for p in pages for r in p.records] == ["1"]
    assert "custentity_3805" not in ns.suiteql_calls("customer")[0].statement


def test_fetch_ids_and_fetch_open(ns: Any, client: Any) -> None:
    ns.tables["transaction"] = invoices(3) + invoices(2, start=4, foreignamountunpaid="0.00")
    a = adapter()
    got = [r["id"] for p in a.fetch_ids(client, TENANT, "invoices", ["2", "5", "x"])
           for r in p.records]
    assert got == ["2", "5"]
    assert any("id IN (2, 5)" in c.conditions for c in ns.suiteql_calls("transaction"))
    ns.calls.clear()
    opened = [r["id"] for p in a.fetch_open(client, TENANT, "invoices") for r in p.records]
    assert opened == ["1", "2", "3"]
    assert "foreignamountunpaid > 0" in ns.suiteql_calls("transaction")[0].conditions
    assert list(a.fetch_open(client, TENANT, "customers")) == []


def test_dst_fall_back_timestamps() -> None:
    # 1:30 on 1 November 2026 happens twice in Los Angeles; the first (PDT, UTC-7) is read
    assert local_to_utc("2026-11-01 01:30:00", LA) == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert local_to_utc("2026-11-01 02:30:00", LA) == datetime(2026, 11, 1, 10, 30, tzinfo=UTC)
    # an hour before 02:30 PST is 01:30 PST, which the account renders as 01:30: the overlap
    # going back through the change lands on the right wall time
    assert shift_local("2026-11-01 02:30:00", 3600, LA) == "2026-11-01 01:30:00"
    assert shift_local("2026-11-01 01:30:00", 3600, LA) == "2026-11-01 00:30:00"
    # spring forward: 3:30 PDT minus an hour is 1:30 PST
    assert shift_local("2026-03-08 03:30:00", 3600, LA) == "2026-03-08 01:30:00"


def test_updated_in_utc_across_the_fall_back(ns: Any, client: Any) -> None:
    ns.tables["transaction"] = invoices(1, stamp="2026-11-01 01:59:59") + invoices(
        1, start=2, stamp="2026-11-01 02:00:00")
    rows = [r for p in adapter().fetch(client, TENANT, "invoices", None) for r in p.records]
    assert [r["$updated"] for r in rows] == ["2026-11-01T08:59:59+00:00",
                                             "2026-11-01T10:00:00+00:00"]


def test_unknown_time_zone_is_a_config_error() -> None:
    from arconnect.errors import ConfigError

    with pytest.raises(ConfigError, match="ARCONNECT_NETSUITE_TIMEZONE"):
        adapter(timezone="Mars/Olympus")


def test_a_row_without_id_or_a_broken_reply_fails_the_page(ns: Any, client: Any) -> None:
    from arconnect.errors import PageError

    ns.tables["transaction"] = invoices(2) + [{"tranid": "X", "type": "CustInvc",
                                               "lastmodified": "2026-11-30 09:00:00"}]
    ns.tables["transaction"][-1]["id"] = "7a"
    with pytest.raises(PageError, match="entity invoices, page 1: row 3 .*no integer id"):
        drain(adapter().fetch(client, TENANT, "invoices", None))


def test_subsidiaries_the_role_may_not_read(ns: Any, client: Any) -> None:
    from arconnect.errors import ConfigError

    class Refusing(type(client)):  # type: ignore[misc]
        def request(self, method: str, path: str, **kw: Any) -> Any:
            if "subsidiary" in str((kw.get("json") or {}).get("q", "")).split("WHERE")[0]:
                raise ConfigError("HTTP 403: INSUFFICIENT_PERMISSION")
            return super().request(method, path, **kw)

    refusing = Refusing()
    ns.tables["transaction"] = invoices(1) + invoices(1, start=2, currency="2",
                                                       exchangerate="1.1")
    a = adapter()
    org = a.organisation(refusing, TENANT)
    assert org.extra["oneworld"] is True and org.base_currency == "USD"
    rows = {r["id"]: r for p in a.fetch(refusing, TENANT, "invoices", None) for r in p.records}
    assert rows["1"]["$total_base"] == "100.00"  # in the base currency: no rate needed
    assert "$total_base" not in rows["2"]  # the subsidiary's currency is unknown
    assert ns.suiteql_calls("customer") == []
