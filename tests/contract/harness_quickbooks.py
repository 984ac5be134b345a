"""The contract's harness for QuickBooks Online: the QBO sandbox with one small company.

The ground truth reads the company's records as QBO's screens show them, in the store's words
(``arconnect/store/vocabulary.py``): an invoice is ``voided`` when its amounts are 0 with
"Voided" in its memo, ``paid`` when its ``Balance`` is 0, ``open`` otherwise; a credit memo is
``paid`` once its ``RemainingCredit`` is 0; a Payment of 0 that links a credit memo to an
invoice applies credit (``credit_application``), any other is a ``receipt``; a RefundReceipt
is a ``refund``. What a payment applied is compared as sums per invoice (its ``Line[]`` linked
to that invoice) and per credit memo (its lines linked to that memo), so the truth does not
depend on how the adapter splits a payment into allocation rows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from copy import deepcopy
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine

from arconnect.auth.service import add_grant
from arconnect.auth.vault import get_vault
from arconnect.sandbox.quickbooks import records as R
from arconnect.sandbox.quickbooks.model import Company, CompanySpec, QboConfig
from arconnect.sandbox.quickbooks.server import QboSandbox
from arconnect.sandbox.quickbooks.wire import stamp
from arconnect.settings import get_settings
from arconnect.store.models import Tenant
from tests.contract.conftest import OPTIONAL, SCALE, START, Truth, refresh_refused

CLIENT_ID, CLIENT_SECRET = "contract-qbo-client", "contract-qbo-secret"
COMPANIES = {"small": CompanySpec(name="Sandbox Company US 1", customers=20, invoices=240,
                                  payments=180),
             "tiny": CompanySpec(name="Sandbox Company US 1", customers=12, invoices=40,
                                 payments=30)}
# the engine's entity -> QBO's
ENTITIES = {"customers": "Customer", "invoices": "Invoice", "credit_memos": "CreditMemo",
            "payments": "Payment", "refund_receipts": "RefundReceipt"}
# sandbox mutation kind -> the contract's word for it
CHANGES = {"edit_invoice": "edit", "payment": "pay", "partial_payment": "pay",
           "void_invoice": "void", "delete_payment": "delete"}
CENT = Decimal("0.01")


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def _base(amount: Any, rec: dict[str, Any], home: str) -> Decimal:
    """The home-currency amount: QBO's ExchangeRate multiplies (home = amount x rate)."""
    rate = rec.get("ExchangeRate")
    if rec.get("CurrencyRef", {}).get("value", home) == home or rate in (None, 0):
        return _money(amount)
    return _money(Decimal(str(amount)) * Decimal(str(rate)))


def _voided(rec: dict[str, Any]) -> bool:
    return not Decimal(str(rec.get("TotalAmt") or 0)) and "Voided" in str(
        rec.get("PrivateNote") or "")


def _linked(payment: dict[str, Any]) -> list[tuple[str, str, Decimal]]:
    """(TxnType, TxnId, Amount) of each line of a payment."""
    out = []
    for line in payment.get("Line") or ():
        for link in (line.get("LinkedTxn") or ())[:1]:
            out.append((link["TxnType"], link["TxnId"], Decimal(str(line["Amount"]))))
    return out


