"""The normalized store: one table per concept, every row keyed by tenant.

ERP ids are unique per ``(tenant_id, external_id)`` and rows refer to each other by those ids
(``customer_external_id``...), so a page can be upserted without looking anything up first.
Money is ``Numeric`` in the document's currency plus the base-currency amount. Deletes, voids and
archives are flags (``is_deleted``, ``status``), never physical deletes.

Schema changes go through alembic migrations (``arconnect db upgrade``); these classes and the
migrations must agree (a test compares them).
"""

from __future__ import annotations

import shlex
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "Allocation", "Credential", "Customer", "Document", "Payment", "SQLModel", "SegmentAssignment",
    "SegmentHistory", "SyncCursor", "SyncRun", "Tenant", "WritebackLog", "WritebackObject",
    "WritebackPlan", "WritebackState",
]

MONEY = Numeric(18, 2)
RATE = Numeric(20, 10)


def _money(**kw: Any) -> Any:
    return Field(default=None, sa_type=MONEY, **kw)


class Credential(SQLModel, table=True):
    """One OAuth grant (Xero: one user's consent, reaching one or more organisations).

    Tokens are stored encrypted (``*_enc``); ``version`` increases with every rotation so a
    process can tell whether another one refreshed first.
    """

    __tablename__ = "credential"

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(index=True)
    client_id: str
    client_secret_enc: str | None = None
    access_token_enc: str | None = None
    refresh_token_enc: str | None = None
    previous_refresh_token_enc: str | None = None
    expires_at: datetime | None = None
    # When the refresh token lapses, where the platform says (None: it does not say).
    refresh_expires_at: datetime | None = None
    scope: str | None = None
    status: str = "active"
    version: int = 0
    created_at: datetime
    updated_at: datetime


class Tenant(SQLModel, table=True):
    """One connected organisation / company / account."""

    __tablename__ = "tenant"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    external_id: str
    name: str
    credential_id: int | None = Field(default=None, foreign_key="credential.id", index=True)
    connection_id: str | None = None
    status: str = "active"
    status_detail: str | None = None
    base_currency: str | None = None
    timezone: str | None = None
    created_at: datetime
    updated_at: datetime
    last_sync_at: datetime | None = None

    @property
    def arg(self) -> str:
        """The tenant as a shell argument in the commands arconnect prints (quoted when its
        name has spaces or brackets, as ``Demo Company (NZ)`` does)."""
        return shlex.quote(self.name)


class Customer(SQLModel, table=True):
    """A customer (Xero: a contact that is a customer or has sales documents)."""

    __tablename__ = "customer"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    external_id: str
    name: str | None = None
    number: str | None = None
    account_number: str | None = None
    email: str | None = None
    status: str | None = None
    is_archived: bool = False
    is_customer: bool | None = None
    is_supplier: bool | None = None
    merged_into_external_id: str | None = None
    parent_external_id: str | None = None
    default_currency: str | None = None
    terms_days: int | None = None
    terms_type: str | None = None
    groups: list[str] | None = Field(default=None, sa_column=Column(JSON))
    delivery_mode: str | None = None
    payment_method: str | None = None
    extra: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    source_updated_at: datetime | None = None
    synced_at: datetime


