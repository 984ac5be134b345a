"""The Accounting API (``/api.xro/2.0``): reads with paging and filters, and the writes the
connector uses (contact groups, contact history, contact terms, payment deletion).

A handler receives the organisation already resolved from ``xero-tenant-id`` and returns a
:class:`Response`; the HTTP layer owns authentication, limits and faults.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import uuid
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.common.http import Request, Response
from arconnect.sandbox.xero import records as R
from arconnect.sandbox.xero import validate as V
from arconnect.sandbox.xero.model import Org, Record, SandboxConfig, Table
from arconnect.sandbox.xero.mutate import Changes, Stamper
from arconnect.sandbox.xero.query import (
    QueryError,
    parse_order,
    parse_since,
    parse_where,
    sort_value,
)
from arconnect.sandbox.xero.wire import envelope_head, render

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
GROUP_LIMIT = 100


class ApiError(Exception):
    """A handler's refusal, already shaped as Xero's error body."""

    def __init__(self, status: int, body: Record | str) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body

    def response(self) -> Response:
        """As a :class:`Response`."""
        if isinstance(self.body, str):
            return Response(self.status, self.body.encode(), content_type="text/plain")
        return Response(self.status, render(self.body).encode())


def validation_error(elements: list[Record]) -> ApiError:
    """400 ValidationException (spec schema ``Error``; ``createContacts__response_400``)."""
    return ApiError(400, {"ErrorNumber": 10, "Type": "ValidationException",
                          "Message": "A validation exception occurred", "Elements": elements})


def query_error(message: str) -> ApiError:
    """400 QueryParseException for an unparsable ``where``/``order``: ``{"ErrorNumber": 16,
    "Type": "QueryParseException", "Message": …}`` (the form reports quote, e.g.
    waynerobinson/xeroizer #454)."""
    return ApiError(400, {"ErrorNumber": 16, "Type": "QueryParseException",
                          "Message": message})


NOT_FOUND = "The resource you're looking for cannot be found"


@dataclass(frozen=True)
class Entity:
    """A paged collection."""

    key: str
    id_field: str
    status_field: str
    number_field: str | None = None

    @property
    def model(self) -> str:
        """The Xero model of one record (``Contacts`` → ``Contact``), as ``where`` names it."""
        return self.key[:-1]


CONTACTS = Entity("Contacts", "ContactID", "ContactStatus")
INVOICES = Entity("Invoices", "InvoiceID", "Status", "InvoiceNumber")
CREDIT_NOTES = Entity("CreditNotes", "CreditNoteID", "Status", "CreditNoteNumber")
PAYMENTS = Entity("Payments", "PaymentID", "Status")
OVERPAYMENTS = Entity("Overpayments", "OverpaymentID", "Status")
PREPAYMENTS = Entity("Prepayments", "PrepaymentID", "Status")
PAGED = {e.key.lower(): e for e in (CONTACTS, INVOICES, CREDIT_NOTES, PAYMENTS, OVERPAYMENTS,
                                    PREPAYMENTS)}


def _summary_invoice(rec: Record) -> Record:
    # Without paging Xero leaves line items out ("paged results will have extra detail (e.g. line
    # items)", section "Retrieving paged resources" of
    # https://developer.xero.com/documentation/api/accounting/requests-and-responses);
    # summaryOnly drops them too. Shown as an empty list like Xero's embedded
    # invoices (assumed: the exact form of the omission is not recorded).
    out = dict(rec)
    out["LineItems"] = []
    return out


def _summary_contact(rec: Record) -> Record:
    # summaryOnly "excludes computation-heavy fields": Balances (assumed which ones).
    return {k: v for k, v in rec.items() if k != "Balances"}


SUMMARY_SHAPES: dict[str, Callable[[Record], Record]] = {
    "Invoices": _summary_invoice, "CreditNotes": _summary_invoice,
    # "page=1 – up to 100 overpayments … with line items shown": without paging, none.
    "Overpayments": _summary_invoice, "Prepayments": _summary_invoice,
    "Contacts": _summary_contact,
}


class AccountingApi:
    """Handlers for one sandbox (all organisations).

    Args:
        config: the sandbox configuration (switches).
        clock: the sandbox clock.
    """

    def __init__(self, config: SandboxConfig, clock: SandboxClock) -> None:
        self.config = config
        self.clock = clock
        self._idem: dict[tuple[str, str], tuple[str, Response]] = {}
        self._idem_lock = threading.Lock()

    # ---- entry ----------------------------------------------------------------------------
    def handle(self, org: Org, req: Request, corrupt: str | None = None) -> Response:
        """Route one request; ``corrupt`` names a malformed-body fault to apply."""
        parts = [p for p in req.path.split("/") if p][2:]  # drop "api.xro", "2.0"
        try:
            if req.method in ("PUT", "POST") and req.headers.get("Idempotency-Key"):
                return self._idempotent(org, req, parts)
            return self._route(org, req, parts, corrupt)
        except ApiError as err:
            return err.response()
        except QueryError as err:
            return query_error(str(err)).response()

    def _idempotent(self, org: Org, req: Request, parts: list[str]) -> Response:
        # Idempotency-Key (≤128 chars, spec parameter idempotencyKey): the same key and body
        # replay the first response without a second effect; the same key with another body
        # is refused (assumed: Xero's answer to that case is not documented).
        key = req.headers.get("Idempotency-Key", "")[:128]
        digest = hashlib.sha256(req.method.encode() + req.path.lower().encode()
                                + b"\0" + req.body).hexdigest()
        with self._idem_lock:
            seen = self._idem.get((org.tenant_id, key))
            if seen is not None:
                if seen[0] != digest:
                    return ApiError(400, {
                        "ErrorNumber": 10, "Type": "ValidationException",
                        "Message": "The Idempotency-Key was already used for a different "
                                   "request"}).response()
                return seen[1]
            try:
                resp = self._route(org, req, parts, None)
            except ApiError as err:
                resp = err.response()
            except QueryError as err:
                resp = query_error(str(err)).response()
            self._idem[(org.tenant_id, key)] = (digest, resp)
            return resp

    def _route(self, org: Org, req: Request, parts: list[str], corrupt: str | None) -> Response:
        if not parts:
            raise ApiError(404, NOT_FOUND)
        name = parts[0].lower()
        m = req.method
        if name in PAGED:
            entity = PAGED[name]
            if len(parts) == 1 and m == "GET":
                return self.list_records(org, entity, req, corrupt)
            if len(parts) == 2 and m == "GET":
                return self.one(org, entity, parts[1], corrupt)
            if entity is CONTACTS:
                if len(parts) == 3 and parts[2].lower() == "history":
                    if m == "GET":
                        return self.history(org, parts[1])
                    if m == "PUT":
                        return self.add_history(org, parts[1], req)
                if m == "POST" and len(parts) <= 2:
                    return self.update_contacts(org, parts[1] if len(parts) == 2 else None, req)
            if entity is PAYMENTS and m == "POST" and len(parts) == 2:
                return self.update_payment(org, parts[1], req)
            raise ApiError(405 if len(parts) <= 2 else 404, NOT_FOUND)
        if name == "contactgroups":
            return self.groups(org, req, parts, corrupt)
        if name == "organisation" and m == "GET":
            return self.envelope("Organisations", [render(R.organisation(org)).encode()])
        if name == "currencies" and m == "GET":
            items = [render({"Code": c, "Description": R.CURRENCY_NAMES.get(c, c)}).encode()
                     for c in org.currencies]
            return self.envelope("Currencies", items)
        raise ApiError(404, NOT_FOUND)

    # ---- rendering --------------------------------------------------------------------------
    def envelope(self, key: str, items: list[bytes], pagination: Record | None = None,
                 corrupt: str | None = None) -> Response:
        """``{"Id","Status","ProviderName","DateTimeUTC"[,"pagination"],key:[…]}``."""
        head = envelope_head(self.clock.now(), self.config.provider_name, str(uuid.uuid4()))
        if pagination is not None:
            head += ',"pagination":' + render(pagination)
        body = b"".join((head.encode(), b',"', key.encode(), b'":[', b",".join(items), b"]}"))
        if corrupt == "json":
            body = body[: max(len(body) // 2, 1)]
        return Response(200, body)

    def _corrupt_first(self, items: list[bytes], entity: Entity, corrupt: str | None) -> None:
        if not items or corrupt not in ("missing_id", "unknown_status"):
            return
        record = json.loads(items[0])
        if corrupt == "missing_id":
            record.pop(entity.id_field, None)
            record.pop("ID", None)
        else:
            record[entity.status_field] = "MYSTERY"
        items[0] = json.dumps(record, separators=(",", ":")).encode()

    # ---- reads ------------------------------------------------------------------------------
    def _filters(self, entity: Entity, req: Request) -> tuple[Any, list[Callable[[Record], bool]]]:
        q = req.query
        preds: list[Callable[[Record], bool]] = []
        key: list[Any] = []
        if entity is CONTACTS and not req.flag("includeArchived"):
            preds.append(lambda r: r["ContactStatus"] != "ARCHIVED")
            key.append("active")
        ids = q.get("ids")
        if ids:
            wanted = {i.strip().lower() for i in ids.split(",") if i.strip()}
            preds.append(lambda r: str(r[entity.id_field]).lower() in wanted)
            key.append(("ids", frozenset(wanted)))
        if entity is INVOICES:
            statuses = q.get("statuses")
            if statuses:
                allowed = {s.strip().upper() for s in statuses.split(",") if s.strip()}
                preds.append(lambda r: r["Status"] in allowed)
                key.append(("statuses", frozenset(allowed)))
            elif not self.config.deleted_invoices_in_list:
                preds.append(lambda r: r["Status"] != "DELETED")
                key.append("no-deleted")
            numbers = q.get("invoicenumbers")
            if numbers:
                nums = {n.strip() for n in numbers.split(",")}
                preds.append(lambda r: r["InvoiceNumber"] in nums)
                key.append(("numbers", frozenset(nums)))
            contact_ids = q.get("contactids")
            if contact_ids:
                cids = {c.strip().lower() for c in contact_ids.split(",")}
                preds.append(lambda r: r["Contact"]["ContactID"].lower() in cids)
                key.append(("contacts", frozenset(cids)))
        term = q.get("searchterm")
        if term and entity in (CONTACTS, INVOICES):
            needle = term.lower()
            fields = (("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
                      if entity is CONTACTS else ("InvoiceNumber", "Reference"))
            preds.append(lambda r: any(needle in str(r.get(f) or "").lower() for f in fields))
            key.append(("search", needle))
        where = q.get("where")
        if where:
            preds.append(parse_where(where, entity.model))
            key.append(("where", where))
        return tuple(key), preds

    def _select(self, org: Org, entity: Entity, req: Request) -> list[str]:
        table = org.table(entity.key)
        since_header = req.headers.get("If-Modified-Since")
        since = parse_since(since_header) if since_header else None
        order = req.query.get("order")
        field_path, desc = parse_order(order) if order else ("UpdatedDateUTC", False)
        filter_key, preds = self._filters(entity, req)

        def compute() -> list[str]:
            ids = table.by_updated()
            if since is not None:
                upd = table.updated
                ids = ids[bisect_left(ids, since, key=lambda k: upd[k]):]
            if preds:
                ids = [k for k in ids if all(p(table[k]) for p in preds)]
            if field_path != "UpdatedDateUTC":
                path = field_path.split(".")

                def value(k: str) -> Any:
                    v: Any = table[k]
                    for part in path:
                        v = v.get(part) if isinstance(v, dict) else None
                    return sort_value(v)
                ids = sorted(ids, key=value, reverse=desc)
            elif desc:
                ids = ids[::-1]
            else:
                ids = list(ids)
            return ids

        return org.cached_query((entity.key, since, filter_key, field_path, desc), compute)

    def list_records(self, org: Org, entity: Entity, req: Request,
                     corrupt: str | None) -> Response:
        """``GET /{Entity}``: filters, ``If-Modified-Since``, ``order``, paging."""
        table = org.table(entity.key)
        page_text = req.query.get("page")
        with org.lock:
            ids = self._select(org, entity, req)
            pagination = None
            summary = req.flag("summaryOnly")
            if page_text is not None:
                try:
                    page = max(int(page_text), 1)
                    size_text = req.query.get("pagesize")
                    size = int(size_text) if size_text else DEFAULT_PAGE_SIZE
                except ValueError as err:
                    raise query_error("page and pageSize must be integers") from err
                # pageSize: up to 1,000 since July 2024, larger values clamped to 1,000 (section
                # "Retrieving paged resources" of
                # https://developer.xero.com/documentation/api/accounting/requests-and-responses);
                # non-positive ones fall back to 100 (assumed).
                size = DEFAULT_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)
                total = len(ids)
                pagination = {"page": page, "pageSize": size,
                              "pageCount": math.ceil(total / size), "itemCount": total}
                chosen = ids[(page - 1) * size: page * size]
            else:
                chosen = ids
                summary = summary or entity in (INVOICES, CREDIT_NOTES, OVERPAYMENTS,
                                                PREPAYMENTS)
            items = self._items(table, entity, chosen, summary)
        self._corrupt_first(items, entity, corrupt)
        return self.envelope(entity.key, items, pagination, corrupt)

    def _items(self, table: Table, entity: Entity, ids: list[str], summary: bool) -> list[bytes]:
        shape = SUMMARY_SHAPES.get(entity.key) if summary else None
        if shape is None:
            return [table.json(k) for k in ids]
        return [table.json_variant(k, "summary", shape) for k in ids]

    def one(self, org: Org, entity: Entity, ident: str, corrupt: str | None) -> Response:
        """``GET /{Entity}/{id}`` (invoices and credit notes also by number)."""
        table = org.table(entity.key)
        with org.lock:
            key = self._find(table, entity, ident)
            items = [table.json(key)]
        self._corrupt_first(items, entity, corrupt)
        return self.envelope(entity.key, items, None, corrupt)

    @staticmethod
    def _lookup(table: Table, ident: str) -> str | None:
        """The key of the record with id ``ident`` (any case), or None."""
        if ident in table:
            return ident
        lowered = ident.lower()
        return lowered if lowered in table else None

    def _find(self, table: Table, entity: Entity, ident: str) -> str:
        found = self._lookup(table, ident)
        if found is not None:
            return found
        if entity.number_field:
            for key, rec in table.items():
                if rec.get(entity.number_field) == ident:
                    return key
        raise ApiError(404, NOT_FOUND)

    def history(self, org: Org, contact_id: str) -> Response:
        """``GET /Contacts/{id}/History``."""
        with org.lock:
            key = self._find(org.contacts, CONTACTS, contact_id)
            entries = org.history.get(key, [])
            items = [render(e).encode() for e in entries]
        return self.envelope("HistoryRecords", items)

    # ---- writes -----------------------------------------------------------------------------
    def _json_body(self, req: Request) -> Record:
        try:
            body = json.loads(req.body or b"{}")
        except ValueError as err:
            raise ApiError(400, {"ErrorNumber": 14, "Type": "PostDataInvalidException",
                                 "Message": f"JSON for the request body is invalid: {err}"}) \
                from err
        if not isinstance(body, dict):
            raise ApiError(400, {"ErrorNumber": 14, "Type": "PostDataInvalidException",
                                 "Message": "an object was expected"})
        return body

    def add_history(self, org: Org, contact_id: str, req: Request) -> Response:
        """``PUT /Contacts/{id}/History``: append notes (shown in the contact's history)."""
        body = self._json_body(req)
        now = self.clock.now()
        out = []
        with org.lock:
            key = self._find(org.contacts, CONTACTS, contact_id)
            entries = body.get("HistoryRecords", [])
            # the batch is checked before any note of it is saved
            if any(not str(e.get("Details", "")) for e in entries):
                raise validation_error([{"Details": "", "ValidationErrors": [
                    {"Message": "Details cannot be empty"}]}])
            for entry in entries:
                details = str(entry.get("Details", ""))
                rec = R.history_record(now, "Note", details, user="API")
                org.history.setdefault(key, []).append(rec)
                out.append(render({"DateUTCString": rec["DateUTCString"],
                                   "DateUTC": rec["DateUTC"], "Details": details,
                                   "ValidationErrors": []}).encode())
        return self.envelope("HistoryRecords", out)

    def update_contacts(self, org: Org, contact_id: str | None, req: Request) -> Response:
        """``POST /Contacts[/{id}]``: update Name, EmailAddress, AccountNumber, PaymentTerms,
        ContactStatus of existing contacts (the fields write-back uses).

        The whole batch is validated before anything is saved. By default one refused element
        refuses the batch (400 ValidationException listing the refused elements);
        ``summarizeErrors=false`` (``POST /Contacts`` only, as in the spec) saves the valid
        ones and answers 200 with every element, the refused ones carrying their errors.
        """
        body = self._json_body(req)
        summarized = contact_id is not None or \
            req.query.get("summarizeerrors", "true").lower() != "false"
        with org.lock:
            names = {str(c["Name"]).casefold(): k for k, c in org.contacts.items()
                     if c.get("ContactStatus") == "ACTIVE"}
            checked: list[tuple[str | None, Record, list[str]]] = []
            for patch in body.get("Contacts", []):
                ident = contact_id or patch.get("ContactID")
                if not ident:
                    checked.append((None, dict(patch), [
                        "Creating contacts is not emulated; give a ContactID"]))
                    continue
                if contact_id is not None:
                    key = self._find(org.contacts, CONTACTS, str(ident))  # 404 as in the path
                else:
                    found = self._lookup(org.contacts, str(ident))
                    if found is None:
                        checked.append((None, dict(patch), [V.NOT_FOUND]))
                        continue
                    key = found
                after, errors = V.contact_update(org.contacts[key], patch, names, key)
                if not errors and after.get("ContactStatus") == "ACTIVE":
                    names[str(after["Name"]).casefold()] = key
                checked.append((key, after, errors))
            if summarized and any(errors for _, _, errors in checked):
                raise validation_error([V.refused(after, errors, True)
                                        for _, after, errors in checked if errors])
            changes = Changes(org, Stamper(self.clock), _rng())
            out = []
            for saved, after, errors in checked:
                if errors or saved is None:
                    out.append(render(V.refused(after, errors, False)).encode())
                    continue
                contact = org.contacts[saved]
                for name in (*V.CONTACT_FIELDS, "PaymentTerms"):
                    if name in after:
                        contact[name] = after[name]
                changes.touch_contact(saved)
                out.append(org.contacts.json(saved))
        return self.envelope("Contacts", out)

    def update_payment(self, org: Org, payment_id: str, req: Request) -> Response:
        """``POST /Payments/{id}`` with ``{"Payments":[{"Status":"DELETED"}]}`` deletes it."""
        body = self._json_body(req)
        patch = (body.get("Payments") or [body])[0]
        with org.lock:
            key = self._find(org.payments, PAYMENTS, payment_id)
            if patch.get("Status") != "DELETED":
                raise validation_error([{**patch, "ValidationErrors": [
                    {"Message": "Only Status DELETED can be set on a payment"}]}])
            if org.payments[key]["Status"] != "DELETED":
                Changes(org, Stamper(self.clock), _rng()).delete_payment(key)
            item = org.payments.json(key)
        return self.envelope("Payments", [item])

    # ---- contact groups (https://developer.xero.com/documentation/api/accounting/contactgroups)
    def groups(self, org: Org, req: Request, parts: list[str], corrupt: str | None) -> Response:
        """``/ContactGroups`` and its members."""
        m = req.method
        with org.lock:
            if len(parts) == 1:
                if m == "GET":
                    return self._list_groups(org, req)
                if m == "PUT":
                    return self._create_groups(org, req)
                raise ApiError(405, NOT_FOUND)
            key = self._find(org.contact_groups, Entity("ContactGroups", "ContactGroupID",
                                                        "Status"), parts[1])
            if len(parts) == 2:
                if m == "GET":
                    return self._group_with_members(org, key)
                if m == "POST":
                    return self._update_group(org, key, req)
                raise ApiError(405, NOT_FOUND)
            if parts[2].lower() != "contacts":
                raise ApiError(404, NOT_FOUND)
            if len(parts) == 3 and m == "PUT":
                return self._add_members(org, key, req)
            if len(parts) == 3 and m == "DELETE":
                self._clear_members(org, key)
                return Response(204)
            if len(parts) == 4 and m == "DELETE":
                cid = self._find(org.contacts, CONTACTS, parts[3])
                if cid not in org.group_members.get(key, {}):
                    raise validation_error([{"ContactID": parts[3], "ValidationErrors": [
                        {"Message": "The contact is not a member of this contact group"}]}])
                self._remove_member(org, key, cid)
                return Response(204)
            raise ApiError(404, NOT_FOUND)

    def _list_groups(self, org: Org, req: Request) -> Response:
        # Only ACTIVE groups come back; members only on GET by id
        # (https://developer.xero.com/documentation/api/accounting/contactgroups#get-contactgroups).
        groups = [g for g in org.contact_groups.values() if g["Status"] == "ACTIVE"]
        where = req.query.get("where")
        if where:
            pred = parse_where(where, "ContactGroup")
            groups = [g for g in groups if pred(g)]
        order = req.query.get("order")
        if order:
            name, desc = parse_order(order)
            groups.sort(key=lambda g: sort_value(g.get(name)), reverse=desc)
        return self.envelope("ContactGroups", [render(g).encode() for g in groups])

    def _group_with_members(self, org: Org, key: str) -> Response:
        group = dict(org.contact_groups[key])
        group["Contacts"] = [R.contact_ref(org.contacts[c])
                             for c in org.group_members.get(key, {})]
        return self.envelope("ContactGroups", [render(group).encode()])

    def _create_groups(self, org: Org, req: Request) -> Response:
        body = self._json_body(req)
        wanted = body.get("ContactGroups") or []
        active = [g for g in org.contact_groups.values() if g["Status"] == "ACTIVE"]
        names = {str(g["Name"]).casefold() for g in active}
        errors = []
        for g in wanted:
            name = str(g.get("Name") or "").strip()
            message = V.group_name(name, names)
            if message is None and len(active) + len(wanted) > GROUP_LIMIT:
                message = "You’ve reached the limit of 100 contact groups."
            names.add(name.casefold())  # two of one name in a batch: the second is refused
            if message:
                errors.append({"ContactGroupID": "00000000-0000-0000-0000-000000000000",
                               "Name": name, "Contacts": [], "HasValidationErrors": True,
                               "ValidationErrors": [{"Message": message}]})
        if errors:
            raise validation_error(errors)
        out = []
        for g in wanted:
            group_id = str(uuid.uuid4())
            group = {"ContactGroupID": group_id, "Name": str(g["Name"]).strip(),
                     "Status": "ACTIVE", "Contacts": [], "HasValidationErrors": False}
            org.contact_groups.put(group)
            org.group_members[group_id] = {}
            out.append(render(group).encode())
        return self.envelope("ContactGroups", out)

    def _update_group(self, org: Org, key: str, req: Request) -> Response:
        body = self._json_body(req)
        patch = (body.get("ContactGroups") or [body])[0]
        group = org.contact_groups[key]
        # a rename is held to the rules of a new group's name; Status is ACTIVE or DELETED
        taken = {str(g["Name"]).casefold() for k, g in org.contact_groups.items()
                 if g["Status"] == "ACTIVE" and k != key}
        name = str(patch.get("Name") or "").strip() if "Name" in patch else group["Name"]
        message = V.group_name(name, taken) if "Name" in patch else None
        if message is None and patch.get("Status", "ACTIVE") not in V.GROUP_STATUSES:
            message = f"'{patch['Status']}' is not a valid contact group Status; use ACTIVE " \
                      "or DELETED."
        if message:
            raise validation_error([{"ContactGroupID": key, "Name": name, "Contacts": [],
                                     "HasValidationErrors": True,
                                     "ValidationErrors": [{"Message": message}]}])
        group["Name"] = name
        if patch.get("Status") == "DELETED":
            self._clear_members(org, key)
            group["Status"] = "DELETED"
        org.contact_groups.touch(key)
        for cid in org.group_members.get(key, {}):  # the name shown on members changes too
            self._sync_contact_groups(org, cid)
        return self.envelope("ContactGroups", [render(group).encode()])

    def _add_members(self, org: Org, key: str, req: Request) -> Response:
        body = self._json_body(req)
        if org.contact_groups[key]["Status"] != "ACTIVE":
            raise validation_error([{"ContactGroupID": key, "ValidationErrors": [
                {"Message": "The contact group is deleted"}]}])
        wanted = [(c, self._lookup(org.contacts, str(c.get("ContactID") or "")))
                  for c in body.get("Contacts", [])]
        # the batch is checked before anyone in it is added: an unknown contact adds no one
        unknown = [{"ContactID": str(c.get("ContactID") or ""), "HasValidationErrors": True,
                    "ValidationErrors": [{"Message": V.NOT_FOUND}]}
                   for c, cid in wanted if cid is None]
        if unknown:
            raise validation_error(unknown)
        out = []
        members = org.group_members.setdefault(key, {})
        for _, found in wanted:
            cid = str(found)
            if cid not in members:
                members[cid] = None
                self._sync_contact_groups(org, cid)
            out.append(render({"ContactID": cid, "Addresses": [], "Phones": [],
                               "ContactGroups": [], "ContactPersons": [],
                               "HasValidationErrors": False, "ValidationErrors": []}).encode())
        return self.envelope("Contacts", out)

    def _remove_member(self, org: Org, key: str, cid: str) -> None:
        members = org.group_members.get(key, {})
        if cid in members:
            del members[cid]
            self._sync_contact_groups(org, cid)

    def _clear_members(self, org: Org, key: str) -> None:
        members = org.group_members.get(key)
        if not members:
            return
        former = list(members)
        members.clear()
        for cid in former:
            self._sync_contact_groups(org, cid)

    def _sync_contact_groups(self, org: Org, cid: str) -> None:
        # Membership shows in Contact.ContactGroups, in the order the groups were created.
        # Whether it bumps the contact's UpdatedDateUTC is not documented (Xero's contact-group
        # page does not say: https://developer.xero.com/documentation/api/accounting/contactgroups);
        # here it does not. Each group's members are a dict, so this costs one look-up per group.
        contact = org.contacts[cid]
        contact["ContactGroups"] = [
            R.group_ref(org.contact_groups[g]) for g, members in org.group_members.items()
            if cid in members and org.contact_groups[g]["Status"] == "ACTIVE"]
        org.contacts.touch(cid)


def _rng() -> random.Random:
    """Randomness for ids of records an API write creates (not part of the seeded data)."""
    return random.Random()
