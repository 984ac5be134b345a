"""The NetSuite writer on its own, against recorded-shape REST answers: the read-back in IN
queries of 1,000 customers, one PATCH per customer carrying every slot, the Hold set to ON and
given back as AUTO (never OFF) only where write-back set it, the dunning procedure with its
manager and a cleared level, categories looked up before they are created, fields and the
SuiteApp the account lacks refused before any write, NetSuite's 400 detail on a refused PATCH.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import responses

from arconnect.adapters.base import ErpState, SlotKind, SlotSpec, WriteCall, Writer
from arconnect.adapters.netsuite.writer import TARGETS, NetSuiteWriter
from arconnect.writeback.model import StoredCustomer
from arconnect.writeback.outbound import GroupSlot
from arconnect.writeback.planner import _plan_value, _Planning

BASE = "https://1234567-sb1.suitetalk.api.netsuite.com"
SUITEQL = f"{BASE}/services/rest/query/v1/suiteql"
RECORD = f"{BASE}/services/rest/record/v1"

SEGMENT = SlotSpec("field:segment", SlotKind.REFERENCE, "category",
                   {"Reliable": "AR Reliable", "At risk": "AR At risk"}, create=False)
HOLD = SlotSpec("field:hold", SlotKind.REFERENCE, "creditholdoverride", {"hold": "ON"},
                create=False)
DUNNING = SlotSpec("field:dunning", SlotKind.REFERENCE, "custentity_3805_dunning_procedure",
                   {"Reliable": "Gentle", "At risk": "Firm", "New": "3"}, create=False)
TERMS = SlotSpec("terms", SlotKind.REFERENCE)
LIMIT = SlotSpec("field:credit_limit", SlotKind.SCALAR, "creditlimit")
RISK = SlotSpec("field:risk", SlotKind.REFERENCE, "custentity_ar_risk", {"high": "High"},
                create=False)


class Client:
    """The engine's client as an adapter sees it: paths under the account's REST root."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def request(self, method: str, path: str, *, params: Any = None, headers: Any = None,
                json: Any = None) -> requests.Response:
        return self.session.request(method, f"{BASE}{path}", params=params, headers=headers,
                                    json=json, timeout=5)


def _error(status: int, detail: str, code: str = "INVALID_PARAMETER") -> tuple[int, dict[str, str],
                                                                               str]:
    """NetSuite's REST error shape (section "Error Handling and Logging in REST Web Services")."""
    return status, {"Content-Type": "application/vnd.oracle.resource+json; type=error"}, \
        json.dumps({"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
                    "title": "Bad Request", "status": status,
                    "o:errorDetails": [{"detail": detail, "o:errorCode": code}]})


def _rows(items: list[dict[str, Any]]) -> tuple[int, dict[str, str], str]:
    return 200, {}, json.dumps({"links": [], "count": len(items), "hasMore": False,
                                "items": [{"links": [], **i} for i in items], "offset": 0,
                                "totalResults": len(items)})


class SuiteQL:
    """A SuiteQL endpoint answering each statement by its table; records what it was asked."""

    def __init__(self, answers: dict[str, Callable[[str], tuple[int, dict[str, str], str]]]
                 ) -> None:
        self.answers = answers
        self.statements: list[str] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        statement = json.loads(request.body)["q"]
        assert request.headers["Prefer"] == "transient"
        self.statements.append(statement)
        table = statement.split(" FROM ")[1].split()[0]
        return self.answers[table](statement)


def _customers_answer(rows: dict[str, dict[str, Any]]
                      ) -> Callable[[str], tuple[int, dict[str, str], str]]:
    def answer(statement: str) -> tuple[int, dict[str, str], str]:
        ids = statement.split(" IN (")[1].split(")")[0].split(", ")
        columns = [c.strip() for c in statement.split("SELECT ")[1].split(" FROM ")[0].split(",")]
        out = []
        for cid in ids:
            if cid in rows:
                # SuiteQL leaves a null column out of the row
                out.append({"id": cid, **{c: v for c, v in rows[cid].items()
                                          if c in columns and v is not None}})
        return _rows(out)
    return answer


