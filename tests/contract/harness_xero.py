"""The contract's harness for Xero: the Xero sandbox with one small organisation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from arconnect.auth.service import add_grant
from arconnect.auth.vault import get_vault
from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox
from arconnect.sandbox.xero.wire import dotnet_date
from arconnect.settings import get_settings
from arconnect.store.models import Tenant
from tests.contract.conftest import SCALE, START, Truth, refresh_refused
from tests.sync.conftest import truth as xero_truth
from tests.xero_words import XERO_DOCUMENT_STATUS, XERO_PAYMENT_STATUS, XERO_PAYMENT_TYPE

CLIENT_ID, CLIENT_SECRET = "contract-client", "contract-secret"
ORGS = {"small": OrgSpec(name="Acme Wholesale", customers=20, invoices=240, payments=180,
                         suppliers=3, bills=20),
        "tiny": OrgSpec(name="Acme Wholesale", customers=12, invoices=40, payments=30,
                        suppliers=2, bills=4)}
# The organisation's tables as the engine names its entities.
TABLES = {"contacts": "contacts", "invoices": "invoices", "credit_notes": "credit_notes",
          "payments": "payments", "overpayments": "overpayments", "prepayments": "prepayments"}
ID_FIELDS = {"contacts": "ContactID", "invoices": "InvoiceID", "credit_notes": "CreditNoteID",
             "payments": "PaymentID", "overpayments": "OverpaymentID",
             "prepayments": "PrepaymentID"}
# sandbox mutation kind -> the contract's word for it
CHANGES = {"edit": "edit", "payment": "pay", "partial_payment": "pay", "void": "void",
           "delete_draft": "delete", "payment_deleted": "delete"}




class XeroHarness:
    """Xero's sandbox: strict rate limits on the scaled clock, one organisation."""

    platform = "xero"
    entities = tuple(TABLES)
    malformed_entity = "invoices"
    missing_id = "InvoiceID"
    # a used refresh token works for 30 minutes more (https://developer.xero.com/faq/oauth2)
    retires_used_refresh_tokens = True
    pages_to_kill_in = 12  # of about 20 pages of 20 records

    def __init__(self, company: str = "small") -> None:
        self.spec = ORGS[company]
        self.sandbox = XeroSandbox(SandboxConfig(
            seed=11, orgs=[self.spec], client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            auto_approve=True, strict_limits=True, time_scale=SCALE, start=START))

    def start(self) -> None:
        self.sandbox.start(host="127.0.0.1", port=0)

    def stop(self) -> None:
        self.sandbox.stop()

    def settings(self, db_url: str) -> dict[str, str]:
        url = self.sandbox.url
        return {"ARCONNECT_DATABASE_URL": db_url, "ARCONNECT_XERO_API_URL": url,
                "ARCONNECT_XERO_IDENTITY_URL": url, "ARCONNECT_XERO_LOGIN_URL": url,
                "ARCONNECT_XERO_CLIENT_ID": CLIENT_ID,
                "ARCONNECT_XERO_CLIENT_SECRET": CLIENT_SECRET}

    def small_pages(self) -> dict[str, str]:
        return {"ARCONNECT_XERO_PAGE_SIZE": "20"}

    def connect(self, db: Engine) -> Tenant:
        grant = self.sandbox.create_grant()
        [tenant] = add_grant(db, "xero", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                             refresh_token=grant["refresh_token"], vault=get_vault())
        return tenant

    def _org(self, tenant: Tenant) -> Any:
        return self.sandbox.org(tenant.external_id)

    def organisation(self, tenant: Tenant) -> dict[str, Any]:
        org = self._org(tenant)
        return {"name": self.spec.name, "base_currency": org.base_currency,
                "timezone": org.timezone}

    def ground_truth(self, tenant: Tenant) -> Truth:
        """Every row of every table, column by column, from the organisation's records (the
        exact Xero truth of ``tests/sync/conftest.py``), in the store's words."""
        org = self._org(tenant)
        truth: Truth = xero_truth(org)
        for row in truth["document"].values():
            row["status"] = XERO_DOCUMENT_STATUS.get(row["status"], row["status"])
        for key, row in truth["payment"].items():
            raw = org.payments[key]
            row["status"] = XERO_PAYMENT_STATUS.get(row["status"], row["status"])
            row["payment_type"] = XERO_PAYMENT_TYPE[raw["PaymentType"]]
        return truth

    def full_sync_calls(self, records: Mapping[str, int]) -> int:
        # one call per entity at this size (pages of 1,000) plus GET /Organisation
        return 1 + len(records)

    def reads_bound(self, tenant: Tenant, entity: str, cursor: Any) -> int:
        last = datetime.fromisoformat(cursor["last_ts"]).replace(microsecond=0)
        overlap = timedelta(seconds=get_settings().sync_overlap_seconds)
        since_ms = int((last - overlap).timestamp() * 1000)
        table = getattr(self._org(tenant), TABLES[entity])
        return sum(1 for ms in table.updated.values() if ms >= since_ms)

    def late_invoice(self, tenant: Tenant, cursor: Any) -> str:
        last = datetime.fromisoformat(cursor["last_ts"]).astimezone(UTC)
        org = self._org(tenant)
        template = next(i for i in org.invoices.values()
                        if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED")
        invoice = dict(template, InvoiceID=str(uuid.uuid4()), InvoiceNumber="INV-LATE",
                       UpdatedDateUTC=dotnet_date(last - timedelta(seconds=30)))
        with org.lock:
            org.invoices.put(invoice)
        return str(invoice["InvoiceID"])

    def mutate(self, tenant: Tenant, seed: int) -> set[str]:
        summary = self.sandbox.mutate(tenant.external_id, n=40, seed=seed)
        return {CHANGES.get(kind, kind) for kind, n in summary.counts.items() if n}

    def move_earliest(self, tenant: Tenant, count: int, entity: str | None = None) -> None:
        org = self._org(tenant)
        with org.lock:
            for name in [TABLES[entity]] if entity else TABLES.values():
                table = getattr(org, name)
                for key in list(table)[:count]:
                    table[key]["UpdatedDateUTC"] = dotnet_date(self.sandbox.clock.now_ms())
                    table.touch(key)

    def tiny_pages(self) -> dict[str, str]:
        return {"ARCONNECT_XERO_PAGE_SIZE": "3"}

    def grow(self, tenant: Tenant, at_least: int) -> None:
        org = self._org(tenant)
        with org.lock:
            for entity, name in TABLES.items():
                table = getattr(org, name)
                originals = [r for r in table.values()
                             if entity != "contacts" or r.get("IsCustomer")]
                for n in range(at_least - len(table)):
                    copy = deepcopy(originals[n % len(originals)])
                    copy[ID_FIELDS[entity]] = str(uuid.uuid4())
                    if entity == "contacts":
                        copy["Name"] = f"{copy['Name']} {n}"
                    for alloc in copy.get("Allocations") or []:
                        alloc["AllocationID"] = str(uuid.uuid4())
                    copy["UpdatedDateUTC"] = dotnet_date(self.sandbox.clock.now_ms())
                    table[copy[ID_FIELDS[entity]]] = copy
                    table.touch(copy[ID_FIELDS[entity]])

    def advance(self, seconds: float) -> None:
        self.sandbox.clock.advance(seconds)

    def slow(self, seconds: float) -> None:
        self.sandbox.faults.slow(seconds, n=100000)

    def storm(self, tenant: Tenant, n: int) -> None:
        # Another client of the app spends the organisation's minute budget as each of the
        # next n windows opens: 429 with Retry-After until the storm passes.
        self.sandbox.faults.rate_limit_storm(tenant.external_id, windows=n)

    def calls(self, tenant: Tenant) -> int:
        return int(self.sandbox.stats[tenant.external_id].calls)

    def rate_limited(self, tenant: Tenant) -> int:
        return sum(self.sandbox.stats[tenant.external_id].rate_limited.values())

    def expire_tokens(self) -> None:
        self.sandbox.faults.expire_tokens()

    def revoke(self, tenant: Tenant) -> None:
        self.sandbox.revoke_all()  # later tests connect with new grants

    def refresh_refused(self, refresh_token: str) -> bool:
        return refresh_refused("xero", CLIENT_ID, CLIENT_SECRET, refresh_token)

    def refresh_grace(self) -> float:
        return float(self.sandbox.config.refresh_grace_seconds)

    def malformed_page(self, kind: str) -> None:
        self.sandbox.faults.malformed(1, kind=kind, path_contains="Invoices")

    def clear_faults(self) -> None:
        self.sandbox.faults.clear()

    def writeback_setup(self, tenant: Tenant, names: Mapping[str, str]) -> dict[str, str]:
        return {}  # write-back creates the groups it needs

    def written(self, tenant: Tenant, names: Mapping[str, str]) -> dict[str, str]:
        org = self._org(tenant)
        ours = set(names.values())
        out: dict[str, str] = {}
        for gid, group in org.contact_groups.items():
            if group["Status"] == "ACTIVE" and group["Name"] in ours:
                for contact in org.group_members.get(gid, []):
                    key = str(contact).lower()
                    assert key not in out, f"contact {key} is in two segment groups"
                    out[key] = group["Name"]
        return out

    def write_requests(self, tenant: Tenant) -> int:
        paths = self.sandbox.stats[tenant.external_id].paths
        return sum(n for key, n in paths.items() if not key.startswith("GET "))
