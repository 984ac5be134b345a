"""REST records: a customer as ``GET /record/v1/customer/{id}`` renders it, a PATCH applied
with NetSuite's checks, and customer categories read and created.

The REST record names fields in camelCase (``creditLimit``), SuiteQL in lower case
(``creditlimit``): :data:`CUSTOMER_FIELDS` is the one table between the two. References render
as ``{"links": [self], "id": "3", "refName": "..."}`` and are written as ``{"id": "3"}``; empty
fields are left out of a record, as NetSuite does.
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1545141500.html
"Getting a Record Instance"; section_1545142173.html "Updating a Record Instance";
section_1545141395.html "Creating a Record Instance".)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from arconnect.sandbox.netsuite.model import PROCEDURE_TABLE, ZERO, Account, Row

RECORD_PATH = "/services/rest/record/v1"
CREDIT_HOLD_NAMES = {"AUTO": "Auto", "ON": "On", "OFF": "Off"}
DUNNING_LEVELS = {1: "Level 1", 2: "Level 2", 3: "Level 3"}

# REST name -> (SuiteQL column, kind). Kinds: text, bool, number, readonly, hold (the
# creditholdoverride select), ref:<table> (a reference to a row of that SuiteQL table),
# ref:employee / ref:level (lists the sandbox keeps no table of).
CUSTOMER_FIELDS: dict[str, tuple[str, str]] = {
    "id": ("id", "readonly"),
    "entityId": ("entityid", "text"),
    "companyName": ("companyname", "text"),
    "email": ("email", "text"),
    "isInactive": ("isinactive", "bool"),
    "isPerson": ("isperson", "bool"),
    "parent": ("parent", "ref:customer"),
    "currency": ("currency", "ref:currency"),
    "terms": ("terms", "ref:term"),
    "category": ("category", "ref:customercategory"),
    "creditLimit": ("creditlimit", "number"),
    "creditHoldOverride": ("creditholdoverride", "hold"),
    "subsidiary": ("subsidiary", "ref:subsidiary"),
    "balance": ("balance", "readonly"),
    "dateCreated": ("datecreated", "readonly"),
    "lastModifiedDate": ("lastmodifieddate", "readonly"),
}
DUNNING_FIELDS: dict[str, tuple[str, str]] = {
    "custentity_3805_dunning_procedure": ("custentity_3805_dunning_procedure",
                                          f"ref:{PROCEDURE_TABLE}"),
    "custentity_3805_dunning_manager": ("custentity_3805_dunning_manager", "ref:employee"),
    "custentity_3805_dunning_level": ("custentity_3805_dunning_level", "ref:level"),
}
# the record type of a reference (for its ``links``), by SuiteQL table
RECORD_TYPES = {"customer": "customer", "currency": "currency", "term": "term",
                "customercategory": "customerCategory", "subsidiary": "subsidiary",
                PROCEDURE_TABLE: PROCEDURE_TABLE, "employee": "employee"}


@dataclass
class RecordError(Exception):
    """A request NetSuite refuses: status, ``o:errorCode``, detail and ``o:errorPath``."""

    status: int
    code: str
    detail: str
    path: str | None = None


def customer_fields(account: Account) -> dict[str, tuple[str, str]]:
    """The REST fields of a customer in ``account`` (SuiteApp and custom fields included)."""
    fields = dict(CUSTOMER_FIELDS)
    if account.spec.dunning_suiteapp:
        fields.update(DUNNING_FIELDS)
    for name, kind in account.spec.custom_fields.items():
        fields[name.lower()] = (name.lower(), "ref:list" if kind == "list" else "text")
    return fields


def iso_utc(moment: datetime) -> str:
    """``2026-11-30T17:13:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _self(rest: str, record_type: str, row_id: object) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"{rest}{RECORD_PATH}/{record_type}/{row_id}"}]


def _ref_name(account: Account, table: str, value: int) -> str | None:
    if table == "employee":
        return "Administrator" if value == -5 else f"Employee {value}"
    if table == "level":
        return DUNNING_LEVELS.get(value, str(value))
    if table == "list":
        return str(value)
    row = account.tables[table].get(value) if table in account.tables else None
    if row is None:
        return None
    return str(row.get("name") or row.get("entityid") or row.get("symbol") or value)


def render_customer(account: Account, row: Row, rest: str) -> dict[str, Any]:
    """The REST record of a customer row (empty fields left out)."""
    out: dict[str, Any] = {"links": _self(rest, "customer", row["id"])}
    for name, (column, kind) in customer_fields(account).items():
        value = row.get(column)
        if value is None:
            continue
        if isinstance(value, datetime):
            out[name] = iso_utc(value)
        elif kind == "hold":
            out[name] = {"id": value, "refName": CREDIT_HOLD_NAMES.get(value, value)}
        elif kind.startswith("ref:"):
            table = kind[4:]
            ref: dict[str, Any] = {"id": str(value)}
            if table in RECORD_TYPES:
                ref = {"links": _self(rest, RECORD_TYPES[table], value), **ref}
            ref_name = _ref_name(account, table, value)
            if ref_name is not None:
                ref["refName"] = ref_name
            out[name] = ref
        elif name == "id":
            out[name] = str(value)
        elif isinstance(value, Decimal):
            out[name] = float(value)
        else:
            out[name] = value
    return out


