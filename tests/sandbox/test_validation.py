"""Writes are refused as Xero refuses them: bad payment terms, contact status, group names,
unknown ids and a contact Xero's own screens left invalid; a batch is checked before anything
in it is saved; ``summarizeErrors=false`` saves the valid elements and answers 200 with the
refused ones marked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from referencing import Registry

from arconnect.sandbox.xero import OrgSpec, XeroSandbox

from .conftest import Client
from .test_fidelity import assert_valid, response_schema
from .test_fidelity import registry as registry  # noqa: F401  (fixtures)
from .test_fidelity import spec as spec  # noqa: F401

VALIDATION = {"ErrorNumber": 10, "Type": "ValidationException",
              "Message": "A validation exception occurred"}
UNKNOWN = "0b1c0a3e-5d7f-4c21-9a51-000000000000"


@pytest.fixture
def sb(make_sb: Callable[..., XeroSandbox]) -> Iterator[XeroSandbox]:
    yield make_sb(orgs=[OrgSpec(customers=12, invoices=60, payments=40, suppliers=2,
                                bills=6)])


def _customers(sb: XeroSandbox, n: int) -> list[str]:
    org = sb.orgs[0]
    return [k for k, c in org.contacts.items() if c["ContactStatus"] == "ACTIVE"][:n]


def _snapshot(sb: XeroSandbox) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Everything a refused write must leave as it was: contacts, groups and members."""
    org = sb.orgs[0]
    return ({k: dict(c) for k, c in org.contacts.items()},
            {k: dict(g) for k, g in org.contact_groups.items()},
            {k: dict(m) for k, m in org.group_members.items()})


def _refused(r: Any, spec: dict[str, Any], registry: Registry) -> list[dict[str, Any]]:
    """A 400 ValidationException as the spec's Error schema has it; its elements."""
    assert r.status_code == 400, r.text
    body = r.json()
    assert {k: body[k] for k in VALIDATION} == VALIDATION
    assert_valid(spec, registry, {**body, "Elements": []},
                 "#/components/schemas/Error")
    return list(body["Elements"])


def _messages(element: dict[str, Any]) -> list[str]:
    assert element.get("HasValidationErrors", True) is True  # (history notes have no flag)
    return [e["Message"] for e in element["ValidationErrors"]]


@pytest.mark.parametrize(("patch", "message"), [
    ({"PaymentTerms": {"Sales": {"Day": 20, "Type": "NET"}}},
     "'NET' is not a valid payment terms type; use one of DAYSAFTERBILLDATE, "
     "DAYSAFTERBILLMONTH, OFCURRENTMONTH, OFFOLLOWINGMONTH."),
    ({"PaymentTerms": {"Sales": {"Day": 40, "Type": "OFFOLLOWINGMONTH"}}},
     "PaymentTerms.Sales.Day must be a day of the month (1-31)."),
    ({"ContactStatus": "DORMANT"},
     "'DORMANT' is not a valid ContactStatus; use one of ACTIVE, ARCHIVED, GDPRREQUEST."),
    ({"Name": "  "}, "Contact Name cannot be empty."),
])
def test_a_bad_contact_update_is_refused_and_changes_nothing(
        sb: XeroSandbox, spec: dict[str, Any], registry: Registry,  # noqa: F811
        patch: dict[str, Any], message: str) -> None:
    c = Client(sb)
    good, bad = _customers(sb, 2)
    before = _snapshot(sb)
    batch = {"Contacts": [{"ContactID": good, "PaymentTerms": {"Sales": {
        "Day": 7, "Type": "DAYSAFTERBILLDATE"}}}, {"ContactID": bad, **patch}]}
    elements = _refused(c.send("POST", "Contacts", batch), spec, registry)
    # only the refused element comes back, echoed as the contact it would have become
    assert [e["ContactID"] for e in elements] == [bad]
    assert _messages(elements[0]) == [message]
    # (it echoes the refused value, so only its properties are the Contact schema's)
    assert set(elements[0]) <= set(spec["components"]["schemas"]["Contact"]["properties"])
    assert _snapshot(sb) == before  # the valid element was not saved either
    # the single-contact endpoint refuses it the same way
    single = c.send("POST", f"Contacts/{bad}", {"Contacts": [patch]})
    assert _messages(_refused(single, spec, registry)[0]) == [message]
    assert _snapshot(sb) == before


