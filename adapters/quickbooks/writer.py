"""QuickBooks Online write-back: customer types, sales terms and a credit-limit custom field.

What lands where (https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/customer):

* a segment or tag → ``CustomerTypeRef`` (a reference slot). Customer types cannot be created
  through the API (the CustomerType entity offers query and read only,
  https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/customertype):
  a plan that needs a missing type is refused before any write, naming each type and where an
  admin creates it (Sales → Customers → Customer types → New). The schema allows 15 characters
  in a type's name (``CustomerType.Name``; unverified): the mapping check warns beyond that.
* payment terms → ``SalesTermRef`` (a reference to a Term; a missing "Net N" term is created,
  https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/term).
* the credit limit: QBO's API has no credit-limit field. It is written to a customer custom field
  when the mapping names one (``credit_limit.field``, the field's label); custom fields on
  customers come with the Custom Fields API, a premium API
  (https://developer.intuit.com/app/developer/qbo/docs/workflows/create-custom-fields): when the
  company has no such field the plan lists the limit as not written, and why.

Reads: one query of the customer types and one of the terms per run; each customer's current
type, terms and ``SyncToken`` come from the customers the sync stored right before planning
(``extra``: ``customer_type``, ``sales_term``, ``sync_token``), read live
(``SELECT * FROM Customer WHERE Id IN (…)``) only for customers the store lacks them for.

Writes: sparse updates (``"sparse": true``: only the fields sent change), one per customer
carrying all of its changes, sent through ``POST /batch`` in batches of at most 30 items
(https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/batch). Each
item is answered on its own: a ``Fault`` fails that item's operations with QBO's message (audited,
retried by the next run) and leaves the rest of the batch done. A stale ``SyncToken`` (Fault
5010) re-reads that customer and sends it once more, unless the re-read shows someone changed the
field itself meanwhile (then it is left alone, and the next plan reports the drift).

Idempotency: QBO's batch takes no idempotency key, but every write is a sparse update *to a
value*: replaying a batch after a run was killed writes the same values again, with no second
effect. Each call still carries a ``requestid`` derived from the plan and the call, as Intuit
recommends for retries (https://developer.intuit.com/app/developer/qbo/docs/develop/rest-api-features#idempotency).

Like every adapter it never touches the store and never retries what the engine's client
retries (429, 5xx, 401).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from arconnect.adapters.base import (
    CallOutcome,
    ErpState,
    HttpClient,
    RefTarget,
    SlotKind,
    SlotSpec,
    WriteCall,
    WriteOp,
    WriteTargets,
    WriteUnit,
)
from arconnect.adapters.quickbooks._common import IDS_PER_QUERY, fault_errors, fault_text
from arconnect.errors import ArconnectError

# Items per batch request ("a maximum of 30 payloads in a single batch request",
# https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/batch).
BATCH_LIMIT = 30
TYPE_FIELD = "CustomerTypeRef"
TERM_FIELD = "SalesTermRef"
LIMIT_SLOT = "field:credit_limit"
STALE = "5010"
# Where an admin creates a customer type in QuickBooks Online's screens.
TYPE_WHERE = "Sales → Customers → Customer types → New"
CUSTOM_FIELDS_DOC = ("https://developer.intuit.com/app/developer/qbo/docs/workflows/"
                     "create-custom-fields")

TARGETS = WriteTargets(
    references={TYPE_FIELD: RefTarget(creatable=False, max_name=15, create_where=TYPE_WHERE)},
    terms=SlotKind.REFERENCE,
    limit_field=True,
    limit_field_hint="the label of a customer custom field",
    max_batch=BATCH_LIMIT,
)


class QuickBooksWriter:
    """Write-back for one QuickBooks Online company, through the engine's client (implements
    :class:`arconnect.adapters.base.Writer`)."""

    platform = "quickbooks"
    targets = TARGETS
    object_kind = "customer_type"  # never created: types are made by an admin

    def __init__(self, batch_size: int | None = BATCH_LIMIT, minor_version: int = 75) -> None:
        self.batch_size = min(batch_size or BATCH_LIMIT, BATCH_LIMIT)
        self.minor_version = minor_version

    # ---- reads ---------------------------------------------------------------------------
    def read_state(self, client: HttpClient, slots: Sequence[SlotSpec],
                   customers: Mapping[str, Mapping[str, Any]]) -> ErpState:
        """Customer types and terms (one query each, when a slot uses them), the credit-limit
        custom field's definition (one read, when the mapping names one), and each customer's
        type, terms and SyncToken (from the store; read live where it lacks them)."""
        erp = ErpState()
        types = [s for s in slots if s.kind is SlotKind.REFERENCE and s.target == TYPE_FIELD]
        terms = next((s for s in slots if s.key == "terms"), None)
        type_names: dict[str, str] = {}
        term_names: dict[str, str] = {}
        if types:
            found = self._list(client, "CustomerType", erp)
            type_names = {str(t["Id"]): str(t["Name"]) for t in found}
            active = {str(t["Name"]): str(t["Id"]) for t in found if t.get("Active", True)}
            for spec in types:
                erp.objects[spec.key] = active
        if terms is not None:
            found = self._list(client, "Term", erp)
            term_names = {str(t["Id"]): str(t["Name"]) for t in found}
            erp.objects["terms"] = {str(t["Name"]): str(t["Id"]) for t in found
                                    if t.get("Active", True)}
            erp.extra["term_days"] = {str(t["Name"]): t.get("DueDays") for t in found
                                      if t.get("Active", True) and t.get("DayOfMonthDue") is None}
        limit = next((s for s in slots if s.key == LIMIT_SLOT), None)
        rows = {cid: dict(row.get("extra") or {}) for cid, row in customers.items()}
        custom: dict[str, Any] | None = None
        if limit is None:
            erp.unavailable[LIMIT_SLOT] = (
                "QuickBooks Online's API has no credit-limit field; name a customer custom "
                "field in the mapping (outbound credit_limit.field) to write it there")
            live = sorted(cid for cid, extra in rows.items() if extra.get("sync_token") is None)
        else:
            # Custom field values are not in the store: every customer is read live, with
            # the company's custom fields.
            live, custom = sorted(rows), {}
        for record in self._read_customers(client, live, erp, custom, limit):
            rows[str(record["Id"])] = _extra_of(record)
        tokens: dict[str, str] = {}
        for cid, extra in rows.items():
            values: dict[str, Any] = {}
            for spec in types:
                ref = extra.get("customer_type")
                values[spec.key] = type_names.get(str(ref), extra.get("customer_type_name")) \
                    if ref else None
            if terms is not None:
                ref = extra.get("sales_term")
                values["terms"] = term_names.get(str(ref), extra.get("sales_term_name")) \
                    if ref else None
            if custom is not None and LIMIT_SLOT not in erp.unavailable:
                values[LIMIT_SLOT] = custom.get(cid)
            erp.values[cid] = values
            if extra.get("sync_token") is not None:
                tokens[cid] = str(extra["sync_token"])
        erp.extra["sync_tokens"] = tokens
        return erp

    def _read_customers(self, client: HttpClient, ids: Sequence[str], erp: ErpState,
                        custom: dict[str, Any] | None, limit: SlotSpec | None
                        ) -> list[dict[str, Any]]:
        """Customers read live; with ``limit`` (the credit-limit custom field), with the
        company's custom fields, whose values go to ``custom`` (customer id -> value). The
        limit slot is unavailable, with the reason, when the company has no such field."""
        if limit is None or custom is None:
            return self._customers(client, ids, erp)
        reason = (f"the company has no customer custom field {limit.target!r} the API can "
                  "write: custom fields on customers come with Intuit's Custom Fields API, a "
                  f"premium API ({CUSTOM_FIELDS_DOC}); create the field in QuickBooks "
                  "(Settings → Custom fields) or remove `field:` from the mapping's "
                  "credit_limit")
        try:
            # https://developer.intuit.com/app/developer/qbo/docs/workflows/create-custom-fields/develop-custom-fields
            records = self._customers(client, ids, erp, include="enhancedAllCustomFields")
        except ArconnectError as err:
            erp.unavailable[LIMIT_SLOT] = f"{reason} ({err})"
            return self._customers(client, ids, erp)
        definition = None
        for record in records:
            for f in record.get("CustomField") or []:
                if isinstance(f, dict) and limit.target in (f.get("Name"),
                                                            str(f.get("DefinitionId"))):
                    definition = str(f.get("DefinitionId"))
                    custom[str(record["Id"])] = f.get("StringValue")
        if definition is None:
            erp.unavailable[LIMIT_SLOT] = reason
        else:
            erp.extra["limit_definition"] = definition
        return records

    def _list(self, client: HttpClient, entity: str, erp: ErpState) -> list[dict[str, Any]]:
        """Every object of a small list entity (customer types, terms): one query."""
        # https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries
        body = self._query(client, f"SELECT * FROM {entity} MAXRESULTS 1000", erp)
        return list(body.get(entity) or [])

    def _customers(self, client: HttpClient, ids: Sequence[str], erp: ErpState,
                   include: str | None = None) -> list[dict[str, Any]]:
        """Customers by id, read live (``WHERE Id IN``, a few hundred ids a query)."""
        out: list[dict[str, Any]] = []
        for chunk in _chunks(list(ids), IDS_PER_QUERY):
            quoted = ",".join(_quote(i) for i in chunk)
            body = self._query(client, f"SELECT * FROM Customer WHERE Id IN ({quoted}) "
                                       "MAXRESULTS 1000", erp, include)
            out.extend(body.get("Customer") or [])
        return out

    def _query(self, client: HttpClient, statement: str, erp: ErpState,
               include: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"query": statement, "minorversion": self.minor_version}
        if include:
            params["include"] = include
        response = client.request("GET", "query", params=params,
                                  headers={"Accept": "application/json"})
        erp.calls += 1
        body = _json(response, f"query {statement[:60]}")
        found = body.get("QueryResponse")
        return found if isinstance(found, dict) else {}

    def terms_value(self, days: int, terms_type: str, erp: ErpState) -> Any:
        """The name of the company's term for net ``days``: an active term due ``days`` after
        the invoice date (``Net {days}`` first), else ``Net {days}``, created before the
        writes."""
        by_days = erp.extra.get("term_days") or {}
        own = f"Net {days}"
        matches = sorted(n for n, d in by_days.items() if d is not None and int(d) == days)
        if own in matches or not matches:
            if own not in (erp.objects.get("terms") or {}):
                by_days.setdefault(own, days)
                erp.extra["term_days"] = by_days
            return own
        return matches[0]

    def refusal(self, tenant: str, slots: Sequence[SlotSpec], erp: ErpState,
                needed: Mapping[str, set[str]]) -> str | None:
        """Customer types the plan needs and the company lacks: the API cannot create them."""
        kinds = {s.key: s for s in slots}
        missing = sorted({n for key, names in needed.items()
                          if key in kinds and kinds[key].target == TYPE_FIELD for n in names})
        if not missing:
            return None
        where = "; ".join(f"{TYPE_WHERE}: {n}" for n in missing)
        return (f"tenant {tenant}: the mapping puts customers in QuickBooks customer type(s) "
                f"{', '.join(repr(n) for n in missing)}, which do not exist, and QuickBooks "
                f"Online's API cannot create customer types. Create each in QuickBooks "
                f"({where}), then run again. Nothing was written.")

    def daily_budget(self, settings: Any) -> int | None:
        """None: QBO meters reads by the month and writes not at all (the client paces
        500 requests and 40 batches a minute)."""
        return None

    # ---- calls ---------------------------------------------------------------------------
    def compile(self, ops: Sequence[WriteOp], erp: ErpState,
                untouchable: set[str]) -> list[WriteUnit]:
        """Terms to create in one batch first; then one sparse update per customer (all of its
        changes), in batches of :attr:`batch_size`, largest open balance first."""
        units: list[WriteUnit] = []
        creates = [i for i, op in enumerate(ops) if op["action"] == "object.create"]
        for chunk in _chunks(creates, self.batch_size):
            items = [{"bId": _term_bid(ops[i]["after"]), "operation": "create",
                      "Term": {"Name": ops[i]["after"],
                               "DueDays": _term_days(ops[i]["after"], erp)}} for i in chunk]
            units.append(WriteUnit([self._call(items, list(chunk), "term.create")], math.inf))
        by_customer: dict[str, list[int]] = {}
        for i, op in enumerate(ops):
            if op["action"] in ("terms.set", "field.set") and op["customer"]:
                by_customer.setdefault(str(op["customer"]), []).append(i)
        order = sorted(by_customer, key=lambda c: (-max(float(ops[i]["priority"])
                                                        for i in by_customer[c]), c))
        for chunk in _chunks(order, self.batch_size):
            items = [self._update(c, [ops[i] for i in by_customer[c]], erp) for c in chunk]
            refs = [i for c in chunk for i in by_customer[c]]
            top = max(float(ops[i]["priority"]) for i in refs)
            units.append(WriteUnit([self._call(items, refs, "batch")], top))
        first = [u for u in units if u.priority == math.inf]
        rest = sorted((u for u in units if u.priority != math.inf), key=lambda u: -u.priority)
        return first + rest

    def _call(self, items: list[dict[str, Any]], refs: list[int], label: str) -> WriteCall:
        return WriteCall("POST", "batch", {"BatchItemRequest": items}, label, refs,
                         params={"minorversion": str(self.minor_version)})

    def _update(self, customer: str, ops: Sequence[WriteOp], erp: ErpState) -> dict[str, Any]:
        """The sparse update of one customer carrying ``ops``."""
        body: dict[str, Any] = {"Id": customer, "SyncToken": _token(erp, customer),
                                "sparse": True}
        for op in ops:
            body.update(self._fields(op, erp))
        return {"bId": _customer_bid(customer), "operation": "update", "Customer": body}

    def _fields(self, op: WriteOp, erp: ErpState) -> dict[str, Any]:
        """The Customer fields one operation sets."""
        slot, value = str(op["slot"]), op["after"]
        if slot == LIMIT_SLOT:
            return {"CustomField": [{"DefinitionId": erp.extra.get("limit_definition"),
                                     "StringValue": str(value)}]}
        if slot == "terms":
            return {TERM_FIELD: {"value": (erp.objects.get("terms") or {}).get(value),
                                 "name": value}}
        return {TYPE_FIELD: {"value": (erp.objects.get(slot) or {}).get(value),
                             "name": value}}

    def resolve(self, call: WriteCall, erp: ErpState) -> None:
        """Terms created earlier in the run: their ids into the updates that name them."""
        terms = erp.objects.get("terms") or {}
        for item in (call.body or {}).get("BatchItemRequest") or []:
            ref = (item.get("Customer") or {}).get(TERM_FIELD)
            if isinstance(ref, dict) and not ref.get("value") and ref.get("name") in terms:
                ref["value"] = terms[ref["name"]]

    def send(self, client: HttpClient, call: WriteCall, key: str, ops: Sequence[WriteOp],
             erp: ErpState) -> CallOutcome:
        """``POST /batch`` with a ``requestid`` derived from ``key``; each item's Fault fails
        its operations with QBO's message; stale items (5010) are re-read and sent once more."""
        items = {str(i["bId"]): i for i in call.body["BatchItemRequest"]}
        refs = self._refs(call, ops)
        status, answers, message = self._post(client, call.body, key)
        if answers is None:
            return CallOutcome(status, False, message)
        outcome = CallOutcome(status, True)
        stale = self._read_answers(answers, items, refs, ops, erp, outcome)
        if stale:
            retry = self._retry_items(client, stale, items, refs, ops, erp, outcome)
            if retry:
                outcome.write_calls += 1
                status2, answers2, message2 = self._post(
                    client, {"BatchItemRequest": retry}, f"{key}:stale")
                if answers2 is None:
                    for item in retry:
                        for i in refs.get(str(item["bId"]), []):
                            outcome.refused[i] = f"retry after a stale SyncToken: {message2}"
                else:
                    again = self._read_answers(answers2, {str(i["bId"]): i for i in retry},
                                               refs, ops, erp, outcome)
                    for bid in again:
                        for i in refs.get(bid, []):
                            outcome.refused[i] = ("the customer changed in QuickBooks twice "
                                                  "while it was written (stale SyncToken); "
                                                  "the next run tries again")
        return outcome

    def _refs(self, call: WriteCall, ops: Sequence[WriteOp]) -> dict[str, list[int]]:
        """bId -> indexes of the operations its item carries."""
        out: dict[str, list[int]] = {}
        for i in call.ops:
            op = ops[i]
            bid = _term_bid(op["after"]) if op["action"] == "object.create" \
                else _customer_bid(str(op["customer"]))
            out.setdefault(bid, []).append(i)
        return out

    def _post(self, client: HttpClient, body: Any, key: str
              ) -> tuple[int, list[dict[str, Any]] | None, str | None]:
        # https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/batch
        response = client.request("POST", "batch", json=body, params={
            "minorversion": self.minor_version, "requestid": request_id(key)},
            headers={"Accept": "application/json"})
        parsed = _body(response)
        if response.status_code >= 300:
            return response.status_code, None, fault_text(parsed, response.text[:300])
        answers = (parsed or {}).get("BatchItemResponse")
        if not isinstance(answers, list):
            return response.status_code, None, "the batch reply has no BatchItemResponse"
        return response.status_code, [a for a in answers if isinstance(a, dict)], None

    def _read_answers(self, answers: list[dict[str, Any]], items: Mapping[str, Any],
                      refs: Mapping[str, list[int]], ops: Sequence[WriteOp], erp: ErpState,
                      outcome: CallOutcome) -> list[str]:
        """Record each item's answer; returns the bIds refused as stale (5010)."""
        stale = []
        seen = set()
        for answer in answers:
            bid = str(answer.get("bId"))
            seen.add(bid)
            if "Fault" in answer:
                codes = {str(e.get("code")) for e in fault_errors(answer)}
                if STALE in codes and bid.startswith("c:"):
                    stale.append(bid)
                    continue
                for i in refs.get(bid, []):
                    outcome.refused[i] = fault_text(answer, "refused without a message")
                continue
            if "Customer" in answer:
                record = answer["Customer"]
                if isinstance(record, dict) and record.get("SyncToken") is not None:
                    erp.extra.setdefault("sync_tokens", {})[str(record.get("Id"))] = \
                        str(record["SyncToken"])
            if "Term" in answer and isinstance(answer["Term"], dict):
                term = answer["Term"]
                name, tid = str(term.get("Name")), str(term.get("Id"))
                erp.objects.setdefault("terms", {})[name] = tid
                outcome.created[name] = tid
        for bid in items:
            if bid not in seen:
                for i in refs.get(bid, []):
                    outcome.refused[i] = "QuickBooks did not answer this item of the batch"
        return stale

    def _retry_items(self, client: HttpClient, stale: list[str], items: Mapping[str, Any],
                     refs: Mapping[str, list[int]], ops: Sequence[WriteOp], erp: ErpState,
                     outcome: CallOutcome) -> list[dict[str, Any]]:
        """Stale customers re-read: those whose written fields still hold what the plan saw
        get their item again with the new SyncToken; the others are left alone (drift)."""
        ids = [bid.removeprefix("c:") for bid in stale]
        reads = ErpState()
        try:
            fresh = {str(r["Id"]): r for r in self._customers(client, ids, reads)}
        except ArconnectError as err:
            fresh = {}
            for bid in stale:
                for i in refs.get(bid, []):
                    outcome.refused[i] = f"stale SyncToken, and re-reading failed: {err}"
            outcome.read_calls += reads.calls
            return []
        outcome.read_calls += reads.calls
        retry = []
        for bid in stale:
            cid = bid.removeprefix("c:")
            record = fresh.get(cid)
            if record is None:
                for i in refs.get(bid, []):
                    outcome.refused[i] = "stale SyncToken, and the customer is gone"
                continue
            changed = [ops[i] for i in refs.get(bid, [])
                       if _current(record, ops[i], erp) not in (ops[i]["before"],
                                                                 ops[i]["after"])]
            if changed:
                for i in refs.get(bid, []):
                    op = ops[i]
                    outcome.refused[i] = (
                        f"{op['slot']} was changed in QuickBooks while this plan waited (now "
                        f"{_current(record, op, erp) or 'none'}): left as it is; the next plan "
                        "reports it as drift")
                continue
            item = dict(items[bid])
            item["Customer"] = {**item["Customer"], "SyncToken": str(record["SyncToken"])}
            retry.append(item)
        return retry

    # ---- the yardstick -------------------------------------------------------------------
    def min_calls(self, ops: Sequence[WriteOp], erp: ErpState) -> int:
        """⌈customers changed / 30⌉ batches of updates, plus ⌈terms created / 30⌉."""
        customers = {op["customer"] for op in ops
                     if op["action"] in ("terms.set", "field.set") and op["customer"]}
        creates = sum(1 for op in ops if op["action"] == "object.create")
        return math.ceil(len(customers) / BATCH_LIMIT) + math.ceil(creates / BATCH_LIMIT)


