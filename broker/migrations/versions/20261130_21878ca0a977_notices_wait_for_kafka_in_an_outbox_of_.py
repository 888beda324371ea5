"""notices wait for Kafka in an outbox of their own

Marking a notice published rewrote its notice_records row, sealed copy and all, under every
index of that table (issue 14: the costliest statement of a benchmark run in PostgreSQL).
The sealed copy now waits in notice_outbox, deleted once Kafka has it. The notices still
unpublished move there; a notice's publication time is no longer kept (nothing read it).

Revision ID: 21878ca0a977
Revises: 'ad560c433e16'
Created: 2026-11-30 23:42:10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "21878ca0a977"
down_revision: str | Sequence[str] | None = "ad560c433e16"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Routers of the old version may still be running (Helm migrates before it replaces
        # them): a notice they commit after the copy below would have no outbox row, and
        # nothing would ever relay it. Their writes wait until this revision has committed.
        op.execute("LOCK TABLE notice_records IN SHARE ROW EXCLUSIVE MODE")
    op.create_table(
        "notice_outbox",
        sa.Column("notice_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("notice_id"),
    )
    with op.batch_alter_table("notice_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_notice_outbox_order", ["created_at", "notice_id"], unique=False)
    op.execute(
        "INSERT INTO notice_outbox (notice_id, recipient_id, created_at, sealed) "
        "SELECT notice_id, recipient_id, created_at, sealed FROM notice_records "
        "WHERE published_at IS NULL"
    )
    with op.batch_alter_table("notice_records", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_records_unpublished")
        batch_op.drop_column("sealed")
        batch_op.drop_column("published_at")


def downgrade() -> None:
    # Back in notice_records: those in the outbox unpublished, the rest published when made.
    with op.batch_alter_table("notice_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sealed", sa.Text(), nullable=False, server_default=""))
        batch_op.create_index(
            "ix_notice_records_unpublished", ["published_at", "created_at"], unique=False
        )
    op.execute(
        "UPDATE notice_records SET published_at = created_at WHERE notice_id NOT IN "
        "(SELECT notice_id FROM notice_outbox)"
    )
    op.execute(
        "UPDATE notice_records SET sealed = (SELECT o.sealed FROM notice_outbox o "
        "WHERE o.notice_id = notice_records.notice_id) "
        "WHERE notice_id IN (SELECT notice_id FROM notice_outbox)"
    )
    with op.batch_alter_table("notice_records", schema=None) as batch_op:
        batch_op.alter_column("sealed", server_default=None)
    op.drop_table("notice_outbox")