class QboHarness:
    """QBO's sandbox: strict throttles on the scaled clock, one company."""

    platform = "quickbooks"
    entities = tuple(ENTITIES)
    malformed_entity = "customers"  # a full read's first query
    missing_id = "Id"
    retires_used_refresh_tokens = True  # after the sandbox's grace (Intuit's is undocumented)
    pages_to_kill_in = 12  # of about 25 calls at pages of 20

    def __init__(self, company: str = "small") -> None:
        self.spec = COMPANIES[company]
        self.sandbox = QboSandbox(QboConfig(
            seed=11, companies=[self.spec], start=START, strict_limits=True,
            clock_scale=SCALE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET))

    def start(self) -> None:
        self.sandbox.start(host="127.0.0.1", port=0)

    def stop(self) -> None:
        self.sandbox.stop()

    def settings(self, db_url: str) -> dict[str, str]:
        url = self.sandbox.url
        return {"ARCONNECT_DATABASE_URL": db_url, "ARCONNECT_QBO_API_URL": url,
                "ARCONNECT_QBO_AUTH_URL": f"{url}/connect/oauth2",
                "ARCONNECT_QBO_TOKEN_URL": f"{url}/oauth2/v1/tokens/bearer",
                "ARCONNECT_QBO_REVOKE_URL": f"{url}/v2/oauth2/tokens/revoke",
                "ARCONNECT_QBO_CLIENT_ID": CLIENT_ID,
                "ARCONNECT_QBO_CLIENT_SECRET": CLIENT_SECRET}

    def small_pages(self) -> dict[str, str]:
        return {"ARCONNECT_QBO_PAGE_SIZE": "20"}

    def tiny_pages(self) -> dict[str, str]:
        return {"ARCONNECT_QBO_PAGE_SIZE": "3"}

    def connect(self, db: Engine) -> Tenant:
        grant = self.sandbox.create_grant()
        [tenant] = add_grant(db, "quickbooks", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                             refresh_token=grant["refresh_token"], tenant_id=grant["realmId"],
                             vault=get_vault())
        return tenant

    def _company(self, tenant: Tenant) -> Company:
        return self.sandbox.company(tenant.external_id)

    def organisation(self, tenant: Tenant) -> dict[str, Any]:
        company = self._company(tenant)
        return {"name": company.name, "base_currency": company.home_currency}

    # -- the truth ------------------------------------------------------------------------------

    def ground_truth(self, tenant: Tenant) -> Truth:
        c = self._company(tenant)
        home = c.home_currency
        with c.lock:
            tables = {name: [deepcopy(r) for r in c.tables[name].values()]
                      for name in ENTITIES.values()}
            gone = {(t.entity, t.id) for t in c.tombstones.values()}
        customers = {
            r["Id"]: {"name": r["DisplayName"], "is_archived": not r["Active"],
                      "parent_external_id": (r.get("ParentRef") or {}).get("value")}
            for r in tables["Customer"]}
        documents: dict[str, dict[str, Any]] = {}
        for inv in tables["Invoice"]:
            voided = _voided(inv)
            status = "voided" if voided else "paid" if not _money(inv["Balance"]) else "open"
            documents[inv["Id"]] = {
                "kind": "invoice", "status": status, "is_deleted": voided,
                "customer_external_id": inv["CustomerRef"]["value"],
                "issue_date": datetime.fromisoformat(inv["TxnDate"]).date(),
                "due_date": datetime.fromisoformat(inv["DueDate"]).date(),
                "total": _money(inv["TotalAmt"]), "total_base": _base(inv["TotalAmt"], inv, home),
                "amount_due": _money(inv["Balance"])}
        for memo in tables["CreditMemo"]:
            voided = _voided(memo)
            left = _money(memo["RemainingCredit"])
            documents[memo["Id"]] = {
                "kind": "credit_note", "is_deleted": voided,
                "status": "voided" if voided else "open" if left else "paid",
                "customer_external_id": memo["CustomerRef"]["value"],
                "total": _money(memo["TotalAmt"]), "amount_due": left}
        payments: dict[str, dict[str, Any]] = {}
        applied: dict[str, dict[str, Any]] = {}
        for pay in tables["Payment"]:
            voided = _voided(pay)
            links = _linked(pay)
            link_only = not Decimal(str(pay["TotalAmt"])) and not voided and bool(links)
            payments[pay["Id"]] = {
                "payment_type": "credit_application" if link_only else "receipt",
                "status": "voided" if voided else "posted", "is_deleted": voided,
                "customer_external_id": pay["CustomerRef"]["value"],
                "amount": _money(pay["TotalAmt"]),
                "amount_base": _base(pay["TotalAmt"], pay, home)}
            if voided:
                continue
            for kind, txn, amount in links:
                key = f"to:{txn}" if kind == "Invoice" else f"from:{txn}"
                row = applied.setdefault(key, {"amount": Decimal(0)})
                row["amount"] += amount
        for refund in tables["RefundReceipt"]:
            voided = _voided(refund)
            payments[refund["Id"]] = {
                "payment_type": "refund", "status": "voided" if voided else "posted",
                "is_deleted": voided, "customer_external_id": refund["CustomerRef"]["value"],
                "amount": _money(refund["TotalAmt"])}
        # A record deleted in QBO is kept flagged where the store had read it before.
        for entity, obj_id in gone:
            deleted = {"status": "deleted", "is_deleted": True, OPTIONAL: True}
            if entity in ("Invoice", "CreditMemo"):
                documents[obj_id] = deleted
            elif entity in ("Payment", "RefundReceipt"):
                payments[obj_id] = deleted
        return {"customer": customers, "document": documents, "payment": payments,
                "applied": applied}

    def full_sync_calls(self, records: Mapping[str, int]) -> int:
        # a query page of up to 1,000 per entity, plus CompanyInfo and Preferences
        return 2 + sum(max(1, math.ceil(n / 1000)) for n in records.values())

    def reads_bound(self, tenant: Tenant, entity: str, cursor: Any) -> int:
        since = datetime.fromisoformat(cursor["since"]) - timedelta(
            seconds=get_settings().sync_overlap_seconds)
        c = self._company(tenant)
        name = ENTITIES[entity]
        with c.lock:
            changed = sum(1 for when in c.tables[name].updated.values() if when >= since)
            gone = sum(1 for t in c.tombstones.values() if t.entity == name and t.deleted >= since)
        return changed + gone

    # -- changes --------------------------------------------------------------------------------

    def late_invoice(self, tenant: Tenant, cursor: Any) -> str:
        late = datetime.fromisoformat(cursor["since"]) - timedelta(seconds=30)
        c = self._company(tenant)
        with c.lock:
            customer = next(r["Id"] for r in c.tables["Customer"].values() if r["Active"])
            inv_id = self.sandbox.mutate(tenant.external_id).new_invoice(customer)
            invoice = c.tables["Invoice"][inv_id]
            invoice["MetaData"]["LastUpdatedTime"] = stamp(late, c.tz)
            c.tables["Invoice"].touch(inv_id, late)
        return inv_id

    def mutate(self, tenant: Tenant, seed: int) -> set[str]:
        done = self.sandbox.mutate(tenant.external_id, seed=seed).random(30)
        return {CHANGES.get(kind, kind) for kind, n in done.items() if n}

    def move_earliest(self, tenant: Tenant, count: int, entity: str | None = None) -> None:
        c = self._company(tenant)
        now = self.sandbox.clock.now().replace(microsecond=0)
        with c.lock:
            for name in [ENTITIES[entity]] if entity else ENTITIES.values():
                table = c.tables[name]
                for key in sorted(table, key=lambda k: (table.updated[k], k))[:count]:
                    R.bump(c, name, table[key], now)

    def grow(self, tenant: Tenant, at_least: int) -> None:
        c = self._company(tenant)
        now = self.sandbox.clock.now().replace(microsecond=0)
        with c.lock:
            for name in ENTITIES.values():
                table = c.tables[name]
                originals = list(table.values())
                for n in range(at_least - len(table)):
                    copy = deepcopy(originals[n % len(originals)])
                    copy["Id"] = c.next_id("Customer" if name == "Customer" else "txn")
                    if name == "Customer":
                        copy["DisplayName"] = f"{copy['DisplayName']} {n}"
                    copy["MetaData"]["LastUpdatedTime"] = stamp(now, c.tz)
                    table.put(copy, now, now)

    def advance(self, seconds: float) -> None:
        self.sandbox.clock.advance(seconds)

    # -- faults ---------------------------------------------------------------------------------

    def slow(self, seconds: float) -> None:
        self.sandbox.faults.slow(seconds, n=100000)

    def storm(self, tenant: Tenant, n: int) -> None:
        # QBO's 429 ThrottleExceeded carries no Retry-After: the client backs off
        self.sandbox.faults.throttle(n)

    def calls(self, tenant: Tenant) -> int:
        return sum((self.sandbox.stats.by_realm.get(tenant.external_id) or Counter()).values())

    def rate_limited(self, tenant: Tenant) -> int:
        return sum(self.sandbox.stats.throttled.values())

    def expire_tokens(self) -> None:
        self.sandbox.faults.expire_tokens()

    def revoke(self, tenant: Tenant) -> None:
        self.sandbox.faults.revoke_grant(tenant.external_id)  # later tests connect anew

    def refresh_refused(self, refresh_token: str) -> bool:
        return refresh_refused("quickbooks", CLIENT_ID, CLIENT_SECRET, refresh_token)

    def refresh_grace(self) -> float:
        return float(self.sandbox.config.refresh_grace_seconds)

    def malformed_page(self, kind: str) -> None:
        self.sandbox.faults.malformed(1, kind=kind, path_contains="/query")

    def clear_faults(self) -> None:
        self.sandbox.faults.clear()

    # -- write-back -----------------------------------------------------------------------------

    def writeback_setup(self, tenant: Tenant, names: Mapping[str, str]) -> dict[str, str]:
        """The customer types the segments are written to exist in the company: QBO's API
        cannot create them, an admin adds them (Sales > Customers > Customer types > New)."""
        c = self._company(tenant)
        now = self.sandbox.clock.now()
        with c.lock:
            have = {t["Name"] for t in c.tables["CustomerType"].values()}
            for name in sorted(set(names.values()) - have):
                rec = R.customer_type(c, type_id=c.next_id("CustomerType"), name=name,
                                      created=now)
                c.tables["CustomerType"].put(rec, now, now)
        return {}

    def written(self, tenant: Tenant, names: Mapping[str, str]) -> dict[str, str]:
        c = self._company(tenant)
        ours = set(names.values())
        with c.lock:
            types = {t["Id"]: t["Name"] for t in c.tables["CustomerType"].values()}
            refs = {r["Id"]: (r.get("CustomerTypeRef") or {}).get("value")
                    for r in c.tables["Customer"].values()}
        return {cid: types[ref] for cid, ref in refs.items() if types.get(ref or "") in ours}

    def write_requests(self, tenant: Tenant) -> int:
        kinds = self.sandbox.stats.by_realm.get(tenant.external_id) or Counter()
        return int(kinds.get("write", 0) + kinds.get("batch", 0))

