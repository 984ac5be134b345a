"""QuickBooks Online endpoint declarations and wire-format helpers shared by the QBO adapter.

Endpoints are data: the entity's name in queries, CDC and the reply envelope, its read path and
any fixed filter. Reads go through the query endpoint (``SELECT * FROM Invoice WHERE …
ORDERBY … STARTPOSITION n MAXRESULTS m``, at most 1,000 a reply, default 100; section "Query
operations and syntax" of
https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries)
and Change Data Capture (``/cdc?entities=…&changedSince=…``, 30 days back at most and at most
1,000 objects a reply, deletes as ``"status": "Deleted"``;
https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture).

The API does not say what QBO's own screens say about a document — voided, paid, open — nor
which credit paid which invoice inside a payment. :func:`annotate` adds those as a few derived
keys starting with ``$`` (Intuit's field names never do), so the mapping file can read them as
plain paths; every other key of a record is QBO's, untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

Record = dict[str, Any]

# Records per query reply: QBO's maximum (section "Query operations and syntax" of
# https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries).
MAX_PAGE_SIZE = 1000
# CDC looks back 30 days at most; a cursor older than this (a margin for clock skew and a run
# that takes a while) is read by query instead.
CDC_WINDOW = timedelta(days=30)
CDC_MARGIN = timedelta(hours=12)
# A CDC reply holds at most 1,000 objects and has no paging: one that full is cut short.
CDC_CAP = 1000
# Ids per `WHERE Id IN (...)` query: keeps the URL of a GET well under common 8 KB limits.
IDS_PER_QUERY = 200
# A new query page starts again at the first record of the last timestamp read while no more
# than this many records share it (re-reading them is cheap and needs no stable order among
# them); beyond, it continues by position inside that timestamp, and checks by a count when it
# leaves it (MAX_GROUP_READS reads of it at most).
TIE_REREAD_MAX = 100
MAX_GROUP_READS = 3

# The words :func:`annotate` derives: QBO's invoice list shows Voided, Paid and Open, its credit
# memos Closed once fully applied; a payment or refund is Posted unless it was voided.
VOIDED, PAID, OPEN, CLOSED, POSTED = "Voided", "Paid", "Open", "Closed", "Posted"
# A payment that only links credits to charges carries no cash (see applications()).
CASH, CREDIT_LINK = "Payment", "CreditLink"


@dataclass(frozen=True)
class Endpoint:
    """One QBO entity read by query and CDC.

    Attributes:
        entity: the name the engine and the mapping use (``invoices``...).
        name: QBO's entity name: the ``FROM`` of a query, the ``entities=`` of CDC and the key
            of the records in the reply.
        read: the lowercase path of a single read (``/invoice/{id}``).
        where: a fixed filter every query of the entity carries ("" for none).
    """

    entity: str
    name: str
    read: str
    where: str = ""


# https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/customer
# A plain query returns active customers only; inactive ones (QBO's "deleted" customers) need
# `Active IN (true,false)` (section "Query a customer" of that page).
CUSTOMERS = Endpoint("customers", "Customer", "customer", where="Active IN (true,false)")
# https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/invoice
INVOICES = Endpoint("invoices", "Invoice", "invoice")
# https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/creditmemo
CREDIT_MEMOS = Endpoint("credit_memos", "CreditMemo", "creditmemo")
# https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/payment
PAYMENTS = Endpoint("payments", "Payment", "payment")
# https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/refundreceipt
REFUND_RECEIPTS = Endpoint("refund_receipts", "RefundReceipt", "refundreceipt")

ENDPOINTS: dict[str, Endpoint] = {e.entity: e for e in (
    CUSTOMERS, INVOICES, CREDIT_MEMOS, PAYMENTS, REFUND_RECEIPTS)}

# https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/companyinfo
COMPANY_INFO = "CompanyInfo"
# https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/preferences
PREFERENCES = "Preferences"


# -- dates ---------------------------------------------------------------------------------------


def parse_qbo_datetime(value: Any) -> datetime | None:
    """A QBO timestamp (``2024-06-20T13:16:17-07:00``, ``…17.365-07:00``) as an aware UTC
    datetime; None for anything else (a missing value, a calendar date, text of another shape).

    QBO writes timestamps in the company's UTC offset; one without an offset is taken as UTC.
    """
    if not isinstance(value, str) or len(value) < 19 or value[10] != "T":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def query_time(ts: datetime) -> str:
    """A timestamp as a query literal or a ``changedSince`` value: ISO 8601 with its offset,
    to the second (``2024-06-20T20:16:17+00:00``)."""
    return ts.astimezone(UTC).replace(microsecond=0).isoformat()


def updated_at(rec: Record) -> datetime | None:
    """A record's ``MetaData.LastUpdatedTime`` (UTC), or None without one."""
    meta = rec.get("MetaData")
    return parse_qbo_datetime(meta.get("LastUpdatedTime")) if meta.__class__ is dict else None