class Document(SQLModel, table=True):
    """An invoice or a credit note (``kind``); amounts in document and base currency."""

    __tablename__ = "document"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        # Segmenter metrics: one pass per slice in customer order, read from the index alone
        # (it also serves look-ups by customer: it starts with those columns).
        Index("ix_document_segmenter", "tenant_id", "customer_external_id", "kind", "status",
              "is_deleted", "issue_date", "due_date", "fully_paid_on", "total_base",
              "amount_due_base", "external_id"),
        # Segmenter metrics: invoices whose paid date is derived from allocations.
        Index("ix_document_unpaid", "tenant_id", "kind", "fully_paid_on", "external_id",
              "issue_date", "is_deleted", "status", "total", "customer_external_id", "due_date",
              "total_base"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    external_id: str
    kind: str
    number: str | None = None
    customer_external_id: str | None = None
    status: str
    is_deleted: bool = False
    issue_date: date | None = None
    due_date: date | None = None
    fully_paid_on: date | None = None
    currency: str | None = None
    currency_rate: Decimal | None = Field(default=None, sa_type=RATE)
    total: Decimal | None = _money()
    total_base: Decimal | None = _money()
    amount_due: Decimal | None = _money()
    amount_due_base: Decimal | None = _money()
    amount_paid: Decimal | None = _money()
    amount_credited: Decimal | None = _money()
    reference: str | None = None
    delivery_mode: str | None = None
    extra: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    source_updated_at: datetime | None = None
    synced_at: datetime


class Payment(SQLModel, table=True):
    """A payment (or refund) received against one document."""

    __tablename__ = "payment"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        # Segmenter metrics: the payment-method mix per customer, read from the index alone.
        Index("ix_payment_segmenter", "tenant_id", "customer_external_id", "method", "paid_on",
              "is_deleted", "payment_type", "amount_base"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    external_id: str
    payment_type: str | None = None
    document_external_id: str | None = None
    customer_external_id: str | None = None
    status: str | None = None
    is_deleted: bool = False
    paid_on: date | None = None
    currency: str | None = None
    currency_rate: Decimal | None = Field(default=None, sa_type=RATE)
    amount: Decimal | None = _money()
    amount_base: Decimal | None = _money()
    method: str | None = None
    reference: str | None = None
    extra: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    source_updated_at: datetime | None = None
    synced_at: datetime


class Allocation(SQLModel, table=True):
    """Money applied to a document: a payment, or a credit note / overpayment allocation."""

    __tablename__ = "allocation"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source_kind", "external_id"),
        # Segmenter metrics: running sums per document by date (paid date); also serves
        # look-ups by document.
        Index("ix_allocation_running", "tenant_id", "document_external_id", "allocated_on",
              "is_deleted", "amount"),
        Index("ix_allocation_payments", "tenant_id", "source_kind", "customer_external_id",
              "allocated_on", "is_deleted"),
        Index("ix_allocation_origin", "tenant_id", "origin_external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    external_id: str
    source_kind: str
    source_external_id: str
    document_external_id: str | None = None
    customer_external_id: str | None = None
    allocated_on: date | None = None
    amount: Decimal | None = _money()
    amount_base: Decimal | None = _money()
    is_deleted: bool = False
    # The record the allocation is one line of, when the mapping says its lines are owned
    # (``owner:``): a later read of that record without the line marks the row deleted.
    origin_external_id: str | None = None
    synced_at: datetime


class SyncCursor(SQLModel, table=True):
    """Where the last committed page of an entity left off (advanced with the page's rows)."""

    __tablename__ = "sync_cursor"

    tenant_id: int = Field(foreign_key="tenant.id", primary_key=True)
    entity: str = Field(primary_key=True)
    value: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    updated_at: datetime


class SyncRun(SQLModel, table=True):
    """One sync of one tenant: when, how it ended, what it read and what it cost."""

    __tablename__ = "sync_run"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    full: bool = False
    status: str = "running"
    started_at: datetime
    finished_at: datetime | None = None
    records: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    api_calls: int = 0
    http_429s: int = 0
    error: str | None = None


class SegmentAssignment(SQLModel, table=True):
    """The current segment, tags, credit limit and terms of one customer, with reasons."""

    __tablename__ = "segment_assignment"
    __table_args__ = (UniqueConstraint("tenant_id", "customer_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    customer_external_id: str
    segment: str
    tags: list[str] | None = Field(default=None, sa_column=Column(JSON))
    credit_limit: Decimal | None = _money()
    terms_days: int | None = None
    credit_hold: bool = False
    locked: bool = False
    locked_until: date | None = None
    metrics: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    reasons: list[str] | None = Field(default=None, sa_column=Column(JSON))
    since: datetime
    computed_at: datetime
    # A hash of everything above but ``computed_at``: a run rewrites only rows whose hash moved.
    digest: str | None = None
    # The rules of the run that wrote this row: a shipped name or a file's path, and the
    # SHA-256 of the file's text (``Rules.ref``, ``Rules.digest``); none before a run.
    rules: str | None = None
    rules_digest: str | None = None


class SegmentHistory(SQLModel, table=True):
    """Every change of a customer's assignment (from ─▶ to, why, when)."""

    __tablename__ = "segment_history"
    __table_args__ = (Index("ix_segment_history_customer", "tenant_id", "customer_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    customer_external_id: str
    from_segment: str | None = None
    to_segment: str
    from_tags: list[str] | None = Field(default=None, sa_column=Column(JSON))
    to_tags: list[str] | None = Field(default=None, sa_column=Column(JSON))
    from_credit_limit: Decimal | None = _money()
    to_credit_limit: Decimal | None = _money()
    reasons: list[str] | None = Field(default=None, sa_column=Column(JSON))
    changed_at: datetime


class WritebackState(SQLModel, table=True):
    """What arconnect last wrote to the ERP for one customer and target (for drift checks)."""

    __tablename__ = "writeback_state"
    __table_args__ = (UniqueConstraint("tenant_id", "customer_external_id", "target"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    customer_external_id: str
    target: str
    value: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    written_at: datetime


class WritebackLog(SQLModel, table=True):
    """The audit trail: every write operation with before, after, reason and the ERP's answer."""

    __tablename__ = "writeback_log"
    __table_args__ = (Index("ix_writeback_log_tenant", "tenant_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    plan_id: str | None = None
    customer_external_id: str | None = None
    operation: str
    target: str | None = None
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    reason: str | None = None
    approved_by: str | None = None
    status: str
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime
    # The API call that carried the operation (several operations share a batched call).
    call_id: str | None = None


class WritebackPlan(SQLModel, table=True):
    """A write-back plan: the operations that take the ERP from what it holds to what the
    segments want, with its approval and progress (operations carry a ``done`` flag)."""

    __tablename__ = "writeback_plan"
    __table_args__ = (Index("ix_writeback_plan_tenant", "tenant_id", "created_at"),)

    id: str = Field(primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    kind: str  # segments | rollback | remove_all
    status: str  # ready | approved | applying | partial | applied | stale | superseded | failed
    created_at: datetime
    updated_at: datetime
    needs_approval: bool = False
    approval_reason: str | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    rollback_of: str | None = None
    ops: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = None


class WritebackObject(SQLModel, table=True):
    """An object arconnect created in the ERP and owns (a Xero contact group)."""

    __tablename__ = "writeback_object"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    kind: str
    external_id: str
    name: str
    created_at: datetime
    removed_at: datetime | None = None
