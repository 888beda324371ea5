"""peers: a recipient API URL apart from the gateway, and receipts dead-lettered

Issue 16, federation defects: a peer's recipient (inbox) API may be served apart from its
gateway (deploy/docker-compose.yml runs them on separate ports), so ``peers.api_url`` holds
where receipts go; a peer registered before has none and is read as its gateway's URL. A
receipt the peer refuses for good (a 4xx it meant) is marked ``peer_receipts.dead_at``
rather than sent. New nullable columns only.

Revision ID: 1538ec42b9d8
Revises: 'efd14a1957dc'
Created: 2026-11-30 08:46:25.110723
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1538ec42b9d8"
down_revision: str | Sequence[str] | None = "efd14a1957dc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("peers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_url", sa.String(length=500), nullable=True))
    with op.batch_alter_table("peer_receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("peer_receipts", schema=None) as batch_op:
        batch_op.drop_column("dead_at")
    with op.batch_alter_table("peers", schema=None) as batch_op:
        batch_op.drop_column("api_url")
