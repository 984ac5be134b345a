"""drop indexes that are prefixes of the segmenter's

``ix_document_customer`` (tenant, customer) and ``ix_allocation_document`` (tenant, document)
begin ``ix_document_segmenter`` and ``ix_allocation_running``: the wider indexes serve the same
look-ups, and every sync write maintained both.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_document_customer", table_name="document")
    op.drop_index("ix_allocation_document", table_name="allocation")


def downgrade() -> None:
    op.create_index("ix_document_customer", "document", ["tenant_id", "customer_external_id"])
    op.create_index("ix_allocation_document", "allocation", ["tenant_id", "document_external_id"])
