"""key change actors typed: operator or admin, with room for the kind

Revision ID: fa1529136cdf
Revises: '342831588d88'
Created: 2026-11-30 12:58:42.981295

Requesters and approvers of key changes are now spelled with their kind (operator:<name>,
admin:<org id>; broker.rules.actors), which an org id of 64 characters outgrows. Values
recorded before stay as they are: a bare name cannot say which kind it was, so the
two-person rule judges it by name alone (broker.rules.actors.same) rather than have a
migration guess.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "fa1529136cdf"
down_revision: str | Sequence[str] | None = "342831588d88"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


COLUMNS = (("requested_by", False), ("approved_by", True), ("withdrawn_by", True))


def upgrade() -> None:
    with op.batch_alter_table("pending_key_changes", schema=None) as batch_op:
        for column, nullable in COLUMNS:
            batch_op.alter_column(column, existing_type=sa.String(length=64),
                                  type_=sa.String(length=100),
                                  existing_nullable=nullable)  # fmt: skip


def downgrade() -> None:
    # Fails on PostgreSQL while a typed actor longer than 64 characters is on record.
    with op.batch_alter_table("pending_key_changes", schema=None) as batch_op:
        for column, nullable in COLUMNS:
            batch_op.alter_column(column, existing_type=sa.String(length=100),
                                  type_=sa.String(length=64),
                                  existing_nullable=nullable)  # fmt: skip
