"""Writes: customer sparse update (SyncToken, references, custom fields), term create,
CustomerType refused, batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arconnect.sandbox.quickbooks import CompanySpec, QboSandbox

from .conftest import Api


def _code(resp: Any) -> str:
    return str(resp.json()["Fault"]["Error"][0]["code"])


def test_sparse_update_bumps_sync_token(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    api = Api(sb)
    before = api.get("customer/3").json()["Customer"]
    sb.clock.advance(120)
    resp = api.post("customer", {"Id": "3", "SyncToken": before["SyncToken"], "sparse": True,
                                 "CustomerTypeRef": {"value": "2"},
                                 "SalesTermRef": {"value": "5"}})
    assert resp.status_code == 200
    after = resp.json()["Customer"]
    assert after["SyncToken"] == str(int(before["SyncToken"]) + 1)
    assert after["CustomerTypeRef"] == {"value": "2", "name": "Residential"}
    assert after["SalesTermRef"]["value"] == "5"
    assert after["MetaData"]["LastUpdatedTime"] > before["MetaData"]["LastUpdatedTime"]
    assert after["DisplayName"] == before["DisplayName"]  # sparse: the rest untouched
    stale = api.post("customer", {"Id": "3", "SyncToken": before["SyncToken"], "sparse": True,
                                  "Notes": "x"})
    assert stale.status_code == 400 and _code(stale) == "5010"
    assert stale.json()["Fault"]["Error"][0]["Message"] == "Stale Object Error"


def test_references_must_exist(api: Api) -> None:
    token = api.get("customer/4").json()["Customer"]["SyncToken"]
    bad = api.post("customer", {"Id": "4", "SyncToken": token, "sparse": True,
                                "CustomerTypeRef": {"value": "999"}})
    assert bad.status_code == 400 and _code(bad) == "2500"
    bad_term = api.post("customer", {"Id": "4", "SyncToken": token, "sparse": True,
                                     "SalesTermRef": {"value": "999"}})
    assert _code(bad_term) == "2500"
    dup_name = api.get("customer/5").json()["Customer"]["DisplayName"]
    dup = api.post("customer", {"Id": "4", "SyncToken": token, "sparse": True,
                                "DisplayName": dup_name})
    assert _code(dup) == "6240"


def test_custom_fields_only_when_defined(make_qbo: Callable[..., QboSandbox], api: Api) -> None:
    body = {"Id": "6", "sparse": True,
            "CustomField": [{"DefinitionId": "1", "StringValue": "5000"}]}
    token = api.get("customer/6").json()["Customer"]["SyncToken"]
    refused = api.post("customer", {**body, "SyncToken": token})
    assert refused.status_code == 400 and _code(refused) == "2010"
    sb = make_qbo(companies=[CompanySpec(customers=10, invoices=40, payments=20,
                                         custom_fields={"Credit limit": "1"})])
    own = Api(sb)
    token = own.get("customer/6").json()["Customer"]["SyncToken"]
    done = own.post("customer", {**body, "SyncToken": token}).json()["Customer"]
    assert done["CustomField"] == [{"DefinitionId": "1", "Name": "Credit limit",
                                    "Type": "StringType", "StringValue": "5000"}]


def test_customer_type_cannot_be_created(api: Api) -> None:
    resp = api.post("customertype", {"Name": "AR: Slow"})
    assert resp.status_code == 400
    error = resp.json()["Fault"]["Error"][0]
    assert error["Message"] == "Unsupported Operation" and error["code"] == "500"
    types = api.query("SELECT * FROM CustomerType").json()["QueryResponse"]["CustomerType"]
    assert [t["Name"] for t in types] == ["Commercial", "Residential", "Wholesale"]


def test_term_create_and_duplicate(make_qbo: Callable[..., QboSandbox]) -> None:
    api = Api(make_qbo())
    made = api.post("term", {"Name": "Net 45", "DueDays": 45})
    assert made.status_code == 200
    term = made.json()["Term"]
    assert term["Type"] == "STANDARD" and term["DueDays"] == 45 and term["SyncToken"] == "0"
    again = api.post("term", {"Name": "net 45", "DueDays": 45})
    assert again.status_code == 400 and _code(again) == "6240"


def test_batch_items_answer_by_bid(api: Api) -> None:
    token = api.get("customer/7").json()["Customer"]["SyncToken"]
    items = [{"bId": "q", "Query": "SELECT * FROM Term MAXRESULTS 2"},
             {"bId": "stale", "operation": "update",
              "Customer": {"Id": "7", "SyncToken": str(int(token) + 5), "sparse": True}},
             {"bId": "missing", "operation": "update",
              "Customer": {"Id": "99999", "SyncToken": "0", "sparse": True}},
             {"bId": "type", "operation": "create", "CustomerType": {"Name": "X"}}]
    resp = api.post("batch", {"BatchItemRequest": items})
    assert resp.status_code == 200
    by = {item["bId"]: item for item in resp.json()["BatchItemResponse"]}
    assert by["q"]["QueryResponse"]["maxResults"] == 2
    assert by["stale"]["Fault"]["Error"][0]["code"] == "5010"
    assert by["missing"]["Fault"]["Error"][0]["code"] == "610"
    assert by["type"]["Fault"]["Error"][0]["code"] == "500"
    too_many = api.post("batch", {"BatchItemRequest": [
        {"bId": str(n), "Query": "SELECT * FROM Term"} for n in range(31)]})
    assert too_many.status_code == 400 and "Fault" in too_many.json()


def test_requestid_replays_the_first_answer(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    api = Api(sb)
    first = api.post("term", {"Name": "Net 90", "DueDays": 90}, requestid="plan-1-call-1")
    again = api.post("term", {"Name": "Net 90", "DueDays": 90}, requestid="plan-1-call-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = api.post("term", {"Name": "Net 90", "DueDays": 90}, requestid="plan-1-call-2")
    assert _code(other) == "6240"


def test_customer_types_made_on_the_qbo_side(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    api = Api(sb)
    type_id = sb.mutate().add_customer_type("AR: Slow payer")
    assert sb.mutate().add_customer_type("ar: slow payer") == type_id
    names = [t["Name"] for t in
             api.query("SELECT * FROM CustomerType").json()["QueryResponse"]["CustomerType"]]
    assert "AR: Slow payer" in names
    token = api.get("customer/2").json()["Customer"]["SyncToken"]
    done = api.post("customer", {"Id": "2", "SyncToken": token, "sparse": True,
                                 "CustomerTypeRef": {"value": type_id}})
    assert done.json()["Customer"]["CustomerTypeRef"] == {"value": type_id,
                                                          "name": "AR: Slow payer"}
