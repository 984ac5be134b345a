"""What Xero refuses on a write: the validation messages of the write endpoints the sandbox
emulates, checked for a whole batch before anything in it is saved.

Xero answers a refused element with its ``ValidationErrors`` — in a 400 ``ValidationException``
by default, or, with ``summarizeErrors=false`` on the batch endpoints, in a 200 next to the
elements it saved (each refused one with ``StatusAttributeString: "ERROR"``).
https://developer.xero.com/documentation/api/accounting/requests-and-responses#validation-errors
"""

from __future__ import annotations

from typing import Any

from arconnect.sandbox.xero.model import Record

# Spec schema PaymentTermType; https://developer.xero.com/documentation/api/accounting/types
PAYMENT_TERM_TYPES = ("DAYSAFTERBILLDATE", "DAYSAFTERBILLMONTH", "OFCURRENTMONTH",
                      "OFFOLLOWINGMONTH")
# Spec schema Contact.ContactStatus.
CONTACT_STATUSES = ("ACTIVE", "ARCHIVED", "GDPRREQUEST")
# Spec schema ContactGroup.Status.
GROUP_STATUSES = ("ACTIVE", "DELETED")
# The fields a contact update changes here (the write-back's and a few an admin edits).
CONTACT_FIELDS = ("Name", "EmailAddress", "AccountNumber", "ContactStatus", "FirstName",
                  "LastName")
# Xero's wording for a write naming a record it does not have (spec example
# createPrepaymentHistory 400); used for every such element (assumed).
NOT_FOUND = "The document with the supplied id was not found for this endpoint."
GROUP_NAME_TAKEN = ("You cannot create a contact group with the same name as an existing "
                    "contact group.")
GROUP_NAME_EMPTY = "Contact Group Name is mandatory"


def contact_update(contact: Record, patch: Record, names: dict[str, str], key: str
                   ) -> tuple[Record, list[str]]:
    """The contact as ``patch`` would leave it, and the messages Xero refuses it with.

    ``names`` maps the casefolded names of the ACTIVE contacts to their ids (the batch's
    earlier renames included); ``key`` is this contact's id.
    """
    after = dict(contact)
    errors: list[str] = []
    for name in CONTACT_FIELDS:
        if name in patch:
            after[name] = patch[name]
    status = after.get("ContactStatus")
    if status not in CONTACT_STATUSES:
        errors.append(f"'{status}' is not a valid ContactStatus; use one of "
                      f"{', '.join(CONTACT_STATUSES)}.")
    if "Name" in patch:
        name = str(patch["Name"] or "").strip()
        after["Name"] = name
        if not name:
            # waynerobinson/xeroizer #380 (Xero's answer to a contact without a name)
            errors.append("Contact Name cannot be empty.")
        elif names.get(name.casefold(), key) != key and status == "ACTIVE":
            # spec example createContacts 400
            errors.append(f"The contact name {name} is already assigned to another contact. "
                          "The contact name must be unique across all active contacts.")
    if "PaymentTerms" in patch:
        terms = dict(after.get("PaymentTerms") or {})
        given = patch["PaymentTerms"]
        if not isinstance(given, dict):
            errors.append("PaymentTerms must hold Bills and/or Sales.")
        else:
            for side in ("Bills", "Sales"):
                if given.get(side) is not None:
                    errors += _payment_term(side, given[side])
                    terms[side] = given[side]
        after["PaymentTerms"] = terms
    # Xero validates the whole contact on every save: a Website typed in Xero's own screens
    # without http:// or https:// makes every API update of the contact fail
    # (XeroAPI/Xero-NetStandard #434, #623). Website is read-only in the API (spec).
    website = after.get("Website")
    if website and not str(website).lower().startswith(("http://", "https://")):
        errors.append("Website must be valid.")
    return after, errors


def _payment_term(side: str, term: Any) -> list[str]:
    if not isinstance(term, dict):
        return [f"PaymentTerms.{side} must have a Day and a Type."]
    errors = []
    kind, day = term.get("Type"), term.get("Day")
    if kind not in PAYMENT_TERM_TYPES:
        errors.append(f"'{kind}' is not a valid payment terms type; use one of "
                      f"{', '.join(PAYMENT_TERM_TYPES)}.")
    if isinstance(day, bool) or not isinstance(day, int) or day < 0:
        errors.append(f"PaymentTerms.{side}.Day must be a whole number of days.")
    elif kind in ("OFCURRENTMONTH", "OFFOLLOWINGMONTH") and not 1 <= day <= 31:
        errors.append(f"PaymentTerms.{side}.Day must be a day of the month (1-31).")
    return errors


def refused(element: Record, errors: list[str], summarized: bool) -> Record:
    """An element Xero refused: as it was sent (or would be), its errors last.

    ``summarized``: inside a 400's ``Elements`` (as the spec's createContacts 400 example);
    else inside a 200 of ``summarizeErrors=false``, which also marks it
    ``StatusAttributeString: "ERROR"`` (spec examples createInvoices, createBankTransactions).
    """
    out = {k: v for k, v in element.items()
           if k not in ("Balances", "HasValidationErrors", "ValidationErrors",
                        "StatusAttributeString")}
    out["HasValidationErrors"] = True
    if not summarized:
        out["StatusAttributeString"] = "ERROR"
    out["ValidationErrors"] = [{"Message": m} for m in errors]
    return out


def group_name(name: str, taken: set[str]) -> str | None:
    """Why a contact group may not be named ``name`` (``taken``: casefolded names of the other
    ACTIVE groups), or None."""
    if not name:
        return GROUP_NAME_EMPTY
    if name.casefold() in taken:
        return GROUP_NAME_TAKEN
    return None
