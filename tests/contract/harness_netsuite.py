"""The contract's harness for NetSuite: the NetSuite sandbox with one small OneWorld account,
connected with an authorization-code grant (the scheme whose tokens refresh).

The ground truth reads the account's SuiteQL tables as NetSuite's screens show them, in the
store's words (``arconnect/store/vocabulary.py``): a transaction is ``voided`` when its
``voided`` box is ticked, an invoice ``paid`` when nothing is unpaid
(``foreignamountunpaid``), a credit memo ``paid`` when nothing is unapplied
(``foreignpaymentamountunused``), ``open`` otherwise; every customer payment is a ``receipt``.
What was applied is compared as sums per invoice and per credit memo from the
``nexttransactionlinelink`` rows, so the truth does not depend on how the adapter names its
allocation rows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine

from arconnect.auth.service import add_grant
from arconnect.auth.vault import get_vault
from arconnect.platforms import get_platform
from arconnect.sandbox.netsuite import AccountSpec, NsConfig, NsSandbox
from arconnect.sandbox.netsuite.model import CREDIT, INVOICE, PAYMENT, Account
from arconnect.settings import get_settings
from arconnect.store.models import Tenant
from tests.contract.conftest import OPTIONAL, SCALE, START, Truth, refresh_refused

CLIENT_ID, CLIENT_SECRET = "contract-ns-client", "contract-ns-secret"
ACCOUNT = "7654321_SB1"
ACCOUNTS = {"small": AccountSpec(account_id=ACCOUNT, customers=20, invoices=240, payments=180),
            "tiny": AccountSpec(account_id=ACCOUNT, customers=12, invoices=40, payments=30)}
# the engine's entity -> the transaction type (customers: the customer table)
ENTITIES = {"customers": None, "invoices": INVOICE, "credit_memos": CREDIT,
            "payments": PAYMENT}
DELETED = {"customers": "customer", "invoices": "invoice", "credit_memos": "creditmemo",
           "payments": "customerpayment"}
# sandbox mutation kind -> the contract's word for it
CHANGES = {"edit_invoice": "edit", "pay_invoice": "pay", "partial_payment": "pay",
           "void_invoice": "void", "delete": "delete"}
# The calls of a run besides the pages: currency, subsidiary and governanceLimits (set-up),
# term, customer category and dunning procedure lists (read with the customers), and one
# deletedrecord query per entity.
SETUP_CALLS = 6 + len(ENTITIES)
CENT = Decimal("0.01")


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


class NsHarness:
    """NetSuite's sandbox: the account's concurrency limit enforced on the scaled clock, one
    account."""

    platform = "netsuite"
    entities = tuple(ENTITIES)
    malformed_entity = "customers"  # a full read's first query
    missing_id = "id"
    retires_used_refresh_tokens = False  # NetSuite does not rotate a confidential client's
    pages_to_kill_in = 12  # of about 30 calls at pages of 20

    def __init__(self, company: str = "small") -> None:
        self.spec = ACCOUNTS[company]
        self.sandbox = NsSandbox(NsConfig(
            seed=11, accounts=[self.spec], start=START, strict_limits=True,
            clock_scale=SCALE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET))

    def start(self) -> None:
        self.sandbox.start(host="127.0.0.1", port=0)

    def stop(self) -> None:
        self.sandbox.stop()

    def settings(self, db_url: str) -> dict[str, str]:
        base = f"{self.sandbox.url}/{{account}}"
        return {"ARCONNECT_DATABASE_URL": db_url, "ARCONNECT_NETSUITE_REST_URL": base,
                "ARCONNECT_NETSUITE_APP_URL": base,
                "ARCONNECT_NETSUITE_CLIENT_ID": CLIENT_ID,
                "ARCONNECT_NETSUITE_CLIENT_SECRET": CLIENT_SECRET,
                "ARCONNECT_NETSUITE_TIMEZONE": self.spec.timezone}

    def small_pages(self) -> dict[str, str]:
        return {"ARCONNECT_NETSUITE_PAGE_SIZE": "20"}

    def tiny_pages(self) -> dict[str, str]:
        return {"ARCONNECT_NETSUITE_PAGE_SIZE": "3"}

    def connect(self, db: Engine) -> Tenant:
        grant = self.sandbox.create_grant(ACCOUNT)
        client_id, client_secret, secret = get_platform("netsuite").headless_grant(
            get_settings(), {"account": ACCOUNT, "client_id": CLIENT_ID,
                             "client_secret": CLIENT_SECRET,
                             "refresh_token": grant["refresh_token"]})
        [tenant] = add_grant(db, "netsuite", client_id=client_id, client_secret=client_secret,
                             refresh_token=secret, tenant_id=ACCOUNT, vault=get_vault())
        return tenant

    def _account(self, tenant: Tenant) -> Account:
        return self.sandbox.account(tenant.external_id)

    def organisation(self, tenant: Tenant) -> dict[str, Any]:
        account = self._account(tenant)
        return {"base_currency": account.base_currency}

    # -- the truth ------------------------------------------------------------------------------

    def ground_truth(self, tenant: Tenant) -> Truth:
        a = self._account(tenant)
        with a.lock:
            customers_rows = [dict(r) for r in a.customers]
            txns = [dict(r) for r in a.transactions]
            links = [dict(r) for r in a.links]
            rid, rtype, _, _ = a.config.deleted_columns
            gone = [(str(r[rtype]), str(r[rid])) for r in a.deleted.rows()]
        customers = {
            str(r["id"]): {"name": (r["entityid"] if r["isperson"] or not r["companyname"]
                                    else r["companyname"]),
                           "is_archived": bool(r["isinactive"]),
                           "parent_external_id": (str(r["parent"]) if r["parent"] is not None
                                                  else None)}
            for r in customers_rows}
        documents: dict[str, dict[str, Any]] = {}
        payments: dict[str, dict[str, Any]] = {}
        live: dict[int, dict[str, Any]] = {}
        for t in txns:
            voided = bool(t["voided"])
            total = abs(_money(t["foreigntotal"]))
            rate = Decimal(str(t["exchangerate"] or 1))
            common = {"customer_external_id": str(t["entity"]), "is_deleted": voided}
            if t["type"] == INVOICE:
                left = _money(t["foreignamountunpaid"])
                documents[str(t["id"])] = {
                    **common, "kind": "invoice",
                    "status": "voided" if voided else "paid" if not left else "open",
                    "issue_date": t["trandate"], "due_date": t["duedate"], "total": total,
                    "total_base": _money(total * rate), "amount_due": left}
            elif t["type"] == CREDIT:
                left = _money(t["foreignpaymentamountunused"])
                documents[str(t["id"])] = {
                    **common, "kind": "credit_note",
                    "status": "voided" if voided else "paid" if not left else "open",
                    "issue_date": t["trandate"], "total": total, "amount_due": left}
            else:
                payments[str(t["id"])] = {
                    **common, "payment_type": "receipt",
                    "status": "voided" if voided else "posted", "amount": total,
                    "paid_on": t["trandate"],
                    "amount_base": _money(total * rate)}
            if not voided:
                live[t["id"]] = t
        applied: dict[str, dict[str, Any]] = {}
        for link in links:
            if link["nextdoc"] not in live:
                continue
            amount = _money(link["foreignamount"])
            keys = [f"to:{link['previousdoc']}"]
            if link["nexttype"] == CREDIT:
                keys.append(f"from:{link['nextdoc']}")
            for key in keys:
                applied.setdefault(key, {"amount": Decimal(0)})["amount"] += amount
        # A record deleted in NetSuite is kept flagged where the store had read it before.
        for record_type, record_id in gone:
            if record_type in ("invoice", "creditmemo"):
                documents[record_id] = {"status": "deleted", "is_deleted": True,
                                        OPTIONAL: True}
            elif record_type == "customerpayment":
                payments[record_id] = {"status": "deleted", "is_deleted": True,
                                       OPTIONAL: True}
            elif record_type == "customer":
                customers[record_id] = {"is_archived": True, OPTIONAL: True}
        return {"customer": customers, "document": documents, "payment": payments,
                "applied": applied}

    def full_sync_calls(self, records: Mapping[str, int]) -> int:
        # a keyset page of up to 1,000 rows per entity, a link query per page of credit memos
        # and payments, and the fixed calls (SETUP_CALLS)
        pages = {e: max(1, math.ceil(n / 1000)) for e, n in records.items()}
        links = pages.get("credit_memos", 0) + pages.get("payments", 0)
        return SETUP_CALLS + sum(pages.values()) + links

    def reads_bound(self, tenant: Tenant, entity: str, cursor: Any) -> int:
        a = self._account(tenant)
        since_text = cursor.get("since")
        kind = ENTITIES[entity]
        with a.lock:
            if since_text is None:
                rows = list(a.customers) if kind is None else [
                    r for r in a.transactions if r["type"] == kind]
                return len(rows) + len(a.deleted)
            since = datetime.fromisoformat(since_text).replace(tzinfo=a.tz)
            table = a.customers if kind is None else [
                r for r in a.transactions if r["type"] == kind]
            changed = sum(1 for r in table if r["lastmodifieddate"] >= since)
            _, rtype, _, rdate = a.config.deleted_columns
            deleted_since = cursor.get("deleted_since") or since_text
            dsince = datetime.fromisoformat(deleted_since).replace(tzinfo=a.tz)
            gone = sum(1 for r in a.deleted.rows()
                       if r[rtype] == DELETED[entity] and r[rdate] >= dsince)
        return changed + gone

    # -- changes --------------------------------------------------------------------------------

    def late_invoice(self, tenant: Tenant, cursor: Any) -> str:
        a = self._account(tenant)
        late = (datetime.fromisoformat(cursor["high"] or cursor["since"]).replace(tzinfo=a.tz)
                - timedelta(seconds=30))
        with a.lock:
            row = self.sandbox.mutate(tenant.external_id).new_invoice()
            a.touch(row, late)
        return str(row["id"])

    def mutate(self, tenant: Tenant, seed: int) -> set[str]:
        done = self.sandbox.mutate(tenant.external_id, seed=seed).random(30)
        return {CHANGES.get(kind, kind) for kind, n in done.items() if n}

    def move_earliest(self, tenant: Tenant, count: int, entity: str | None = None) -> None:
        """Edit the ``count`` records a full read lists first (the lowest ids): a keyset read
        by id keeps them where they are, so a pass resumed past them misses the edit, which
        the next pass must catch from its time window."""
        a = self._account(tenant)
        now = self.sandbox.clock.now().replace(microsecond=0)
        with a.lock:
            for name in [entity] if entity else list(ENTITIES):
                kind = ENTITIES[name]
                rows = list(a.customers) if kind is None else [
                    r for r in a.transactions if r["type"] == kind]
                for row in sorted(rows, key=lambda r: r["id"])[:count]:
                    # a change the truth compares: the name, the due date, the date
                    if kind is None:
                        row["companyname"] = f"{row['companyname'] or row['entityid']} (moved)"
                        row["isperson"] = False
                    elif kind == INVOICE:
                        row["duedate"] += timedelta(days=1)
                    else:
                        row["trandate"] -= timedelta(days=1)
                    a.touch(row, now)

    def grow(self, tenant: Tenant, at_least: int) -> None:
        a = self._account(tenant)
        mutator = self.sandbox.mutate(tenant.external_id)
        with a.lock:
            while len(a.customers) < at_least:
                mutator.add_customer()

            def count(kind: str) -> int:
                return sum(1 for r in a.transactions if r["type"] == kind)

            # payments and credits of a cent each, on fresh invoices that owe enough
            while count(INVOICE) < at_least or count(PAYMENT) < at_least or count(
                    CREDIT) < at_least:
                invoice = mutator.new_invoice(amount=Decimal("100.00"))
                if count(PAYMENT) < at_least:
                    mutator.pay_invoice(invoice["id"], CENT)
                if count(CREDIT) < at_least:
                    mutator.apply_credit(invoice["id"], CENT)

    def advance(self, seconds: float) -> None:
        self.sandbox.clock.advance(seconds)

    # -- faults ---------------------------------------------------------------------------------

    def slow(self, seconds: float) -> None:
        self.sandbox.faults.slow(seconds, n=100000)

    def storm(self, tenant: Tenant, n: int) -> None:
        # NetSuite's 429 over the account's concurrency limit carries no Retry-After
        self.sandbox.faults.throttle(n)

    def calls(self, tenant: Tenant) -> int:
        counted = self.sandbox.stats.by_account.get(self._account(tenant).account_id,
                                                    Counter())
        return sum(n for kind, n in counted.items()
                   if kind not in ("token", "rows_returned", "http_429"))

    def rate_limited(self, tenant: Tenant) -> int:
        return self.sandbox.stats.get(self._account(tenant).account_id, "http_429")

    def expire_tokens(self) -> None:
        self.sandbox.faults.expire_tokens()

    def revoke(self, tenant: Tenant) -> None:
        self.sandbox.identity.revoke_account(tenant.external_id)  # later tests connect anew

    def refresh_refused(self, refresh_token: str) -> bool:
        return refresh_refused("netsuite", CLIENT_ID, CLIENT_SECRET, refresh_token)

    def refresh_grace(self) -> float:
        return 0.0

    def malformed_page(self, kind: str) -> None:
        self.sandbox.faults.malformed(1, kind=kind, path_contains="suiteql FROM customer ")

    def clear_faults(self) -> None:
        self.sandbox.faults.clear()

    # -- write-back -----------------------------------------------------------------------------

    def writeback_setup(self, tenant: Tenant, names: Mapping[str, str]) -> dict[str, str]:
        """Nothing to prepare: write-back creates the customer categories it needs (looked up
        by name first), and the account has the dunning procedures the shipped mapping
        names."""
        return {}

    def written(self, tenant: Tenant, names: Mapping[str, str]) -> dict[str, str]:
        a = self._account(tenant)
        ours = set(names.values())
        with a.lock:
            categories = {r["id"]: r["name"] for r in a.tables["customercategory"]}
            refs = {str(r["id"]): r["category"] for r in a.customers}
        return {cid: categories[ref] for cid, ref in refs.items()
                if categories.get(ref) in ours}

    def write_requests(self, tenant: Tenant) -> int:
        account_id = self._account(tenant).account_id
        return (self.sandbox.stats.get(account_id, "record_patch")
                + self.sandbox.stats.get(account_id, "record_post"))
