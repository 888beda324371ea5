"""people may have additional needs: a child's SEND or EHCP, a parent's learning disability

A child's special educational needs and disabilities (SEND) or education, health and care plan
(EHCP), and a parent's or carer's learning disability, are facts the directory may hold on the
person (issue 15, item 6); they raise the severity of was-not-brought and withdrawal notices.
A person's language need (item 7): the preferred language and whether an interpreter is
needed, stated in every notice about them.
Existing people have none (false); ``sa.false()`` renders as 0 on SQLite and false on
PostgreSQL.

Revision ID: 1e1744449d8a
Revises: '53b6afba5286'
Created: 2026-11-30 05:16:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1e1744449d8a"
down_revision: str | Sequence[str] | None = "53b6afba5286"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEEDS = ("has_send", "has_ehcp", "learning_disability", "interpreter_needed")


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: SQLite's batch copies and drops ``people``, which the
    # households, ties and registrations reference.
    for name in NEEDS:
        op.add_column(
            "people", sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.add_column("people", sa.Column("preferred_language", sa.String(3), nullable=True))


def downgrade() -> None:
    op.drop_column("people", "preferred_language")
    for name in reversed(NEEDS):
        op.drop_column("people", name)
