"""Xero write-back: contact groups, payment terms and History notes.

Reads what the organisation holds now (its contact groups and the members of ours) and turns
the planner's operations into the fewest API calls (the calls are documented at
https://developer.xero.com/documentation/api/accounting/contactgroups):

* groups are created together in one ``PUT /ContactGroups``;
* members are added in batches, ``PUT /ContactGroups/{id}/Contacts``;
* per group, whichever is cheaper: per-contact ``DELETE /ContactGroups/{id}/Contacts/{ContactID}``
  plus the batched adds, or clearing the group (``DELETE /ContactGroups/{id}/Contacts``) and
  adding back everyone who stays;
* payment terms in batches, ``POST /Contacts`` with ``PaymentTerms.Sales`` (Bills untouched);
* one ``PUT /Contacts/{ContactID}/History`` note per changed credit limit;
* groups are deleted with ``POST /ContactGroups/{id}`` ``{"Status": "DELETED"}`` (there is no
  DELETE verb for a group).

Payment terms are a scalar slot here (the contact's own value, read from the contacts the sync
stored); every write carries the engine's ``Idempotency-Key``
(https://developer.xero.com/documentation/guides/idempotent-requests/idempotency/).

Like every adapter it never touches the store and never retries: the engine's client does.
API reference: https://developer.xero.com/documentation/api/accounting/contactgroups
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from arconnect.adapters.base import (
    CallOutcome,
    ErpState,
    HttpClient,
    SlotKind,
    SlotSpec,
    WriteCall,
    WriteOp,
    WriteTargets,
    WriteUnit,
)
from arconnect.adapters.xero._common import API_PREFIX
from arconnect.errors import ArconnectError

# An organisation holds at most 100 contact groups, its own included ("You can't create more than
# 100 contact groups", https://developer.xero.com/documentation/api/accounting/contactgroups#post-contactgroups).
GROUP_LIMIT = 100

# The Xero names of the port's call types (the write-back tests and older code use them).
Call = WriteCall
Unit = WriteUnit

# What Xero write-back can take: contact groups, sales payment terms (a value on the contact,
# https://developer.xero.com/documentation/api/accounting/contacts#post-contacts) and History
# notes; no reference fields and no credit-limit field.
TARGETS = WriteTargets(membership=True, terms=SlotKind.SCALAR, limit_note=True,
                       terms_types=("DAYSAFTERBILLDATE",), max_batch=500)
DEFAULT_BATCH = 50


class XeroWriter:
    """Write-back for one Xero organisation, through the engine's client (implements
    :class:`arconnect.adapters.base.Writer`)."""

    platform = "xero"
    targets = TARGETS
    object_kind = "contact_group"

    def __init__(self, batch_size: int | None = DEFAULT_BATCH) -> None:
        self.batch_size = batch_size or DEFAULT_BATCH

    # ---- the Writer port ------------------------------------------------------------------
    def read_state(self, client: HttpClient, slots: Sequence[SlotSpec],
                   customers: Mapping[str, Mapping[str, Any]]) -> ErpState:
        """The organisation's groups (one read), the members of each group a slot may use
        (one read per existing group), and each contact's sales terms as the store holds them
        (refreshed by the sync right before planning)."""
        groups = self.read_groups(client)
        erp = ErpState(calls=1)
        for spec in slots:
            if spec.kind is SlotKind.MEMBERSHIP:
                erp.objects[spec.key] = groups
        for spec in slots:
            if spec.kind is not SlotKind.MEMBERSHIP:
                continue
            for name in spec.names.values():
                if name in groups and name not in erp.members:
                    erp.members[name] = set(self.read_members(client, groups[name]))
                    erp.calls += 1
        erp.extra["groups"] = groups
        for cid, row in customers.items():
            days = row.get("terms_days")
            erp.values[cid] = {"terms": None if days is None else {
                "Day": int(days), "Type": row.get("terms_type") or "DAYSAFTERBILLDATE"}}
        return erp

    def terms_value(self, days: int, terms_type: str, erp: ErpState) -> Any:
        """``PaymentTerms.Sales`` for net ``days``."""
        return {"Day": days, "Type": terms_type or TARGETS.terms_types[0]}

    def refusal(self, tenant: str, slots: Sequence[SlotSpec], erp: ErpState,
                needed: Mapping[str, set[str]]) -> str | None:
        """Groups the admin must create (a slot with ``create: false``), and the 100-group
        limit."""
        creatable = {s.key: s.create for s in slots}
        admin = sorted({n for k, names in needed.items() if not creatable.get(k, True)
                        for n in names})
        if admin:
            return (f"tenant {tenant}: the mapping puts customers in Xero contact group(s) "
                    f"{', '.join(repr(n) for n in admin)}, which the Xero admin must create (the "
                    "slot says `create: false`) and which do not exist; create them in Xero "
                    "(Contacts › Groups › New group) or set `create: true` in the mapping's "
                    "outbound section. Nothing was written.")
        groups = erp.extra.get("groups") or {}
        new = sorted({n for names in needed.values() for n in names})
        if len(groups) + len(new) > GROUP_LIMIT:
            return (f"tenant {tenant}: Xero allows {GROUP_LIMIT} contact groups per "
                    f"organisation; it has {len(groups)} and this plan needs {len(new)} more "
                    f"({', '.join(new)}). Delete unused groups in Xero or use fewer group "
                    "slots in the mapping's outbound section. Nothing was written.")
        return None

    def daily_budget(self, settings: Any) -> int | None:
        """Xero's day limit per organisation (5,000; 1,000 on the Starter tier)."""
        from arconnect.adapters.xero.settings import xero_settings

        return xero_settings(settings).day_limit

    def send(self, client: HttpClient, call: WriteCall, key: str, ops: Sequence[WriteOp],
             erp: ErpState) -> CallOutcome:
        """One call with the ``Idempotency-Key`` (PUT and POST), and what Xero answered."""
        headers = {"Idempotency-Key": key} if call.method in ("PUT", "POST") else None
        response = client.request(call.method, self.full_path(call.path), json=call.body,
                                  headers=headers, params=call.params)
        status = response.status_code
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {"text": response.text[:500]}
        reads = 0
        # Removing a contact that is no longer a member is what we wanted anyway. Xero answers
        # that case with a 400 whose wording is not documented: the group is read to be sure.
        ok = status < 300
        if not ok and call.label == "group.remove" and status in (400, 404):
            reads += 1
            ok = self._not_a_member(client, call)
        message = None if ok else _error_text(body, response.text)
        # A 200 can still refuse some of its elements (summarizeErrors=false): those operations
        # failed, with Xero's message, and are retried by the next plan; the rest are done.
        refused = self._refused_ops(call, body, ops) if status < 300 else {}
        created: dict[str, str] = {}
        if ok and call.label == "group.create" and isinstance(body, dict):
            created = self.created_groups(body)
            groups = erp.extra.setdefault("groups", {})
            groups.update(created)
            for objects in erp.objects.values():
                if objects is not groups:
                    objects.update(created)
        return CallOutcome(status, ok, message, refused, created, read_calls=reads)

    def _refused_ops(self, call: WriteCall, body: Any, ops: Sequence[WriteOp]
                     ) -> dict[int | None, str]:
        """Operations of ``call`` whose elements a successful answer refused: op index ->
        Xero's message; key None for refused elements no operation stands for (a member added
        back)."""
        refused = self.refused_elements(call, body) if isinstance(body, dict) else {}
        if not refused:
            return {}
        out: dict[int | None, str] = {}
        known = set()
        for i in call.ops:
            op = ops[i]
            name = str(op["after"] if op["action"] == "group.create" else op["customer"] or "")
            name = name if op["action"] == "group.create" else name.lower()
            known.add(name)
            message = refused.get(name) or refused.get("*")
            if message:
                out[i] = message
        others = [f"{k}: {m}" for k, m in refused.items() if k != "*" and k not in known]
        if others or ("*" in refused and not call.ops):
            out[None] = "; ".join(others or [refused["*"]])
        return out

    def _not_a_member(self, client: HttpClient, call: WriteCall) -> bool:
        """After a refused per-contact removal: whether the contact is out of the group
        anyway."""
        group_id, _, contact = call.path.removeprefix("ContactGroups/").partition("/Contacts/")
        try:
            return contact.lower() not in self.read_members(client, group_id)
        except ArconnectError:
            return False

    def min_calls(self, ops: Sequence[WriteOp], erp: ErpState) -> int:
        """The fewest write calls for ``ops`` (see :meth:`min_calls_for`)."""
        changes: dict[str, list[int]] = {}
        for op in ops:
            if op["action"] != "group.set":
                continue
            for g in op.get("remove") or ():
                changes.setdefault(g, [0, 0, 0])[0] += 1
            if op["after"]:
                changes.setdefault(op["after"], [0, 0, 0])[1] += 1
        for g, v in changes.items():
            v[2] = len(erp.members.get(g, set())) - v[0] + v[1]
        terms = sum(1 for op in ops if op["action"] == "terms.set")
        notes = sum(1 for op in ops if op["action"] == "note.add")
        creates = 1 if any(op["action"] == "group.create" for op in ops) else 0
        return creates + self.min_calls_for({g: (v[0], v[1], v[2]) for g, v in changes.items()},
                                            terms, notes, self.batch_size)

    # ---- reads ---------------------------------------------------------------------------
    def read_groups(self, client: HttpClient) -> dict[str, str]:
        """The organisation's ACTIVE contact groups: name -> ContactGroupID."""
        body = _json(client.request("GET", self.full_path("ContactGroups")),
                     "GET ContactGroups")
        return {str(g["Name"]): str(g["ContactGroupID"]) for g in body.get("ContactGroups", [])
                if g.get("Status", "ACTIVE") == "ACTIVE"}

    def read_members(self, client: HttpClient, group_id: str) -> list[str]:
        """The ContactIDs in one group (only ``GET /ContactGroups/{id}`` lists them)."""
        body = _json(client.request("GET", self.full_path(f"ContactGroups/{group_id}")),
                     f"GET ContactGroups/{group_id}")
        groups = body.get("ContactGroups") or [{}]
        return [str(c["ContactID"]).lower() for c in groups[0].get("Contacts") or []]

    @staticmethod
    def full_path(path: str) -> str:
        """A call's path (``ContactGroups/…``) under the Accounting API."""
        return f"{API_PREFIX}/{path}"

    # ---- calls ---------------------------------------------------------------------------
    def compile(self, ops: Sequence[WriteOp], erp: ErpState,
                untouchable: set[str]) -> list[WriteUnit]:
        """The fewest calls that carry out ``ops`` (dicts as the planner makes them), in
        units ordered by priority (largest exposure first; group creation first of all).

        Existing groups are referred to by id (a missing one is created first and referred to
        by name until then, see :meth:`resolve`); a group holding an ``untouchable`` contact
        (archived) is never cleared and re-filled.
        """
        return self.compile_calls(ops, erp.extra.get("groups") or {}, erp.members, untouchable)

    def resolve(self, call: WriteCall, erp: ErpState) -> None:
        """Put the id of a group created earlier in the run into ``call``'s path."""
        self.resolve_group(call, erp.extra.get("groups") or {})

    def compile_calls(
        self,
        ops: Sequence[Mapping[str, Any]],
        group_ids: Mapping[str, str],
        members: Mapping[str, set[str]],
        untouchable: set[str] | frozenset[str] = frozenset(),
    ) -> list[Unit]:
        """:meth:`compile` with the groups' ids and members given."""
        b = self.batch_size
        units: list[Unit] = []
        create = [i for i, op in enumerate(ops) if op["action"] == "group.create"]
        if create:
            names = [ops[i]["after"] for i in create]
            units.append(Unit([Call("PUT", "ContactGroups",
                                    {"ContactGroups": [{"Name": n} for n in names]},
                                    "group.create", create)], math.inf))
        # Group membership, per group: leaving and joining customers.
        leaving: dict[str, list[int]] = {}
        joining: dict[str, list[int]] = {}
        for i, op in enumerate(ops):
            if op["action"] != "group.set":
                continue
            for g in op.get("remove") or ():
                leaving.setdefault(g, []).append(i)
            if op["after"]:
                joining.setdefault(op["after"], []).append(i)
        for group in sorted(set(leaving) | set(joining)):
            units.extend(self._group_units(ops, group, group_ids.get(group, group),
                                           leaving.get(group, []), joining.get(group, []),
                                           members.get(group, set()), b,
                                           bool(members.get(group, set()) & untouchable)))
        for i, op in enumerate(ops):
            if op["action"] == "group.delete":
                gid = group_ids.get(op["before"], op["before"])
                units.append(Unit([
                    Call("DELETE", f"ContactGroups/{gid}/Contacts", None, "group.clear", [],
                         op["before"]),
                    Call("POST", f"ContactGroups/{gid}",
                         {"ContactGroups": [{"ContactGroupID": gid, "Status": "DELETED"}]},
                         "group.delete", [i], op["before"]),
                ], -1.0))
        terms = sorted((i for i, op in enumerate(ops) if op["action"] == "terms.set"),
                       key=lambda i: -float(ops[i]["priority"]))
        for chunk in _chunks(terms, b):
            contacts = [{"ContactID": ops[i]["customer"],
                         "PaymentTerms": {"Sales": ops[i]["after"]}} for i in chunk]
            # summarizeErrors=false: Xero saves the contacts it accepts and answers 200 with
            # ValidationErrors on the ones it refuses, instead of refusing all 50 for one
            # (https://developer.xero.com/documentation/api/accounting/requests-and-responses
            # #validation-errors)
            units.append(Unit([Call("POST", "Contacts", {"Contacts": contacts}, "terms.set",
                                    list(chunk), params={"summarizeErrors": "false"})],
                              float(ops[chunk[0]]["priority"])))
        for i, op in enumerate(ops):
            if op["action"] == "note.add":
                units.append(Unit([Call("PUT", f"Contacts/{op['customer']}/History",
                                        {"HistoryRecords": [{"Details": op["text"]}]},
                                        "note.add", [i])], float(op["priority"])))
        first = units[:1] if create else []
        rest = units[len(first):]
        rest.sort(key=lambda u: -u.priority)
        return first + rest

    def _group_units(self, ops: Sequence[Mapping[str, Any]], group: str, gid: str,
                     leaving: list[int], joining: list[int], now: set[str], b: int,
                     no_clear: bool = False) -> list[Unit]:
        """Per-contact removals + batched adds, or clear + re-add, whichever is fewer calls."""
        leave_ids = {ops[i]["customer"] for i in leaving}
        after = (now - leave_ids) | {ops[i]["customer"] for i in joining}
        per_contact = len(leaving) + math.ceil(len(joining) / b)
        clear = 1 + math.ceil(len(after) / b)
        by_priority = sorted(joining, key=lambda i: -float(ops[i]["priority"]))
        if clear < per_contact and not no_clear:
            stay = sorted(after - {ops[i]["customer"] for i in joining})
            calls = [Call("DELETE", f"ContactGroups/{gid}/Contacts", None, "group.clear",
                          list(leaving), group)]
            ids = [(ops[i]["customer"], [i]) for i in by_priority] + [(c, []) for c in stay]
            for chunk in _chunks(ids, b):
                calls.append(Call("PUT", f"ContactGroups/{gid}/Contacts",
                                  {"Contacts": [{"ContactID": c} for c, _ in chunk]},
                                  "group.add", [i for _, refs in chunk for i in refs], group))
            top = max((float(ops[i]["priority"]) for i in leaving + joining), default=0.0)
            return [Unit(calls, top)]
        units = [Unit([Call("DELETE", f"ContactGroups/{gid}/Contacts/{ops[i]['customer']}",
                            None, "group.remove", [i], group)], float(ops[i]["priority"]))
                 for i in leaving]
        for chunk in _chunks(by_priority, b):
            units.append(Unit([Call("PUT", f"ContactGroups/{gid}/Contacts",
                                    {"Contacts": [{"ContactID": ops[i]["customer"]}
                                                  for i in chunk]},
                                    "group.add", list(chunk), group)],
                              float(ops[chunk[0]]["priority"])))
        return units

    @staticmethod
    def resolve_group(call: Call, group_ids: Mapping[str, str]) -> None:
        """Put the id of a group created earlier in the run into ``call``'s path."""
        if call.group and call.group in group_ids:
            gid = group_ids[call.group]
            parts = call.path.split("/")
            if len(parts) >= 2 and parts[0] == "ContactGroups" and parts[1] == call.group:
                parts[1] = gid
                call.path = "/".join(parts)
                if isinstance(call.body, dict) and "ContactGroups" in call.body:
                    for g in call.body["ContactGroups"]:
                        if "ContactGroupID" in g:
                            g["ContactGroupID"] = gid

    @staticmethod
    def created_groups(body: Mapping[str, Any]) -> dict[str, str]:
        """Name -> id of the groups a ``PUT /ContactGroups`` created (not those it refused)."""
        return {str(g["Name"]): str(g["ContactGroupID"]) for g in body.get("ContactGroups", [])
                if isinstance(g, dict) and _refusal(g) is None}

    @staticmethod
    def refused_elements(call: Call, body: Mapping[str, Any]) -> dict[str, str]:
        """The elements of a successful (2xx) answer that Xero nevertheless refused: key ->
        Xero's message.

        With ``summarizeErrors=false`` Xero answers 200 and marks each element it did not
        save with ``StatusAttributeString: "ERROR"`` and its ``ValidationErrors``; other
        writes echo their elements with a ``ValidationErrors`` list too. The key is what the
        call's operations are known by: the element's ContactID (lower case), else its group
        Name, else that of the element sent in the same position; ``"*"`` when none of these
        tells which it was.
        """
        sent = _elements(call.body)
        out: dict[str, str] = {}
        for i, element in enumerate(_elements(body)):
            message = _refusal(element)
            if message is None:
                continue
            key = _element_key(element) or (_element_key(sent[i]) if i < len(sent) else None)
            out[key or "*"] = message
        return out

    @staticmethod
    def min_calls_for(group_changes: Mapping[str, tuple[int, int, int]], terms: int, notes: int,
                      b: int) -> int:
        """The fewest write calls for the changes: per group (removals, adds, members after)
        min(removals + ⌈adds/B⌉, 1 + ⌈members after/B⌉), plus ⌈terms/B⌉, plus one per note."""
        total = sum(min(r + math.ceil(a / b), 1 + math.ceil(m / b))
                    for r, a, m in group_changes.values())
        return total + math.ceil(terms / b) + notes


