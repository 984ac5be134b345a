"""The QuickBooks Online writer on its own: batches of at most 30, a missing customer type
refused with its name and where to create it, a stale SyncToken re-read and retried once, a
per-item Fault failing only its item, the credit limit's custom field. Replies are built from
Intuit's Batch reference sample (tests/fixtures/qbo_recorded/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
import responses

from arconnect.adapters.base import ErpState, SlotKind, SlotSpec, WriteCall, Writer
from arconnect.adapters.quickbooks.writer import QuickBooksWriter, request_id
from arconnect.adapters.xero.writer import XeroWriter

API = "https://qbo.test/v3/company/1234"
SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "qbo_recorded" / \
    "intuit_docs_batch_sample_batch_request_sample_response.json"


def _fault(code: str) -> dict[str, Any]:
    """The Fault Intuit's Batch sample answers with ``code`` (5010 stale, 6240 duplicate...)."""
    items = json.loads(SAMPLE.read_text())["BatchItemResponse"]
    return next(i["Fault"] for i in items
                if "Fault" in i and i["Fault"]["Error"][0]["code"] == code)


class Client:
    """The engine's client as an adapter sees it: paths under the company's API root."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def request(self, method: str, path: str, *, params: Any = None, headers: Any = None,
                json: Any = None) -> requests.Response:
        return self.session.request(method, f"{API}/{path.lstrip('/')}", params=params,
                                    headers=headers, json=json, timeout=5)


TYPE = SlotSpec("field:segment", SlotKind.REFERENCE, "CustomerTypeRef",
                {"Slow": "AR Slow", "Fast": "AR Fast"}, create=False)
TERMS = SlotSpec("terms", SlotKind.REFERENCE)


def _erp(customers: int = 3) -> ErpState:
    erp = ErpState(objects={"field:segment": {"AR Slow": "7", "AR Fast": "8"},
                            "terms": {"Net 30": "3"}})
    erp.extra["sync_tokens"] = {str(c): "0" for c in range(1, customers + 1)}
    return erp


def _op(customer: int, after: str = "AR Slow", before: str | None = None,
        slot: str = "field:segment", action: str = "field.set") -> dict[str, Any]:
    return {"action": action, "customer": str(customer), "name": f"C{customer}", "slot": slot,
            "before": before, "after": after, "reason": "r", "priority": float(customer)}


def _calls(writer: QuickBooksWriter, ops: list[dict[str, Any]], erp: ErpState
           ) -> list[WriteCall]:
    units = writer.compile(ops, erp, set())
    for u in units:
        for call in u.calls:
            writer.resolve(call, erp)
    return [c for u in units for c in u.calls]


def test_both_writers_implement_the_port() -> None:
    assert isinstance(QuickBooksWriter(), Writer) and isinstance(XeroWriter(), Writer)


def test_changes_go_in_batches_of_at_most_30_one_item_per_customer() -> None:
    writer = QuickBooksWriter(batch_size=None)
    erp = _erp(70)
    ops = [_op(c) for c in range(1, 71)]
    ops.append(_op(5, "Net 30", slot="terms", action="terms.set"))  # same customer, same item
    calls = _calls(writer, ops, erp)
    sizes = [len(c.body["BatchItemRequest"]) for c in calls]
    assert sizes == [30, 30, 10]
    assert len(calls) == writer.min_calls(ops, erp) == 3
    item = next(i for c in calls for i in c.body["BatchItemRequest"] if i["bId"] == "c:5")
    assert item == {"bId": "c:5", "operation": "update", "Customer": {
        "Id": "5", "SyncToken": "0", "sparse": True,
        "CustomerTypeRef": {"value": "7", "name": "AR Slow"},
        "SalesTermRef": {"value": "3", "name": "Net 30"}}}
    # largest open balance first
    assert calls[0].body["BatchItemRequest"][0]["bId"] == "c:70"
    assert QuickBooksWriter(batch_size=50).batch_size == 30


def test_a_missing_customer_type_is_refused_with_where_to_create_it() -> None:
    writer = QuickBooksWriter()
    message = writer.refusal("Acme", [TYPE, TERMS], _erp(),
                             {"field:segment": {"AR Slow"}, "terms": {"Net 45"}})
    assert message is not None
    assert "Sales → Customers → Customer types → New: AR Slow" in message
    assert "Net 45" not in message  # terms can be created
    assert "Nothing was written" in message
    assert writer.refusal("Acme", [TYPE, TERMS], _erp(), {"terms": {"Net 45"}}) is None


def test_a_missing_term_is_created_first_and_referred_to_by_its_new_id() -> None:
    writer = QuickBooksWriter()
    erp = _erp()
    assert writer.terms_value(45, "", erp) == "Net 45"
    assert writer.terms_value(30, "", erp) == "Net 30"
    ops = [{"action": "object.create", "customer": None, "name": None, "slot": "object",
            "before": None, "after": "Net 45", "reason": "r", "priority": 0.0,
            "target": "terms"}, _op(1, "Net 45", slot="terms", action="terms.set")]
    units = writer.compile(ops, erp, set())
    create, update = units[0].calls[0], units[1].calls[0]
    assert create.body["BatchItemRequest"] == [
        {"bId": "t:Net 45", "operation": "create", "Term": {"Name": "Net 45", "DueDays": 45}}]
    with responses.RequestsMock() as rsps:
        rsps.post(f"{API}/batch", json={"BatchItemResponse": [
            {"bId": "t:Net 45", "Term": {"Id": "9", "Name": "Net 45", "DueDays": 45}}]})
        out = writer.send(Client(), create, "plan:1", ops, erp)
    assert out.ok and out.created == {"Net 45": "9"} and not out.refused
    writer.resolve(update, erp)
    assert update.body["BatchItemRequest"][0]["Customer"]["SalesTermRef"]["value"] == "9"


def test_a_stale_item_is_reread_and_sent_once_more() -> None:
    writer = QuickBooksWriter()
    erp = _erp()
    ops = [_op(1, before=None), _op(2, before="AR Fast")]
    [call] = _calls(writer, ops, erp)
    with responses.RequestsMock() as rsps:
        first = rsps.post(f"{API}/batch", json={"BatchItemResponse": [
            {"bId": "c:2", "Customer": {"Id": "2", "SyncToken": "1"}},
            {"bId": "c:1", "Fault": _fault("5010")}]})
        reread = rsps.get(f"{API}/query", json={"QueryResponse": {"Customer": [
            {"Id": "1", "SyncToken": "4", "DisplayName": "C1"}]}})
        again = rsps.post(f"{API}/batch", json={"BatchItemResponse": [
            {"bId": "c:1", "Customer": {"Id": "1", "SyncToken": "5"}}]})
        out = writer.send(Client(), call, "plan:abc", ops, erp)
        assert reread.call_count == 1
        assert first.call_count == 1 and again.call_count == 1
        bodies = [json.loads(c.request.body) for c in rsps.calls
                  if c.request.method == "POST"]
        ids = [parse_qs(urlparse(c.request.url).query)["requestid"][0] for c in rsps.calls
               if c.request.method == "POST"]
        statement = parse_qs(urlparse(rsps.calls[1].request.url).query)["query"][0]
    assert out.ok and out.refused == {} and out.write_calls == 2 and out.read_calls == 1
    assert bodies[1]["BatchItemRequest"] == [{"bId": "c:1", "operation": "update", "Customer": {
        "Id": "1", "SyncToken": "4", "sparse": True,
        "CustomerTypeRef": {"value": "7", "name": "AR Slow"}}}]
    assert ids == [request_id("plan:abc"), request_id("plan:abc:stale")] and ids[0] != ids[1]
    assert "FROM Customer WHERE Id IN ('1')" in statement


def test_stale_twice_fails_the_item_and_a_hand_change_is_left_alone() -> None:
    writer = QuickBooksWriter()
    erp = _erp()
    ops = [_op(1), _op(2)]
    [call] = _calls(writer, ops, erp)
    with responses.RequestsMock() as rsps:
        rsps.post(f"{API}/batch", json={"BatchItemResponse": [
            {"bId": "c:1", "Fault": _fault("5010")}, {"bId": "c:2", "Fault": _fault("5010")}]})
        rsps.get(f"{API}/query", json={"QueryResponse": {"Customer": [
            {"Id": "1", "SyncToken": "4"},
            # someone set customer 2's type by hand meanwhile: not overwritten
            {"Id": "2", "SyncToken": "6", "CustomerTypeRef": {"value": "8", "name": "AR Fast"}}]}})
        rsps.post(f"{API}/batch", json={"BatchItemResponse": [
            {"bId": "c:1", "Fault": _fault("5010")}]})
        out = writer.send(Client(), call, "plan:x", ops, erp)
        posts = [json.loads(c.request.body) for c in rsps.calls if c.request.method == "POST"]
    assert [i["bId"] for i in posts[1]["BatchItemRequest"]] == ["c:1"]
    assert out.ok and out.write_calls == 2
    assert "twice" in out.refused[0]
    assert "changed in QuickBooks while this plan waited (now AR Fast)" in out.refused[1]


def test_a_per_item_fault_fails_only_its_operations_with_qbos_message() -> None:
    writer = QuickBooksWriter()
    erp = _erp()
    ops = [_op(1), _op(2), _op(3)]
    [call] = _calls(writer, ops, erp)
    with responses.RequestsMock() as rsps:
        rsps.post(f"{API}/batch", json={"BatchItemResponse": [
            {"bId": "c:3", "Customer": {"Id": "3", "SyncToken": "1"}},
            {"bId": "c:2", "Fault": _fault("610")}]})  # and no answer at all for c:1
        out = writer.send(Client(), call, "plan:y", ops, erp)
    assert out.ok and out.write_calls == 1
    assert set(out.refused) == {0, 1}
    assert out.refused[1].startswith("Object Not Found") and "(code 610)" in out.refused[1]
    assert "did not answer" in out.refused[0]
    assert erp.extra["sync_tokens"]["3"] == "1"


def test_a_refused_batch_fails_the_call() -> None:
    writer = QuickBooksWriter()
    erp = _erp()
    ops = [_op(1)]
    [call] = _calls(writer, ops, erp)
    with responses.RequestsMock() as rsps:
        rsps.post(f"{API}/batch", status=400, json={"Fault": _fault("6240"), "time": "x"})
        out = writer.send(Client(), call, "plan:z", ops, erp)
    assert not out.ok and out.status == 400 and "Duplicate Name Exists Error" in str(out.message)


def test_the_credit_limit_field_is_found_or_listed_as_not_written() -> None:
    writer = QuickBooksWriter()
    limit = SlotSpec("field:credit_limit", SlotKind.SCALAR, "AR credit limit")
    rows = {"1": {"extra": {"sync_token": "0"}}, "2": {"extra": {"sync_token": "2"}}}
    with responses.RequestsMock() as rsps:
        rsps.get(f"{API}/query", json={"QueryResponse": {"Customer": [
            {"Id": "1", "SyncToken": "0", "CustomField": [
                {"DefinitionId": "540344", "Name": "AR credit limit", "Type": "StringType",
                 "StringValue": "5000"}]},
            {"Id": "2", "SyncToken": "2", "CustomField": [
                {"DefinitionId": "540344", "Name": "AR credit limit", "Type": "StringType"}]}]}})
        erp = writer.read_state(Client(), [limit], rows)
        assert "enhancedAllCustomFields" in rsps.calls[0].request.url
    assert "field:credit_limit" not in erp.unavailable
    assert erp.value("1", "field:credit_limit") == "5000"
    assert erp.value("2", "field:credit_limit") is None
    [call] = _calls(writer, [_op(2, "2500", slot="field:credit_limit")], erp)
    assert call.body["BatchItemRequest"][0]["Customer"]["CustomField"] == [
        {"DefinitionId": "540344", "StringValue": "2500"}]

    # a company without the field (or without the premium Custom Fields API): not written
    with responses.RequestsMock() as rsps:
        rsps.get(f"{API}/query", json={"QueryResponse": {"Customer": [
            {"Id": "1", "SyncToken": "0"}, {"Id": "2", "SyncToken": "2"}]}})
        erp = writer.read_state(Client(), [limit], rows)
    assert "Custom Fields API, a premium API" in erp.unavailable["field:credit_limit"]
    # no field named in the mapping: the plan says QBO has none
    erp = writer.read_state(Client(), [], rows)
    assert "no credit-limit field" in erp.unavailable["field:credit_limit"]
    assert erp.calls == 0  # everything else came from the store