LISTS = {
    "customercategory": lambda q: _rows([{"id": "1", "name": "Retail", "isinactive": "F"},
                                         {"id": "4", "name": "AR Reliable", "isinactive": "F"}]),
    "term": lambda q: _rows([{"id": "1", "name": "Net 30", "daysuntilnetdue": "30"},
                             {"id": "7", "name": "Due in 15", "daysuntilnetdue": "15"}]),
    "customrecord_3805_dunning_procedure": lambda q: _rows([
        {"id": "1", "name": "Standard", "custrecord_3805_default_dunning_manager": "-5"},
        {"id": "2", "name": "Gentle", "custrecord_3805_default_dunning_manager": "41"},
        {"id": "3", "name": "Firm"}]),
}


def _read(rows: dict[str, dict[str, Any]], slots: list[SlotSpec]) -> tuple[ErpState, SuiteQL]:
    sql = SuiteQL({**LISTS, "customer": _customers_answer(rows)})
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, SUITEQL, callback=sql)
        erp = NetSuiteWriter().read_state(Client(), slots, {c: {} for c in rows})
    return erp, sql


def _op(customer: str, slot: str, after: Any, before: Any = "", action: str = "field.set",
        priority: float = 1.0) -> dict[str, Any]:
    return {"action": action, "customer": customer, "name": f"C{customer}", "slot": slot,
            "before": before, "after": after, "reason": "r", "priority": priority}


def test_the_writer_implements_the_port_one_customer_a_call() -> None:
    writer = NetSuiteWriter(50, None)
    assert isinstance(writer, Writer)
    assert writer.batch_size == 1 and TARGETS.max_batch == 1 and TARGETS.limit_field
    assert writer.daily_budget(None) is None


def test_the_read_back_asks_1000_customers_an_in_query() -> None:
    rows = {str(i): {"creditlimit": "5000.00" if i % 2 else None} for i in range(1, 2501)}
    erp, sql = _read(rows, [LIMIT])
    assert len(sql.statements) == 3 and erp.calls == 3  # no list: the limit needs none
    sizes = [len(s.split(" IN (")[1].split(")")[0].split(", ")) for s in sql.statements]
    assert sizes == [1000, 1000, 500]
    assert sql.statements[0].startswith("SELECT id, creditlimit FROM customer WHERE id IN (1, ")
    assert erp.value("1", "field:credit_limit") == "5000"  # as the planner writes limits
    assert erp.value("2", "field:credit_limit") == ""  # empty: null clears it again


def test_current_values_are_reported_as_the_mapping_names_them() -> None:
    rows: dict[str, dict[str, Any]] = {
        "10": {"category": "4", "creditholdoverride": "OFF", "terms": "7",
               "custentity_3805_dunning_procedure": "3"},
        "11": {"category": "1", "creditholdoverride": "AUTO", "terms": None,
               "custentity_3805_dunning_procedure": "2"}}
    erp, sql = _read(rows, [SEGMENT, HOLD, DUNNING, TERMS])
    assert erp.values["10"] == {"field:segment": "AR Reliable", "field:hold": "OFF",
                                "terms": "Due in 15", "field:dunning": "3"}  # "3": an id
    assert erp.values["11"] == {"field:segment": "Retail", "field:hold": "AUTO", "terms": "",
                                "field:dunning": "Gentle"}
    assert erp.objects["field:hold"] == {"ON": "ON", "AUTO": "AUTO"}  # never OFF
    assert erp.objects["field:dunning"] == {"Standard": "1", "Gentle": "2", "Firm": "3",
                                            "3": "3"}
    assert len(sql.statements) == 4  # three lists, one IN query
    writer = NetSuiteWriter()
    assert writer.terms_value(15, "", erp) == "Due in 15"  # matched by days
    assert writer.terms_value(30, "", erp) == "Net 30"
    assert writer.terms_value(45, "", erp) == "Net 45"  # missing: refused below


