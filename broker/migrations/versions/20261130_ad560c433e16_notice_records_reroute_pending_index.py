"""notice records: a partial index on the notices waiting to be rerouted

The reroute timer asks every round for the notices waiting to be sent on (almost always
none): without an index each round read the whole of notice_records (issue 14: 1,400-1,700
pages a round by the end of a 5,000-event benchmark run, growing with the table).

Revision ID: ad560c433e16
Revises: '41e0c71856ee'
Created: 2026-11-30 19:02:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ad560c433e16"
down_revision: str | Sequence[str] | None = "41e0c71856ee"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("reroute_pending_since IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("notice_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notice_records_reroute_pending",
            ["reroute_pending_since", "notice_id"],
            unique=False,
            postgresql_where=WAITING,
            sqlite_where=WAITING,
        )


def downgrade() -> None:
    with op.batch_alter_table("notice_records", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_records_reroute_pending")
