"""people may be unborn children with an expected date

An unborn child is a person record flagged unborn with its expected date of delivery, a child
of its parents' household like any other (issue 15, item 2). At birth the same record gets its
date of birth and NHS number, so the history gathered before birth stays the child's. Existing
people are born (false); ``sa.false()`` renders as 0 on SQLite and false on PostgreSQL.

Revision ID: 53b6afba5286
Revises: '7f9282110143'
Created: 2026-11-30 04:18:06.888079
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "53b6afba5286"
down_revision: str | Sequence[str] | None = "7f9282110143"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: SQLite's batch copies and drops ``people``, which the
    # households, ties and registrations reference.
    op.add_column(
        "people", sa.Column("unborn", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("people", sa.Column("expected_on", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("people", "expected_on")
    op.drop_column("people", "unborn")