def test_one_patch_per_customer_carries_every_slot() -> None:
    erp, _ = _read({"10": {}, "11": {}}, [SEGMENT, HOLD, DUNNING, TERMS, LIMIT])
    ops = [_op("10", "field:segment", "AR Reliable"), _op("10", "field:hold", "ON"),
           _op("10", "field:dunning", "Gentle"), _op("10", "terms", "Net 30",
                                                     action="terms.set"),
           _op("10", "field:credit_limit", "12500"),
           _op("11", "field:credit_limit", "750.5", priority=9.0)]
    writer = NetSuiteWriter()
    units = writer.compile(ops, erp, set())
    calls = [c for u in units for c in u.calls]
    assert [(c.method, c.path) for c in calls] == [
        ("PATCH", "/services/rest/record/v1/customer/11"),  # larger open balance first
        ("PATCH", "/services/rest/record/v1/customer/10")]
    assert calls[1].ops == [0, 1, 2, 3, 4]
    assert calls[1].body == {
        "category": {"id": "4"}, "creditHoldOverride": {"id": "ON"},
        "custentity_3805_dunning_procedure": {"id": "2"},
        "custentity_3805_dunning_manager": {"id": "41"},  # the procedure's default manager
        "custentity_3805_dunning_level": None,  # what the SuiteApp's client script clears
        "terms": {"id": "1"}, "creditLimit": 12500}
    assert calls[0].body == {"creditLimit": 750.5}
    assert writer.min_calls(ops, erp) == 2
    with responses.RequestsMock() as mock:
        for c in calls:
            mock.add(responses.PATCH, f"{BASE}{c.path}", status=204,
                     headers={"Location": f"{BASE}{c.path}"})
        outcomes = [writer.send(Client(), c, "k", ops, erp) for c in calls]
        sent = mock.calls[1].request
    assert [o.ok for o in outcomes] == [True, True]
    assert sent.headers["X-NetSuite-PropertyNameValidation"] == "error"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body or "") == calls[1].body


def test_a_procedure_without_a_default_manager_still_clears_the_level() -> None:
    erp, _ = _read({"10": {"custentity_3805_dunning_procedure": "2"}}, [DUNNING])
    calls = [c for u in NetSuiteWriter().compile(
        [_op("10", "field:dunning", "Firm"), ], erp, set()) for c in u.calls]
    assert calls[0].body == {"custentity_3805_dunning_procedure": {"id": "3"},
                             "custentity_3805_dunning_level": None}
    released = [c for u in NetSuiteWriter().compile(
        [_op("10", "field:dunning", "", before="Firm")], erp, set()) for c in u.calls]
    assert released[0].body == {"custentity_3805_dunning_procedure": None,
                                "custentity_3805_dunning_level": None}


def _planning(erp: ErpState, states: dict[tuple[str, str], dict[str, Any]],
              override: dict[tuple[str, str], Any] | None = None) -> _Planning:
    ctx = SimpleNamespace(outbound=SimpleNamespace(enforce=False))
    return _Planning(ctx, erp, states, override)  # type: ignore[arg-type]


def _customer(cid: str) -> StoredCustomer:
    return StoredCustomer(cid, f"C{cid}", False, {}, {"segment": "At risk"}, 1.0)


def test_the_hold_goes_on_and_back_to_auto_only_where_write_back_set_it() -> None:
    hold = GroupSlot("hold", "credit_hold", {"hold": "ON"}, kind=SlotKind.REFERENCE,
                     target="creditholdoverride", release="AUTO")
    # 20: AUTO, put on hold; 21: OFF by the admin, put on hold; 22: ON by the admin
    erp, _ = _read({"20": {"creditholdoverride": "AUTO"}, "21": {"creditholdoverride": "OFF"},
                    "22": {"creditholdoverride": "ON"}}, [HOLD])
    p = _planning(erp, {})
    for cid in ("20", "21", "22"):
        _plan_value(p, _customer(cid), "field:hold", "ON", False, "hold",
                    released=hold.released)
    assert [(o["customer"], o["before"], o["after"], o["original"]) for o in p.ops] == [
        ("20", "AUTO", "ON", "AUTO"), ("21", "OFF", "ON", "OFF")]  # 22 holds already
    # The segments stop holding: what write-back set goes to AUTO (21 too: never OFF);
    # 22's own hold is not write-back's and stays.
    erp, _ = _read({c: {"creditholdoverride": "ON"} for c in ("20", "21", "22")}, [HOLD])
    states = {("20", "field:hold"): {"value": "ON", "original": "AUTO"},
              ("21", "field:hold"): {"value": "ON", "original": "OFF"}}
    p = _planning(erp, states)
    for cid in ("20", "21", "22"):
        _plan_value(p, _customer(cid), "field:hold", None, False, "no hold",
                    released=hold.released)
    assert [(o["customer"], o["after"], o["restore"]) for o in p.ops] == [
        ("20", "AUTO", True), ("21", "AUTO", True)]
    assert p.needed == {}
    # A rollback to the state before (OFF) gives AUTO back too.
    p = _planning(erp, states, override={("21", "field:hold"): "OFF"})
    _plan_value(p, _customer("21"), "field:hold", None, False, "rollback",
                released=hold.released)
    assert [o["after"] for o in p.ops] == ["AUTO"]
    calls = [c for u in NetSuiteWriter().compile(p.ops, erp, set()) for c in u.calls]
    assert [c.body for c in calls] == [{"creditHoldOverride": {"id": "AUTO"}}]


