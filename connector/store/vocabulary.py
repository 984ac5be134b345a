"""The store's own words: document statuses, payment kinds (refunds among them), payment statuses,
document kinds and allocation sources.

Every inbound mapping translates its platform's words into these (``mappings/*.yaml``, the
``lookup`` transform with ``map:``); the segmenter, the summaries and the reports read only these.
A platform word never reaches the store: ``tests/store/test_vocabulary.py`` loads every mapping
shipped in ``mappings/`` and checks what it can write against the tuples below.

Document status (``document.status``, every document kind)
===========================================================

=========== ==================================== ============ ================ ================
word        meaning                              Xero         QBO (derived)    NetSuite
=========== ==================================== ============ ================ ================
``draft``   not approved: nothing owed yet,      DRAFT,       (none)           Pending Approval
            not counted                          SUBMITTED                     (CustInvc:D),
                                                                               Rejected (:E)
``open``    approved and counted; an invoice     AUTHORISED   Balance > 0      Open (CustInvc:A,
            may still be owed, a credit may                                    CustCred:A)
            still hold money
``paid``    approved, counted, nothing left: an  PAID         Balance = 0      Paid In Full
            invoice paid in full, a credit                                     (CustInvc:B),
            fully applied or refunded                                          Fully Applied
                                                                               (CustCred:B)
``voided``  was approved, then cancelled: not    VOIDED       PrivateNote      Voided
            counted                                           "Voided",        (CustInvc:V,
                                                              amounts 0        CustCred:V)
``deleted`` gone from the platform: not counted  DELETED      CDC tombstone    DeletedRecord
                                                              ``status:
                                                              "Deleted"``
=========== ==================================== ============ ================ ================

*Counted* (:data:`COUNTED_STATUSES`: ``open``, ``paid``): a document the metrics read (issued,
paid, credited). *Open item*: an invoice with status ``open`` and ``amount_due_base > 0``;
*unapplied credit*: the ``amount_due_base`` of an ``open`` credit note, overpayment or prepayment.
A mapping sets ``is_deleted`` as well for ``voided`` and ``deleted`` (both leave nothing owed);
the status keeps which one it was. Xero's SUBMITTED (awaiting approval) is a draft to the store:
nothing is owed until the document is approved. QBO has no document status: a mapping derives it
(``Balance``, the void note, the CDC tombstone); QBO has no drafts.

Payment kind (``payment.payment_type``: the column keeps its name, its values are these words)
=============================================================================================

====================== =================================== ==================== =================
word                   meaning                             Xero ``PaymentType`` QBO / NetSuite
====================== =================================== ==================== =================
``receipt``            money received from the customer,   ACCRECPAYMENT        Payment /
                       applied to an invoice                                    customerPayment
``credit_application`` a payment record that moves no      (none: Xero applies  Payment of 0 that
                       money, only applies a credit to an  credit directly)     links a CreditMemo
                       invoice
``credit_note_refund`` money paid back to the customer     ARCREDITPAYMENT      customerRefund of
                       out of a credit note's credit                            a credit memo
``overpayment_refund`` money paid back out of an           AROVERPAYMENTPAYMENT customerRefund of
                       overpayment                                              unapplied payment
``prepayment_refund``  money paid back out of a            ARPREPAYMENTPAYMENT  customerRefund of
                       prepayment (a deposit)                                   a customerDeposit
``refund``             money paid back that no stored      (none)               RefundReceipt
                       credit document holds
====================== =================================== ==================== =================

*Refunds* (:data:`REFUND_KINDS`, the four ``*refund`` words) are money going out, never money
received: the payment-method mix leaves them out, and so does everything that measures how a
customer pays. A ``credit_application`` is not money received either (:data:`NOT_RECEIVED_KINDS`);
the credit it applies counts through its allocation (``allocation.source_kind``, below). The
refund kinds are kept apart so that no platform word is lost (a migration can translate back).

Payment status (``payment.status``)
===================================

``posted`` (Xero AUTHORISED; QBO and NetSuite payments as listed), ``voided`` (QBO voided
payments, ``include=void``), ``deleted`` (Xero DELETED; a QBO CDC tombstone). A mapping sets
``payment.is_deleted`` (and the allocation's) for ``voided`` and ``deleted``.

Document kinds and allocation sources
=====================================

``document.kind``: ``invoice``, ``credit_note``, ``overpayment``, ``prepayment``.
``allocation.source_kind``: what applied the amount to the document — ``payment`` (a payment's
cash), ``credit_note``, ``overpayment``, ``prepayment`` (a credit applied), ``settlement`` (a
settled date from an imported history, ``mappings/csv_ibm.yaml``).

Sources
=======

* Xero status codes and payment types:
  https://developer.xero.com/documentation/api/accounting/types#invoices (Invoice Status Codes),
  https://developer.xero.com/documentation/api/accounting/types#payments (Payment Types),
  https://developer.xero.com/documentation/api/accounting/payments (Status: AUTHORISED, DELETED).
* QBO: https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/invoice
  (``Balance``), .../all-entities/payment, .../all-entities/refundreceipt; deletes in change data
  capture: https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture
* NetSuite transaction statuses (SuiteQL ``transaction.status``, ``type:letter``) and deletes:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_N3497592.html
  (getDeleted) and the Records Browser (invoice, creditMemo, customerPayment, customerRefund).
"""

