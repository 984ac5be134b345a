"""Content negotiation: Xero answers XML unless the request asks for JSON, and a 204 stays an
empty 204 whatever the request accepts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import requests

from arconnect.sandbox.xero import XeroSandbox

from .conftest import Client, sdk_accounting_api

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def bare(c: Client, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A call without an Accept header (requests would send ``*/*``)."""
    headers = c.headers()
    del headers["Accept"]
    session = requests.Session()
    session.trust_env = False
    session.headers.pop("Accept", None)
    return session.request(method, f"{c.sb.url}/api.xro/2.0/{path}", headers=headers,
                           timeout=10, **kwargs)


def test_currencies_and_organisation_without_accept_are_xml(client: Client) -> None:
    org = client.sb.orgs[0]
    r = bare(client, "GET", "Currencies")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
    assert "Accept" not in r.request.headers
    root = ET.fromstring(r.content)
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Id", "Status", "ProviderName", "DateTimeUTC",
                                             "Currencies"]
    assert root.findtext("Status") == "OK"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", root.findtext("DateTimeUTC")
                        or "")
    codes = [c.findtext("Code") for c in root.iter("Currency")]
    assert codes == [c["Code"] for c in client.get("Currencies").json()["Currencies"]]
    assert codes[0] == "NZD" and root.find("Currencies/Currency/Description") is not None
    r = bare(client, "GET", "Organisation")
    one = ET.fromstring(r.content).find("Organisations/Organisation")
    assert one is not None
    assert (one.findtext("OrganisationID"), one.findtext("BaseCurrency"),
            one.findtext("PaysTax"), one.findtext("Name")) == (
        org.tenant_id, "NZD", "true", org.name)
    assert one.find("Addresses") is not None and len(one.find("Addresses") or []) == 0


def test_records_in_xml_keep_values_dates_and_lists(client: Client) -> None:
    org = client.sb.orgs[0]
    r = client.get("Invoices", {"page": 1, "pageSize": 20}, Accept="application/xml")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
    invoices = ET.fromstring(r.content).findall("Invoices/Invoice")
    assert len(invoices) == 20
    for inv in invoices:
        truth = org.invoices[inv.findtext("InvoiceID") or ""]
        assert Decimal(inv.findtext("Total") or "") == truth["Total"]
        assert Decimal(inv.findtext("CurrencyRate") or "") == Decimal(str(truth["CurrencyRate"]))
        assert inv.findtext("Status") == truth["Status"]
        assert inv.findtext("Contact/ContactID") == truth["Contact"]["ContactID"]
        assert inv.findtext("DateString") == truth["DateString"]
        assert inv.findtext("Date") == truth["DateString"]  # midnight, no zone
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?",
                            inv.findtext("UpdatedDateUTC") or "")
        assert inv.findtext("HasAttachments") in ("true", "false")
        assert len(inv.findall("LineItems/LineItem")) == len(truth["LineItems"])
        assert len(inv.findall("Payments/Payment")) == len(truth["Payments"])


def test_errors_without_accept_are_an_api_exception(make_sb: Any) -> None:
    c = Client(make_sb())
    r = bare(c, "PUT", "ContactGroups", json={"ContactGroups": [{"Name": ""}]})
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "ApiException"
    assert (root.findtext("ErrorNumber"), root.findtext("Type")) == ("10", "ValidationException")
    assert root.find("Elements/DataContractBase/ValidationErrors/ValidationError/Message") \
        is not None


def test_a_204_stays_empty_without_accept(make_sb: Any) -> None:
    sb = make_sb()
    c = Client(sb)
    org = sb.orgs[0]
    gid = next(g for g, members in org.group_members.items() if members)
    r = bare(c, "DELETE", f"ContactGroups/{gid}/Contacts")
    assert r.status_code == 204 and r.content == b""
    assert "Content-Type" not in r.headers
    assert org.group_members[gid] == {}


def test_the_official_sdk_clears_a_group(make_sb: Any) -> None:
    # xero-python's delete_contact_group_contacts sends no Accept header (it expects no body).
    sb: XeroSandbox = make_sb()
    api = sdk_accounting_api(sb)
    org = sb.orgs[0]
    gid = next(g for g, members in org.group_members.items() if members)
    api.delete_contact_group_contacts(org.tenant_id, gid)
    assert org.group_members[gid] == {}
