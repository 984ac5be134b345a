"""The sandbox's payloads against real QBO responses and Intuit's samples
(``tests/fixtures/qbo_recorded/``, see its SOURCES.md): field names, nested keys, JSON value
types, key order, envelopes, Faults, timestamps."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from arconnect.sandbox.quickbooks import QboSandbox

from .conftest import Api

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "qbo_recorded"
# Fields the recordings happen not to show but QBO documents (Intuit's v3 XSD: Customer
# SalesTermRef/CustomerTypeRef; ExchangeRate on transactions of a multicurrency company).
DOCUMENTED_EXTRAS = {"Customer": {"SalesTermRef", "CustomerTypeRef"},
                     "Invoice": {"ExchangeRate"}, "Payment": {"ExchangeRate"},
                     "CreditMemo": {"ExchangeRate"}}
RECORDED = {"Customer": "nango_sandbox_query_Customer_page1.json",
            "Invoice": "recorded_sandbox_query_Invoice_page1.json",
            "Payment": "recorded_sandbox_query_Payment_page1.json",
            "CreditMemo": "recorded_sandbox_query_CreditMemo_page1.json"}
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _shapes(records: list[Any], path: str = "", out: dict[str, set[str]] | None = None
            ) -> dict[str, set[str]]:
    """Every key path (``Line[].LinkedTxn[].TxnId``) seen, with the JSON kinds of its values."""
    out = {} if out is None else out
    for record in records:
        if isinstance(record, dict):
            for key, value in record.items():
                here = f"{path}.{key}" if path else key
                out.setdefault(here, set()).add(_kind(value))
                if isinstance(value, dict):
                    _shapes([value], here, out)
                elif isinstance(value, list):
                    _shapes(value, here + "[]", out)
    return out


@pytest.fixture(scope="module")
def mine(qbo: QboSandbox) -> dict[str, list[Any]]:
    """Every record the sandbox serves, as a client receives it."""
    api = Api(qbo)
    out: dict[str, list[Any]] = {}
    for entity in RECORDED:
        text = f"SELECT * FROM {entity} MAXRESULTS 1000"
        if entity == "Customer":
            text = f"SELECT * FROM {entity} WHERE Active IN (true, false) MAXRESULTS 1000"
        out[entity] = api.query(text).json()["QueryResponse"][entity]
        assert out[entity], entity
    return out


@pytest.mark.parametrize("entity", sorted(RECORDED))
def test_fields_and_types_match_the_recordings(entity: str,
                                               mine: dict[str, list[Any]]) -> None:
    real = _load(RECORDED[entity])["QueryResponse"][entity]
    if entity == "Customer":
        real += [_load("intuit_docs_customer_read_a_customer_returns.json")["Customer"]]
    real_shapes, my_shapes = _shapes(real), _shapes(mine[entity])
    top_extras = {p for p in my_shapes if "." not in p and "[" not in p} - set(real_shapes)
    assert top_extras <= DOCUMENTED_EXTRAS[entity], top_extras
    nested = {p for p in my_shapes if ("." in p or "[" in p)
              and p.split(".")[0].split("[")[0] not in DOCUMENTED_EXTRAS[entity]}
    unknown = nested - set(real_shapes)
    assert not unknown, f"{entity}: nested keys no recording shows: {sorted(unknown)}"
    for path in set(my_shapes) & set(real_shapes):
        assert my_shapes[path] <= real_shapes[path] | {"NoneType"}, (
            f"{entity}.{path}: {my_shapes[path]} vs recorded {real_shapes[path]}")
    required = set.intersection(*(set(r) for r in real))
    for record in mine[entity]:
        assert required <= set(record), required - set(record)


@pytest.mark.parametrize("entity", sorted(RECORDED))
def test_key_order_follows_the_recordings(entity: str, mine: dict[str, list[Any]]) -> None:
    real = _load(RECORDED[entity])["QueryResponse"][entity]
    for reference in real:
        order = {k: i for i, k in enumerate(reference)}
        for record in mine[entity]:
            common = [k for k in record if k in order]
            assert common == sorted(common, key=order.__getitem__), (entity, record["Id"])


def test_timestamps_and_dates(mine: dict[str, list[Any]], api: Api) -> None:
    for records in mine.values():
        for record in records:
            assert STAMP.match(record["MetaData"]["CreateTime"])
            assert STAMP.match(record["MetaData"]["LastUpdatedTime"])
            assert record["MetaData"]["LastUpdatedTime"].endswith("-08:00")
            if "TxnDate" in record:
                assert re.fullmatch(r"\d{4}-\d\d-\d\d", record["TxnDate"])
    assert TIME.match(_load(RECORDED["Invoice"])["time"])
    assert TIME.match(api.query("SELECT * FROM Term").json()["time"])


def test_envelopes_match_the_samples(api: Api) -> None:
    past = api.query("SELECT * FROM Invoice STARTPOSITION 100000").json()
    sample = _load("recorded_sandbox_query_Invoice_page2_empty.json")
    assert past["QueryResponse"] == sample["QueryResponse"] == {}
    read = api.get("customer/1").json()
    assert set(read) == set(_load("intuit_docs_customer_read_a_customer_returns.json"))
    cdc = api.get("cdc", entities="Customer,Invoice",
                  changedSince="2026-11-01T00:00:00-08:00").json()
    cdc_sample = _load("python-quickbooks_test_cdc_response.json")
    assert set(cdc) == set(cdc_sample)
    part = next(p for p in cdc["CDCResponse"][0]["QueryResponse"] if p)
    sample_part = cdc_sample["CDCResponse"][0]["QueryResponse"][1]
    assert set(part) == set(sample_part)


def test_faults_match_the_samples(api: Api) -> None:
    fault_sample = _load("python-quickbooks_test_fault_ValidationFault_2030.json")
    mine = api.query("SELECT * FROM Nowhere").json()
    assert set(mine) == {"Fault", "time"}
    assert set(mine["Fault"]) == set(fault_sample)
    assert set(mine["Fault"]["Error"][0]) == set(fault_sample["Error"][0])
    batch_sample = _load("intuit_docs_batch_sample_batch_request_sample_response.json")
    stale = batch_sample["BatchItemResponse"][2]["Fault"]["Error"][0]
    token = api.get("customer/2").json()["Customer"]["SyncToken"]
    resp = api.post("batch", {"BatchItemRequest": [
        {"bId": "bid3", "operation": "update",
         "Customer": {"Id": "2", "SyncToken": token + "9", "sparse": True}}]}).json()
    item = resp["BatchItemResponse"][0]
    assert set(resp) == set(batch_sample)
    assert set(item) == set(batch_sample["BatchItemResponse"][2])
    error = item["Fault"]["Error"][0]
    assert (error["Message"], error["code"], error["Detail"][:40]) == (
        stale["Message"], stale["code"], stale["Detail"][:40])


def test_sparse_update_answer_matches_the_sample(qbo: QboSandbox) -> None:
    api = Api(qbo)
    sample = _load("intuit_docs_customer_sparse_update_a_customer_returns.json")
    current = api.get("customer/9").json()["Customer"]
    done = api.post("customer", {"Id": "9", "SyncToken": current["SyncToken"],
                                 "sparse": True, "MiddleName": "Mark"}).json()
    assert set(done) == set(sample)
    assert done["Customer"]["MiddleName"] == "Mark"
    assert int(done["Customer"]["SyncToken"]) == int(current["SyncToken"]) + 1