from __future__ import annotations

__all__ = [
    "ALLOCATION_SOURCES", "COUNTED_STATUSES", "CREDIT_APPLICATION", "CREDIT_NOTE_REFUND",
    "DELETED", "DOCUMENT_KINDS", "DOCUMENT_STATUSES", "DRAFT", "EXCLUDED_STATUSES",
    "NOT_RECEIVED_KINDS", "OPEN", "OVERPAYMENT_REFUND", "PAID", "PAYMENT_KINDS",
    "PAYMENT_STATUSES", "POSTED", "PREPAYMENT_REFUND", "RECEIPT", "REFUND", "REFUND_KINDS",
    "VOCABULARY", "VOIDED", "sql_words",
]

# ── document.status ─────────────────────────────────────────────────────────────────────────────
DRAFT = "draft"
OPEN = "open"
PAID = "paid"
VOIDED = "voided"
DELETED = "deleted"
DOCUMENT_STATUSES: tuple[str, ...] = (DRAFT, OPEN, PAID, VOIDED, DELETED)
COUNTED_STATUSES: tuple[str, ...] = (OPEN, PAID)
EXCLUDED_STATUSES: tuple[str, ...] = (DRAFT, VOIDED, DELETED)

# ── payment.payment_type ────────────────────────────────────────────────────────────────────────
RECEIPT = "receipt"
CREDIT_APPLICATION = "credit_application"
CREDIT_NOTE_REFUND = "credit_note_refund"
OVERPAYMENT_REFUND = "overpayment_refund"
PREPAYMENT_REFUND = "prepayment_refund"
REFUND = "refund"
REFUND_KINDS: tuple[str, ...] = (CREDIT_NOTE_REFUND, OVERPAYMENT_REFUND, PREPAYMENT_REFUND, REFUND)
NOT_RECEIVED_KINDS: tuple[str, ...] = (*REFUND_KINDS, CREDIT_APPLICATION)
PAYMENT_KINDS: tuple[str, ...] = (RECEIPT, CREDIT_APPLICATION, *REFUND_KINDS)

# ── payment.status ──────────────────────────────────────────────────────────────────────────────
POSTED = "posted"
PAYMENT_STATUSES: tuple[str, ...] = (POSTED, VOIDED, DELETED)

# ── document.kind, allocation.source_kind ───────────────────────────────────────────────────────
DOCUMENT_KINDS: tuple[str, ...] = ("invoice", "credit_note", "overpayment", "prepayment")
ALLOCATION_SOURCES: tuple[str, ...] = ("payment", "credit_note", "overpayment", "prepayment",
                                       "settlement")

# Every (table, column) that holds vocabulary words, and the words it may hold.
VOCABULARY: dict[tuple[str, str], tuple[str, ...]] = {
    ("document", "status"): DOCUMENT_STATUSES,
    ("document", "kind"): DOCUMENT_KINDS,
    ("payment", "payment_type"): PAYMENT_KINDS,
    ("payment", "status"): PAYMENT_STATUSES,
    ("allocation", "source_kind"): ALLOCATION_SOURCES,
}

def sql_words(words: tuple[str, ...]) -> str:
    """The words as an SQL list literal, ``('draft', 'voided')``, for ``IN`` in fixed SQL text.

    Only for this module's constants (plain lower-case words): never for user input.

    Raises:
        ValueError: a word that is not a plain identifier.
    """
    for word in words:
        if not word.replace("_", "").isalpha() or not word.islower():
            raise ValueError(f"not a vocabulary word: {word!r}")
    return "(" + ", ".join(f"'{w}'" for w in words) + ")"
