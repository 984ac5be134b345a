"""Change data capture: the 30-day window, the 1,000-object cap, tombstones, the shape."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from arconnect.sandbox.quickbooks import QboSandbox
from arconnect.sandbox.quickbooks.wire import stamp

from .conftest import Api


def _since(sb: QboSandbox, seconds: float) -> str:
    return stamp(sb.clock.now() - timedelta(seconds=seconds), sb.companies[0].tz)


def test_window_is_30_days(api: Api, qbo: QboSandbox) -> None:
    old = api.get("cdc", entities="Invoice", changedSince=_since(qbo, 31 * 86400))
    assert old.status_code == 400
    error = old.json()["Fault"]["Error"][0]
    assert "older than fixed days" in error["Detail"]
    assert api.get("cdc", entities="Invoice",
                   changedSince=_since(qbo, 29 * 86400)).status_code == 200


def test_shape_and_recent_changes(api: Api, qbo: QboSandbox) -> None:
    company = qbo.companies[0]
    since = qbo.clock.now() - timedelta(days=20)
    body = api.get("cdc", entities="Invoice,Customer,Payment",
                   changedSince=stamp(since, company.tz)).json()
    assert set(body) == {"CDCResponse", "time"}
    parts = body["CDCResponse"][0]["QueryResponse"]
    assert len(parts) == 3
    invoices = parts[0]["Invoice"]
    assert parts[0]["startPosition"] == 1 and parts[0]["maxResults"] == len(invoices)
    expected = {k for k, v in company.tables["Invoice"].updated.items() if v >= since}
    assert {i["Id"] for i in invoices if "status" not in i} == expected
    assert parts[1] == {} or "Customer" in parts[1]


def test_1000_cap_returns_the_oldest_changes(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    company = sb.companies[0]
    api = Api(sb)
    since = sb.clock.now()
    mut = sb.mutate()
    customers = [k for k, c in company.tables["Customer"].items() if c["Active"]][:4]
    for n in range(1100):
        if n % 100 == 0:
            sb.clock.advance(1)
        mut.new_invoice(customers[n % 4])
    body = api.get("cdc", entities="Customer,Invoice",
                   changedSince=stamp(since, company.tz)).json()
    parts = body["CDCResponse"][0]["QueryResponse"]
    got = [*parts[0].get("Customer", []), *parts[1].get("Invoice", [])]
    assert len(got) == 1000
    table = company.tables["Invoice"]
    changed = sorted((t, int(k)) for k, t in table.updated.items() if t >= since)
    newest_returned = max(table.updated[i["Id"]] for i in parts[1]["Invoice"])
    left_out = [t for t, _ in changed[len(parts[1]["Invoice"]):]]
    assert left_out and min(left_out) >= newest_returned


def test_deletes_come_back_as_tombstones(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    company = sb.companies[0]
    api = Api(sb)
    pay_id, pay = next((k, p) for k, p in company.tables["Payment"].items()
                       if p["TotalAmt"] > 0 and p["Line"])
    inv_id = pay["Line"][0]["LinkedTxn"][0]["TxnId"]
    balance = company.tables["Invoice"][inv_id]["Balance"]
    since = stamp(sb.clock.now(), company.tz)
    sb.clock.advance(5)
    sb.mutate().delete("Payment", pay_id)
    parts = api.get("cdc", entities="Payment,Invoice",
                    changedSince=since).json()["CDCResponse"][0]["QueryResponse"]
    stone = parts[0]["Payment"][0]
    assert stone["Id"] == pay_id and stone["status"] == "Deleted"
    assert set(stone) == {"domain", "status", "Id", "MetaData"}
    invoice = parts[1]["Invoice"][0]
    assert invoice["Id"] == inv_id and invoice["Balance"] > balance
    assert api.get(f"payment/{pay_id}").status_code == 400
    sb.clock.advance(31 * 86400)  # the tombstone ages out of every allowed window
    later = Api(sb).get("cdc", entities="Payment", changedSince=_since(sb, 29 * 86400))
    assert later.json()["CDCResponse"][0]["QueryResponse"] == [{}]


def test_cdc_needs_known_entities_and_a_date(api: Api, qbo: QboSandbox) -> None:
    assert api.get("cdc", entities="Bogus",
                   changedSince=_since(qbo, 60)).status_code == 400
    assert api.get("cdc", entities="Invoice").status_code == 400
