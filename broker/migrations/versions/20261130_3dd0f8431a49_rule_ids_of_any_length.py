"""rule ids of any length

A notice that several rules decided together names them all ("crisis.child.fallback+
crisis.front_door+...+strategy_discussion.front_door.out_of_hours"). Such a combination went
over the 100 characters the rule id columns held, and PostgreSQL refused the row: the router
crashed on it and restarted into the same event. The columns are now text (on SQLite a
batch copies the three tables: no other table references them).

Revision ID: 3dd0f8431a49
Revises: '1e1744449d8a'
Created: 2026-11-30 07:52:32
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3dd0f8431a49"
down_revision: str | Sequence[str] | None = "1e1744449d8a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {"chronology": True, "data_quality_issues": True, "notice_records": False}  # nullable


def upgrade() -> None:
    for table, nullable in TABLES.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column("rule_id", type_=sa.Text(), existing_type=sa.String(100),
                               existing_nullable=nullable)  # fmt: skip


def downgrade() -> None:
    for table, nullable in TABLES.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column("rule_id", type_=sa.String(100), existing_type=sa.Text(),
                               existing_nullable=nullable)  # fmt: skip
