"""NetSuite write-back: customer category, credit limit and hold, terms, dunning procedure.

What lands where (fields of the customer record, REST names as ``GET`` shows them;
https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1545142173.html for
``PATCH``):

* a segment or tag → ``category`` (a reference slot, target ``category``): the customer
  category list (Setup > Accounting > Accounting Lists). A missing category is created through
  REST (``POST /record/v1/customerCategory``,
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/article_0829023257.html), after
  a look-up by name, so a retried run never makes a second one.
* a credit hold → ``creditHoldOverride`` (target ``creditholdoverride``): ``ON`` while the
  segment's policy holds credit, back to ``AUTO`` (the account's credit-limit preference
  decides) when it no longer does — the mapping's ``release: AUTO``. ``OFF`` turns the credit
  check off for the customer and is never written: a plan that would write it is refused
  ("Managing Customer Credit Limits and Holds",
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_N1080144.html).
* the dunning procedure → ``custentity_3805_dunning_procedure`` (the Dunning Letters
  SuiteApp's field the dunning evaluation reads; "Assigning a Dunning Procedure to a
  Customer", https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_4023045916.html).
  Procedures are not created through the API: a missing one refuses the plan, naming it. A
  mapping name that is all digits is the procedure's internal id. The SuiteApp clears the
  customer's dunning level and sets the procedure's default dunning manager in a client script
  that REST does not run, so the same ``PATCH`` sends the manager and ``level: null``.
* any ``custentity_*`` field (target ``custentity_ar_segment`` ...): a free-form text field
  takes the name as its value (list fields are not written yet).
* payment terms → ``terms``: the account's term whose ``daysuntilnetdue`` is the policy's days
  (``Net N`` first). A missing term refuses the plan, naming it: the term record is creatable
  through REST, but which days-and-discount term an account wants is the admin's choice.
* the credit limit → ``creditLimit`` (``credit_limit.field: creditlimit``, in the customer's
  currency), or a ``custentity_*`` field.

Reads: one SuiteQL ``IN`` query per 1,000 customers for every slot's column (the read-back
before writing: NetSuite's ``PATCH`` takes no version token, the last writer wins, so the values
read here are what drift is judged on), plus one query of each list a slot needs (categories,
terms, dunning procedures). A column the account lacks (SuiteQL: "Field … for record 'customer'
was not found"), or the SuiteApp's missing procedure table, refuses the plan before any write,
naming the field and where to create it.

An empty field is reported as ``""``, not None: NetSuite's ``PATCH`` clears a field with
``null``, so "the customer had none" is a value write-back can give back.

Writes: one ``PATCH /record/v1/customer/{id}`` per customer carrying every slot's value, with
``X-NetSuite-PropertyNameValidation: error`` so a misspelt field fails instead of being
ignored; 204 is success; a 400 fails that customer's operations with NetSuite's detail. Every
value is absolute, so a replayed ``PATCH`` has no second effect.

Like every adapter it never touches the store and never retries what the engine's client
retries (429, 5xx, 401).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
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
from arconnect.adapters.netsuite._common import (
    CATEGORIES_QUERY,
    IDS_PER_QUERY,
    MAX_LIMIT,
    PROCEDURE_MANAGER,
    PROCEDURE_TABLE,
    PROCEDURES_QUERY,
    RECORD,
    TERMS_QUERY,
    error_text,
    ids_in,
    items_of,
    sql_string,
    suiteql,
    suiteql_all,
)
from arconnect.errors import ArconnectError, UpstreamError

# SuiteQL columns (lower case) the writer reads, and the REST fields it writes them as.
CATEGORY = "category"
HOLD = "creditholdoverride"
TERMS = "terms"
LIMIT = "creditlimit"
PROCEDURE = "custentity_3805_dunning_procedure"
MANAGER = "custentity_3805_dunning_manager"
LEVEL = "custentity_3805_dunning_level"
CUSTOM = "custentity_"
REST_NAMES = {CATEGORY: "category", HOLD: "creditHoldOverride", TERMS: "terms",
              LIMIT: "creditLimit"}
LIMIT_SLOT = "field:credit_limit"

# The Hold values write-back writes: ON for a hold, AUTO (the account's credit-limit
# preference decides) otherwise. OFF ("no credit check for this customer") never.
HOLD_VALUES = ("ON", "AUTO")


# Where an admin makes what write-back cannot, as NetSuite's menus name it.
CATEGORY_WHERE = "Setup > Accounting > Accounting Lists > New > Customer Category"
TERM_WHERE = "Setup > Accounting > Accounting Lists > New > Term"
# "Setting Up Dunning Procedures",
# https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_4022915244.html
PROCEDURE_WHERE = "Dunning > Setup > Dunning Procedures"
FIELD_WHERE = ("Customization > Lists, Records, & Fields > Entity Fields > New, applied to "
               "Customer")
SUITEAPP = ("the Dunning Letters SuiteApp (Customization > SuiteBundler > Search & Install "
            "Bundles), whose fields and procedures the dunning slot uses")

TARGETS = WriteTargets(
    references={
        CATEGORY: RefTarget(creatable=True, create_where=CATEGORY_WHERE),
        HOLD: RefTarget(creatable=False, create_where="values ON and AUTO only"),
        PROCEDURE: RefTarget(creatable=False, create_where=PROCEDURE_WHERE),
        CUSTOM + "*": RefTarget(creatable=False, create_where=FIELD_WHERE),
    },
    terms=SlotKind.REFERENCE,
    limit_field=True,
    limit_field_hint="creditlimit (the customer's Credit Limit) or a custentity_* field",
    max_batch=1,
)

_COLUMN = re.compile(r"[a-z][a-z0-9_]*")
_MISSING_FIELD = re.compile(r"Field '([^']+)' for record '([^']+)' was not found")
_MISSING_RECORD = re.compile(r"Record '([^']+)' was not found")


class NetSuiteWriter:
    """Write-back for one NetSuite account, through the engine's client (implements
    :class:`arconnect.adapters.base.Writer`)."""

    platform = "netsuite"
    targets = TARGETS
    object_kind = "customer_category"

    def __init__(self, batch_size: int | None = 1, settings: Any = None) -> None:
        # One customer per call: NetSuite's record API updates one record a request.
        self.batch_size = 1
        self.settings = settings

    # ---- reads ---------------------------------------------------------------------------
    def read_state(self, client: HttpClient, slots: Sequence[SlotSpec],
                   customers: Mapping[str, Mapping[str, Any]]) -> ErpState:
        """The lists the slots point into (one query each, only those a slot uses) and every
        customer's current value of every slot (one ``IN`` query per 1,000 customers).

        Targets the account lacks go to ``extra["refusals"]`` (:meth:`refusal` refuses the
        plan with them); nothing here raises for them.
        """
        erp = ErpState()
        refusals: list[str] = []
        columns = _columns(slots, refusals)
        specs = {s.key: s for s in slots}
        erp.extra.update(columns=columns, refusals=refusals)
        names: dict[str, dict[str, str]] = {}  # slot key -> id -> the name it reports
        for key, column in columns.items():
            if column == CATEGORY:
                rows = self._list(client, CATEGORIES_QUERY, erp, refusals)
                active = [r for r in rows if r.get("isinactive") != "T"]
                erp.objects[key] = _objects(active, specs[key])
                names[key] = _names(rows, specs[key])
            elif column == PROCEDURE:
                rows = self._list(client, PROCEDURES_QUERY, erp, refusals)
                erp.objects[key] = _objects(rows, specs[key])
                names[key] = _names(rows, specs[key])
                erp.extra["managers"] = {str(r["id"]): str(r[PROCEDURE_MANAGER])
                                         for r in rows if r.get(PROCEDURE_MANAGER)}
            elif column == HOLD:
                erp.objects[key] = {v: v for v in HOLD_VALUES}
        if "terms" in columns:
            rows = self._list(client, TERMS_QUERY, erp, refusals)
            erp.objects["terms"] = {str(r["name"]): str(r["id"]) for r in rows}
            names["terms"] = {str(r["id"]): str(r["name"]) for r in rows}
            erp.extra["term_days"] = {str(r["name"]): int(Decimal(str(r["daysuntilnetdue"])))
                                      for r in rows if r.get("daysuntilnetdue") is not None}
        rows_by_id = self._customers(client, sorted(customers), columns, erp, refusals)
        for cid, row in rows_by_id.items():
            values: dict[str, Any] = {}
            for key, column in columns.items():
                values[key] = _reported(row.get(column), key, column, names.get(key))
            erp.values[cid] = values
        return erp

    def _list(self, client: HttpClient, statement: str, erp: ErpState,
              refusals: list[str]) -> list[dict[str, Any]]:
        """Every row of a small list (categories, terms, procedures); a list the account
        lacks is noted in ``refusals`` and reads as empty."""
        try:
            rows = suiteql_all(client, statement)
        except UpstreamError as err:
            if not _note_missing(str(err), refusals):
                raise
            return []
        erp.calls += max(1, math.ceil(len(rows) / MAX_LIMIT))
        return rows

    def _customers(self, client: HttpClient, ids: Sequence[str], columns: Mapping[str, str],
                   erp: ErpState, refusals: list[str]) -> dict[str, dict[str, Any]]:
        """The slots' columns of ``ids``, by customer id; a column the account lacks is
        noted in ``refusals`` and left out (every missing one is found on the first batch)."""
        wanted = sorted(set(columns.values()))
        out: dict[str, dict[str, Any]] = {}
        if not wanted:
            return out
        numeric = [i for i in ids if str(i).isascii() and str(i).isdigit()]
        for chunk in _chunks(numeric, IDS_PER_QUERY):
            while wanted:
                statement = (f"SELECT id, {', '.join(wanted)} FROM customer WHERE id IN "
                             f"{ids_in(chunk)} ORDER BY id")
                try:
                    reply = suiteql(client, statement, limit=MAX_LIMIT)
                except UpstreamError as err:
                    missing = _note_missing(str(err), refusals)
                    if missing is None or missing not in wanted:
                        raise
                    erp.calls += 1
                    wanted.remove(missing)
                    continue
                erp.calls += 1
                for row in items_of(reply):
                    out[str(row.get("id"))] = row
                break
            if refusals:
                break  # the plan is refused: the other customers' values change nothing
        return out

    def terms_value(self, days: int, terms_type: str, erp: ErpState) -> Any:
        """The name of the account's term due ``days`` after the invoice date: ``Net {days}``
        when it exists, else the first (by id) with those days, else ``Net {days}`` (which
        the plan then asks the admin to create)."""
        by_days: Mapping[str, int] = erp.extra.get("term_days") or {}
        own = f"Net {days}"
        if by_days.get(own) == days:
            return own
        matches = [name for name, d in by_days.items() if d == days]
        return matches[0] if matches else own

    def refusal(self, tenant: str, slots: Sequence[SlotSpec], erp: ErpState,
                needed: Mapping[str, set[str]]) -> str | None:
        """Fields or lists the account lacks, and objects the plan needs that write-back may
        not create (dunning procedures, terms, a Hold value other than ON/AUTO); None when
        only categories are missing (they are created)."""
        problems = list(erp.extra.get("refusals") or [])
        columns: Mapping[str, str] = erp.extra.get("columns") or {}
        for key in sorted(needed):
            missing = ", ".join(repr(n) for n in sorted(needed[key]))
            column = columns.get(key, "")
            if column == CATEGORY:
                continue
            if column == HOLD:
                problems.append(f"the Hold field ({HOLD}) would be set to {missing}: "
                                "write-back writes ON and AUTO only (OFF turns NetSuite's "
                                "credit check off for the customer); use `name: ON` and "
                                "`release: AUTO` in the mapping")
            elif column == PROCEDURE:
                problems.append(f"dunning procedure(s) {missing} do not exist; create each "
                                f"in NetSuite ({PROCEDURE_WHERE}) or map the segments to "
                                "existing ones (`names:`, a name or an internal id)")
            elif key == "terms":
                problems.append(f"term(s) {missing} do not exist; create each in NetSuite "
                                f"({TERM_WHERE}, Days Till Net Due as in its name)")
            else:
                problems.append(f"{key}: {missing} do not exist in {column}")
        if not problems:
            return None
        return (f"tenant {tenant}: NetSuite write-back cannot run: " + "; ".join(problems)
                + ". Nothing was written.")

    def daily_budget(self, settings: Any) -> int | None:
        """None: NetSuite meters concurrent requests, not calls a day."""
        return None

    # ---- calls ---------------------------------------------------------------------------
    def compile(self, ops: Sequence[WriteOp], erp: ErpState,
                untouchable: set[str]) -> list[WriteUnit]:
        """Categories to create first (one call each); then one ``PATCH`` per customer
        carrying all of its operations, largest open balance first."""
        creates: list[WriteUnit] = []
        by_customer: dict[str, list[int]] = {}
        for i, op in enumerate(ops):
            if op["action"] == "object.create":
                if _column_of(erp, str(op.get("target"))) != CATEGORY:
                    raise ArconnectError(f"{op.get('target')}: NetSuite write-back creates "
                                         f"categories only, not {op['after']!r}")
                call = WriteCall("POST", f"{RECORD}/customerCategory", {"name": op["after"]},
                                 "category.create", [i], group=str(op["after"]))
                creates.append(WriteUnit([call], math.inf))
            elif op["action"] in ("field.set", "terms.set") and op["customer"]:
                by_customer.setdefault(str(op["customer"]), []).append(i)
        units: list[WriteUnit] = []
        for cid, refs in by_customer.items():
            body: dict[str, Any] = {}
            for i in refs:
                body.update(self._fields(ops[i], erp))
            top = max(float(ops[i]["priority"]) for i in refs)
            units.append(WriteUnit([WriteCall("PATCH", _customer_path(cid), body,
                                              "customer.patch", list(refs))], top))
        units.sort(key=lambda u: (-u.priority, u.calls[0].path))
        return creates + units

    def _fields(self, op: WriteOp, erp: ErpState) -> dict[str, Any]:
        """The customer fields one operation sets (REST names)."""
        key, value = str(op["slot"]), op["after"]
        column = _column_of(erp, key)
        if column == HOLD:
            if value not in HOLD_VALUES:
                raise ArconnectError(f"{op['name'] or op['customer']}: Hold {value!r} is not "
                                     "written (ON and AUTO only)")
            return {REST_NAMES[HOLD]: {"id": value}}
        if key == LIMIT_SLOT:
            if column == LIMIT:
                return {REST_NAMES[LIMIT]: _number(value)}
            return {column: value or None}
        if column in (CATEGORY, PROCEDURE, TERMS):
            ref = _ref(erp, key, value)
            if column != PROCEDURE:
                return {REST_NAMES[column]: ref}
            # The SuiteApp's client script resets these when a user picks a procedure; REST
            # runs no client script, so the call does it.
            out: dict[str, Any] = {PROCEDURE: ref, LEVEL: None}
            manager = (erp.extra.get("managers") or {}).get((ref or {}).get("id"))
            if manager:
                out[MANAGER] = {"id": manager}
            return out
        return {column: value or None}

    def resolve(self, call: WriteCall, erp: ErpState) -> None:
        """Categories created earlier in the run: their ids into the ``PATCH`` that names
        them."""
        if call.method != "PATCH" or not isinstance(call.body, dict):
            return
        for field, ref in call.body.items():
            if isinstance(ref, dict) and ref.get("id") is None and "refName" in ref:
                for key, column in (erp.extra.get("columns") or {}).items():
                    if REST_NAMES.get(column, column) == field:
                        found = (erp.objects.get(key) or {}).get(ref["refName"])
                        if found:
                            call.body[field] = {"id": found}

    def send(self, client: HttpClient, call: WriteCall, key: str, ops: Sequence[WriteOp],
             erp: ErpState) -> CallOutcome:
        """One ``PATCH`` (or a category's look-up and creation). ``key`` is not sent: a
        ``PATCH`` of absolute values is its own idempotency."""
        if call.label == "category.create":
            return self._create_category(client, call, erp)
        pending = [f"{field} {ref['refName']!r}" for field, ref in call.body.items()
                   if isinstance(ref, dict) and ref.get("id") is None and "refName" in ref]
        if pending:
            return CallOutcome(0, False, f"{', '.join(pending)} was not created; nothing was "
                                         "sent", write_calls=0)
        # https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1545142173.html
        response = client.request("PATCH", call.path, json=call.body, headers={
            "Content-Type": "application/json", "X-NetSuite-PropertyNameValidation": "error"})
        status = response.status_code
        if status < 300:
            return CallOutcome(status, True)
        said = error_text(_body(response)) or f"HTTP {status}"
        if status == 404:
            customer = call.path.rsplit("/", 1)[-1]
            return CallOutcome(status, False, f"customer {customer} is no longer in NetSuite "
                                              f"(deleted?): {said}")
        return CallOutcome(status, False, said)

    def _create_category(self, client: HttpClient, call: WriteCall,
                         erp: ErpState) -> CallOutcome:
        """Look the category up by name (an earlier, cut-off run may have made it), and
        create it only when it is not there."""
        name = str(call.body["name"])
        reply = suiteql(client, "SELECT id, name, isinactive FROM customercategory WHERE "
                                f"name = {sql_string(name)} ORDER BY id")
        # NetSuite keeps category names unique without regard to case.
        found = [r for r in items_of(reply)
                 if str(r.get("name")).lower() == name.lower() and r.get("isinactive") != "T"]
        if found:
            cid = str(found[0]["id"])
            _remember(erp, name, cid)
            return CallOutcome(200, True, created={name: cid}, write_calls=0, read_calls=1)
        # https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/article_0829023257.html
        response = client.request("POST", call.path, json={"name": name}, headers={
            "Content-Type": "application/json", "X-NetSuite-PropertyNameValidation": "error"})
        status = response.status_code
        if status >= 300:
            return CallOutcome(status, False, error_text(_body(response)) or f"HTTP {status}",
                               read_calls=1)
        # 204 No Content; the new record's address is in Location (…/customerCategory/12).
        new_id = str(response.headers.get("Location") or "").rstrip("/").rsplit("/", 1)[-1]
        if not new_id.isdigit():
            return CallOutcome(status, False, f"category {name!r}: NetSuite's answer names no "
                                              "new record (no Location header)", read_calls=1)
        _remember(erp, name, new_id)
        return CallOutcome(status, True, created={name: new_id}, read_calls=1)

    # ---- the yardstick -------------------------------------------------------------------
    def min_calls(self, ops: Sequence[WriteOp], erp: ErpState) -> int:
        """One ``PATCH`` per customer changed, plus one call per category created."""
        customers = {op["customer"] for op in ops
                     if op["action"] in ("field.set", "terms.set") and op["customer"]}
        return len(customers) + sum(1 for op in ops if op["action"] == "object.create")


def _columns(slots: Sequence[SlotSpec], refusals: list[str]) -> dict[str, str]:
    """Slot key -> the customer column it reads and writes; a target that is none of the
    writable ones goes to ``refusals``."""
    out: dict[str, str] = {}
    for spec in slots:
        if spec.key == "terms":
            out[spec.key] = TERMS
            continue
        column = spec.target.strip().lower()
        if spec.key == LIMIT_SLOT:
            ok = column == LIMIT or column.startswith(CUSTOM)
        else:
            ok = column in (CATEGORY, HOLD, PROCEDURE) or column.startswith(CUSTOM)
        if not ok or not _COLUMN.fullmatch(column):
            refusals.append(f"{spec.where or spec.key}: {spec.target!r} is not a customer "
                            f"field write-back can set ({LIMIT} or a {CUSTOM}* field for the "
                            f"credit limit; {CATEGORY}, {HOLD}, {PROCEDURE} or a {CUSTOM}* "
                            "field otherwise)")
            continue
        out[spec.key] = column
    return out


def _column_of(erp: ErpState, key: str) -> str:
    column = (erp.extra.get("columns") or {}).get(key)
    if column is None:
        raise ArconnectError(f"slot {key!r} is not in the outbound mapping any more; make a "
                             "new plan")
    return str(column)


def _note_missing(message: str, refusals: list[str]) -> str | None:
    """A SuiteQL error naming a field or record the account lacks: the refusal (with where to
    create it) added to ``refusals``; returns the missing column (or table), None when the
    error is another."""
    field = _MISSING_FIELD.search(message)
    if field is not None:
        name = field.group(1).lower()
        if name.startswith("custentity_3805"):
            refusals.append(f"the customer field {name} does not exist: install {SUITEAPP}")
        elif name.startswith(CUSTOM):
            refusals.append(f"the customer field {name} does not exist: create it in "
                            f"NetSuite ({FIELD_WHERE}, ID {name.removeprefix(CUSTOM)}) or "
                            "change the mapping")
        else:
            refusals.append(f"the customer field {name} cannot be read ({message}): check the "
                            "role's permissions and the account's features")
        return name
    record = _MISSING_RECORD.search(message)
    if record is not None:
        name = record.group(1).lower()
        if name == PROCEDURE_TABLE:
            refusals.append(f"the dunning procedures ({name}) are not in the account: "
                            f"install {SUITEAPP}")
        else:
            refusals.append(f"the list {name} cannot be read ({message})")
        return name
    return None


def _objects(rows: Iterable[Mapping[str, Any]], spec: SlotSpec) -> dict[str, str]:
    """Name -> id of a list's rows, with the mapping's names matched without regard to case
    and its all-digit names taken as ids."""
    out = {str(r["name"]): str(r["id"]) for r in rows if r.get("name") is not None}
    lower = {name.lower(): rid for name, rid in out.items()}
    ids = set(out.values())
    for name in spec.names.values():
        if name in out:
            continue
        if name.isdigit() and name in ids:
            out[name] = name
        elif name.lower() in lower:
            out[name] = lower[name.lower()]
    return out


def _names(rows: Iterable[Mapping[str, Any]], spec: SlotSpec) -> dict[str, str]:
    """Id -> the name a customer's value is reported as: the mapping's own spelling (or the
    id, where the mapping names the object by id), else NetSuite's name."""
    out = {str(r["id"]): str(r.get("name") or r["id"]) for r in rows}
    for name in spec.names.values():
        if name.isdigit() and name in out:
            out[name] = name
    by_lower = {name.lower(): name for name in spec.names.values() if not name.isdigit()}
    for rid, name in out.items():
        if name.lower() in by_lower:
            out[rid] = by_lower[name.lower()]
    return out


def _reported(raw: Any, key: str, column: str, names: Mapping[str, str] | None) -> Any:
    """A customer's value of one slot as the planner compares it ("" when empty)."""
    if raw is None or raw == "":
        return ""
    text = str(raw)
    if names is not None:
        return names.get(text, text)
    if key == LIMIT_SLOT:
        return _decimal_text(text)
    if column == HOLD:
        return text.upper()
    return text


def _decimal_text(text: str) -> str:
    """``"5000.00"`` -> ``"5000"``: a credit limit as the planner writes it."""
    try:
        return format(Decimal(text).normalize(), "f")
    except InvalidOperation:
        return text


def _number(value: Any) -> int | float | None:
    """A credit limit for ``creditLimit`` (a JSON number); None clears it."""
    if value is None or value == "":
        return None
    amount = Decimal(str(value))
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _ref(erp: ErpState, key: str, value: Any) -> dict[str, Any] | None:
    """``{"id": …}`` for the object named ``value``; ``{"id": None, "refName": …}`` until an
    object created in this run has its id (:meth:`NetSuiteWriter.resolve`); None clears."""
    if value is None or value == "":
        return None
    found = (erp.objects.get(key) or {}).get(str(value))
    return {"id": found} if found else {"id": None, "refName": str(value)}


def _remember(erp: ErpState, name: str, cid: str) -> None:
    for key, column in (erp.extra.get("columns") or {}).items():
        if column == CATEGORY:
            erp.objects.setdefault(key, {})[name] = cid


def _customer_path(customer: str) -> str:
    if not customer.isascii() or not customer.isdigit():
        raise ArconnectError(f"not a NetSuite customer id: {customer[:40]!r}")
    return f"{RECORD}/customer/{customer}"


def _chunks(items: Sequence[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _body(response: Any) -> Any:
    try:
        return response.json() if response.content else {}
    except ValueError:
        return {}
