"""segment assignments name the rules that produced them (how they were asked for, and the
SHA-256 of the file), so a preview of other rules says what it compares against

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segment_assignment") as batch:
        batch.add_column(sa.Column("rules", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch.add_column(sa.Column("rules_digest", sqlmodel.sql.sqltypes.AutoString(),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segment_assignment") as batch:
        batch.drop_column("rules_digest")
        batch.drop_column("rules")
