"""segmenter indexes

Covering indexes for the segmenter's metrics (``arconnect.segmenter.metrics``): each pass over
documents, allocations and payments reads one index in customer or document order, so the
per-customer grouping and the running allocation sums need neither a sort nor table lookups.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES: dict[str, tuple[str, list[str]]] = {
    "ix_document_segmenter": ("document", [
        "tenant_id", "customer_external_id", "kind", "status", "is_deleted", "issue_date",
        "due_date", "fully_paid_on", "total_base", "amount_due_base", "external_id",
    ]),
    "ix_document_unpaid": ("document", [
        "tenant_id", "kind", "fully_paid_on", "external_id", "issue_date", "is_deleted",
        "status", "total", "customer_external_id", "due_date", "total_base",
    ]),
    "ix_allocation_running": ("allocation", [
        "tenant_id", "document_external_id", "allocated_on", "is_deleted", "amount",
    ]),
    "ix_allocation_payments": ("allocation", [
        "tenant_id", "source_kind", "customer_external_id", "allocated_on", "is_deleted",
    ]),
    "ix_payment_segmenter": ("payment", [
        "tenant_id", "customer_external_id", "method", "paid_on", "is_deleted", "payment_type",
        "amount_base",
    ]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for name, (table, _columns) in reversed(INDEXES.items()):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
