"""allocations remember the record they were read from (``origin_external_id``), so that a
record read again without one of its lines marks that line's allocation deleted

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("allocation") as batch:
        batch.add_column(sa.Column("origin_external_id", sqlmodel.sql.sqltypes.AutoString(),
                                   nullable=True))
    op.create_index("ix_allocation_origin", "allocation", ["tenant_id", "origin_external_id"])


def downgrade() -> None:
    op.drop_index("ix_allocation_origin", table_name="allocation")
    with op.batch_alter_table("allocation") as batch:
        batch.drop_column("origin_external_id")
