"""Xero endpoint declarations and wire-format helpers shared by the Xero adapter.

Endpoints are data: path, records key, id field, fixed query parameters. The paging and
incremental rules are Xero's own (https://developer.xero.com/documentation/api/accounting/
requests-and-responses): ``page`` + ``pageSize`` (≤ 1000), ``If-Modified-Since`` at second
precision, ``order=UpdatedDateUTC ASC``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

API_PREFIX = "/api.xro/2.0"
# Raised from 100 to 1,000 on 1 July 2024: default 100, maximum 1,000, larger values clamped to
# 1,000 (section "Retrieving paged resources" of
# https://developer.xero.com/documentation/api/accounting/requests-and-responses;
# Xero's announcement quoted in https://github.com/calcinai/xero-php/issues/915).
MAX_PAGE_SIZE = 1000

# Every receivable document status; DELETED and VOIDED are asked for explicitly because whether
# a plain list returns DELETED invoices is not documented; Xero's own example asks for them with
# `Statuses=DELETED,VOIDED` (section "Retrieving a filtered set of resources" of
# https://developer.xero.com/documentation/api/accounting/requests-and-responses).
DOCUMENT_STATUSES = "DRAFT,SUBMITTED,AUTHORISED,PAID,VOIDED,DELETED"
# What is still owed: the reconcile sweep re-reads these in full.
OPEN_STATUSES = "SUBMITTED,AUTHORISED"
# ids per `IDs=` request: Xero recommends batches of 40 (section "Retrieving a filtered set of
# resources" of https://developer.xero.com/documentation/api/accounting/requests-and-responses);
# URLs of about 52 GUIDs are reported to work (https://github.com/XeroAPI/Xero-Java/pull/331).
IDS_PER_REQUEST = 40
# How often a pass is read again when records slipped between its pages (edits during paging);
# a busier organisation than that is caught by the next run's overlap and the reconcile sweep.
MAX_PASS_RESTARTS = 2


@dataclass(frozen=True)
class Endpoint:
    """One paged Xero collection read incrementally.

    Attributes:
        entity: the name the engine and the mapping use (``invoices``...).
        path: the collection path under ``/api.xro/2.0``.
        records: the envelope key that holds the records.
        id: the record's id field.
        cursor: the record's modification timestamp (the If-Modified-Since field).
        params: fixed query parameters (filters, archived records).
    """

    entity: str
    path: str
    records: str
    id: str
    cursor: str = "UpdatedDateUTC"
    params: Mapping[str, str] = field(default_factory=dict)


# https://developer.xero.com/documentation/api/accounting/contacts
# Archived contacts only come with includeArchived=true; merged ones carry MergedToContactID.
CONTACTS = Endpoint("contacts", "Contacts", "Contacts", "ContactID",
                    params={"includeArchived": "true"})
# https://developer.xero.com/documentation/api/accounting/invoices
# Sales invoices only (bills are ACCPAY); Statuses rather than an OR-chain in `where`, which a
# large organisation refuses as "not filtering Invoices efficiently"
# (https://github.com/freakboy3742/pyxero/issues/373).
INVOICES = Endpoint("invoices", "Invoices", "Invoices", "InvoiceID",
                    params={"where": 'Type=="ACCREC"', "Statuses": DOCUMENT_STATUSES})
# https://developer.xero.com/documentation/api/accounting/creditnotes
CREDIT_NOTES = Endpoint("credit_notes", "CreditNotes", "CreditNotes", "CreditNoteID",
                        params={"where": 'Type=="ACCRECCREDIT"'})
# https://developer.xero.com/documentation/api/accounting/payments
# Payments have no Type filter that keeps refunds of credit notes; the mapping keeps the
# receivable PaymentTypes and drops bill payments.
PAYMENTS = Endpoint("payments", "Payments", "Payments", "PaymentID")
# https://developer.xero.com/documentation/api/accounting/overpayments and /prepayments
# Money received beyond an invoice or before one: credit the customer holds (RemainingCredit)
# and its allocations to invoices. Supplier ones (SPEND-…) are dropped by the mapping.
OVERPAYMENTS = Endpoint("overpayments", "Overpayments", "Overpayments", "OverpaymentID")
PREPAYMENTS = Endpoint("prepayments", "Prepayments", "Prepayments", "PrepaymentID")

ENDPOINTS: dict[str, Endpoint] = {e.entity: e for e in (CONTACTS, INVOICES, CREDIT_NOTES,
                                                         PAYMENTS, OVERPAYMENTS, PREPAYMENTS)}


def if_modified_since(ts: datetime) -> str:
    """The If-Modified-Since header value: UTC, to the second (Xero ignores fractions)."""
    return ts.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


def cursor_since(last: datetime, overlap_seconds: int) -> datetime:
    """Where the next pass starts: the last committed timestamp, floored to the second, minus
    the overlap (late-committed records can carry a slightly older UpdatedDateUTC)."""
    return last.astimezone(UTC).replace(microsecond=0) - timedelta(seconds=overlap_seconds)
