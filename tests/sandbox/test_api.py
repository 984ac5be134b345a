"""The Accounting API: envelopes, paging, If-Modified-Since, where, order, filters, writes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from arconnect.sandbox.xero import OrgSpec
from arconnect.sandbox.xero.wire import dotnet_ms, parse_dotnet_date

from .conftest import Client


def test_envelope_key_order_and_pagination(client: Client) -> None:
    # Key order as the recorded live GET /Invoices response:
    # Id, Status, ProviderName, DateTimeUTC, pagination, Invoices.
    r = client.get("Invoices", {"page": 1, "pageSize": 50})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["Id", "Status", "ProviderName", "DateTimeUTC", "pagination",
                          "Invoices"]
    assert body["Status"] == "OK"
    total = len(client.sb.orgs[0].invoices)
    assert body["pagination"] == {"page": 1, "pageSize": 50, "pageCount": -(-total // 50),
                                  "itemCount": total}
    assert len(body["Invoices"]) == 50
    assert body["DateTimeUTC"].startswith("/Date(") and "+" not in body["DateTimeUTC"]


def test_paging_walks_every_record_once(client: Client) -> None:
    org = client.sb.orgs[0]
    seen: list[str] = []
    page = 1
    while True:
        body = client.get("Invoices", {"page": page, "pageSize": 300}).json()
        seen += [i["InvoiceID"] for i in body["Invoices"]]
        if page >= body["pagination"]["pageCount"]:
            break
        page += 1
    assert len(seen) == len(set(seen)) == len(org.invoices)


def test_page_size_is_clamped_to_1000(client: Client) -> None:
    body = client.get("Invoices", {"page": 1, "pageSize": 5000}).json()
    assert body["pagination"]["pageSize"] == 1000


def test_records_match_ground_truth(client: Client) -> None:
    org = client.sb.orgs[0]
    body = client.get("Invoices", {"page": 1, "pageSize": 1000}).json()
    for wire in body["Invoices"]:
        truth = org.invoices[wire["InvoiceID"]]
        assert Decimal(str(wire["Total"])) == truth["Total"]
        assert Decimal(str(wire["AmountDue"])) == truth["AmountDue"]
        assert wire["Status"] == truth["Status"]
        assert wire["UpdatedDateUTC"] == truth["UpdatedDateUTC"]


def test_if_modified_since_is_second_precise_and_inclusive(client: Client) -> None:
    org = client.sb.orgs[0]
    stamps = sorted(org.invoices.updated.values())
    pivot = stamps[len(stamps) // 2]
    second = parse_dotnet_date(f"/Date({pivot})/").replace(microsecond=0)
    header = second.replace(tzinfo=None).isoformat()
    body = client.get("Invoices", {"page": 1, "pageSize": 1000},
                      **{"If-Modified-Since": header}).json()
    floor = pivot - pivot % 1000
    expected = {k for k, ms in org.invoices.updated.items() if ms >= floor}
    got = {i["InvoiceID"] for i in body["Invoices"]}
    assert body["pagination"]["itemCount"] == len(expected)
    assert got <= expected
    assert all(dotnet_ms(i["UpdatedDateUTC"]) >= floor for i in body["Invoices"])
    # A trailing Z, an offset and the HTTP-date form mean the same instant.
    for same in (header + "Z", header + "+00:00",
                 second.strftime("%a, %d %b %Y %H:%M:%S GMT")):
        z = client.get("Invoices", {"page": 1}, **{"If-Modified-Since": same}).json()
        assert z["pagination"]["itemCount"] == len(expected), same
    assert client.get("Invoices", **{"If-Modified-Since": "yesterday"}).status_code == 400
    later = (second + timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    fewer = client.get("Invoices", {"page": 1}, **{"If-Modified-Since": later}).json()
    assert fewer["pagination"]["itemCount"] < len(expected) or not any(
        ms >= floor and ms < floor + 1000 for ms in org.invoices.updated.values())


def test_order_updated_ascending_with_id_tiebreak(client: Client) -> None:
    body = client.get("Invoices", {"page": 1, "pageSize": 1000,
                                   "order": "UpdatedDateUTC ASC"}).json()
    keys = [(dotnet_ms(i["UpdatedDateUTC"]), i["InvoiceID"]) for i in body["Invoices"]]
    assert keys == sorted(keys)
    desc = client.get("Invoices", {"page": 1, "pageSize": 5,
                                   "order": "UpdatedDateUTC DESC"}).json()["Invoices"]
    assert dotnet_ms(desc[0]["UpdatedDateUTC"]) == max(
        client.sb.orgs[0].invoices.updated.values())


def test_where_type_and_status(client: Client) -> None:
    org = client.sb.orgs[0]
    body = client.get("Invoices", {"page": 1, "pageSize": 1000,
                                   "where": 'Type=="ACCREC" AND Status=="AUTHORISED"'}).json()
    expected = sum(1 for i in org.invoices.values()
                   if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED")
    assert body["pagination"]["itemCount"] == expected
    assert {(i["Type"], i["Status"]) for i in body["Invoices"]} == {("ACCREC", "AUTHORISED")}
    amp = client.get("Invoices", {"page": 1, "where": 'Type=="ACCPAY" && Status!="PAID"'})
    assert all(i["Type"] == "ACCPAY" and i["Status"] != "PAID" for i in amp.json()["Invoices"])


def test_where_guid_and_datetime(client: Client) -> None:
    org = client.sb.orgs[0]
    some = next(iter(org.invoices.values()))
    cid = some["Contact"]["ContactID"]
    body = client.get("Invoices", {"page": 1, "pageSize": 1000,
                                   "where": f'Contact.ContactID==Guid("{cid}")'}).json()
    assert body["Invoices"] and all(i["Contact"]["ContactID"] == cid for i in body["Invoices"])
    recent = client.get("Invoices", {"page": 1, "where": "Date >= DateTime(2026, 10, 01)"})
    assert all(dotnet_ms(i["Date"]) >= 1790812800000 for i in recent.json()["Invoices"])


def test_unsupported_where_is_400(client: Client) -> None:
    for where in ('Type=="ACCREC" AND', 'Type.Frob("A")', '(Type=="ACCREC"'):
        r = client.get("Invoices", {"page": 1, "where": where})
        assert r.status_code == 400, where
        assert r.json()["Type"] == "QueryParseException"


def test_statuses_and_deleted_switch(client: Client) -> None:
    org = client.sb.orgs[0]
    deleted = sum(1 for i in org.invoices.values() if i["Status"] == "DELETED")
    assert deleted > 0
    only = client.get("Invoices", {"page": 1, "pageSize": 1000, "Statuses": "DELETED,VOIDED"})
    assert {i["Status"] for i in only.json()["Invoices"]} == {"DELETED", "VOIDED"}
    # Default (as the recorded plain GET /Invoices shows): DELETED invoices are listed.
    plain = client.get("Invoices", {"page": 1, "pageSize": 1000}).json()
    assert plain["pagination"]["itemCount"] == len(org.invoices)


def test_deleted_hidden_when_switched_off(make_sb) -> None:  # type: ignore[no-untyped-def]
    sb = make_sb(deleted_invoices_in_list=False)
    c = Client(sb)
    plain = c.get("Invoices", {"page": 1, "pageSize": 1000}).json()
    assert all(i["Status"] != "DELETED" for i in plain["Invoices"])
    asked = c.get("Invoices", {"page": 1, "Statuses": "DELETED"}).json()
    assert asked["Invoices"] and all(i["Status"] == "DELETED" for i in asked["Invoices"])


def test_ids_contact_ids_and_single_get(client: Client) -> None:
    org = client.sb.orgs[0]
    ids = list(org.invoices)[:3]
    body = client.get("Invoices", {"page": 1, "IDs": ",".join(ids)}).json()
    assert {i["InvoiceID"] for i in body["Invoices"]} == set(ids)
    one = client.get(f"Invoices/{ids[0]}").json()
    assert "pagination" not in one and one["Invoices"][0]["InvoiceID"] == ids[0]
    by_number = client.get(f"Invoices/{org.invoices[ids[0]]['InvoiceNumber']}").json()
    assert by_number["Invoices"][0]["InvoiceID"] == ids[0]
    assert client.get("Invoices/00000000-0000-0000-0000-000000000001").status_code == 404
    cid = org.invoices[ids[0]]["Contact"]["ContactID"]
    mine = client.get("Invoices", {"page": 1, "ContactIDs": cid}).json()["Invoices"]
    assert mine and all(i["Contact"]["ContactID"] == cid for i in mine)


def test_unpaged_invoices_omit_line_items(client: Client) -> None:
    body = client.get("Invoices", {"where": 'Type=="ACCREC"'}).json()
    assert "pagination" not in body
    assert all(i["LineItems"] == [] for i in body["Invoices"])
    paged = client.get("Invoices", {"page": 1, "where": 'Type=="ACCREC"'}).json()
    assert all(i["LineItems"] for i in paged["Invoices"])


def test_contacts_archived_and_summary(client: Client) -> None:
    org = client.sb.orgs[0]
    archived = {k for k, c in org.contacts.items() if c["ContactStatus"] == "ARCHIVED"}
    assert archived
    active = client.get("Contacts", {"page": 1, "pageSize": 1000}).json()["Contacts"]
    assert not archived & {c["ContactID"] for c in active}
    every = client.get("Contacts", {"page": 1, "pageSize": 1000,
                                    "includeArchived": "true"}).json()["Contacts"]
    assert archived <= {c["ContactID"] for c in every}
    merged = [c for c in every if c.get("MergedToContactID")]
    assert merged and merged[0]["ContactStatus"] == "ARCHIVED"
    slim = client.get("Contacts", {"page": 1, "summaryOnly": "true"}).json()["Contacts"]
    assert all("Balances" not in c for c in slim)


def test_organisation_and_currencies(client: Client) -> None:
    org = client.sb.orgs[0]
    o = client.get("Organisation").json()["Organisations"][0]
    assert (o["OrganisationID"], o["BaseCurrency"], o["Timezone"], o["Name"]) == (
        org.tenant_id, "NZD", "NEWZEALANDSTANDARDTIME", org.name)
    codes = [c["Code"] for c in client.get("Currencies").json()["Currencies"]]
    assert codes[0] == "NZD" and {"AUD", "USD", "GBP"} <= set(codes)


def test_tenant_header_required(client: Client) -> None:
    headers = client.headers()
    del headers["xero-tenant-id"]
    r = client.session.get(f"{client.sb.url}/api.xro/2.0/Invoices", headers=headers)
    assert r.status_code == 403 and r.json()["Title"] == "Forbidden"
    r = client.get("Invoices", **{"xero-tenant-id": "6f1b5a52-0000-4000-8000-000000000000"})
    assert r.status_code == 403


def test_overpayments_and_prepayments(make_sb) -> None:  # type: ignore[no-untyped-def]
    # Big enough that some overpayments and prepayments are applied to invoices.
    client = Client(make_sb(orgs=[OrgSpec(customers=200, invoices=2400, payments=2000)]))
    org = client.sb.orgs[0]
    allocations = 0
    for key, id_field, kind in (("Overpayments", "OverpaymentID", "RECEIVE-OVERPAYMENT"),
                                ("Prepayments", "PrepaymentID", "RECEIVE-PREPAYMENT")):
        table = org.table(key)
        assert table, f"the generated organisation has no {key}"
        paged = client.get(key, {"page": 1, "pageSize": 1000}).json()
        assert list(paged)[-2:] == ["pagination", key]
        assert {r[id_field] for r in paged[key]} == set(table)
        for wire in paged[key]:
            truth = table[wire[id_field]]
            assert wire["Type"] == kind and wire["ID"] == wire[id_field]
            assert Decimal(str(wire["RemainingCredit"])) == truth["RemainingCredit"]
            applied = sum((Decimal(str(a["Amount"])) for a in wire["Allocations"]), Decimal(0))
            assert Decimal(str(wire["Total"])) - applied == Decimal(str(wire["RemainingCredit"]))
            assert wire["Status"] == ("PAID" if wire["RemainingCredit"] == 0 else "AUTHORISED")
            assert wire["LineItems"]
            # each allocation shows on its invoice, in AmountCredited
            for alloc in wire["Allocations"]:
                allocations += 1
                inv = client.get(f"Invoices/{alloc['Invoice']['InvoiceID']}").json()[
                    "Invoices"][0]
                shown = {c[id_field]: c["AppliedAmount"] for c in inv[key]}
                assert shown[wire[id_field]] == alloc["Amount"]
                assert inv["AmountCredited"] >= alloc["Amount"]
        unpaged = client.get(key).json()
        assert "pagination" not in unpaged
        assert all(r["LineItems"] == [] for r in unpaged[key])
        one = next(iter(table))
        assert client.get(f"{key}/{one}").json()[key][0][id_field] == one
    assert allocations >= 2