def test_summarize_errors_false_saves_the_valid_and_marks_the_refused(
        sb: XeroSandbox, spec: dict[str, Any], registry: Registry) -> None:  # noqa: F811
    c = Client(sb)
    first, bad, last = _customers(sb, 3)
    terms = {"Day": 9, "Type": "DAYSAFTERBILLDATE"}
    org = sb.orgs[0]
    org.contacts[bad]["Website"] = "www.example.net"  # as Xero's own screens allow
    org.contacts.touch(bad)
    batch = {"Contacts": [{"ContactID": cid, "PaymentTerms": {"Sales": terms}}
                          for cid in (first, bad, UNKNOWN, last)]}
    before = org.contacts[bad]["PaymentTerms"]
    r = c.session.post(f"{sb.url}/api.xro/2.0/Contacts", params={"summarizeErrors": "false"},
                       json=batch, headers=c.headers(), timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert_valid(spec, registry, body, response_schema(spec, "post", "/Contacts"))
    out = body["Contacts"]
    assert [e["ContactID"] for e in out] == [first, bad, UNKNOWN, last]
    assert [e.get("StatusAttributeString") for e in out] == [None, "ERROR", "ERROR", None]
    assert [e["HasValidationErrors"] for e in out] == [False, True, True, False]
    assert _messages(out[1]) == ["Website must be valid."]
    assert _messages(out[2]) == [
        "The document with the supplied id was not found for this endpoint."]
    assert org.contacts[first]["PaymentTerms"]["Sales"] == terms
    assert org.contacts[last]["PaymentTerms"]["Sales"] == terms
    assert org.contacts[bad]["PaymentTerms"] == before


def test_a_batch_with_an_unknown_contact_saves_nothing(
        sb: XeroSandbox, spec: dict[str, Any], registry: Registry) -> None:  # noqa: F811
    # Before, the elements ahead of the unknown id were saved and the call answered 404.
    c = Client(sb)
    a, b = _customers(sb, 2)
    gid = next(iter(sb.orgs[0].contact_groups))
    sb.orgs[0].group_members[gid] = {}
    before = _snapshot(sb)
    terms = {"Sales": {"Day": 3, "Type": "DAYSAFTERBILLDATE"}}
    elements = _refused(c.send("POST", "Contacts", {"Contacts": [
        {"ContactID": a, "PaymentTerms": terms}, {"ContactID": UNKNOWN, "PaymentTerms": terms},
        {"ContactID": b, "PaymentTerms": terms}]}), spec, registry)
    assert [(e["ContactID"], _messages(e)) for e in elements] == [
        (UNKNOWN, ["The document with the supplied id was not found for this endpoint."])]
    members = c.send("PUT", f"ContactGroups/{gid}/Contacts", {"Contacts": [
        {"ContactID": a}, {"ContactID": UNKNOWN}, {"ContactID": b}]})
    assert [e["ContactID"] for e in _refused(members, spec, registry)] == [UNKNOWN]
    notes = c.send("PUT", f"Contacts/{a}/History", {"HistoryRecords": [
        {"Details": "first"}, {"Details": ""}]})
    assert _messages(_refused(notes, spec, registry)[0]) == ["Details cannot be empty"]
    assert _snapshot(sb) == before
    assert not [h for h in sb.orgs[0].history.get(a, []) if h["Details"] == "first"]


def test_a_contact_with_a_website_xero_calls_invalid_cannot_be_updated(
        sb: XeroSandbox, spec: dict[str, Any], registry: Registry) -> None:  # noqa: F811
    # Xero's screens accept a website without http(s)://; the API then refuses every update
    # of that contact (XeroAPI/Xero-NetStandard #434, #623).
    c = Client(sb)
    cid = _customers(sb, 1)[0]
    org = sb.orgs[0]
    org.contacts[cid]["Website"] = "www.example.net"
    org.contacts.touch(cid)
    r = c.send("POST", f"Contacts/{cid}", {"Contacts": [{"PaymentTerms": {"Sales": {
        "Day": 5, "Type": "DAYSAFTERBILLDATE"}}}]})
    element = _refused(r, spec, registry)[0]
    assert _messages(element) == ["Website must be valid."]
    assert element["Website"] == "www.example.net"
    org.contacts[cid]["Website"] = "https://www.example.net"
    org.contacts.touch(cid)
    assert c.send("POST", f"Contacts/{cid}", {"Contacts": [{"PaymentTerms": {"Sales": {
        "Day": 5, "Type": "DAYSAFTERBILLDATE"}}}]}).status_code == 200


def test_contact_names_stay_unique_among_active_contacts(
        sb: XeroSandbox, spec: dict[str, Any], registry: Registry) -> None:  # noqa: F811
    c = Client(sb)
    a, b, other = _customers(sb, 3)
    taken = sb.orgs[0].contacts[a]["Name"]
    r = c.send("POST", f"Contacts/{b}", {"Contacts": [{"Name": taken.upper()}]})
    assert _messages(_refused(r, spec, registry)[0]) == [
        f"The contact name {taken.upper()} is already assigned to another contact. The contact "
        "name must be unique across all active contacts."]
    # two renames to one new name in one batch: the second is refused, neither is saved
    before = _snapshot(sb)
    r = c.send("POST", "Contacts", {"Contacts": [{"ContactID": b, "Name": "Twin Ltd"},
                                                 {"ContactID": other, "Name": "Twin Ltd"}]})
    assert [e["ContactID"] for e in _refused(r, spec, registry)] == [other]
    assert _snapshot(sb) == before


def test_contact_group_names_and_status(
        sb: XeroSandbox, spec: dict[str, Any], registry: Registry) -> None:  # noqa: F811
    c = Client(sb)
    org = sb.orgs[0]
    existing = next(g["Name"] for g in org.contact_groups.values() if g["Status"] == "ACTIVE")
    before = _snapshot(sb)
    taken = ("You cannot create a contact group with the same name as an existing contact "
             "group.")
    for names, refused in (([""], [("", "Contact Group Name is mandatory")]),
                           ([existing.lower()], [(existing.lower(), taken)]),
                           (["AR: New", "AR: new"], [("AR: new", taken)])):
        r = c.send("PUT", "ContactGroups", {"ContactGroups": [{"Name": n} for n in names]})
        elements = _refused(r, spec, registry)
        assert_valid(spec, registry, r.json(), response_schema(spec, "put", "/ContactGroups",
                                                               "400"))
        assert [(e["Name"], *_messages(e)) for e in elements] == refused, names
    assert _snapshot(sb) == before
    made = c.send("PUT", "ContactGroups", {"ContactGroups": [{"Name": "AR: Fresh"}]})
    gid = made.json()["ContactGroups"][0]["ContactGroupID"]
    before = _snapshot(sb)
    for patch, message in (({"Name": existing}, taken),
                           ({"Name": " "}, "Contact Group Name is mandatory"),
                           ({"Status": "ARCHIVED"}, "'ARCHIVED' is not a valid contact group "
                                                    "Status; use ACTIVE or DELETED.")):
        r = c.send("POST", f"ContactGroups/{gid}", {"ContactGroups": [patch]})
        assert _messages(_refused(r, spec, registry)[0]) == [message], patch
    assert _snapshot(sb) == before
    renamed = c.send("POST", f"ContactGroups/{gid}", {"ContactGroups": [{"Name": "AR: Fresh"}]})
    assert renamed.status_code == 200, renamed.text  # its own name is not a duplicate