def test_a_hold_value_other_than_on_or_auto_refuses_the_plan() -> None:
    erp, _ = _read({"20": {"creditholdoverride": "ON"}}, [HOLD])
    p = _planning(erp, {("20", "field:hold"): {"value": "ON", "original": "OFF"}})
    _plan_value(p, _customer("20"), "field:hold", None, False, "no hold")  # no `release:`
    assert p.needed == {"field:hold": {"OFF"}}
    text = NetSuiteWriter().refusal("Acme", [HOLD], erp, p.needed)
    assert text is not None and "'OFF'" in text and "release: AUTO" in text
    assert "Nothing was written" in text


def test_a_category_is_looked_up_by_name_then_created_once() -> None:
    erp, _ = _read({"10": {"category": "1"}}, [SEGMENT])
    ops = [{"action": "object.create", "customer": None, "name": None, "slot": "object",
            "before": None, "after": "AR At risk", "reason": "r", "priority": 0.0,
            "target": "field:segment"},
           _op("10", "field:segment", "AR At risk", before="Retail")]
    writer = NetSuiteWriter()
    assert writer.refusal("Acme", [SEGMENT], erp, {"field:segment": {"AR At risk"}}) is None
    units = writer.compile(ops, erp, set())
    create, patch = units[0].calls[0], units[1].calls[0]
    assert (create.method, create.path, create.body) == (
        "POST", "/services/rest/record/v1/customerCategory", {"name": "AR At risk"})
    assert patch.body == {"category": {"id": None, "refName": "AR At risk"}}
    made: list[str] = []

    def lookup(statement: str) -> tuple[int, dict[str, str], str]:
        assert "WHERE name = 'AR At risk'" in statement
        return _rows([{"id": i, "name": "AR At risk", "isinactive": "F"} for i in made])

    sql = SuiteQL({"customercategory": lookup})
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, SUITEQL, callback=sql)

        def post(request: Any) -> tuple[int, dict[str, str], str]:
            assert json.loads(request.body) == {"name": "AR At risk"}
            made.append("12")
            return 204, {"Location": f"{RECORD}/customerCategory/12"}, ""

        mock.add_callback(responses.POST, f"{RECORD}/customerCategory", callback=post)
        first = writer.send(Client(), create, "k", ops, erp)
        again = writer.send(Client(), create, "k", ops, erp)  # a retried run
    assert (first.ok, first.created, first.write_calls) == (True, {"AR At risk": "12"}, 1)
    assert (again.ok, again.created, again.write_calls) == (True, {"AR At risk": "12"}, 0)
    assert made == ["12"] and len(sql.statements) == 2
    writer.resolve(patch, erp)
    assert patch.body == {"category": {"id": "12"}}


def test_a_patch_naming_a_category_never_made_is_not_sent() -> None:
    erp, _ = _read({"10": {}}, [SEGMENT])
    call = WriteCall("PATCH", "/services/rest/record/v1/customer/10",
                     {"category": {"id": None, "refName": "AR New"}}, "customer.patch", [0])
    NetSuiteWriter().resolve(call, erp)
    with responses.RequestsMock():
        out = NetSuiteWriter().send(Client(), call, "k", [], erp)
    assert not out.ok and "'AR New' was not created" in str(out.message)


def test_an_unknown_custom_field_is_refused_before_any_write_with_its_name() -> None:
    def customers(statement: str) -> tuple[int, dict[str, str], str]:
        if "custentity_ar_risk" in statement:
            return _error(400, "Invalid search query. Detailed unprocessed description "
                               "follows. Search error occurred: Field 'custentity_ar_risk' for "
                               "record 'customer' was not found.")
        return _customers_answer({"10": {"category": "4"}})(statement)

    sql = SuiteQL({**LISTS, "customer": customers})
    with responses.RequestsMock() as mock:  # any PATCH would fail: none is registered
        mock.add_callback(responses.POST, SUITEQL, callback=sql)
        writer = NetSuiteWriter()
        erp = writer.read_state(Client(), [SEGMENT, RISK], {"10": {}, "11": {}})
    assert [s.split(" FROM ")[0] for s in sql.statements[1:]] == [
        "SELECT id, category, custentity_ar_risk", "SELECT id, category"]
    text = writer.refusal("Acme", [SEGMENT, RISK], erp, {})
    assert text is not None and text.startswith("tenant Acme: NetSuite write-back cannot run")
    assert "custentity_ar_risk does not exist" in text and "Entity Fields" in text
    assert "Nothing was written" in text