def _error_text(body: Any, text: str) -> str:
    """Xero's words for a refused call: its validation messages, else its ``Message``."""
    if isinstance(body, dict):
        found = []
        for el in body.get("Elements") or []:
            for e in el.get("ValidationErrors") or []:
                found.append(str(e.get("Message")))
        if found:
            return "; ".join(dict.fromkeys(found))
        if body.get("Message"):
            return str(body["Message"])
    return text[:300]


def _elements(body: Any) -> list[dict[str, Any]]:
    """The list of elements of a request or response body (``{"Contacts": [...]}``)."""
    if not isinstance(body, Mapping):
        return []
    for value in body.values():
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return list(value)
    return []


def _refusal(element: Mapping[str, Any]) -> str | None:
    """Xero's message when it refused ``element``, else None."""
    errors = element.get("ValidationErrors") or []
    if not errors and element.get("StatusAttributeString") != "ERROR" \
            and element.get("HasValidationErrors") is not True:
        return None
    messages = [str(e.get("Message")) for e in errors if isinstance(e, dict)]
    return "; ".join(dict.fromkeys(messages)) or "refused without a message"


def _element_key(element: Mapping[str, Any]) -> str | None:
    zero = "00000000-0000-0000-0000-000000000000"
    contact = element.get("ContactID")
    if contact and str(contact) != zero:
        return str(contact).lower()
    name = element.get("Name")
    return str(name) if name else None


def _chunks(items: Sequence[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _json(response: Any, what: str) -> dict[str, Any]:
    if response.status_code >= 400:
        raise ArconnectError(f"{what}: HTTP {response.status_code}: {response.text[:300]}")
    try:
        body = response.json()
    except ValueError as err:
        raise ArconnectError(f"{what}: the response is not JSON ({err})") from None
    if not isinstance(body, dict):
        raise ArconnectError(f"{what}: unexpected response {str(body)[:200]}")
    return body
