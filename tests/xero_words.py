"""Xero's words for document status, payment type and payment status, in the store's words
(``mappings/xero.yaml`` holds the same translation as data): what tests compare the sandbox's
records with."""

from __future__ import annotations

from arconnect.store.vocabulary import (
    CREDIT_NOTE_REFUND,
    DELETED,
    DRAFT,
    OPEN,
    OVERPAYMENT_REFUND,
    PAID,
    POSTED,
    PREPAYMENT_REFUND,
    RECEIPT,
    VOIDED,
)

# https://developer.xero.com/documentation/api/accounting/types#invoices
XERO_DOCUMENT_STATUS: dict[str, str] = {
    "DRAFT": DRAFT, "SUBMITTED": DRAFT, "AUTHORISED": OPEN, "PAID": PAID, "VOIDED": VOIDED,
    "DELETED": DELETED,
}
# https://developer.xero.com/documentation/api/accounting/types#payments
XERO_PAYMENT_TYPE: dict[str, str] = {
    "ACCRECPAYMENT": RECEIPT, "ARCREDITPAYMENT": CREDIT_NOTE_REFUND,
    "AROVERPAYMENTPAYMENT": OVERPAYMENT_REFUND, "ARPREPAYMENTPAYMENT": PREPAYMENT_REFUND,
}
# https://developer.xero.com/documentation/api/accounting/payments (Status)
XERO_PAYMENT_STATUS: dict[str, str] = {"AUTHORISED": POSTED, "DELETED": DELETED}