def _invalid(name: str, value: object) -> RecordError:
    # NetSuite's wording for a bad value (its INVALID_CONTENT example, "Error Handling in REST
    # Web Services", section_156570709583.html)
    return RecordError(400, "INVALID_CONTENT", "Error while accessing resource: You have "
                       f"entered an Invalid Field Value {value} for the following field: "
                       f"{name}", name)


def _reference(account: Account, name: str, table: str, value: Any) -> int:
    ref = value.get("id") if isinstance(value, dict) else None
    try:
        ref_id = int(str(ref))
    except ValueError:
        raise _invalid(name, ref if ref is not None else value) from None
    if table == "employee":
        known = {int(account.spec.dunning_manager)}
        known.update(r["custrecord_3805_default_dunning_manager"]
                     for r in account.tables.get(PROCEDURE_TABLE, ()) or ())
        ok = ref_id in known
    elif table == "level":
        ok = ref_id in DUNNING_LEVELS
    elif table == "list":
        ok = ref_id > 0
    else:
        ok = table in account.tables and ref_id in account.tables[table]
    if not ok:
        raise _invalid(name, ref_id)
    return ref_id


def patch_changes(account: Account, row: Row, body: Any, *, strict_names: bool,
                  hold_values: tuple[str, ...]) -> dict[str, Any]:
    """The column changes a PATCH body asks for, every field checked before any is applied.

    Raises:
        RecordError: the body is not an object, names a read-only field, an unknown field
            (only with ``strict_names``: ``X-NetSuite-PropertyNameValidation: error``), a
            reference that does not exist, a ``creditHoldOverride`` outside ``hold_values``
            or a value of the wrong type.
    """
    if not isinstance(body, dict):
        raise RecordError(400, "INVALID_CONTENT", "Error while accessing a resource. The "
                          "request body must be a JSON object.")
    fields = customer_fields(account)
    changes: dict[str, Any] = {}
    for name, value in body.items():
        spec = fields.get(name)
        if spec is None:
            if strict_names:
                # wording assumed: NetSuite names the property it does not know
                raise RecordError(400, "INVALID_CONTENT", "Error while accessing a resource. "
                                  f"Invalid field name: {name}. The field does not exist on "
                                  "record customer.", name)
            continue  # without the header NetSuite only warns
        column, kind = spec
        if kind == "readonly":
            raise RecordError(400, "INVALID_CONTENT", "Error while accessing a resource. "
                              f"The field {name} is read-only and cannot be set.", name)
        if value is None:
            changes[column] = False if kind == "bool" else None
        elif kind == "text":
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise _invalid(name, value)
            changes[column] = str(value)
        elif kind == "bool":
            if not isinstance(value, bool):
                raise _invalid(name, value)
            changes[column] = value
        elif kind == "number":
            try:
                if isinstance(value, bool):
                    raise InvalidOperation
                number = Decimal(str(value))
            except InvalidOperation:
                raise _invalid(name, value) from None
            if not number.is_finite() or number < 0:
                raise _invalid(name, value)
            changes[column] = number.quantize(ZERO)
        elif kind == "hold":
            hold = value.get("id") if isinstance(value, dict) else value
            if not isinstance(hold, str) or hold.upper() not in hold_values:
                raise _invalid(name, hold)
            changes[column] = hold.upper()
        else:
            ref_id = _reference(account, name, kind[4:], value)
            if column == "parent" and ref_id == row["id"]:
                raise _invalid(name, ref_id)
            changes[column] = ref_id
    return changes


def render_category(row: Row, rest: str) -> dict[str, Any]:
    """A customer category record."""
    return {"links": _self(rest, "customerCategory", row["id"]), "id": str(row["id"]),
            "isInactive": row["isinactive"], "name": row["name"]}


def create_category(account: Account, body: Any) -> Row:
    """Add the customer category ``body`` names (the caller holds the lock).

    Raises:
        RecordError: no name, or a category of that name exists (NetSuite keeps category
            names unique; the wording is assumed).
    """
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise RecordError(400, "USER_ERROR", "Error while accessing a resource. Please enter "
                          "value(s) for: Name.", "name")
    table = account.tables["customercategory"]
    if any(r["name"].lower() == name.strip().lower() for r in table):
        raise RecordError(400, "USER_ERROR", "Error while accessing a resource. A record with "
                          "this name already exists. Choose a different name.", "name")
    new_id = max(account.next_id("customercategory"), table.last_id() + 1)
    account.counters["customercategory"] = new_id
    return table.put({"id": new_id, "name": name.strip(),
                      "isinactive": bool(body.get("isInactive", False))})