def test_a_missing_dunning_suiteapp_is_refused_naming_it() -> None:
    missing_table = lambda q: _error(400, "Invalid search query. Detailed unprocessed "  # noqa: E731
                                          "description follows. Search error occurred: Record "
                                          "'customrecord_3805_dunning_procedure' was not found.")

    def customers(statement: str) -> tuple[int, dict[str, str], str]:
        return _error(400, "Search error occurred: Field 'custentity_3805_dunning_procedure' "
                           "for record 'customer' was not found.")

    sql = SuiteQL({"customrecord_3805_dunning_procedure": missing_table, "customer": customers})
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, SUITEQL, callback=sql)
        writer = NetSuiteWriter()
        erp = writer.read_state(Client(), [DUNNING], {"10": {}})
    text = writer.refusal("Acme", [DUNNING], erp, {})
    assert text is not None and "Dunning Letters SuiteApp" in text
    assert "customrecord_3805_dunning_procedure" in text
    assert "custentity_3805_dunning_procedure does not exist" in text


def test_missing_procedures_and_terms_are_refused_with_where_to_create_them() -> None:
    erp, _ = _read({"10": {}}, [DUNNING, TERMS])
    text = NetSuiteWriter().refusal("Acme", [DUNNING, TERMS], erp,
                                    {"field:dunning": {"Strict"}, "terms": {"Net 45"}})
    assert text is not None
    assert "dunning procedure(s) 'Strict' do not exist" in text and "Dunning Procedures" in text
    assert "term(s) 'Net 45' do not exist" in text and "Accounting Lists > New > Term" in text


def test_a_refused_patch_fails_with_netsuites_detail() -> None:
    erp, _ = _read({"10": {}, "11": {}}, [LIMIT])
    ops = [_op("10", "field:credit_limit", "100"), _op("11", "field:credit_limit", "200")]
    calls = {c.path.rsplit("/", 1)[-1]: c for u in NetSuiteWriter().compile(ops, erp, set())
             for c in u.calls}
    detail = ("Error while accessing resource: You have entered an Invalid Field Value -5 for "
              "the following field: creditLimit")
    with responses.RequestsMock() as mock:
        mock.add(responses.PATCH, f"{RECORD}/customer/10",
                 body=_error(400, detail, "INVALID_CONTENT")[2], status=400)
        mock.add(responses.PATCH, f"{RECORD}/customer/11",
                 body=_error(404, "The record instance does not exist.", "NONEXISTENT_ID")[2],
                 status=404)
        bad = NetSuiteWriter().send(Client(), calls["10"], "k", ops, erp)
        gone = NetSuiteWriter().send(Client(), calls["11"], "k", ops, erp)
    assert (bad.ok, bad.status) == (False, 400)
    assert bad.message == f"{detail} (INVALID_CONTENT)"
    assert (gone.ok, gone.status) == (False, 404)
    assert str(gone.message).startswith("customer 11 is no longer in NetSuite")


def test_min_calls_counts_customers_and_categories() -> None:
    ops = [_op("1", "field:segment", "AR New"), _op("1", "field:hold", "ON"),
           _op("2", "terms", "Net 30", action="terms.set"),
           _op("3", "field:hold", "ON", action="field.release"),
           {"action": "object.create", "customer": None, "slot": "object", "after": "AR New",
            "target": "field:segment"}]
    assert NetSuiteWriter().min_calls(ops, ErpState()) == 3


@pytest.mark.parametrize("target", ["custentity_ar_segment", "category",
                                    "custentity_3805_dunning_procedure"])
def test_custom_entity_fields_are_reference_targets(target: str) -> None:
    from arconnect.writeback.outbound import reference_target

    assert reference_target(TARGETS, target) is not None
    assert reference_target(TARGETS, "custentity_") is None
    assert reference_target(TARGETS, "salesrep") is None


def test_a_text_custom_field_takes_the_name() -> None:
    erp, _ = _read({"10": {"custentity_ar_risk": "Low"}}, [RISK])
    assert erp.values["10"] == {"field:risk": "Low"} and "field:risk" not in erp.objects
    calls = [c for u in NetSuiteWriter().compile(
        [_op("10", "field:risk", "High", before="Low")], erp, set()) for c in u.calls]
    assert calls[0].body == {"custentity_ar_risk": "High"}