def request_id(key: str) -> str:
    """The ``requestid`` of a call: a digest of the engine's key (plan and call), short enough
    for QBO's parameter."""
    return hashlib.sha256(key.encode()).hexdigest()[:36]


def _current(record: Mapping[str, Any], op: WriteOp, erp: ErpState) -> Any:
    """What a freshly read customer holds in the operation's slot, as the planner names it."""
    slot = str(op["slot"])
    if slot == LIMIT_SLOT:
        definition = erp.extra.get("limit_definition")
        for f in record.get("CustomField") or []:
            if isinstance(f, dict) and str(f.get("DefinitionId")) == str(definition):
                return f.get("StringValue")
        return None
    field = TERM_FIELD if slot == "terms" else TYPE_FIELD
    ref = record.get(field)
    if not isinstance(ref, dict) or not ref.get("value"):
        return None
    objects = erp.objects.get("terms" if slot == "terms" else slot) or {}
    names = {v: k for k, v in objects.items()}
    return names.get(str(ref["value"]), ref.get("name"))


def _extra_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The values the writer reads, from a customer read live (as the mapping stores them)."""
    ctype = record.get(TYPE_FIELD) or {}
    term = record.get(TERM_FIELD) or {}
    return {"customer_type": ctype.get("value"), "customer_type_name": ctype.get("name"),
            "sales_term": term.get("value"), "sales_term_name": term.get("name"),
            "sync_token": record.get("SyncToken")}


def _token(erp: ErpState, customer: str) -> str:
    token = (erp.extra.get("sync_tokens") or {}).get(customer)
    if token is None:
        raise ArconnectError(f"customer {customer}: no SyncToken read; sync the company again")
    return str(token)


def _customer_bid(customer: str) -> str:
    return f"c:{customer}"


def _term_bid(name: Any) -> str:
    return f"t:{name}"


def _term_days(name: Any, erp: ErpState) -> int:
    days = (erp.extra.get("term_days") or {}).get(name)
    if days is not None:
        return int(days)
    match = re.fullmatch(r"Net (\d+)", str(name))
    if match is None:
        raise ArconnectError(f"term {name!r}: its number of days is unknown")
    return int(match.group(1))


def _quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _chunks(items: Sequence[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _body(response: Any) -> Any:
    try:
        return response.json() if response.content else {}
    except ValueError:
        return {}


def _json(response: Any, what: str) -> dict[str, Any]:
    body = _body(response)
    if response.status_code >= 400:
        raise ArconnectError(f"QuickBooks {what}: HTTP {response.status_code}: "
                             f"{fault_text(body, response.text[:300])}")
    if not isinstance(body, dict):
        raise ArconnectError(f"QuickBooks {what}: unexpected response {str(body)[:200]}")
    return body