def utc_offset_zone(stamp: Any) -> str:
    """The IANA zone of a reply's ``time`` offset (``-07:00`` gives ``Etc/GMT+7``); ``UTC``
    when there is none. CompanyInfo names no time zone: a reply's offset is the company's."""
    if not isinstance(stamp, str):
        return "UTC"
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "UTC"
    offset = parsed.utcoffset()
    if offset is None or offset.total_seconds() % 3600:
        return "UTC"
    hours = int(offset.total_seconds() // 3600)
    # POSIX-style zone names count the other way: Etc/GMT+7 is seven hours behind UTC.
    return "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"


# -- queries -------------------------------------------------------------------------------------


def select(endpoint: Endpoint, conditions: Iterable[str] = (), *, order: str = "",
           start: int = 1, size: int = MAX_PAGE_SIZE, count: bool = False) -> str:
    """A query statement: ``SELECT * FROM <name> [WHERE a AND b] [ORDERBY f] STARTPOSITION n
    MAXRESULTS m`` (QBO has no OR; the grammar takes one ORDERBY field), or with ``count``
    ``SELECT COUNT(*) FROM <name> [WHERE …]`` (the reply's ``QueryResponse.totalCount``)."""
    where = [c for c in (endpoint.where, *conditions) if c]
    text = f"SELECT {'COUNT(*)' if count else '*'} FROM {endpoint.name}"
    if where:
        text += " WHERE " + " AND ".join(where)
    if count:
        return text
    if order:
        text += f" ORDERBY {order}"
    return f"{text} STARTPOSITION {start} MAXRESULTS {size}"


def quote(value: str) -> str:
    """A string literal for a query (QBO escapes a quote with a backslash)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- derived keys --------------------------------------------------------------------------------


def _money(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def _voided(rec: Record) -> bool:
    # A voided transaction keeps its Id with its amounts zeroed and "Voided" in its memo
    # (https://github.com/intuit/QuickBooks-V3-PHP-SDK/issues/167).
    note = rec.get("PrivateNote")
    return (not _money(rec.get("TotalAmt")) and isinstance(note, str) and "Voided" in note)


def document_state(rec: Record, open_key: str = "Balance") -> str:
    """What QBO's screens call an invoice (``Voided``, ``Paid``, ``Open``) or a credit memo
    (``Voided``, ``Closed``, ``Open``): the API has no status field.

    Args:
        rec: an Invoice or CreditMemo.
        open_key: the field holding what is still open (``Balance``; ``RemainingCredit``).
    """
    if _voided(rec):
        return VOIDED
    if _money(rec.get(open_key)):
        return OPEN
    return PAID if open_key == "Balance" else CLOSED


def applications(payment: Record) -> list[Record]:
    """Where a Payment's money went: one item per (source, invoice).

    A payment's ``Line[]`` links each amount to one transaction: ``Invoice`` lines are what it
    settles, ``CreditMemo`` lines are credits used up towards them; ``TotalAmt`` is the cash
    (invoices − credits, plus any unapplied amount). So the credits are applied to the invoice
    lines in order, and what they leave is paid in cash. Applying a credit memo in QBO's screens
    creates exactly such a payment with ``TotalAmt`` 0 ("Created by QB Online to link credits to
    charges."). Lines linking other transactions (journal entries, deposits) carry no
    receivable and are left out.

    Returns:
        Items ``{"Id", "SourceType" ("Payment" | "CreditMemo"), "SourceId", "TxnId" (the
        invoice), "Amount" (Decimal)}``; the Id is ``<payment>:<invoice>`` for cash and
        ``<payment>:<credit memo>:<invoice>`` for a credit — ``<payment>`` alone when the
        payment only applies one credit memo to one invoice.
    """
    pid = payment.get("Id")
    charges: dict[str, Decimal] = {}
    credits: list[list[Any]] = []
    for line in payment.get("Line") or ():
        if line.__class__ is not dict:
            continue
        linked = line.get("LinkedTxn") or ()
        first = linked[0] if linked and linked[0].__class__ is dict else None
        if first is None:
            continue
        kind, txn = first.get("TxnType"), first.get("TxnId")
        amount = _money(line.get("Amount"))
        if kind == "Invoice" and txn:
            charges[txn] = charges.get(txn, Decimal(0)) + amount
        elif kind == "CreditMemo" and txn:
            credits.append([txn, amount])
    out: list[Record] = []
    pool = iter(credits)
    current: list[Any] | None = next(pool, None)
    for invoice, owed in charges.items():
        while owed > 0 and current is not None:
            used = min(owed, current[1])
            if used > 0:
                out.append({"Id": f"{pid}:{current[0]}:{invoice}", "SourceType": "CreditMemo",
                            "SourceId": current[0], "TxnId": invoice, "Amount": used})
            owed -= used
            current[1] -= used
            if current[1] <= 0:
                current = next(pool, None)
        if owed > 0:
            out.append({"Id": f"{pid}:{invoice}", "SourceType": "Payment", "SourceId": pid,
                        "TxnId": invoice, "Amount": owed})
    if len(out) == 1 and out[0]["SourceType"] == "CreditMemo":
        # QBO's own credit link (one memo, one invoice): keyed by the payment's Id, so the
        # payment's delete (unapplying the credit) finds it (mappings/quickbooks.yaml).
        out[0]["Id"] = pid
    return out


def annotate(endpoint: Endpoint, records: list[Record]) -> list[Record]:
    """Add the derived ``$`` keys to a page of records, in place (tombstones are left alone).

    Invoices get ``$state`` (:func:`document_state`), credit memos ``$state`` over
    ``RemainingCredit``; payments ``$state`` (``Voided`` or ``Posted``), ``$kind`` (``Payment``
    with cash in it, ``CreditLink`` without) and ``$applied`` (:func:`applications`); refund
    receipts ``$state`` (``Voided`` or ``Posted``).
    """
    name = endpoint.name
    if name == "Customer":
        return records
    for rec in records:
        if rec.get("status") == "Deleted":
            continue
        if name == "Invoice":
            rec["$state"] = document_state(rec)
        elif name == "CreditMemo":
            rec["$state"] = document_state(rec, "RemainingCredit")
        elif name == "Payment":
            applied = applications(rec)
            rec["$applied"] = applied
            voided = _voided(rec)
            rec["$state"] = VOIDED if voided else POSTED
            cash = _money(rec.get("TotalAmt"))
            rec["$kind"] = CREDIT_LINK if not cash and not voided and applied else CASH
        else:
            rec["$state"] = VOIDED if _voided(rec) else POSTED
    return records


# -- faults --------------------------------------------------------------------------------------


def fault_errors(body: Any) -> list[Record]:
    """The ``Fault.Error[]`` items of a QBO error body (``{"Fault": {"Error": [{"Message",
    "Detail", "code", "element"}], "type": …}, "time": …}``); [] for any other body.

    https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes
    """
    if body.__class__ is not dict:
        return []
    fault = body.get("Fault") or body.get("fault")
    if fault.__class__ is not dict:
        return []
    errors = fault.get("Error") or fault.get("error") or []
    return [e for e in errors if e.__class__ is dict] if isinstance(errors, list) else []


def fault_text(body: Any, fallback: str = "") -> str:
    """One line from a QBO error body: ``Message: Detail (code N)`` of its first error."""
    errors = fault_errors(body)
    if not errors:
        return fallback
    first = errors[0]
    message = str(first.get("Message") or "").strip()
    detail = str(first.get("Detail") or "").strip()
    code = first.get("code")
    text = message
    if detail and detail != message:
        text = f"{message}: {detail}" if message else detail
    if code:
        text += f" (code {code})"
    return text[:300] or fallback
