"""SuiteQL in the NetSuite sandbox: the adapter's statements parse and answer the right rows;
everything else is refused with NetSuite's wording; time zones, keyset pages and rendering."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from arconnect.sandbox.netsuite.suiteql import (
    SEARCH_ERROR,
    Column,
    OrderKey,
    Query,
    Source,
    SuiteQLError,
    execute,
    parse,
)

LA = ZoneInfo("America/Los_Angeles")
CAP = 100_000


class Rows:
    """An in-memory table: rows kept in id order (or as given, without an id column)."""

    def __init__(self, columns: Iterable[str], rows: Iterable[dict[str, Any]]) -> None:
        self.columns = frozenset(columns)
        self.data: list[dict[str, Any]] = [{c: r.get(c) for c in self.columns} for r in rows]
        if "id" in self.columns:
            self.data.sort(key=lambda r: r["id"])
        self.after: list[int | None] = []

    def rows(self, after_id: int | None = None) -> Iterable[Mapping[str, Any]]:
        self.after.append(after_id)
        if after_id is None:
            return iter(self.data)
        return (r for r in self.data if r["id"] > after_id)


CUSTOMER = ["id", "entityid", "companyname", "email", "isinactive", "isperson", "parent",
            "currency", "terms", "category", "creditlimit", "creditholdoverride", "subsidiary",
            "balance", "datecreated", "lastmodifieddate", "custentity_3805_dunning_procedure"]
TRANSACTION = ["id", "tranid", "type", "entity", "trandate", "duedate", "status", "currency",
               "exchangerate", "foreigntotal", "foreignamountpaid", "foreignamountunpaid",
               "foreignpaymentamountused", "foreignpaymentamountunused", "voided", "memo",
               "otherrefnum", "createddate", "lastmodifieddate"]


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def account() -> dict[str, Rows]:
    customers = Rows(CUSTOMER, [
        {"id": 4711, "entityid": "C-4711", "companyname": "Acme", "email": "ap@acme.test",
         "isinactive": False, "isperson": False, "currency": 1, "terms": 2, "category": 3,
         "creditlimit": Decimal("5000.00"), "creditholdoverride": "AUTO", "subsidiary": 1,
         "lastmodifieddate": utc(2026, 11, 30, 16, 0)},
        {"id": 4712, "entityid": "C-4712", "companyname": "Birch", "isinactive": False,
         "isperson": False, "parent": 4711, "currency": 1, "terms": 2,
         "creditlimit": Decimal("1250.00"), "creditholdoverride": "ON", "subsidiary": 1,
         "lastmodifieddate": utc(2026, 11, 30, 18, 0)},  # 10:00 in Los Angeles
        {"id": 4713, "entityid": "C-4713", "companyname": "Cedar", "isinactive": True,
         "isperson": True, "currency": 2, "subsidiary": 2,
         "lastmodifieddate": utc(2026, 11, 30, 16, 59, 59)},  # 08:59:59 in Los Angeles
        {"id": 4714, "entityid": "C-4714", "companyname": "Dune", "isinactive": False,
         "isperson": False, "currency": 1, "subsidiary": 1,
         "lastmodifieddate": utc(2026, 11, 30, 17, 0)},  # 09:00:00 in Los Angeles
    ])
    transactions = Rows(TRANSACTION, [
        {"id": 10, "tranid": "INV10", "type": "CustInvc", "entity": 4711,
         "trandate": date(2026, 1, 5), "duedate": date(2026, 2, 4), "currency": 1,
         "exchangerate": Decimal("1.0"), "foreigntotal": Decimal("100.00"),
         "foreignamountpaid": Decimal("100.00"), "foreignamountunpaid": Decimal("0.00"),
         "voided": False, "lastmodifieddate": utc(2026, 12, 1, 12, 0)},
        {"id": 11, "tranid": "INV11", "type": "CustInvc", "entity": 4712,
         "trandate": date(2026, 1, 6), "duedate": date(2026, 2, 5), "currency": 1,
         "exchangerate": Decimal("1.25"), "foreigntotal": Decimal("250.50"),
         "foreignamountpaid": Decimal("0.00"), "foreignamountunpaid": Decimal("250.50"),
         "voided": False, "otherrefnum": "PO-7", "lastmodifieddate": utc(2026, 11, 1, 0, 0)},
        {"id": 12, "tranid": "PYT12", "type": "CustPymt", "entity": 4711,
         "trandate": date(2026, 1, 7), "currency": 1, "exchangerate": Decimal("1.0"),
         "foreigntotal": Decimal("100.00"), "foreignpaymentamountunused": Decimal("0.00"),
         "voided": False, "lastmodifieddate": utc(2026, 12, 1, 12, 0)},
        {"id": 13, "tranid": "CM13", "type": "CustCred", "entity": 4712,
         "trandate": date(2026, 1, 8), "currency": 1, "exchangerate": Decimal("1.0"),
         "foreigntotal": Decimal("20.00"), "foreignpaymentamountunused": Decimal("20.00"),
         "voided": False, "lastmodifieddate": utc(2026, 12, 1, 12, 0)},
        {"id": 14, "tranid": "INV14", "type": "CustInvc", "entity": 4711,
         "trandate": date(2026, 1, 9), "duedate": date(2026, 2, 8), "currency": 1,
         "exchangerate": Decimal("1.0"), "foreigntotal": Decimal("0.00"),
         "foreignamountpaid": Decimal("0.00"), "foreignamountunpaid": Decimal("0.00"),
         "voided": True, "lastmodifieddate": utc(2026, 12, 2, 12, 0)},
        {"id": 15, "tranid": "INV15", "type": "CustInvc", "entity": 4713,
         "trandate": date(2026, 1, 10), "duedate": date(2026, 2, 9), "currency": 2,
         "exchangerate": Decimal("0.73"), "foreigntotal": Decimal("80"),
         "foreignamountpaid": Decimal("0"), "foreignamountunpaid": Decimal("80"),
         "voided": False, "lastmodifieddate": utc(2026, 12, 3, 12, 0)},
    ])
    links = Rows(["previousdoc", "previousline", "previoustype", "nextdoc", "nextline",
                  "nexttype", "linktype", "foreignamount", "amount", "linkdate"], [
        {"previousdoc": 10, "previoustype": "CustInvc", "nextdoc": 12, "nexttype": "CustPymt",
         "linktype": "Payment", "foreignamount": Decimal("60.00"), "linkdate": date(2026, 1, 7)},
        {"previousdoc": 11, "previoustype": "CustInvc", "nextdoc": 13, "nexttype": "CustCred",
         "linktype": "Payment", "foreignamount": Decimal("20.00"), "linkdate": date(2026, 1, 8)},
        {"previousdoc": 9, "previoustype": "CustInvc", "nextdoc": 12, "nexttype": "CustPymt",
         "linktype": "Payment", "foreignamount": Decimal("40.00"), "linkdate": date(2026, 1, 7)},
        {"previousdoc": 5, "previoustype": "CustInvc", "nextdoc": 20, "nexttype": "CustPymt",
         "linktype": "Payment", "foreignamount": Decimal("5.00"), "linkdate": date(2026, 1, 9)},
    ])
    deleted = Rows(["recordid", "recordtype", "name", "deleteddate"], [
        {"recordid": 30, "recordtype": "invoice", "name": "INV30",
         "deleteddate": utc(2026, 12, 1, 10, 0)},
        {"recordid": 7, "recordtype": "customer", "name": "Old Co",
         "deleteddate": utc(2026, 12, 1, 10, 0)},
        {"recordid": 31, "recordtype": "journalentry", "name": "JE31",
         "deleteddate": utc(2026, 12, 1, 11, 0)},
        {"recordid": 32, "recordtype": "creditmemo", "name": "CM32",
         "deleteddate": utc(2026, 11, 29, 11, 0)},
        {"recordid": 3, "recordtype": "customerpayment", "name": "PYT3",
         "deleteddate": utc(2026, 11, 30, 17, 0)},
    ])
    return {
        "customer": customers, "transaction": transactions, "nexttransactionlinelink": links,
        "deletedrecord": deleted,
        "currency": Rows(["id", "name", "symbol", "isbasecurrency"], [
            {"id": 2, "name": "Canadian Dollar", "symbol": "CAD", "isbasecurrency": False},
            {"id": 1, "name": "US Dollar", "symbol": "USD", "isbasecurrency": True}]),
        "subsidiary": Rows(["id", "name", "currency", "parent", "iselimination", "isinactive"], [
            {"id": 1, "name": "Honeycomb US", "currency": 1},
            {"id": 2, "name": "Honeycomb Canada", "currency": 2, "parent": 1}]),
        "customercategory": Rows(["id", "name", "isinactive"], [
            {"id": 3, "name": "Retail", "isinactive": False},
            {"id": 4, "name": "Wholesale", "isinactive": True}]),
        "term": Rows(["id", "name", "daysuntilnetdue"], [
            {"id": 2, "name": "Net 30", "daysuntilnetdue": 30},
            {"id": 1, "name": "Due on receipt", "daysuntilnetdue": 0}]),
        "customrecord_3805_dunning_procedure": Rows(
            ["id", "name", "custrecord_3805_default_dunning_manager"], [
                {"id": 1, "name": "Standard", "custrecord_3805_default_dunning_manager": -5},
                {"id": 2, "name": "Gentle", "custrecord_3805_default_dunning_manager": -5}]),
    }


def run(statement: str, tables: Mapping[str, Source] | None = None, *, limit: int = 1000,
        offset: int = 0, row_cap: int = CAP, omit_null: bool = True) -> Any:
    return execute(parse(statement), tables if tables is not None else account(), tz=LA,
                   limit=limit, offset=offset, row_cap=row_cap, omit_null=omit_null)


def column(result: Any, key: str) -> list[Any]:
    return [item.get(key) for item in result.items]


# ---- the adapter's templates ----------------------------------------------------------------
def test_set_up_calls_read_currencies_and_subsidiaries() -> None:
    result = run("SELECT id, symbol, isbasecurrency FROM currency ORDER BY id")
    assert result.items == [{"links": [], "id": "1", "symbol": "USD", "isbasecurrency": "T"},
                            {"links": [], "id": "2", "symbol": "CAD", "isbasecurrency": "F"}]
    assert (result.total, result.has_more) == (2, False)
    result = run("SELECT id, name, currency, parent FROM subsidiary ORDER BY id")
    assert result.items == [
        {"links": [], "id": "1", "name": "Honeycomb US", "currency": "1"},
        {"links": [], "id": "2", "name": "Honeycomb Canada", "currency": "2", "parent": "1"}]


def test_customer_keyset_page_since_a_local_time() -> None:
    tables = account()
    statement = (
        "SELECT id, entityid, companyname, email, isinactive, isperson, parent, currency, "
        "terms, category, creditlimit, creditholdoverride, subsidiary, "
        "TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified FROM customer "
        "WHERE lastmodifieddate >= TO_TIMESTAMP('2026-11-30 09:00:00', 'YYYY-MM-DD HH24:MI:SS')"
        " AND id > 4711 ORDER BY id")
    result = run(statement, tables)
    # 4711 is below the id bound; 4713 changed at 08:59:59 local, one second too early
    assert column(result, "id") == ["4712", "4714"]
    assert result.items[0] == {
        "links": [], "id": "4712", "entityid": "C-4712", "companyname": "Birch",
        "isinactive": "F", "isperson": "F", "parent": "4711", "currency": "1", "terms": "2",
        "creditlimit": "1250.00", "creditholdoverride": "ON", "subsidiary": "1",
        "lastmodified": "2026-11-30 10:00:00"}
    assert result.items[1]["lastmodified"] == "2026-11-30 09:00:00"
    assert tables["customer"].after == [4711]


def test_transaction_pages_by_type_and_time() -> None:
    statement = (
        "SELECT id, tranid, type, entity, TO_CHAR(trandate, 'YYYY-MM-DD') AS trandate, "
        "TO_CHAR(duedate, 'YYYY-MM-DD') AS duedate, currency, exchangerate, foreigntotal, "
        "foreignamountunpaid, foreignamountpaid, foreignpaymentamountunused, voided, "
        "otherrefnum, TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified "
        "FROM transaction WHERE type = 'CustInvc' AND lastmodifieddate >= "
        "TO_TIMESTAMP('2026-11-30 09:00:00', 'YYYY-MM-DD HH24:MI:SS') AND id > 0 ORDER BY id")
    result = run(statement)
    assert column(result, "id") == ["10", "14", "15"]
    assert result.items[0] == {
        "links": [], "id": "10", "tranid": "INV10", "type": "CustInvc", "entity": "4711",
        "trandate": "2026-01-05", "duedate": "2026-02-04", "currency": "1",
        "exchangerate": "1.0", "foreigntotal": "100.00", "foreignamountunpaid": "0.00",
        "foreignamountpaid": "100.00", "voided": "F", "lastmodified": "2026-12-01 04:00:00"}
    assert result.items[1]["voided"] == "T"
    assert result.items[2]["foreigntotal"] == "80"  # the stored quantum, not 80.00
    full = run(statement.replace("lastmodifieddate >= TO_TIMESTAMP('2026-11-30 09:00:00', "
                                 "'YYYY-MM-DD HH24:MI:SS') AND ", ""))
    assert column(full, "id") == ["10", "11", "14", "15"]


def test_open_documents() -> None:
    result = run("SELECT id, foreignamountunpaid FROM transaction WHERE type = 'CustInvc' AND "
                 "foreignamountunpaid > 0 AND id > 0 ORDER BY id")
    assert [(i["id"], i["foreignamountunpaid"]) for i in result.items] == [
        ("11", "250.50"), ("15", "80")]


def test_links_of_a_page_of_payments_and_credits() -> None:
    result = run("SELECT previousdoc, previoustype, nextdoc, nexttype, linktype, foreignamount, "
                 "TO_CHAR(linkdate, 'YYYY-MM-DD') AS linkdate FROM nexttransactionlinelink "
                 "WHERE nextdoc IN (12, 13, 20) ORDER BY nextdoc, previousdoc")
    assert [(i["nextdoc"], i["previousdoc"]) for i in result.items] == [
        ("12", "9"), ("12", "10"), ("13", "11"), ("20", "5")]
    assert result.items[0] == {
        "links": [], "previousdoc": "9", "previoustype": "CustInvc", "nextdoc": "12",
        "nexttype": "CustPymt", "linktype": "Payment", "foreignamount": "40.00",
        "linkdate": "2026-01-07"}


def test_deleted_records_since_a_local_time() -> None:
    result = run(
        "SELECT recordid, recordtype, TO_CHAR(deleteddate, 'YYYY-MM-DD HH24:MI:SS') AS deleted "
        "FROM deletedrecord WHERE recordtype IN ('customer', 'invoice', 'creditmemo', "
        "'customerpayment') AND deleteddate >= TO_TIMESTAMP('2026-11-30 09:00:00', "
        "'YYYY-MM-DD HH24:MI:SS') ORDER BY deleteddate, recordid")
    assert result.items == [
        {"links": [], "recordid": "3", "recordtype": "customerpayment",
         "deleted": "2026-11-30 09:00:00"},
        {"links": [], "recordid": "7", "recordtype": "customer",
         "deleted": "2026-12-01 02:00:00"},
        {"links": [], "recordid": "30", "recordtype": "invoice",
         "deleted": "2026-12-01 02:00:00"}]


def test_customers_by_ids_and_the_small_lists() -> None:
    result = run("SELECT id, companyname, category, custentity_3805_dunning_procedure FROM "
                 "customer WHERE id IN (4713, 4711, 9999) ORDER BY id")
    assert result.items == [{"links": [], "id": "4711", "companyname": "Acme", "category": "3"},
                            {"links": [], "id": "4713", "companyname": "Cedar"}]
    assert run("SELECT id, name, isinactive FROM customercategory ORDER BY id").items == [
        {"links": [], "id": "3", "name": "Retail", "isinactive": "F"},
        {"links": [], "id": "4", "name": "Wholesale", "isinactive": "T"}]
    assert run("SELECT id, name, daysuntilnetdue FROM term ORDER BY id").items == [
        {"links": [], "id": "1", "name": "Due on receipt", "daysuntilnetdue": "0"},
        {"links": [], "id": "2", "name": "Net 30", "daysuntilnetdue": "30"}]
    result = run("SELECT id, name, custrecord_3805_default_dunning_manager FROM "
                 "customrecord_3805_dunning_procedure ORDER BY id")
    assert result.items[0] == {"links": [], "id": "1", "name": "Standard",
                               "custrecord_3805_default_dunning_manager": "-5"}


def test_parse_reads_names_case_insensitively_and_caches() -> None:
    statement = ("select ID as Key, to_char(TranDate, 'yyyy-mm-dd') as Day from Transaction "
                 "where Type = 'CustInvc' order by Id desc, tranid")
    query = parse(statement)
    assert query == Query(
        table="transaction",
        columns=(Column("id", "key"), Column("trandate", "day", "YYYY-MM-DD")),
        conditions=query.conditions, order=(OrderKey("id", True), OrderKey("tranid")))
    assert parse(statement) is query
    assert column(run(statement), "key") == ["15", "14", "11", "10"]
    assert run(statement).items[0]["day"] == "2026-01-10"


# ---- refusals -------------------------------------------------------------------------------
def refused(statement: str, **kwargs: Any) -> str:
    with pytest.raises(SuiteQLError) as caught:
        run(statement, **kwargs)
    assert caught.value.code == "INVALID_PARAMETER"
    return caught.value.detail


def search_error(what: str) -> str:
    return ("Invalid search query. Detailed unprocessed description follows. Search error "
            f"occurred: {what}")


def test_unknown_table_and_columns_in_each_clause() -> None:
    assert SEARCH_ERROR.format("x") == search_error("x")
    assert refused("SELECT id FROM invoice ORDER BY id") == search_error(
        "Record 'invoice' was not found.")
    assert refused("SELECT id, nickname FROM customer ORDER BY id") == search_error(
        "Field 'nickname' for record 'customer' was not found.")
    assert refused("SELECT TO_CHAR(modified, 'YYYY-MM-DD') AS m FROM customer ORDER BY id") \
        == search_error("Field 'modified' for record 'customer' was not found.")
    assert refused("SELECT id FROM customer WHERE amount > 5 ORDER BY id") == search_error(
        "Field 'amount' for record 'customer' was not found.")
    assert refused("SELECT id FROM customer ORDER BY name") == search_error(
        "Field 'name' for record 'customer' was not found.")


@pytest.mark.parametrize(("statement", "what"), [
    ("SELECT * FROM customer ORDER BY id",
     "SELECT * is not supported: name the columns to select."),
    ("SELECT id FROM customer WHERE id = 1 OR id = 2 ORDER BY id",
     "OR is not supported: join conditions with AND, or use IN (...)."),
    ("SELECT id FROM customer JOIN transaction ON transaction.entity = customer.id ORDER BY id",
     "Joins are not supported: query one table."),
    ("SELECT customer.id FROM customer ORDER BY id",
     "Qualified names are not supported ('customer.id'): name the columns of the one table."),
    ("SELECT id FROM customer, transaction ORDER BY id",
     "Joins are not supported: query one table."),
    ("SELECT id FROM customer c ORDER BY id", "Table aliases are not supported ('c')."),
    ("SELECT COUNT(*) FROM customer ORDER BY id",
     "Function 'COUNT' is not supported: select columns or TO_CHAR(column, 'format') AS "
     "alias."),
    ("SELECT id + 1 FROM customer ORDER BY id", "Unexpected character '+' at position 11."),
    ("SELECT id 'x' FROM customer ORDER BY id",
     "Expressions are not supported in the select list ('x' after 'id')."),
    ("SELECT id FROM customer WHERE companyname LIKE 'A%' ORDER BY id",
     "Operator 'LIKE' is not supported: use = <> != > >= < <= or IN (...)."),
    ("SELECT id FROM customer WHERE parent = id ORDER BY id",
     "A literal expected, found 'id': compare a column with a value, not with another "
     "column."),
    ("SELECT id FROM customer WHERE UPPER(email) = 'X' ORDER BY id",
     "Function 'UPPER' is not supported here."),
    ("SELECT id FROM customer", "ORDER BY expected, found end of statement: paged results "
     "need an explicit order."),
    ("SELECT TO_CHAR(datecreated, 'YYYY-MM-DD') FROM customer ORDER BY id",
     "TO_CHAR(...) needs an alias: TO_CHAR(column, 'format') AS name."),
    ("SELECT TO_CHAR(datecreated, 'DD/MM/YYYY') AS d FROM customer ORDER BY id",
     "Format 'DD/MM/YYYY' is not supported: use 'YYYY-MM-DD' or 'YYYY-MM-DD HH24:MI:SS'."),
    ("SELECT id FROM customer WHERE datecreated > TO_DATE('2026-13-01', 'YYYY-MM-DD') "
     "ORDER BY id", "TO_DATE: '2026-13-01' does not match the format 'YYYY-MM-DD'."),
    ("SELECT id FROM customer ORDER BY id;", "Unexpected character ';' at position 36."),
    ("", "The query is empty."),
])
def test_statements_outside_the_grammar(statement: str, what: str) -> None:
    with pytest.raises(SuiteQLError) as caught:
        parse(statement)
    assert caught.value.detail == search_error(what)
    assert caught.value.code == "INVALID_PARAMETER"


def test_limit_and_offset_out_of_range() -> None:
    statement = "SELECT id FROM customer ORDER BY id"
    assert refused(statement, limit=1001) == (
        "Invalid 'limit' query parameter value: 1001. The value must be between 1 and 1000.")
    assert refused(statement, limit=0) == (
        "Invalid 'limit' query parameter value: 0. The value must be between 1 and 1000.")
    assert refused(statement, offset=-1) == (
        "Invalid 'offset' query parameter value: -1. The value must be 0 or greater.")
    assert refused(statement, offset=2000, row_cap=2000) == (
        "The result set is limited to 2000 rows (offset 2000 requested). Use a narrower "
        "query, for example a keyset condition such as id > N ORDER BY id.")
    # the page stops at the cap; totalResults still counts every match
    capped = run("SELECT id FROM customer WHERE id > 0 ORDER BY id", offset=2, row_cap=3)
    assert (column(capped, "id"), capped.total, capped.has_more) == (["4713"], 4, True)
    capped = run("SELECT id FROM customer ORDER BY companyname", offset=2, row_cap=3)
    assert (column(capped, "id"), capped.total) == (["4713"], 4)


# ---- comparison and order -------------------------------------------------------------------
def test_numbers_strings_checkboxes_and_null() -> None:
    tables = {"t": Rows(["id", "ref", "amount", "flag", "note"], [
        {"id": 1, "ref": "107", "amount": Decimal("10.50"), "flag": True, "note": "a"},
        {"id": 2, "ref": "20", "amount": 3, "flag": False, "note": None},
        {"id": 3, "ref": None, "amount": None, "flag": None, "note": "A"}])}

    def ids(where: str) -> list[str]:
        return column(run(f"SELECT id FROM t WHERE {where} ORDER BY id", tables), "id")

    assert ids("ref > 30") == ["1"]  # digits compare as numbers, not text ('20' > '107')
    assert ids("ref = '107'") == ["1"]
    assert ids("amount >= 10.5") == ["1"]
    assert ids("amount < 10") == ["2"]
    assert ids("amount = '3'") == ["2"]
    assert ids("flag = 'T'") == ["1"]
    assert ids("flag <> 'T'") == ["2"]
    assert ids("note = 'a'") == ["1"]  # strings exactly
    assert ids("note != 'a'") == ["3"]  # NULL matches neither = nor <>
    assert ids("ref IN ('20', 107)") == ["1", "2"]
    assert ids("ref IN ('020', 107.0)") == ["1"]  # a string equals a string exactly
    assert ids("amount IN ('3', 10.50)") == ["1", "2"]
    assert ids("flag IN ('T')") == ["1"]
    assert ids("note IN ('a', 'b')") == ["1"]
    assert ids("id >= 2 AND id <= 2") == ["2"]
    assert ids("id > 1.5") == ["2", "3"]


def test_order_keys_directions_and_nulls_last() -> None:
    tables = {"t": Rows(["id", "grp", "amount"], [
        {"id": 1, "grp": "b", "amount": Decimal("5")},
        {"id": 2, "grp": "a", "amount": None},
        {"id": 3, "grp": "b", "amount": Decimal("7.5")},
        {"id": 4, "grp": None, "amount": Decimal("1")},
        {"id": 5, "grp": "a", "amount": Decimal("10")}])}
    result = run("SELECT id FROM t ORDER BY grp ASC, amount DESC", tables)
    assert column(result, "id") == ["5", "2", "3", "1", "4"]
    result = run("SELECT id FROM t ORDER BY amount DESC", tables)
    assert column(result, "id") == ["5", "3", "1", "4", "2"]
    result = run("SELECT id, amount AS a FROM t ORDER BY a", tables)  # an alias orders too
    assert column(result, "id") == ["4", "1", "3", "5", "2"]


# ---- time zone ------------------------------------------------------------------------------
def test_daylight_saving_day_in_los_angeles() -> None:
    # 2026-03-08: clocks go from 02:00 PST to 03:00 PDT (10:00 UTC)
    tables = {"customer": Rows(["id", "lastmodifieddate", "datecreated"], [
        {"id": 1, "lastmodifieddate": utc(2026, 3, 8, 9, 30), "datecreated": date(2026, 3, 7)},
        {"id": 2, "lastmodifieddate": utc(2026, 3, 8, 10, 30), "datecreated": date(2026, 3, 8)},
    ])}
    result = run("SELECT id, TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS modified, "
                 "lastmodifieddate, datecreated FROM customer ORDER BY id", tables)
    assert result.items == [
        {"links": [], "id": "1", "modified": "2026-03-08 01:30:00",
         "lastmodifieddate": "3/8/2026 1:30 am", "datecreated": "3/7/2026"},
        {"links": [], "id": "2", "modified": "2026-03-08 03:30:00",
         "lastmodifieddate": "3/8/2026 3:30 am", "datecreated": "3/8/2026"}]

    def ids(where: str) -> list[str]:
        return column(run(f"SELECT id FROM customer WHERE {where} ORDER BY id", tables), "id")

    # 01:45 PST is 09:45 UTC: between the two rows (a fixed -8 h or -7 h would miss one side)
    assert ids("lastmodifieddate >= TO_TIMESTAMP('2026-03-08 01:45:00', "
               "'YYYY-MM-DD HH24:MI:SS')") == ["2"]
    assert ids("lastmodifieddate < TO_TIMESTAMP('2026-03-08 03:30:00', "
               "'YYYY-MM-DD HH24:MI:SS')") == ["1"]
    assert ids("lastmodifieddate <= TO_TIMESTAMP('2026-03-08 03:30:00', "
               "'YYYY-MM-DD HH24:MI:SS')") == ["1", "2"]
    assert ids("lastmodifieddate >= TO_DATE('2026-03-08', 'YYYY-MM-DD')") == ["1", "2"]
    assert ids("lastmodifieddate >= TO_DATE('2026-03-09', 'YYYY-MM-DD')") == []
    assert ids("datecreated >= TO_DATE('2026-03-08', 'YYYY-MM-DD')") == ["2"]  # dates as dates
    assert ids("datecreated = TO_DATE('2026-03-07', 'YYYY-MM-DD')") == ["1"]


def test_evening_in_los_angeles_is_the_next_day_in_utc() -> None:
    tables = {"transaction": Rows(["id", "lastmodifieddate"], [
        {"id": 1, "lastmodifieddate": utc(2026, 12, 1, 6, 30)}])}
    result = run("SELECT TO_CHAR(lastmodifieddate, 'YYYY-MM-DD') AS day, lastmodifieddate "
                 "FROM transaction ORDER BY id", tables)
    assert result.items == [{"links": [], "day": "2026-11-30",
                             "lastmodifieddate": "11/30/2026 10:30 pm"}]


# ---- paging ---------------------------------------------------------------------------------
def test_keyset_walk_returns_every_row_once_with_the_full_count() -> None:
    kinds = ("CustInvc", "CustPymt", "CustCred")
    table = Rows(["id", "type"], [{"id": i, "type": kinds[i % 3]} for i in range(1, 5001)])
    tables = {"transaction": table}
    wanted = [str(i) for i in range(1, 5001) if i % 3 == 0]
    seen: list[str] = []
    last = 0
    while True:
        result = run(f"SELECT id, type FROM transaction WHERE type = 'CustInvc' AND id > {last}"
                     " ORDER BY id", tables, limit=1000)
        assert result.total == len(wanted) - len(seen)  # every match after the bound
        seen += column(result, "id")
        assert result.has_more == (len(seen) < len(wanted))
        if not result.has_more:
            break
        last = int(seen[-1])
    assert seen == wanted
    # each page asked the table for the rows after the previous page's last id
    assert table.after == [0] + [int(wanted[n]) for n in range(999, len(wanted) - 1, 1000)]


def test_offset_pages_of_an_ordered_result() -> None:
    table = Rows(["id", "grp"], [{"id": i, "grp": str(i % 4)} for i in range(1, 2501)])
    tables = {"t": table}
    seen: list[str] = []
    for offset in range(0, 2500, 1000):
        result = run("SELECT id FROM t WHERE id >= 1 ORDER BY grp, id", tables, limit=1000,
                     offset=offset)
        assert result.total == 2500
        assert result.has_more == (offset + 1000 < 2500)
        seen += column(result, "id")
    assert len(seen) == len(set(seen)) == 2500
    assert seen[:3] == ["4", "8", "12"]
    keyset = run("SELECT id FROM t WHERE id >= 1001 ORDER BY id", tables, limit=10, offset=20)
    assert column(keyset, "id") == [str(i) for i in range(1021, 1031)]
    assert (keyset.total, keyset.has_more) == (1500, True)
    assert table.after[-1] == 1000


def test_null_columns_omitted_or_null() -> None:
    statement = "SELECT id, email, parent FROM customer WHERE id = 4712 ORDER BY id"
    assert run(statement).items == [{"links": [], "id": "4712", "parent": "4711"}]
    assert run(statement, omit_null=False).items == [
        {"links": [], "id": "4712", "email": None, "parent": "4711"}]
