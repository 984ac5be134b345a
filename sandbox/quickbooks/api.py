"""The Accounting API under ``/v3/company/{realmId}``: query, CDC, batch, reads and the writes
the connector uses (customer sparse update, term create).

A handler receives the company already resolved and authorised and returns a
:class:`~arconnect.sandbox.common.http.Response`; the HTTP layer owns authentication, throttles,
faults and the ``intuit_tid`` header. Every body is JSON with a ``time`` in the company's
offset; every refusal is QBO's ``{"Fault": {"Error": [...], "type": …}, "time": …}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.common.http import Request, Response
from arconnect.sandbox.quickbooks import query as Q
from arconnect.sandbox.quickbooks import records as R
from arconnect.sandbox.quickbooks.model import ENTITIES, RESOURCES, Company, Record
from arconnect.sandbox.quickbooks.mutate import Mutator
from arconnect.sandbox.quickbooks.wire import (
    JSON,
    fault,
    parse_time,
    render,
    response_time,
    stamp,
)

BATCH_LIMIT = 30
CDC_WINDOW = timedelta(days=30)
CDC_LIMIT = 1000
CDC_ENTITIES = ("Customer", "Invoice", "CreditMemo", "Payment", "RefundReceipt",
                "CustomerType", "Term")
# Customer fields a write may set; the rest (Balance, MetaData, FullyQualifiedName…) are
# QBO's own and ignored in a request.
CUSTOMER_WRITABLE = ("DisplayName", "GivenName", "FamilyName", "MiddleName", "CompanyName",
                     "PrintOnCheckName", "PrimaryEmailAddr", "PrimaryPhone", "BillAddr",
                     "ShipAddr", "Notes", "Active", "SalesTermRef", "CustomerTypeRef",
                     "CustomField", "Taxable", "PreferredDeliveryMethod", "CurrencyRef",
                     "ParentRef", "Job", "BillWithParent")
NOT_FOUND = ("Object Not Found", "Object Not Found : Something you're trying to use has been "
             "made inactive. Check the fields with accounts, customers, items, vendors or "
             "employees.", "610")


class ApiFault(Exception):
    """A refusal shaped as QBO's Fault (``status`` 400 unless said)."""

    def __init__(self, message: str, detail: str, code: str, status: int = 400,
                 kind: str = "ValidationFault", element: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.fault = fault(message, detail, code, kind, element)


def _stale(name: str = "root") -> ApiFault:
    # Intuit's Batch reference sample (tests/fixtures/qbo_recorded/batch_response.json)
    return ApiFault("Stale Object Error", f"Stale Object Error : You and {name} were working on "
                    f"this at the same time. {name} finished before you did, so your work was "
                    "not saved.", "5010")


def _duplicate() -> ApiFault:
    # Intuit's Batch reference sample
    return ApiFault("Duplicate Name Exists Error", "The name supplied already exists. : "
                    "Another customer, vendor or employee is already using this \nname. Please "
                    "use a different name.", "6240")


def _unsupported(path: str) -> ApiFault:
    # QBO's answer for a resource or operation it does not serve, as quoted in
    # IntuitDeveloper/SampleApp-CRUD-PHP #7 ("Unsupported Operation", code 500)
    return ApiFault("Unsupported Operation", f"Operation Could not find resource for relative "
                    f": {path} of full path: {path} is not supported.", "500")


def _bad_ref(kind: str, value: Any) -> ApiFault:
    # wording assumed; code 2500 "Invalid Reference Id" is QBO's code for a dangling reference
    return ApiFault("Invalid Reference Id", f"Invalid Reference Id : {kind} {value!r} does not "
                    "exist or is inactive", "2500", element=kind)


@dataclass
class QboApi:
    """The handlers.

    Args:
        clock: the sandbox clock.
    """

    clock: SandboxClock

    def _now(self) -> datetime:
        return self.clock.now()

    def _changed_at(self) -> datetime:
        """The instant a write stores: whole seconds, as ``LastUpdatedTime`` is served (and as
        the change primitives store it), so that a query compares what it serves."""
        return self.clock.now().replace(microsecond=0)

    def _ok(self, company: Company, body: str) -> Response:
        """``body`` is the envelope's JSON without its closing brace."""
        time = response_time(self._now(), company.tz)
        return Response(200, f'{body},"time":"{time}"}}'.encode(), {}, JSON)

    def fault_response(self, company: Company | None, err: ApiFault) -> Response:
        """A Fault body with ``time``."""
        tz = company.tz if company is not None else None
        now = self._now()
        time = response_time(now, tz) if tz is not None else now.isoformat(
            timespec="milliseconds")
        return Response(err.status, render({"Fault": err.fault, "time": time}).encode(), {},
                        JSON)

    # ---- dispatch ------------------------------------------------------------------------------
    def kind(self, req: Request, rest: list[str]) -> str:
        """The stats kind of a request: query, cdc, batch, read or write."""
        head = rest[0].lower() if rest else ""
        if head in ("query", "cdc", "batch"):
            return head
        return "read" if req.method == "GET" else "write"

    def handle(self, company: Company, req: Request, rest: list[str]) -> Response:
        """Answer one API request for ``company`` (``rest``: the path after the realm)."""
        try:
            with company.lock:
                return self._route(company, req, rest)
        except ApiFault as err:
            return self.fault_response(company, err)
        except Q.QueryError as qerr:
            return self.fault_response(company, _from_query(qerr))

    def _route(self, company: Company, req: Request, rest: list[str]) -> Response:
        head = rest[0].lower() if rest else ""
        if head == "query" and req.method in ("GET", "POST"):
            text = req.query.get("query")
            if text is None and req.method == "POST":
                text = req.body.decode("utf-8", "replace")
            return self.query(company, text or "")
        if head == "cdc" and req.method == "GET" and len(rest) == 1:
            return self.cdc(company, req.query.get("entities", ""),
                            req.query.get("changedsince"))
        if head == "batch" and req.method == "POST" and len(rest) == 1:
            return self.batch(company, _json_body(req))
        entity = RESOURCES.get(head)
        if entity is not None and req.method == "GET":
            if entity == "Preferences" and len(rest) == 1:
                return self.read(company, entity, "1")
            if len(rest) == 2:
                obj_id = "1" if entity == "CompanyInfo" and rest[1] == company.realm_id \
                    else rest[1]
                return self.read(company, entity, obj_id)
        if entity is not None and req.method == "POST" and len(rest) == 1:
            body = _json_body(req)
            op = req.query.get("operation", "update").lower()
            return self._ok(company, _single(entity, self.write(company, entity, body, op,
                                                                f"/v3/company/{company.realm_id}/"
                                                                f"{head}")))
        raise _unsupported(req.path)

    # ---- query ---------------------------------------------------------------------------------
    def query(self, company: Company, text: str) -> Response:
        """``GET|POST /query``."""
        return self._ok(company, '{"QueryResponse":' + self._query_body(company, text))

    def _query_body(self, company: Company, text: str) -> str:
        """The ``QueryResponse`` object's JSON."""
        parsed = Q.parse(text)
        keys, total = Q.run(company, parsed)
        if parsed.count:
            return f'{{"totalCount":{total}}}'
        if not keys:
            return "{}"  # past the end: an empty QueryResponse (recorded)
        table = company.tables[parsed.entity]
        rows = ",".join(table.json(k) for k in keys)
        return (f'{{"{parsed.entity}":[{rows}],"startPosition":{parsed.start},'
                f'"maxResults":{len(keys)}}}')

    # ---- read ----------------------------------------------------------------------------------
    def read(self, company: Company, entity: str, obj_id: str) -> Response:
        """``GET /{entity}/{id}`` -> ``{"Customer": {...}, "time": …}``; unknown -> 610."""
        table = company.tables[entity]
        if obj_id not in table:
            raise ApiFault(*NOT_FOUND, element="Id")
        return self._ok(company, f'{{"{entity}":{table.json(obj_id)}')

    # ---- CDC -----------------------------------------------------------------------------------
    def cdc(self, company: Company, entities: str, since_text: str | None) -> Response:
        """``GET /cdc``: full objects changed since ``changedSince`` and tombstones of those
        deleted, at most 1,000 in all (the oldest changes), no paging."""
        names = [e.strip() for e in entities.split(",") if e.strip()]
        if not names:
            raise ApiFault("Invalid Request", "Query parameter entities is required", "4000",
                           element="entities")
        wanted: list[str] = []
        for name in names:
            entity = next((e for e in CDC_ENTITIES if e.lower() == name.lower()), None)
            if entity is None:
                raise ApiFault("Invalid Request", f"Entity {name} is not supported for CDC",
                               "4000", element="entities")
            if entity not in wanted:
                wanted.append(entity)
        if not since_text:
            raise ApiFault("Invalid Request", "Query parameter changedSince is required",
                           "4000", element="changedSince")
        try:
            since = parse_time(since_text.replace(" ", "+"), company.tz)
        except ValueError:
            raise ApiFault("Invalid Request", f"changedSince {since_text!r} is not an ISO 8601 "
                           "date-time", "4000", element="changedSince") from None
        if since < self._now() - CDC_WINDOW:
            # wording as quoted in Wish-Org/QuickBooksSharp #19; message and code assumed
            raise ApiFault("Unsupported Operation", f"Operation cdc with changedSince date "
                           f"{since_text} which is older than fixed days is not supported.",
                           "500")
        changes: list[tuple[datetime, int, str, str]] = []  # (when, entity order, Id, json)
        for order, entity in enumerate(wanted):
            table = company.tables[entity]
            for key, when in table.updated.items():
                if when >= since:
                    changes.append((when, order, key, ""))
        for (entity, key), stone in company.tombstones.items():
            if entity in wanted and stone.deleted >= since:
                changes.append((stone.deleted, wanted.index(entity), key, render(
                    {"domain": "QBO", "status": "Deleted", "Id": key,
                     "MetaData": {"LastUpdatedTime": stamp(stone.deleted, company.tz)}})))
        changes.sort(key=lambda c: (c[0], c[1], int(c[2]) if c[2].isdigit() else 0))
        changes = changes[:CDC_LIMIT]
        parts = []
        for order, entity in enumerate(wanted):
            table = company.tables[entity]
            rows = [body or table.json(key) for _, o, key, body in changes if o == order]
            if rows:
                parts.append(f'{{"{entity}":[{",".join(rows)}],"startPosition":1,'
                             f'"maxResults":{len(rows)}}}')
            else:
                parts.append("{}")
        return self._ok(company, '{"CDCResponse":[{"QueryResponse":[' + ",".join(parts) + "]}]")

    # ---- batch ---------------------------------------------------------------------------------
    def batch(self, company: Company, body: Any) -> Response:
        """``POST /batch``: ≤ 30 items, each a query or an entity operation, each answered (or
        refused with its own Fault) under its ``bId``."""
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise ApiFault("Invalid Request", "BatchItemRequest must be a non-empty list",
                           "2010", element="BatchItemRequest")
        if len(items) > BATCH_LIMIT:
            # limit from Intuit's Batch reference ("maximum of 30 payloads"); wording assumed
            raise ApiFault("Batch size exceeded", f"Batch request has {len(items)} items: "
                           f"the maximum is {BATCH_LIMIT}", "1000")
        out = []
        for item in items:
            out.append(self._batch_item(company, item))
        return self._ok(company, '{"BatchItemResponse":[' + ",".join(out) + "]")

    def _batch_item(self, company: Company, item: Any) -> str:
        bid = item.get("bId") if isinstance(item, dict) else None
        head = f'{{"bId":{json.dumps(bid)},'
        try:
            if not isinstance(item, dict):
                raise ApiFault("Invalid Request", "a batch item must be an object", "2010")
            if "Query" in item:
                return head + '"QueryResponse":' + self._query_body(company, str(item["Query"])) \
                    + "}"
            entity = next((e for e in ENTITIES if e in item), None)
            if entity is None:
                raise ApiFault("Invalid Request", "batch item names no entity", "2010")
            op = str(item.get("operation", "create")).lower()
            rec = self.write(company, entity, item[entity], op,
                             f"/v3/company/{company.realm_id}/{entity.lower()}")
            return head + f'"{entity}":{render(rec)}}}'
        except ApiFault as err:
            return head + f'"Fault":{render(err.fault)}}}'
        except Q.QueryError as qerr:
            return head + f'"Fault":{render(qerr.fault)}}}'

    # ---- writes --------------------------------------------------------------------------------
    def write(self, company: Company, entity: str, body: Any, op: str, path: str) -> Record:
        """Create, update or (for invoices) void/delete one object; returns it.

        Raises:
            ApiFault: QBO's refusal.
        """
        if not isinstance(body, dict):
            raise ApiFault("Request has invalid or unsupported property",
                           f"Property Name:{entity} specified is unsupported or invalid",
                           "2010")
        if entity == "Customer" and op in ("create", "update"):
            return self._customer(company, body)
        if entity == "Term" and op in ("create", "update"):
            return self._term(company, body)
        if entity in ("Invoice", "Payment", "CreditMemo", "RefundReceipt") and op in (
                "void", "delete"):
            return self._void_or_delete(company, entity, body, op)
        raise _unsupported(path)

    def _current(self, company: Company, entity: str, body: Record) -> Record:
        obj_id = str(body.get("Id", ""))
        rec = company.tables[entity].get(obj_id)
        if rec is None:
            raise ApiFault(*NOT_FOUND, element="Id")
        token = body.get("SyncToken")
        if token is None or str(token) != rec["SyncToken"]:
            raise _stale()
        return rec

    def _customer(self, company: Company, body: Record) -> Record:
        if "Id" not in body:
            return self._create_customer(company, body)
        rec = self._current(company, "Customer", body)
        sparse = body.get("sparse") is True
        changes = {k: v for k, v in body.items() if k in CUSTOMER_WRITABLE}
        self._check_customer(company, changes, rec["Id"])
        if not sparse:  # a full update clears every writable field it omits
            for key in CUSTOMER_WRITABLE:
                if key not in changes and key in rec and key not in (
                        "DisplayName", "CurrencyRef", "Active", "Job", "BillWithParent",
                        "Taxable"):
                    del rec[key]
        now = self._changed_at()
        for key, value in changes.items():
            if key == "CustomField":
                value = self._custom_fields(company, value)
            if key == "Active" and bool(value) != bool(rec.get("Active")):
                # QBO renames a customer it makes inactive "… (deleted)" (assumed), and
                # drops the suffix when it is made active again
                name = str(changes.get("DisplayName", rec["DisplayName"]))
                name = name.removesuffix(" (deleted)")
                rec["DisplayName"] = name if value else f"{name} (deleted)"
                rec["FullyQualifiedName"] = rec["DisplayName"]
            if key == "CurrencyRef" and value.get("value") != rec["CurrencyRef"]["value"]:
                raise ApiFault("Business Validation Error", "You can't change the currency of "
                               "a customer", "6000", element="CurrencyRef")
            if key in ("SalesTermRef", "CustomerTypeRef") and isinstance(value, dict):
                value = _named_ref(company, key, value)
            rec[key] = value
            if key == "DisplayName":
                rec["FullyQualifiedName"] = value
        R.bump(company, "Customer", rec, now)
        return rec

    def _create_customer(self, company: Company, body: Record) -> Record:
        changes = {k: v for k, v in body.items() if k in CUSTOMER_WRITABLE}
        if not str(changes.get("DisplayName") or "").strip():
            raise ApiFault("Required param missing, need to supply the required value for the "
                           "API", "Required parameter DisplayName is missing in the request",
                           "2020", element="DisplayName")
        self._check_customer(company, changes, None)
        currency = (changes.get("CurrencyRef") or {}).get("value") or company.home_currency
        cust_id = Mutator(company, self.clock).add_customer(
            str(changes["DisplayName"]), currency=currency)
        rec = company.tables["Customer"][cust_id]
        for key, value in changes.items():
            if key == "CustomField":
                value = self._custom_fields(company, value)
            if key in ("SalesTermRef", "CustomerTypeRef") and isinstance(value, dict):
                value = _named_ref(company, key, value)
            if key not in ("DisplayName", "CurrencyRef"):
                rec[key] = value
        company.tables["Customer"].touch(cust_id, company.tables["Customer"].updated[cust_id])
        return rec

    def _check_customer(self, company: Company, changes: Record, own_id: str | None) -> None:
        name = changes.get("DisplayName")
        if name is not None:
            low = str(name).strip().lower()
            for other in company.tables["Customer"].values():
                if other["Id"] != own_id and other["DisplayName"].lower() == low:
                    raise _duplicate()
        for key, entity in (("SalesTermRef", "Term"), ("CustomerTypeRef", "CustomerType")):
            value = changes.get(key)
            if value is None:
                continue
            ref_id = str(value.get("value", "")) if isinstance(value, dict) else ""
            target = company.tables[entity].get(ref_id)
            if target is None or not target.get("Active", True):
                raise _bad_ref(entity, ref_id)
        if "CustomField" in changes:
            self._custom_fields(company, changes["CustomField"])

    def _custom_fields(self, company: Company, value: Any) -> list[Record]:
        """``CustomField[]`` on a customer: only definitions the company has (assumed refusal
        otherwise, in QBO's unsupported-property form)."""
        defined = {v: k for k, v in company.spec.custom_fields.items()}
        if not isinstance(value, list):
            value = [value]
        out = []
        for field in value:
            def_id = str(field.get("DefinitionId", "")) if isinstance(field, dict) else ""
            if def_id not in defined:
                raise ApiFault("Request has invalid or unsupported property",
                               f"Property Name:CustomField DefinitionId {def_id or '?'} "
                               "specified is unsupported or invalid", "2010",
                               element="CustomField")
            out.append({"DefinitionId": def_id, "Name": defined[def_id], "Type": "StringType",
                        "StringValue": str(field.get("StringValue", ""))})
        return out

    def _term(self, company: Company, body: Record) -> Record:
        table = company.tables["Term"]
        name = str(body.get("Name", "")).strip()
        own = str(body["Id"]) if "Id" in body else None
        if own is None and not name:
            raise ApiFault("Required param missing, need to supply the required value for the "
                           "API", "Required parameter Name is missing in the request", "2020",
                           element="Name")
        if name and any(t["Name"].lower() == name.lower() and t["Id"] != own
                        for t in table.values()):
            # QBO's duplicate-name error (Intuit's Batch reference sample, code 6240)
            raise ApiFault("Duplicate Name Exists Error", "The name supplied already exists. : "
                           f"Another term is already using the name {name}.", "6240")
        now = self._changed_at()
        if own is not None:
            rec = self._current(company, "Term", body)
            for key in ("Name", "Active", "DueDays", "DayOfMonthDue", "DueNextMonthDays",
                        "DiscountPercent", "DiscountDays"):
                if key in body:
                    rec[key] = body[key]
            R.bump(company, "Term", rec, now)
            return rec
        dom = body.get("DayOfMonthDue")
        rec = R.term(company, term_id=company.next_id("Term"), name=name,
                     days=int(body.get("DueDays", 0) or 0),
                     day_of_month=int(dom) if dom is not None else None, created=now)
        table.put(rec, now, now)
        return rec

    def _void_or_delete(self, company: Company, entity: str, body: Record,
                        op: str) -> Record:
        rec = self._current(company, entity, body)
        mut = Mutator(company, self.clock)
        if op == "void":
            if entity != "Invoice":
                raise _unsupported(f"/v3/company/{company.realm_id}/{entity.lower()}")
            mut.void_invoice(rec["Id"])
            return rec
        mut.delete(entity, rec["Id"])
        return {"domain": "QBO", "status": "Deleted", "Id": rec["Id"]}


def _named_ref(company: Company, key: str, value: Record) -> Record:
    entity = "Term" if key == "SalesTermRef" else "CustomerType"
    target = company.tables[entity][str(value["value"])]
    return R.ref(target["Id"], target["Name"])


def _single(entity: str, rec: Record) -> str:
    return f'{{"{entity}":{render(rec)}'


def _json_body(req: Request) -> Any:
    try:
        return json.loads(req.body or b"{}")
    except ValueError:
        raise ApiFault("Request has invalid or unsupported property", "Error parsing "
                       "object: the request body is not valid JSON", "2010") from None


def _from_query(err: Q.QueryError) -> ApiFault:
    first = err.fault["Error"][0]
    return ApiFault(first["Message"], first["Detail"], first["code"])
