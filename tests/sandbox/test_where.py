"""``where`` as Xero's clients write it: string methods, parentheses, and/or/not, DateTime with
and without a time, null tests, Guid, case-insensitive property names; and the 400
QueryParseException for what Xero refuses (a property its model lacks, a bad type, bad syntax).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from arconnect.sandbox.xero.wire import dotnet_ms

from .conftest import Client


def _ids(client: Client, entity: str, where: str, **params: Any) -> set[str]:
    r = client.get(entity, {"where": where, "page": 1, "pageSize": 1000,
                            "includeArchived": "true", **params})
    assert r.status_code == 200, (where, r.text)
    key = {"Contacts": "ContactID", "Invoices": "InvoiceID", "Payments": "PaymentID"}[entity]
    return {str(x[key]) for x in r.json()[entity]}


def _contacts(client: Client) -> dict[str, dict[str, Any]]:
    return dict(client.sb.orgs[0].contacts.items())


def _ms(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp() * 1000)


def test_string_methods_and_case_insensitive_names(client: Client) -> None:
    contacts = _contacts(client)
    some = next(c for c in contacts.values() if len(c["Name"]) > 4)
    name = some["Name"]
    mid, head, tail = name[1:4], name[:3], name[-3:]
    assert _ids(client, "Contacts", f'Name.Contains("{mid}")') == {
        k for k, c in contacts.items() if mid in c["Name"]}
    assert _ids(client, "Contacts", f'Name.StartsWith("{head}")') == {
        k for k, c in contacts.items() if c["Name"].startswith(head)}
    assert _ids(client, "Contacts", f'Name.EndsWith("{tail}")') == {
        k for k, c in contacts.items() if c["Name"].endswith(tail)}
    # property and method names are case-insensitive in Xero's parser; values are not
    assert _ids(client, "Contacts", f'name == "{name}"') == {some["ContactID"]}
    assert _ids(client, "Contacts", f'NAME.startswith("{head}")') == _ids(
        client, "Contacts", f'Name.StartsWith("{head}")')
    assert _ids(client, "Contacts", f'Name == "{name.upper()}"') == (
        {some["ContactID"]} if name == name.upper() else set())
    assert _ids(client, "Contacts", f'Name.ToLower() == "{name.lower()}"') >= {
        some["ContactID"]}
    assert _ids(client, "Contacts", f'Name.ToUpper().Contains("{mid.upper()}")') == {
        k for k, c in contacts.items() if mid.upper() in c["Name"].upper()}


def test_parentheses_and_or_not(client: Client) -> None:
    invoices = client.sb.orgs[0].invoices
    want = {k for k, i in invoices.items()
            if i["Type"] == "ACCREC" and i["Status"] in ("PAID", "VOIDED")}
    for where in ('Type=="ACCREC" AND (Status=="PAID" OR Status=="VOIDED")',
                  'Type == "ACCREC" && (Status == "PAID" || Status == "VOIDED")',
                  '(Status=="PAID" or Status=="VOIDED") and type=="ACCREC"'):
        assert _ids(client, "Invoices", where, Statuses="PAID,VOIDED,AUTHORISED") == want, \
            where
    # AND binds tighter than OR; NOT / ! negate
    assert _ids(client, "Invoices", 'Status=="VOIDED" OR Type=="ACCPAY" AND Status=="PAID"',
                Statuses="PAID,VOIDED") == {
        k for k, i in invoices.items() if i["Status"] == "VOIDED"
        or (i["Type"] == "ACCPAY" and i["Status"] == "PAID")}
    assert _ids(client, "Invoices", 'NOT (Type=="ACCREC") && !(Status=="PAID")',
                Statuses="PAID,AUTHORISED") == {
        k for k, i in invoices.items() if i["Type"] != "ACCREC" and i["Status"] == "AUTHORISED"}


def test_datetime_with_and_without_time(client: Client) -> None:
    invoices = client.sb.orgs[0].invoices
    since = _ms(2026, 1, 1)
    want = {k for k, i in invoices.items()
            if i["Status"] == "AUTHORISED" and dotnet_ms(i["Date"]) >= since}
    assert want
    for where in ("Date >= DateTime(2026,01,01)", "Date >= DateTime(2026, 1, 1, 00, 00, 00)",
                  "DateTime(2026,01,01) <= Date"):
        assert _ids(client, "Invoices", where, Statuses="AUTHORISED") == want, where
    # a time of day counts: UpdatedDateUTC is compared to the millisecond
    contacts = _contacts(client)
    stamps = sorted(dotnet_ms(c["UpdatedDateUTC"]) for c in contacts.values())
    cut = datetime.fromtimestamp(stamps[len(stamps) // 2] / 1000, UTC)
    where = (f"UpdatedDateUTC > DateTime({cut.year},{cut.month:02d},{cut.day:02d},"
             f"{cut.hour:02d},{cut.minute:02d},{cut.second:02d})")
    cut_ms = _ms(cut.year, cut.month, cut.day, cut.hour, cut.minute, cut.second)
    assert _ids(client, "Contacts", where) == {
        k for k, c in contacts.items() if dotnet_ms(c["UpdatedDateUTC"]) > cut_ms}


def test_null_tests_guid_and_nested_paths(client: Client) -> None:
    contacts = _contacts(client)
    merged = {k for k, c in contacts.items() if c.get("MergedToContactID")}
    assert merged
    assert _ids(client, "Contacts", "MergedToContactID != null") == merged
    assert _ids(client, "Contacts", "MergedToContactID == null") == set(contacts) - merged
    # the documented guard for optional fields
    with_terms = {k for k, c in contacts.items()
                  if (c.get("PaymentTerms") or {}).get("Sales", {}).get("Day", -1) >= 20}
    assert _ids(client, "Contacts", "PaymentTerms.Sales != null && PaymentTerms.Sales.Day >= 20"
                ) == with_terms
    target = next(iter(contacts.values()))["ContactID"]
    assert _ids(client, "Contacts", f'ContactID == Guid("{target.upper()}")') == {target}
    assert _ids(client, "Contacts", f'ContactID == guid("{target}")') == {target}
    assert _ids(client, "Contacts", f'ContactID.ToString() == "{target}"') == {target}
    payments = client.sb.orgs[0].payments
    inv = next(iter(payments.values()))["Invoice"]["InvoiceID"]
    assert _ids(client, "Payments", f'Invoice.InvoiceID == Guid("{inv}")') == {
        k for k, p in payments.items() if p["Invoice"]["InvoiceID"] == inv}


def test_contact_groups_where(client: Client) -> None:
    groups = [g for g in client.sb.orgs[0].contact_groups.values() if g["Status"] == "ACTIVE"]
    first = groups[0]["Name"]
    r = client.get("ContactGroups", {"where": f'Name.StartsWith("{first[:2]}") AND '
                                              'Status == "ACTIVE"'})
    assert r.status_code == 200, r.text
    assert {g["Name"] for g in r.json()["ContactGroups"]} == {
        g["Name"] for g in groups if g["Name"].startswith(first[:2])}
    bad = client.get("ContactGroups", {"where": 'Colour == "red"'})
    assert bad.status_code == 400
    assert bad.json()["Message"] == "No property or field 'Colour' exists in type 'ContactGroup'"


@pytest.mark.parametrize(("entity", "where", "message"), [
    # a property the model does not have: refused, not an empty list
    ("Contacts", 'Nmae == "Acme"', "No property or field 'Nmae' exists in type 'Contact'"),
    ("Invoices", 'Contact.Colour == "red"',
     "No property or field 'Colour' exists in type 'Contact'"),
    ("Invoices", 'DueDate > "2024-01-01"',
     "Operator '>' incompatible with operand types 'DateTime?' and 'String'"),
    ("Contacts", 'ContactID == "0b1c0a3e-0000-0000-0000-000000000000"',
     "Operator '==' incompatible with operand types 'Guid' and 'String'"),
    ("Contacts", 'Name.Frobnicate("x")', "No applicable method 'Frobnicate' exists in type "
                                         "'String'"),
    ("Contacts", "Name.Contains(3)", "No applicable method 'Contains' exists in type 'String'"),
    ("Contacts", "Name == 'ab'", "Character literal must contain exactly one character"),
    ("Contacts", 'Name == "open', "Unterminated string literal"),
    ("Invoices", 'Type=="ACCREC" AND', "Expression expected"),
    ("Invoices", '(Type=="ACCREC"', "')' or operator expected"),
    ("Invoices", 'Type=="ACCREC" Status=="PAID"', "Syntax error"),
    ("Invoices", "Date >= DateTime(2026, 13, 1)",
     "Year, Month, and Day parameters describe an un-representable DateTime."),
    ("Invoices", "Total", "Expression of type 'Boolean' expected"),
    ("Invoices", "Status > null", "Operator '>' incompatible with operand types 'String' and "
                                  "'Object'"),
])
def test_what_xero_refuses_is_a_400_query_parse_exception(
        client: Client, entity: str, where: str, message: str) -> None:
    r = client.get(entity, {"where": where, "page": 1})
    assert r.status_code == 400, (where, r.text[:200])
    assert r.json() == {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}
