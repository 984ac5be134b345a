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

Like every adapter it never touches the store and never retries: the engine's client does.
API reference: https://developer.xero.com/documentation/api/accounting/contactgroups
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from arconnect.adapters.base import HttpClient
from arconnect.adapters.xero._common import API_PREFIX
from arconnect.errors import ArconnectError

# An organisation holds at most 100 contact groups, its own included ("You can't create more than
# 100 contact groups", https://developer.xero.com/documentation/api/accounting/contactgroups#post-contactgroups).
GROUP_LIMIT = 100


@dataclass
class Call:
    """One API call and the operations (indexes into the plan) it carries."""

    method: str
    path: str
    body: Any
    label: str
    ops: list[int] = field(default_factory=list)
    group: str | None = None  # the group name, when the call targets one
    params: dict[str, str] | None = None  # query parameters


@dataclass
class Unit:
    """Calls that go together (a group cleared is filled again in the same unit); the budget
    starts a unit only when it can finish it."""

    calls: list[Call]
    priority: float


class XeroWriter:
    """Write-back for one Xero organisation, through the engine's client."""

    platform = "xero"

    def __init__(self, batch_size: int = 50) -> None:
        self.batch_size = batch_size

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
    def compile(
        self,
        ops: Sequence[Mapping[str, Any]],
        group_ids: Mapping[str, str],
        members: Mapping[str, set[str]],
        untouchable: set[str] | frozenset[str] = frozenset(),
    ) -> list[Unit]:
        """The fewest calls that carry out ``ops`` (dicts as the planner makes them), in
        units ordered by priority (largest exposure first; group creation first of all).

        ``group_ids`` maps existing group names to ids (a missing one is created first and
        referred to by name until then); ``members`` holds each existing group's members now;
        a group holding an ``untouchable`` contact (archived) is never cleared and re-filled.
        """
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
    def resolve(call: Call, group_ids: Mapping[str, str]) -> None:
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
    def min_calls(group_changes: Mapping[str, tuple[int, int, int]], terms: int, notes: int,
                  b: int) -> int:
        """The fewest write calls for the changes: per group (removals, adds, members after)
        min(removals + ⌈adds/B⌉, 1 + ⌈members after/B⌉), plus ⌈terms/B⌉, plus one per note."""
        total = sum(min(r + math.ceil(a / b), 1 + math.ceil(m / b))
                    for r, a, m in group_changes.values())
        return total + math.ceil(terms / b) + notes


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
