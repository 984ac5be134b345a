"""A connected Xero sandbox organisation and the sandbox's ground truth, for sync tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from arconnect.auth.service import add_grant
from arconnect.auth.vault import get_vault
from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox
from arconnect.settings import get_settings
from arconnect.store.db import dispose_engines, get_engine
from arconnect.store.models import SyncCursor, Tenant
from tests.xero_words import XERO_DOCUMENT_STATUS, XERO_PAYMENT_STATUS

CLIENT_ID, CLIENT_SECRET = "test-client", "test-secret"
RECEIVABLE_PAYMENTS = {"ACCRECPAYMENT", "ARCREDITPAYMENT", "AROVERPAYMENTPAYMENT",
                       "ARPREPAYMENTPAYMENT"}
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@dataclass
class XeroEnv:
    sandbox: XeroSandbox
    db: Engine
    tenant: Tenant
    db_url: str

    @property
    def org(self) -> Any:
        return next(o for o in self.sandbox.orgs if o.tenant_id == self.tenant.external_id)


def start_sandbox(**overrides: Any) -> XeroSandbox:
    orgs = overrides.pop("orgs", None) or [overrides.pop("org", None) or OrgSpec(
        name="Acme Wholesale", customers=30, invoices=400, payments=320, suppliers=4, bills=30
    )]
    config = SandboxConfig(seed=overrides.pop("seed", 11), orgs=orgs, client_id=CLIENT_ID,
                           client_secret=CLIENT_SECRET, auto_approve=True,
                           strict_limits=overrides.pop("strict_limits", False), start=START,
                           **overrides)
    sandbox = XeroSandbox(config)
    sandbox.start(host="127.0.0.1", port=0)
    return sandbox


def point_settings_at(monkeypatch: pytest.MonkeyPatch, url: str, db_url: str,
                      **extra: str) -> None:
    env = {
        "ARCONNECT_DATABASE_URL": db_url,
        "ARCONNECT_SECRET_KEY": "test-key-for-the-sync-suite",
        "ARCONNECT_XERO_API_URL": url,
        "ARCONNECT_XERO_IDENTITY_URL": url,
        "ARCONNECT_XERO_LOGIN_URL": url,
        "ARCONNECT_XERO_CLIENT_ID": CLIENT_ID,
        "ARCONNECT_XERO_CLIENT_SECRET": CLIENT_SECRET,
        **extra,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


def connect(sandbox: XeroSandbox, db: Engine) -> list[Tenant]:
    grant = sandbox.create_grant()
    return add_grant(db, "xero", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                          refresh_token=grant["refresh_token"], vault=get_vault())


@contextmanager
def sandbox_env(monkeypatch: pytest.MonkeyPatch, db_url: str, **params: Any) -> Iterator[XeroEnv]:
    """A started sandbox (``start_sandbox`` parameters, plus ``page_size`` for our reads),
    the settings pointed at it and at ``db_url``, and its organisation connected."""
    page_size = params.pop("page_size", None)
    sandbox = start_sandbox(**params)
    extra = {"ARCONNECT_XERO_PAGE_SIZE": str(page_size)} if page_size else {}
    point_settings_at(monkeypatch, sandbox.url, db_url, **extra)
    try:
        db = get_engine(db_url)
        yield XeroEnv(sandbox, db, connect(sandbox, db)[0], db_url)
    finally:
        sandbox.stop()
        dispose_engines()


@pytest.fixture
def xero_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
             sqlite_url: str) -> Iterator[XeroEnv]:
    """A relaxed sandbox with one small organisation, connected; SQLite store.

    Parametrize indirectly with a dict to change the sandbox (``org``, ``page_size``...).
    """
    with sandbox_env(monkeypatch, sqlite_url, **dict(getattr(request, "param", {}) or {})) as env:
        yield env


# -- ground truth, computed from the sandbox's raw records with plain code ---------------------

def xdate(value: str | None) -> date | None:
    """The calendar date of a ``/Date(ms+hhmm)/`` value (the instant in its own offset)."""
    if not value:
        return None
    inner = value[len("/Date("):-2]
    sign = max(inner.rfind("+"), inner.rfind("-"))
    offset = timedelta()
    if sign > 0:
        hhmm = inner[sign + 1:]
        offset = timedelta(hours=int(hhmm[:2]), minutes=int(hhmm[2:]))
        offset = offset if inner[sign] == "+" else -offset
        inner = inner[:sign]
    return (datetime(1970, 1, 1) + timedelta(milliseconds=int(inner)) + offset).date()


def base(amount: Any, rate: Any, currency: str | None, base_currency: str) -> Decimal | None:
    if amount is None:
        return None
    amount = Decimal(str(amount))
    rate = Decimal(str(rate)) if rate not in (None, "") else Decimal(0)
    if currency == base_currency or rate == 0:
        return amount
    return (amount / rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def survivor(org: Any, contact_id: str | None) -> str | None:
    seen = set()
    while contact_id and contact_id in org.contacts and contact_id not in seen:
        seen.add(contact_id)
        merged = org.contacts[contact_id].get("MergedToContactID")
        if not merged or merged == contact_id:
            break
        contact_id = merged
    return contact_id


def truth(org: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """What the store must hold for ``org`` after a sync, per table and external id."""
    bc = org.base_currency
    customers = {
        c["ContactID"]: {"name": c.get("Name"), "status": c.get("ContactStatus"),
                         "merged_into_external_id": c.get("MergedToContactID") or None}
        for c in org.contacts.values()
        if not (c.get("IsSupplier") and not c.get("IsCustomer"))
    }
    documents: dict[str, dict[str, Any]] = {}
    for inv in org.invoices.values():
        if inv["Type"] != "ACCREC":
            continue
        documents[inv["InvoiceID"]] = {
            "kind": "invoice", "status": XERO_DOCUMENT_STATUS[inv["Status"]],
            "customer_external_id": survivor(org, inv["Contact"]["ContactID"]),
            "issue_date": xdate(inv.get("Date")), "due_date": xdate(inv.get("DueDate")),
            "fully_paid_on": xdate(inv.get("FullyPaidOnDate")),
            "total": Decimal(str(inv["Total"])),
            "total_base": base(inv["Total"], inv.get("CurrencyRate"), inv.get("CurrencyCode"),
                               bc),
            "amount_due": Decimal(str(inv["AmountDue"])),
            "is_deleted": inv["Status"] in ("DELETED", "VOIDED"),
        }
    allocations: dict[str, dict[str, Any]] = {}
    for cn in org.credit_notes.values():
        if cn["Type"] != "ACCRECCREDIT":
            continue
        documents[cn["CreditNoteID"]] = {
            "kind": "credit_note", "status": XERO_DOCUMENT_STATUS[cn["Status"]],
            "customer_external_id": survivor(org, cn["Contact"]["ContactID"]),
            "issue_date": xdate(cn.get("Date")), "total": Decimal(str(cn["Total"])),
        }
        for alloc in cn.get("Allocations") or []:
            allocations[f"credit_note:{alloc['AllocationID']}"] = {
                "document_external_id": alloc["Invoice"]["InvoiceID"],
                "amount": Decimal(str(alloc["Amount"])),
                "allocated_on": xdate(alloc.get("Date")),
            }
    for kind, table, id_field, types in (
            ("overpayment", org.overpayments, "OverpaymentID",
             ("RECEIVE-OVERPAYMENT", "AROVERPAYMENT")),
            ("prepayment", org.prepayments, "PrepaymentID",
             ("RECEIVE-PREPAYMENT", "ARPREPAYMENT"))):
        for credit in table.values():
            if credit["Type"] not in types:
                continue
            documents[credit[id_field]] = {
                "kind": kind, "status": XERO_DOCUMENT_STATUS[credit["Status"]],
                "customer_external_id": survivor(org, credit["Contact"]["ContactID"]),
                "issue_date": xdate(credit.get("Date")), "total": Decimal(str(credit["Total"])),
                "amount_due": Decimal(str(credit["RemainingCredit"])),
                "is_deleted": credit["Status"] == "VOIDED",
            }
            for alloc in credit.get("Allocations") or []:
                allocations[f"{kind}:{alloc['AllocationID']}"] = {
                    "document_external_id": alloc["Invoice"]["InvoiceID"],
                    "amount": Decimal(str(alloc["Amount"])),
                    "allocated_on": xdate(alloc.get("Date")),
                }
    payments: dict[str, dict[str, Any]] = {}
    for pay in org.payments.values():
        if pay.get("PaymentType") not in RECEIVABLE_PAYMENTS:
            continue
        payments[pay["PaymentID"]] = {
            "document_external_id": pay["Invoice"]["InvoiceID"],
            "status": XERO_PAYMENT_STATUS[pay["Status"]], "amount": Decimal(str(pay["Amount"])),
            "paid_on": xdate(pay.get("Date")), "is_deleted": pay["Status"] == "DELETED",
        }
        allocations[f"payment:{pay['PaymentID']}"] = {
            "document_external_id": pay["Invoice"]["InvoiceID"],
            "amount": Decimal(str(pay["Amount"])), "allocated_on": xdate(pay.get("Date")),
        }
    return {"customer": customers, "document": documents, "payment": payments,
            "allocation": allocations}


def stored(db: Engine, tenant_id: int) -> dict[str, dict[str, dict[str, Any]]]:
    """The store's rows for ``tenant_id``, in the shape of :func:`truth`."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    with db.connect() as conn:
        for table in ("customer", "document", "payment", "allocation"):
            rows = conn.execute(text(f"SELECT * FROM {table} WHERE tenant_id = :t"),
                                {"t": tenant_id}).mappings().all()
            key = (lambda r: f"{r['source_kind']}:{r['external_id']}") if table == "allocation" \
                else (lambda r: r["external_id"])
            out[table] = {}
            for r in rows:
                k = key(r)
                assert k not in out[table], f"duplicate {table} row {k}"
                out[table][k] = dict(r)
    return out


def stored_cursor(env: XeroEnv, entity: str) -> Any:
    """The cursor the store holds for ``entity`` of the environment's tenant (None: none)."""
    table = SyncCursor.__table__  # type: ignore[attr-defined]
    with env.db.connect() as conn:
        return conn.execute(
            select(table.c.value).where(table.c.tenant_id == env.tenant.id,
                                        table.c.entity == entity)
        ).scalar()


def assert_store_equals_truth(db: Engine, tenant_id: int, org: Any) -> None:
    expected, got = truth(org), stored(db, tenant_id)
    for table, rows in expected.items():
        assert set(got[table]) == set(rows), (
            f"{table}: missing {sorted(set(rows) - set(got[table]))[:5]}, "
            f"extra {sorted(set(got[table]) - set(rows))[:5]}"
        )
        for key, want in rows.items():
            have = got[table][key]
            for col, value in want.items():
                actual = have[col]
                if isinstance(value, Decimal) and actual is not None:
                    actual = Decimal(str(actual))
                if isinstance(value, date) and isinstance(actual, str):
                    actual = date.fromisoformat(actual[:10])
                assert actual == value, f"{table} {key}.{col}: stored {actual!r}, Xero {value!r}"
