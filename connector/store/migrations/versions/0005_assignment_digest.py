"""segment assignments carry a digest of what was written, so a run skips unchanged rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segment_assignment") as batch:
        batch.add_column(sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segment_assignment") as batch:
        batch.drop_column("digest")
